"""IEC 61850 over XMPP: iq round trips, a group command through MUC, reports per second.

Workload: derlink's XMPP server (ejabberd and Prosody, each started by derlink with a fresh
PKI on a free port), one control centre (:class:`ControlCentre`, the admin JID) and N simulated
IEDs in this process (:class:`derlink.sim.iedfleet.IedFleet`: the shipped 7-420 model parsed
once, household physics, each IED its own certificate and XMPP session).

Method, wall clock on this machine, everything (server, centre, IEDs) on the same cores:

- iq round trip: ``--iq`` sequential ACSI GetDataValues (MMXU1.TotW) from the centre to one
  IED, each an MMS read in an ``<iq type="set">`` through the server and its result back;
  p50/p99. Then the same reads 8 at a time to each of up to 100 IEDs: reads per second.
- group command: the centre creates one MUC room with all N IEDs as members (derlink's
  configuration lets an ejabberd room hold 10,000 occupants; ``--room-size`` splits the group
  to compare), waits until all joined, then sends one SetDataValues (DECP1.WExpLim, export
  limit) as one groupchat per room; the time from sending to the moment each IED's value store
  holds the new value (a listener on each store, same clock); ``--repeat`` commands, p50 / max
  of the time to reach all N. Rooms broadcast the moderator's presence only (derlink's room
  configuration); ``--broadcast all`` broadcasts every occupant's, to measure what that costs.
- reports: every IED's BRCB ``brcbMeas01`` enabled (data change); then ``--repeat`` bursts in
  which every IED's MMXU1.TotW changes at once (written into its value store as its driver
  would, then :meth:`IedRuntime.process_changed`), so each sends one report through the
  server; reports received by the centre divided
  by the time until the last one arrived. (A steady integrity period on all IEDs saturates this
  single process, which encodes and decodes both ends, before the server.)
- memory: process RSS growth per IED once all are logged in (IED objects and sessions), and
  the part of it that is the slixmpp client object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from derlink.config import DEFAULT_TOML
from derlink.errors import DerlinkError
from derlink.home import Home
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.mms.data import td_float32, to_data
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from derlink.iec61850.model.store import Change
from derlink.iec61850.xmpp.endpoint import Endpoint, EndpointConfig
from derlink.iec61850.xmpp.muc import PERSISTENT, ROLES, ROOM_CONFIG
from derlink.iec61850.xmpp.server import XmppServer, XmppSettings, backend_module
from derlink.pki import Pki
from derlink.sim.iedfleet import IED_RESOURCE, IedFleet, IedRecord, SharedModel
from derlink.sim.runner import rss_bytes

DOMAIN = "derlink.local"
ADMIN = f"centre@{DOMAIN}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_for(kind: str, base: Path) -> tuple[XmppServer, Pki, Home]:
    home = Home(base / "home")
    home.create()
    home.config_file.write_text(DEFAULT_TOML)
    pki = Pki.create(home.pki_dir, passphrase=None, now=datetime.now(UTC))
    settings = XmppSettings(kind, DOMAIN, "127.0.0.1", free_port(), (ADMIN,))  # type: ignore[arg-type]
    return XmppServer(home, settings), pki, home


async def run(kind: str, n: int, args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix=f"derlink-bench-{kind}-"))
    base.chmod(0o711)  # the server drops to its own user when run as root
    server, pki, _home = server_for(kind, base)
    t0 = time.perf_counter()
    server.start(timeout=60)
    print(f"{kind:8s} server started in {time.perf_counter() - t0:.2f} s", flush=True)
    certs = base / "certs"
    certs.mkdir()
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    records = []
    for i in range(n):
        jid = f"ied-{i:05d}@{DOMAIN}"
        prefix = certs / f"ied-{i:05d}"
        pki.issue_xmpp_client(jid, now=now).write(prefix)
        records.append(IedRecord(i, jid, "", f"s{i}", "bench", prefix))
    centre_prefix = certs / "centre"
    pki.issue_xmpp_client(ADMIN, now=now).write(centre_prefix)
    print(f"{kind:8s} {n} IED certificates issued in {time.perf_counter() - t0:.1f} s", flush=True)
    settings = server.settings
    centre = ControlCentre(
        Endpoint(
            EndpointConfig(
                jid=f"{ADMIN}/centre",
                certfile=centre_prefix.with_suffix(".pem"),
                keyfile=centre_prefix.with_suffix(".key"),
                cafile=server.files.ca_file,
                host=settings.host,
                port=settings.port,
                max_outstanding=512,
                request_timeout=60.0,
            )
        ),
        request_timeout=60.0,
    )
    fleet: IedFleet | None = None
    try:
        await centre.start()
        shared = SharedModel()
        gc.collect()
        rss0 = rss_bytes()
        fleet = IedFleet(
            records,
            host=settings.host,
            port=settings.port,
            cafile=server.files.ca_file,
            centres=[ADMIN],
            measurement_interval=args.measure_s,
            shared=shared,
        )
        t0 = time.perf_counter()
        up = await fleet.start(concurrency=args.login_concurrency, timeout=120)
        login = time.perf_counter() - t0
        gc.collect()
        rss1 = rss_bytes()
        print(
            f"{kind:8s} {up}/{n} IEDs logged in in {login:.1f} s ({up / login:.0f}/s); "
            f"RSS +{(rss1 - rss0) / max(up, 1) / 1024:.0f} KiB per IED "
            f"(process {rss1 / 2**20:.0f} MiB)",
            flush=True,
        )
        jids = [f"{r.jid}/{IED_RESOURCE}" for r in records]
        centre.watch(jids)
        await wait_for(lambda: all(centre.presence.is_available(j) for j in jids), 120)
        await iq_round_trips(kind, centre, jids, args)
        await group_command(kind, centre, fleet, args)
        await reports(kind, centre, fleet, jids, args)
    finally:
        if fleet is not None:
            await fleet.stop()
        await centre.stop()
        await asyncio.sleep(0.5)  # let the closed sessions' tasks finish
        server.stop()


async def wait_for(condition: object, timeout: float) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def iq_round_trips(
    kind: str, centre: ControlCentre, jids: list[str], args: argparse.Namespace
) -> None:
    ref = ObjectReference.parse("DERIEDLD0/MMXU1.TotW.mag.f")
    await centre.associate(jids[0])
    for _ in range(20):  # warm up
        await centre.read(jids[0], ref, FC.MX)
    times = []
    for _ in range(args.iq):
        t0 = time.perf_counter()
        await centre.read(jids[0], ref, FC.MX)
        times.append(time.perf_counter() - t0)
    print(
        f"{kind:8s} iq round trip (GetDataValues, sequential, {args.iq}): "
        f"p50 {pct(times, 0.5) * 1000:.2f} ms, p99 {pct(times, 0.99) * 1000:.2f} ms",
        flush=True,
    )
    targets = jids[: min(100, len(jids))]
    await asyncio.gather(*(centre.associate(j) for j in targets))
    per = max(1, args.iq // len(targets))

    async def reads(jid: str) -> None:
        gate = asyncio.Semaphore(8)

        async def one() -> None:
            async with gate:
                await centre.read(jid, ref, FC.MX)

        await asyncio.gather(*(one() for _ in range(per)))

    t0 = time.perf_counter()
    await asyncio.gather(*(reads(j) for j in targets))
    elapsed = time.perf_counter() - t0
    total = per * len(targets)
    print(
        f"{kind:8s} iq throughput: {total / elapsed:.0f} reads/s "
        f"({total} reads, {len(targets)} IEDs, 8 in flight each)",
        flush=True,
    )


async def group_command(
    kind: str, centre: ControlCentre, fleet: IedFleet, args: argparse.Namespace
) -> None:
    n = len(fleet.ieds)
    size = args.room_size or n
    bares = [i.record.jid for i in fleet.ieds]
    tag = uuid.uuid4().hex[:6]
    t0 = time.perf_counter()
    names = []
    for k in range(0, n, size):
        name = f"bench-{tag}-{k // size}"
        room = f"{name}@{centre.muc_service}"
        members = bares[k : k + size]
        if args.broadcast == "moderator":  # derlink's rooms: joins cost O(N), not O(N^2)
            await centre.create_group(name, members, wait=False)
        else:  # every occupant's presence reaches every occupant
            await centre.muc.join(room)
            # not persistent: a persistent room is stored at every grant (O(N²) on Prosody)
            await centre.muc.configure(
                room, {**ROOM_CONFIG, "muc#roomconfig_presencebroadcast": ROLES, PERSISTENT: "0"}
            )
            await centre.muc.add_members(room, members, timeout=120)
            centre.groups[name] = room
        names.append(name)
    joined = list(fleet.ieds)

    def in_rooms() -> bool:
        return all(any(r.joined.is_set() for r in i.runtime.muc.rooms.values()) for i in joined)

    await wait_for(in_rooms, 600)
    print(
        f"{kind:8s} {len(names)} MUC room(s) of at most {size} IEDs for all {n} (presence "
        f"broadcast: {args.broadcast}), created and joined in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    fcda = FCDA(ObjectReference.parse("DERIEDLD0/DECP1.WExpLim.setMag.f"), FC.SP)

    def listener(
        index: int, wanted: float, arrived: dict[int, float], done: asyncio.Event
    ) -> Callable[[tuple[Change, ...]], None]:
        def on_change(changes: tuple[Change, ...]) -> None:
            for change in changes:
                if change.ref == fcda.ref and change.new == wanted and index not in arrived:
                    arrived[index] = time.perf_counter()
                    if len(arrived) == n:
                        done.set()

        return on_change

    reach_all = []
    medians = []
    for rep in range(args.repeat):
        value = 1000.0 + rep
        arrived: dict[int, float] = {}
        done = asyncio.Event()
        unsubscribe = [
            ied.runtime.server.store.subscribe(listener(index, value, arrived, done))
            for index, ied in enumerate(fleet.ieds)
        ]
        sent = time.perf_counter()
        for name in names:  # one groupchat per room
            centre.group_write(name, fcda.ref, FC.SP, to_data(td_float32(), value))
        try:
            await asyncio.wait_for(done.wait(), 120)
        finally:
            for stop in unsubscribe:
                stop()
        delays = [t - sent for t in arrived.values()]
        reach_all.append(max(delays))
        medians.append(statistics.median(delays))
        await asyncio.sleep(0.5)
    print(
        f"{kind:8s} group command to all {n} IEDs through MUC ({args.repeat} commands, "
        f"{len(names)} groupchat(s) each): all reached in p50 "
        f"{statistics.median(reach_all) * 1000:.0f} ms, max {max(reach_all) * 1000:.0f} ms; "
        f"median IED {statistics.median(medians) * 1000:.0f} ms",
        flush=True,
    )


async def reports(
    kind: str, centre: ControlCentre, fleet: IedFleet, jids: list[str], args: argparse.Namespace
) -> None:
    """Every IED's BRCB enabled on data change; then bursts: a new TotW value in every IED's
    store at once (as its driver would write it), one report each through the server."""
    gate = asyncio.Semaphore(32)
    rcb = "DERIEDLD0/LLN0.brcbMeas01"
    failed: list[str] = []

    async def enable(jid: str) -> None:
        async with gate:
            try:
                await centre.associate(jid, timeout=120)
                await centre.enable_reporting(jid, rcb, buffered=True, intg_pd_ms=0)
            except DerlinkError as err:  # counted, not fatal: the rate is of what was enabled
                failed.append(f"{jid}: {err}")

    t0 = time.perf_counter()
    await asyncio.gather(*(enable(j) for j in jids))
    enabled = len(jids) - len(failed)
    print(
        f"{kind:8s} reporting enabled on {enabled}/{len(jids)} IEDs in "
        f"{time.perf_counter() - t0:.1f} s" + (f" (first failure: {failed[0]})" if failed else ""),
        flush=True,
    )
    counted = [0]
    centre.on_report(lambda _jid, _report: counted.__setitem__(0, counted[0] + 1))
    total_w = FCDA(ObjectReference.parse("DERIEDLD0/MMXU1.TotW.mag.f"), FC.MX)
    await asyncio.sleep(1.0)
    rates = []
    for burst in range(args.repeat):
        start, t0 = counted[0], time.perf_counter()
        for ied in fleet.ieds:
            ied.runtime.server.store.set(total_w, 100_000.0 + burst)
            ied.runtime.process_changed()  # report now, not at the next measurement
        deadline = time.monotonic() + 60
        while counted[0] - start < enabled and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        rates.append((counted[0] - start) / (time.perf_counter() - t0))
        await asyncio.sleep(0.5)
    print(
        f"{kind:8s} reports: {statistics.median(rates):.0f}/s through the server to the centre "
        f"(median of {args.repeat} bursts of one data-change report from each of {enabled} "
        f"IEDs; best {max(rates):.0f}/s)",
        flush=True,
    )


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR)
    if args.one:  # one server and fleet size in this process (so its RSS is its own)
        await run(args.one, args.ieds[0], args)
        return 0
    print(
        f"workload: {args.ieds} simulated IEDs on {', '.join(args.servers)}; centre and IEDs "
        f"in one process per server and size; iq {args.iq}; group commands and report "
        f"bursts {args.repeat}",
        flush=True,
    )
    failed = 0
    for kind in args.servers:
        if shutil.which(backend_module(kind).BINARY) is None:
            print(f"{kind} skipped: not installed")
            continue
        for n in args.ieds:
            options = {
                "--iq": args.iq,
                "--repeat": args.repeat,
                "--measure-s": args.measure_s,
                "--login-concurrency": args.login_concurrency,
                "--room-size": args.room_size,
                "--broadcast": args.broadcast,
            }
            command = [sys.executable, __file__, "--one", kind, "--ieds", str(n)]
            for flag, value in options.items():
                command += [flag, str(value)]
            failed += subprocess.run(command, check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ieds", type=int, nargs="+", default=[100], help="fleet sizes")
    parser.add_argument("--servers", nargs="+", default=["ejabberd", "prosody"])
    parser.add_argument("--iq", type=int, default=1000, help="sequential iq round trips")
    parser.add_argument("--repeat", type=int, default=5, help="group commands, report bursts")
    parser.add_argument("--measure-s", type=float, default=60.0, help="IED measurement period")
    parser.add_argument("--login-concurrency", type=int, default=50)
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--broadcast",
        choices=["moderator", "all"],
        default="moderator",
        help="whose presence a room broadcasts (all: every join reaches every occupant)",
    )
    parser.add_argument(
        "--room-size", type=int, default=0, help="IEDs per MUC room (default: all in one)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
