"""Shared plumbing of the fleet commands: the service, JSON output, envelope options."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from typing import Any, TypeVar

import click

from derlink.audit.anomaly import AnomalyGuard, Thresholds
from derlink.audit.service import open_audit_log
from derlink.cli.context import CliContext, emit_json
from derlink.cli.units import DURATION, PERCENT, POWER
from derlink.control.service import FleetService
from derlink.domain import ControlBase

T = TypeVar("T")


def run(ctx: CliContext, work: Callable[[FleetService], Awaitable[T]]) -> T:
    """Run ``work`` against the fleet service of the data directory, audited as the CLI user."""

    async def go() -> T:
        async with open_audit_log(ctx.home.require(), ctx.database_url, write=True) as log:
            return await work(FleetService(log.db, log, detector=detector(ctx)))

    return asyncio.run(go())


def detector(ctx: CliContext) -> AnomalyGuard | None:
    """Anomaly detection of controls, as the ``[anomaly]`` section sets it."""
    anomaly = ctx.config.anomaly
    return AnomalyGuard(Thresholds.from_config(anomaly)) if anomaly.enabled else None


def plain(value: Any) -> Any:
    """Domain objects as JSON-ready values (enums by value, sets sorted)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "value") and hasattr(value, "name"):
        return value.value
    return value


def output(value: Any, as_json: bool, text: Callable[[], None]) -> None:
    if as_json:
        emit_json(plain(value))
    else:
        text()


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")

_ENVELOPE: list[tuple[str, click.ParamType[Any] | None, str]] = [
    ("export-limit", POWER, "Site export limit (CSIP-AUS opModExpLimW), e.g. 5kW."),
    ("import-limit", POWER, "Site import limit (opModImpLimW)."),
    ("generation-limit", POWER, "Site generation limit (opModGenLimW)."),
    ("load-limit", POWER, "Site load limit (opModLoadLimW)."),
    ("storage-target", POWER, "Storage charge (+) / discharge (-) target (opModStorageTargetW)."),
    ("max-limit", PERCENT, "Maximum active power, % of rated (opModMaxLimW)."),
    ("target-w", POWER, "Active power target (opModTargetW)."),
    ("target-var", POWER, "Reactive power target (opModTargetVar)."),
    ("fixed-w", PERCENT, "Fixed active power, % of rated (opModFixedW)."),
    ("fixed-var", click.FloatRange(-100, 100), "Fixed reactive power, % (opModFixedVar)."),
    ("fixed-pf-inject", click.FloatRange(0, 1, min_open=True), "Fixed PF when injecting."),
    ("fixed-pf-absorb", click.FloatRange(0, 1, min_open=True), "Fixed PF when absorbing."),
    ("volt-var", None, "Volt-var curve id (opModVoltVar)."),
    ("volt-watt", None, "Volt-watt curve id (opModVoltWatt)."),
    ("freq-watt", None, "Frequency-watt curve id (opModFreqWatt)."),
    ("watt-pf", None, "Watt-PF curve id (opModWattPF)."),
    ("watt-var", None, "Watt-var curve id (opModWattVar)."),
    ("ramp", DURATION, "Ramp time (rampTms), e.g. 10s."),
]
_FIELD = {
    "export_limit": "export_limit_w",
    "import_limit": "import_limit_w",
    "generation_limit": "generation_limit_w",
    "load_limit": "load_limit_w",
    "storage_target": "storage_target_w",
    "max_limit": "max_limit_pct",
    "fixed_w": "fixed_w_pct",
    "fixed_var": "fixed_var_pct",
    "volt_var": "volt_var_curve",
    "volt_watt": "volt_watt_curve",
    "freq_watt": "freq_watt_curve",
    "watt_pf": "watt_pf_curve",
    "watt_var": "watt_var_curve",
    "ramp": "ramp_time_s",
}


def envelope_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per ControlBase field, plus --connect/--disconnect, --energize."""
    for name, kind, help_text in reversed(_ENVELOPE):
        command = click.option(f"--{name}", type=kind or str, default=None, help=help_text)(command)
    command = click.option(
        "--connect/--disconnect",
        "connect",
        default=None,
        help="Connect to or cease to export (opModConnect).",
    )(command)
    return click.option("--energize/--deenergize", "energize", default=None, help="opModEnergize.")(
        command
    )


def envelope_from(options: dict[str, Any]) -> ControlBase:
    """Build the ControlBase from the envelope options (others are left in ``options``)."""
    values: dict[str, Any] = {}
    for name, _, _ in _ENVELOPE:
        key = name.replace("-", "_")
        value = options.pop(key, None)
        if value is not None:
            values[_FIELD.get(key, key)] = value
    for key in ("connect", "energize"):
        value = options.pop(key, None)
        if value is not None:
            values[key] = value
    return ControlBase(**values)
