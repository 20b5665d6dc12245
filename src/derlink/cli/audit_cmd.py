"""``derlink audit``: verify, export, prove and witness the tamper-evident audit log."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from derlink.audit.errors import AuditError
from derlink.audit.log import AuditLog, VerifyResult
from derlink.audit.service import open_audit_log
from derlink.audit.treehead import TreeHead
from derlink.cli.context import CliContext, emit_json, pass_ctx

T = TypeVar("T")


def _run(ctx: CliContext, work: Callable[[AuditLog], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_audit_log(ctx.home.require(), ctx.database_url, write=False) as log:
            return await work(log)

    return asyncio.run(go())


@click.group()
def audit() -> None:
    """The tamper-evident audit log (RFC 6962 Merkle tree with signed tree heads)."""


@audit.command("verify")
@click.option(
    "--witness",
    "witness_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A tree head kept outside the database ('derlink audit head'); repeatable. "
    "Detects records removed from the end of the log.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def verify(ctx: CliContext, witness_files: tuple[Path, ...], as_json: bool) -> None:
    """Check every record and tree head; exit 1 naming the first bad sequence number."""
    witnesses = [_read_head(path) for path in witness_files]

    async def work(log: AuditLog) -> VerifyResult:
        total = await log.size()
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            transient=True,
            disable=as_json or not sys.stderr.isatty(),
        ) as bar:
            task = bar.add_task("verify", total=total)
            return await log.verify(witnesses, lambda done: bar.update(task, completed=done))

    result = _run(ctx, work)
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "size": result.size,
                "first_bad_seq": result.first_bad,
                "problem": result.problem,
                "tree_head": result.head.to_json() if result.head else None,
            }
        )
    elif result.ok:
        root = result.head.root.hex() if result.head else "(empty log)"
        click.echo(f"audit log intact: {result.size} records, root {root}")
    else:
        click.secho(
            f"audit log TAMPERED at sequence {result.first_bad}: {result.problem}",
            fg="red",
            err=True,
        )
    if not result.ok:
        sys.exit(1)


def _read_head(path: Path) -> TreeHead:
    try:
        return TreeHead.from_json(json.loads(path.read_text()))
    except OSError as err:
        raise AuditError(f"cannot read witness {path}: {err.strerror}") from None
    except ValueError as err:
        raise AuditError(f"{path}: {err}") from None


@audit.command("head")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the head to this file (give it to a witness).",
)
@pass_ctx
def head(ctx: CliContext, out: Path | None) -> None:
    """Print the newest signed tree head as JSON."""

    async def work(log: AuditLog) -> TreeHead | None:
        return await log.head()

    tree_head = _run(ctx, work)
    if tree_head is None:
        raise AuditError("the audit log is empty")
    text = json.dumps(tree_head.to_json(), indent=2, sort_keys=True)
    if out is not None:
        out.write_text(text + "\n")
    click.echo(text)


@audit.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write JSON lines here instead of standard output.",
)
@click.option("--from", "start", type=click.IntRange(min=0), default=0, help="First sequence.")
@pass_ctx
def export(ctx: CliContext, out: Path | None, start: int) -> None:
    """Write the records (with leaf hashes and signed heads) as JSON lines."""

    async def work(log: AuditLog) -> int:
        count = 0
        sink = out.open("w") if out is not None else None
        try:
            async for stored in log.records(start):
                line = json.dumps(stored.to_json(), sort_keys=True)
                click.echo(line, file=sink)
                count += 1
        finally:
            if sink is not None:
                sink.close()
        return count

    count = _run(ctx, work)
    if out is not None:
        click.echo(f"exported {count} records to {out}", err=True)


@audit.command("prove")
@click.argument("seq", type=click.IntRange(min=0))
@click.option("--size", type=click.IntRange(min=1), help="Tree size to prove against.")
@pass_ctx
def prove(ctx: CliContext, seq: int, size: int | None) -> None:
    """Print the RFC 6962 inclusion proof of record SEQ as JSON."""

    async def work(log: AuditLog) -> dict[str, object]:
        return (await log.prove_inclusion(seq, size)).to_json()

    emit_json(_run(ctx, work))


@audit.command("consistency")
@click.argument("old_size", type=click.IntRange(min=1))
@click.argument("new_size", type=click.IntRange(min=1), required=False)
@pass_ctx
def consistency(ctx: CliContext, old_size: int, new_size: int | None) -> None:
    """Print the RFC 6962 consistency proof between two tree sizes as JSON."""

    async def work(log: AuditLog) -> dict[str, object]:
        size = new_size or await log.size()
        proof = await log.prove_consistency(old_size, size)
        return {"old_size": old_size, "new_size": size, "proof": [h.hex() for h in proof]}

    emit_json(_run(ctx, work))
