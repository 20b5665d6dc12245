"""Dispatch latency: from control creation until 95% and 100% of N devices have posted
"received" and "started" (target: N = 10,000, 100% received within 10 s, with notifications).

Workload: N devices behind A aggregator certificates (the CSIP-AUS aggregator pattern), every
device subscribed to its feeder program's DERControlList with a notificationURI on the
aggregator's HTTPS endpoint. The operator creates one control per feeder (three feeders), active
at once. Mode "notify": each notification makes the aggregator post Response 1 (received) then 2
(started) for that device. Mode "aggregate": each aggregator subscribes once per feeder program
(through its own EndDevice) and answers for all its devices of that feeder. Mode "poll": each
aggregator polls its feeder programs' control lists every P seconds and posts the responses
when it sees the control. Method: time from
create_control's return to the moment the server's stored responses (counted every 100 ms in
the database) reach 95% / 100% of N; server `derlink serve --workers 2` and this harness share
the two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from deployment import GROUPS, Bench
from loadgen import Connection
from sqlalchemy import func, select

from derlink.audit.service import open_audit_log
from derlink.control.service import FleetService
from derlink.domain import ControlBase, Device, DeviceKind, Priority, Program
from derlink.pki import Pki, Role, sfdi_from_lfdi
from derlink.sep2.transport import client_context, server_context
from derlink.sep2.xml import DERControlResponse, Subscription, encode
from derlink.store import Database
from derlink.store.schema import ResponseRow

SFDI_IN_PATH = re.compile(rb"POST /n/(\d+) ")
AGG_IN_PATH = re.compile(rb"POST /a/(\d+)/([\w.-]+) ")


@dataclass
class Aggregator:
    prefix: Path
    lfdi: str
    context: ssl.SSLContext
    devices: list[tuple[str, int, str]] = field(default_factory=list)  # lfdi, sfdi, group
    queue: asyncio.Queue[tuple[str, str, bytes]] = field(default_factory=asyncio.Queue)

    async def sender(self, port: int) -> None:
        conn = Connection("127.0.0.1", port, self.context)
        while True:
            method, path, body = await self.queue.get()
            status, _ = await conn.request(method, path, body)
            if status >= 300:
                print(f"  {method} {path} -> {status}")


def response(lfdi: str, mrid: str, status: int) -> bytes:
    return encode(
        DERControlResponse(
            createdDateTime=int(time.time()),
            endDeviceLFDI=bytes.fromhex(lfdi),
            status=status,
            subject=bytes.fromhex(mrid),
        )
    )


async def setup(bench: Bench, aggregators: int, devices: int) -> list[Aggregator]:
    pki = Pki.open(bench.home.pki_dir, passphrase=None)
    now = datetime.now(UTC)
    aggs = []
    for a in range(aggregators):
        issued = pki.issue_aggregator(f"vpp-{a}", [Role.OPERATOR], now=now)
        prefix = bench.root / f"agg{a}"
        issued.write(prefix)
        ctx = client_context(
            certfile=prefix.with_suffix(".pem"),
            keyfile=prefix.with_suffix(".key"),
            cafile=bench.home.pki_dir / "ca-bundle.pem",
        )
        ctx.check_hostname = False
        aggs.append(Aggregator(prefix, issued.lfdi, ctx))
    async with open_audit_log(bench.home, bench.url, write=True) as log:
        fleet = FleetService(log.db, log)
        for agg in aggs:
            await fleet.enrol(
                Device(agg.lfdi, sfdi_from_lfdi(agg.lfdi), kind=DeviceKind.AGGREGATOR),
                actor="bench",
            )
        batch = []
        for n in range(devices):
            agg = aggs[n % aggregators]
            lfdi = hashlib.sha1(f"bench-device-{n}".encode()).hexdigest().upper()
            group = GROUPS[n % 3]
            agg.devices.append((lfdi, sfdi_from_lfdi(lfdi), group))
            batch.append(
                Device(lfdi, sfdi_from_lfdi(lfdi), site=f"site-{group}", aggregator=agg.lfdi)
            )
        for start in range(0, len(batch), 2000):
            await fleet.enrol_many(batch[start : start + 2000], actor="bench")
        for group in GROUPS:
            await fleet.add_program(
                Program(f"{group}.red", primacy=Priority.RED.primacy, groups=frozenset({group})),
                actor="bench",
            )
    return aggs


async def count_responses(url: str, status: int) -> int:
    async with Database(url) as db, db.sessions() as s:
        found = await s.scalar(
            select(func.count(func.distinct(ResponseRow.lfdi))).where(ResponseRow.status == status)
        )
    return int(found or 0)


async def run(database: str, devices: int, aggregators: int, mode: str, poll: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), database, 0, 0)
        await bench.create_empty()
        aggs = await setup(bench, aggregators, devices)
        bench.start()
        listener_port = bench.port + 1
        mrids: dict[str, str] = {}  # group -> control mRID
        try:
            senders = [asyncio.create_task(a.sender(bench.port)) for a in aggs for _ in range(4)]
            by_sfdi = {
                sfdi: (agg, lfdi, group) for agg in aggs for lfdi, sfdi, group in agg.devices
            }
            if mode == "notify":
                server = await listen(listener_port, bench, by_sfdi, mrids)
                t0 = time.perf_counter()
                await subscribe_all(aggs, listener_port)
                print(f"  {devices} subscriptions created in {time.perf_counter() - t0:.1f} s")
            elif mode == "aggregate":
                server = await listen(listener_port, bench, by_sfdi, mrids, aggs)
                await subscribe_aggregators(aggs, listener_port)
            else:
                server = None
            await asyncio.sleep(1.0)
            async with open_audit_log(bench.home, bench.url, write=True) as log:
                fleet = FleetService(log.db, log)
                t0 = time.perf_counter()
                for group in GROUPS:
                    control = await fleet.create_control(
                        ControlBase(export_limit_w=5000),
                        actor="bench",
                        start=int(time.time()),
                        duration=3600,
                        group=group,
                        priority=Priority.RED,
                    )
                    mrids[group] = control.mrid
            pollers = (
                [asyncio.create_task(poll_loop(a, bench.port, poll, mrids)) for a in aggs]
                if mode == "poll"
                else []
            )
            marks = await watch(bench.url, devices, t0)
            for task in [*senders, *pollers]:
                task.cancel()
            if server is not None:
                server.close()
        finally:
            await bench.destroy()
    print(
        f"{database:10s} {mode:6s} N={devices:6d} aggregators={aggregators}: "
        + ", ".join(f"{name} {pct}% in {t:.2f} s" for (name, pct), t in marks.items())
    )


async def subscribe(conn: Connection, sfdi: int, group: str, uri: str) -> None:
    """Subscribe EndDevice ``sfdi`` to feeder ``group``'s DERControlList, notified at ``uri``."""
    sub = Subscription(
        subscribedResource=f"/derp/{group}.red/derc",
        encoding=0,
        level="+S1",
        limit=1,
        notificationURI=uri,
    )
    status, _ = await conn.request("POST", f"/edev/{sfdi}/sub", encode(sub))
    assert status == 201, status


async def subscribe_all(aggs: list[Aggregator], port: int) -> None:
    async def one(agg: Aggregator, part: list[tuple[str, int, str]]) -> None:
        conn = Connection("127.0.0.1", port - 1, agg.context)
        for _, sfdi, group in part:
            await subscribe(conn, sfdi, group, f"https://127.0.0.1:{port}/n/{sfdi}")

    await asyncio.gather(*(one(a, a.devices[i::4]) for a in aggs for i in range(4)))


async def subscribe_aggregators(aggs: list[Aggregator], port: int) -> None:
    """One subscription per aggregator and feeder program, through its own EndDevice."""
    for a, agg in enumerate(aggs):
        conn = Connection("127.0.0.1", port - 1, agg.context)
        own = sfdi_from_lfdi(agg.lfdi)
        for group in GROUPS:
            await subscribe(conn, own, group, f"https://127.0.0.1:{port}/a/{a}/{group}")


async def listen(
    port: int,
    bench: Bench,
    by_sfdi: dict[int, tuple[Aggregator, str, str]],
    mrids: dict[str, str],
    aggs: list[Aggregator] | None = None,
) -> asyncio.Server:
    ctx = server_context(
        certfile=bench.root / "listener.pem",
        keyfile=bench.root / "listener.key",
        cafile=bench.home.pki_dir / "ca-bundle.pem",
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
                fan_out = AGG_IN_PATH.match(head)
                if fan_out and aggs is not None:
                    agg, group = aggs[int(fan_out.group(1))], fan_out.group(2).decode()
                    for lfdi, _, g in agg.devices:
                        if g == group:
                            for status in (1, 2):
                                agg.queue.put_nowait(
                                    (
                                        "POST",
                                        f"/rsps/{group}.red/rsp",
                                        response(lfdi, mrids[group], status),
                                    )
                                )
                found = SFDI_IN_PATH.match(head)
                if found:
                    agg, lfdi, group = by_sfdi[int(found.group(1))]
                    mrid = mrids[group]
                    for status in (1, 2):
                        agg.queue.put_nowait(
                            ("POST", f"/rsps/{group}.red/rsp", response(lfdi, mrid, status))
                        )
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)


async def poll_loop(agg: Aggregator, port: int, every: float, mrids: dict[str, str]) -> None:
    conn = Connection("127.0.0.1", port, agg.context)
    done: set[str] = set()
    sfdi = agg.devices[0][1]
    while True:
        for group in GROUPS:
            if group in done:
                continue
            status, body = await conn.request(
                "GET",
                f"/edev/{sfdi}/fsa/{group}/derp?l=10" if False else f"/derp/{group}.red/derc?l=10",
            )
            if status == 200 and mrids.get(group, "x").encode() in body:
                done.add(group)
                for lfdi, _, g in agg.devices:
                    if g == group:
                        for status_code in (1, 2):
                            agg.queue.put_nowait(
                                (
                                    "POST",
                                    f"/rsps/{group}.red/rsp",
                                    response(lfdi, mrids[group], status_code),
                                )
                            )
        await asyncio.sleep(every)


async def watch(
    url: str, devices: int, t0: float, timeout: float = 120.0
) -> dict[tuple[str, int], float]:
    marks: dict[tuple[str, int], float] = {}
    wanted = [("received", 95), ("received", 100), ("started", 95), ("started", 100)]
    while time.perf_counter() - t0 < timeout and len(marks) < len(wanted):
        counts = {
            "received": await count_responses(url, 1),
            "started": await count_responses(url, 2),
        }
        now = time.perf_counter() - t0
        for name, pct in wanted:
            if (name, pct) not in marks and counts[name] * 100 >= devices * pct:
                marks[(name, pct)] = now
        await asyncio.sleep(0.1)
    return marks


Maker = Callable[[], Awaitable[None]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--aggregators", type=int, default=4)
    modes = ["notify", "aggregate", "poll"]
    parser.add_argument("--mode", choices=modes, nargs="+", default=modes)
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval, s")
    parser.add_argument("--database", default="postgresql")
    args = parser.parse_args()
    print(__doc__.strip().splitlines()[0])
    for devices in args.devices:
        for mode in args.mode:
            asyncio.run(run(args.database, devices, args.aggregators, mode, args.poll))


if __name__ == "__main__":
    main()
