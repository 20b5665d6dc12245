"""``derlink ied run`` as a process: it serves its centre and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.ied import INITIATE_FOR_GROUP
from derlink.iec61850.mms.codec import encode_payload
from derlink.iec61850.model.refs import FC
from derlink.iec61850.xmpp.endpoint import StanzaError
from support.cli import derlink_command
from support.xmpp import ADMIN, XmppService, endpoint_for

from .conftest import ied_process, stop_with_ctrl_c

pytestmark = pytest.mark.xmpp


async def test_ied_run_serves_and_stops_on_ctrl_c(
    prosody_server: XmppService, tmp_path: Path
) -> None:
    service = prosody_server
    tag = uuid.uuid4().hex[:6]
    ied_jid, cert, key = service.client(f"cli-ied-{tag}", "ied")
    home = str(tmp_path / "home")
    init = await asyncio.create_subprocess_exec(
        *derlink_command(), "--home", home, "init", stdout=asyncio.subprocess.DEVNULL
    )
    assert await init.wait() == 0
    centre = ControlCentre(endpoint_for(service, ADMIN, f"centre-{tag}"), ieds=[ied_jid])
    await centre.start()
    options = ("--ied-name", "CLIIED", "--centre", str(centre.endpoint.jid))
    try:
        async with ied_process(Path(home), service, ied_jid, cert, key, *options) as (process, _):
            await centre.presence.wait(ied_jid, timeout=10)
            await centre.associate(ied_jid)
            assert await centre.server_directory(ied_jid) == ["CLIIEDLD0"]
            measured = await centre.read(ied_jid, "CLIIEDLD0/MMXU1.Hz.mag.f", FC.MX)
            assert isinstance(measured, float)
            stranger = endpoint_for(service, f"stranger-{tag}", "x")
            await stranger.start()
            with pytest.raises(StanzaError):
                await stranger.request(ied_jid, encode_payload(INITIATE_FOR_GROUP))
            await stranger.stop()
            await stop_with_ctrl_c(process)
        await centre.presence.wait(ied_jid, available=False, timeout=10)
        export = await asyncio.create_subprocess_exec(
            *derlink_command(), "--home", home, "audit", "export", stdout=asyncio.subprocess.PIPE
        )
        records = [json.loads(line) for line in (await export.communicate())[0].splitlines()]
        refused = [r for r in records if r["action"] == "iec61850.associate"]
        assert refused and refused[0]["outcome"] == "denied"
        assert refused[0]["actor"].startswith(f"stranger-{tag}@")
    finally:
        await centre.stop()


async def test_ied_run_refuses_bad_arguments(tmp_path: Path) -> None:
    pem = tmp_path / "x.pem"
    pem.write_text("")
    process = await asyncio.create_subprocess_exec(
        *derlink_command(),
        "ied",
        "run",
        "--jid",
        "ied@example.org",
        "--cert",
        str(pem),
        "--key",
        str(pem),
        "--ca",
        str(pem),
        "--server",
        "nowhere",
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 2
    assert b"HOST:PORT" in err and b"Traceback" not in err
