"""``derlink file``: firmware (and other files) for the devices of groups (IEEE 2030.5 File
Download). The content is kept in the database, so every head-end node serves the same bytes,
and devices report their progress in their FileStatus."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.fleet import json_option, output
from derlink.cli.publish_cmd import common_commands, enum_choice, enum_member, run_pub
from derlink.cli.units import TIME
from derlink.control.publications import MAX_FILE_BYTES
from derlink.domain import FileType, Firmware, PublicationKind
from derlink.errors import DerlinkError


@click.group()
def file() -> None:
    """Files (firmware) devices of groups download and activate."""


@file.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", required=True, help="Manufacturer model it is for (mfModel).")
@click.option("--version", required=True, help="Its version (mfVer, 16 characters).")
@click.option("--hw-ver", help="Hardware version it is for (mfHwVer).")
@click.option("--serial", help="The one serial number it is for (mfSerNum).")
@click.option("--mf-id", type=click.IntRange(0, 2**32 - 1), default=0, help="IANA PEN (mfID).")
@click.option("--activate-time", type=TIME, help="When devices activate it (now, +1h, ISO).")
@click.option("--type", "file_type", type=enum_choice(FileType), default="software")
@click.option("--group", "groups", multiple=True, help="Target group (repeatable).")
@click.option("--id", "file_id", help="Its id (default: MODEL-VERSION).")
@click.option("--description", default="", help="For operators.")
@json_option
@pass_ctx
def file_add(
    ctx: CliContext,
    /,
    path: Path,
    model: str,
    version: str,
    hw_ver: str | None,
    serial: str | None,
    mf_id: int,
    activate_time: int | None,
    file_type: str,
    groups: tuple[str, ...],
    file_id: str | None,
    description: str,
    as_json: bool,
) -> None:
    """Publish the file at PATH to the groups."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DerlinkError(f"{path} is over {MAX_FILE_BYTES // 2**20} MiB")
    content = path.read_bytes()
    item = Firmware(
        id=file_id or re.sub(r"[^A-Za-z0-9._:-]", "-", f"{model}-{version}")[:64],
        groups=frozenset(groups),
        description=description,
        model=model,
        version=version,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        manufacturer=mf_id,
        hardware_version=hw_ver,
        serial=serial,
        activate_time=activate_time,
        file_type=enum_member(FileType, file_type),
    )
    made = run_pub(ctx, lambda p: p.publish(item, actor=ctx.actor, content=content))
    output(made, as_json, lambda: click.echo(f"file {item.id} added ({item.size} bytes)"))


common_commands(file, PublicationKind.FILE, events=False)
