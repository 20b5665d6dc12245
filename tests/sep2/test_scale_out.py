"""Several workers on PostgreSQL share state only through the database: every worker answers,
and each notification is delivered once even though every worker runs a deliverer."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from derlink.audit.service import open_audit_log
from derlink.control.service import FleetService
from derlink.domain import ControlBase, Device, Group, Priority, Site
from derlink.home import Home
from derlink.pki import Pki
from derlink.sep2.xml import Notification, Subscription, decode
from support.sep2 import Sep2Client, Server, derlink

from .test_notifications import Listener


def test_two_workers_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    env = {"DERLINK_DATABASE_URL": pg_url}
    home = Home(tmp_path / "home")
    derlink(home, "init", env=env)
    pki = Pki.open(home.pki_dir, passphrase=None)
    now = datetime.now(UTC)
    device = pki.issue_device("SN-scale", now=now)
    device.write(tmp_path / "dev")
    pki.issue_server(["127.0.0.1"], now=now).write(tmp_path / "listener")

    async def setup() -> None:
        async with open_audit_log(home, pg_url, write=True) as log:
            f = FleetService(log.db, log)
            await f.add_group(Group("g"), actor="t")
            await f.add_site(Site("s", groups=frozenset({"g"})), actor="t")
            await f.enrol(Device(device.lfdi, device.sfdi, site="s"), actor="t")
            await f.create_control(
                ControlBase(max_limit_pct=90),
                actor="t",
                start=int(time.time()),
                duration=600,
                group="g",
                priority=Priority.GREEN,
            )

    asyncio.run(setup())
    server = Server(home, extra=("--workers", "2"), env=env).start()
    listener = Listener(tmp_path / "listener", home.pki_dir / "ca-bundle.pem")
    listener.start()
    clients = [Sep2Client(server, tmp_path / "dev") for _ in range(8)]
    try:
        for c in clients:
            c.get("/dcap")
        sub = Subscription(
            subscribedResource="/derp/g.green/derc",
            encoding=0,
            level="+S1",
            limit=10,
            notificationURI=listener.url,
        )
        clients[0].send("POST", f"/edev/{device.sfdi}/sub", sub, expect=201)
        mrids = asyncio.run(_dispatch(home, pg_url, 5))
        listener.wait_for(mrids[-1])
        time.sleep(1.5)  # anything sent twice would arrive by now
        ids = {decode(b, Notification).subscriptionURI for b in listener.bodies}
        assert ids == {f"/edev/{device.sfdi}/sub/1"}
        # each change renders a different list, so a notification sent twice is a repeat
        assert len(listener.bodies) == len(set(listener.bodies)), "a notification came twice"
        assert all(m.encode() in listener.bodies[-1] for m in mrids)
    finally:
        for c in clients:
            c.close()
        listener.stop()
        server.stop()


async def _dispatch(home: Home, url: str, n: int) -> list[str]:
    async with open_audit_log(home, url, write=True) as log:
        f = FleetService(log.db, log)
        made = []
        for i in range(n):
            control = await f.create_control(
                ControlBase(export_limit_w=1000 + i),
                actor="t",
                start=int(time.time()) + 60 * i,
                duration=60,
                group="g",
                priority=Priority.GREEN,
            )
            made.append(control.mrid)
            await asyncio.sleep(0.3)
        return made
