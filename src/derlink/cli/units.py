"""Parsing what operators type: powers (5kW), durations (2h30m), times (+15m, ISO 8601).

Each parser is a click ParamType, so a bad value is reported by click as one line naming the
option, and never reaches the service.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import click

_POWER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(W|kW|MW|GW|var|kvar|Mvar)?\s*$", re.IGNORECASE)
_POWER_SCALE = {"": 1.0, "w": 1.0, "kw": 1e3, "mw": 1e6, "gw": 1e9}
_VAR_SCALE = {"var": 1.0, "kvar": 1e3, "mvar": 1e6}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s|ms)")
_DURATION_SCALE = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_power(text: str) -> float:
    """Watts (or var) from ``5kW``, ``500 W``, ``1.5MW``, ``300kvar`` or a bare number."""
    match = _POWER.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a power such as 5kW, 500W or 1.5MW")
    unit = (match.group(2) or "").lower()
    scale = _POWER_SCALE.get(unit) or _VAR_SCALE[unit]
    return float(match.group(1)) * scale


def parse_duration(text: str) -> float:
    """Seconds from ``2h``, ``1h30m``, ``90s``, ``250ms`` or a bare number of seconds."""
    stripped = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        return float(stripped)
    parts = _DURATION.findall(stripped)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != stripped.replace(" ", ""):
        raise ValueError(f"{text!r} is not a duration such as 2h, 30m, 1h30m or 90s")
    return sum(float(n) * _DURATION_SCALE[u] for n, u in parts)


def parse_time(text: str, now: float | None = None) -> int:
    """Unix seconds from ``now``, ``+15m`` (from now), ISO 8601 with a zone, or Unix seconds."""
    now = time.time() if now is None else now
    stripped = text.strip()
    if stripped in {"now", "+0"}:
        return int(now)
    if stripped.startswith("+"):
        return int(now + parse_duration(stripped[1:]))
    if re.fullmatch(r"\d{9,11}", stripped):
        return int(stripped)
    try:
        when = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use now, +15m, 2026-11-23T14:00Z or Unix seconds"
        ) from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z or +HH:MM")
    return int(when.timestamp())


def parse_percent(text: str) -> float:
    value = float(text.strip().rstrip("%"))
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{text!r} is not a percentage 0..100")
    return value


class _Parsed(click.ParamType[Any]):
    def __init__(self, name: str, parse: Any) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


POWER = _Parsed("power", parse_power)
DURATION = _Parsed("duration", parse_duration)
TIME = _Parsed("time", parse_time)
PERCENT = _Parsed("percent", parse_percent)
