"""The DER client's decisions without sockets: time passed in, vectors in, decisions out."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from derlink.domain import Control, ControlBase, ControlStatus, Program, ResponseStatus
from derlink.sep2.client import (
    Averager,
    Backoff,
    EventEngine,
    EventMeta,
    MirrorClock,
    NotificationListener,
    NotRegistered,
    PinMismatch,
    ProgramView,
    ResourceTree,
    Sample,
    Sep2Http,
    ServerClock,
    SubscribePolicy,
    SubscriptionBook,
    convert_controls,
    mirror,
    program_id,
)
from derlink.sep2.client.errors import BadResource
from derlink.sep2.client.tree import DEFAULT_POLL_RATE
from derlink.sep2.client.walker import DeviceWalker
from derlink.sep2.mapping import active_power
from derlink.sep2.xml import (
    MEDIA_TYPE,
    DateTimeInterval,
    DERControl,
    DERControlBase,
    DERControlList,
    DERList,
    DERProgram,
    DERProgramList,
    DeviceCapability,
    EndDevice,
    EndDeviceList,
    EventStatus,
    FunctionSetAssignments,
    FunctionSetAssignmentsList,
    Link,
    ListLink,
    Notification,
    Registration,
    Subscription,
    Time,
    encode,
)

LFDI = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"
SFDI = 167261211391
T0 = 1_800_000_000
R, S, C, X, SUP = (
    ResponseStatus.EVENT_RECEIVED,
    ResponseStatus.EVENT_STARTED,
    ResponseStatus.EVENT_COMPLETED,
    ResponseStatus.EVENT_CANCELLED,
    ResponseStatus.EVENT_SUPERSEDED,
)

# --- the resource tree -----------------------------------------------------------------------


def _dcap_follow(obj: Any) -> Any:
    if isinstance(obj, DeviceCapability) and obj.EndDeviceListLink is not None:
        yield obj.EndDeviceListLink.href, EndDeviceList
    if isinstance(obj, DeviceCapability) and obj.TimeLink is not None:
        yield obj.TimeLink.href, Time


def test_poll_rates_come_from_each_resource_or_default_to_900_s() -> None:
    tree = ResourceTree(_dcap_follow)
    tree.add_root("/dcap", DeviceCapability, T0)
    assert [e.href for e in tree.due(T0)] == ["/dcap"]
    dcap = DeviceCapability(
        href="/dcap",
        pollRate=300,
        EndDeviceListLink=ListLink(href="/edev"),
        TimeLink=Link(href="/tm"),
    )
    tree.received("/dcap", dcap, T0)
    assert tree.entries["/dcap"].due == T0 + 300
    assert {e.href for e in tree.due(T0)} == {"/edev", "/tm"}
    tree.received("/edev", EndDeviceList(href="/edev", all=0, results=0), T0)
    assert tree.entries["/edev"].rate == DEFAULT_POLL_RATE  # has pollRate, absent: 900
    assert tree.next_due() == T0  # /tm not fetched yet


def test_types_without_poll_rate_inherit_their_parents() -> None:
    walker = DeviceWalker(LFDI, SFDI, None)
    walker.set_end_device(_end_device(), 300, T0)
    walker.received("/fsa", _fsas(), T0)
    walker.received("/fsa/1/derp", _programs(poll=60), T0)
    assert walker.tree.entries["/derp/1/derc"].rate == 60
    walker.received("/derp/1/derc", _controls(), T0)
    assert walker.tree.entries["/derp/1/derc"].due == T0 + 60


def test_a_link_that_disappears_drops_what_only_it_linked() -> None:
    walker = DeviceWalker(LFDI, SFDI, None)
    walker.set_end_device(_end_device(), 300, T0)
    walker.received("/fsa", _fsas(), T0)
    walker.received("/fsa/1/derp", _programs(), T0)
    assert "/derp/1/derc" in walker.tree.entries
    walker.received("/fsa/1/derp", DERProgramList(href="/fsa/1/derp", all=0, results=0), T0 + 1)
    assert "/derp/1/derc" not in walker.tree.entries and "/derp/1/dderc" not in walker.tree.entries


def test_failures_retry_with_back_off_but_never_later_than_the_poll_rate() -> None:
    tree = ResourceTree(_dcap_follow)
    tree.add_root("/dcap", DeviceCapability, T0, rate=60)
    tree.failed("/dcap", T0, 5.0)
    assert tree.entries["/dcap"].due == T0 + 5 and tree.entries["/dcap"].failures == 1
    tree.failed("/dcap", T0, 500.0)
    assert tree.entries["/dcap"].due == T0 + 60
    assert tree.refresh("/dcap", T0 + 1) and tree.entries["/dcap"].due == T0 + 1
    assert not tree.refresh("/nowhere", T0)


def test_back_off_grows_exponentially_with_jitter_and_a_cap() -> None:
    backoff, rng = Backoff(base=1.0, cap=60.0), random.Random(1)
    for attempt in range(12):
        ceiling = min(60.0, 2.0**attempt)
        delays = [backoff.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


# --- discovery, registration, the view -------------------------------------------------------


def _end_device(**changes: Any) -> EndDevice:
    fields: dict[str, Any] = {
        "href": "/edev/5",
        "sFDI": SFDI,
        "lFDI": bytes.fromhex(LFDI),
        "changedTime": T0,
        "RegistrationLink": Link(href="/edev/5/rg"),
        "FunctionSetAssignmentsListLink": ListLink(href="/fsa"),
        "DERListLink": ListLink(href="/der"),
        **changes,
    }
    return EndDevice(**fields)


def _fsas() -> FunctionSetAssignmentsList:
    fsa = FunctionSetAssignments(
        href="/fsa/1", mRID=b"\x01" * 16, DERProgramListLink=ListLink(href="/fsa/1/derp")
    )
    return FunctionSetAssignmentsList(href="/fsa", all=1, results=1, FunctionSetAssignments=(fsa,))


def _programs(poll: int | None = None) -> DERProgramList:
    program = DERProgram(
        href="/derp/1",
        mRID=b"\x02" * 16,
        primacy=10,
        DERControlListLink=ListLink(href="/derp/1/derc", all=1),
        ActiveDERControlListLink=ListLink(href="/derp/1/actderc", all=0),
        DefaultDERControlLink=Link(href="/derp/1/dderc"),
        DERCurveListLink=ListLink(href="/derp/1/dc", all=0),
    )
    return DERProgramList(
        href="/fsa/1/derp", pollRate=poll, all=1, results=1, DERProgram=(program,)
    )


def _der_control(
    mrid: int = 1, *, start: int = T0 + 10, duration: int = 600, status: int = 0, **base: Any
) -> DERControl:
    return DERControl(
        href=f"/derp/1/derc/{mrid}",
        replyTo="/rsps/1/rsp",
        responseRequired=b"\x03",
        mRID=mrid.to_bytes(16, "big"),
        creationTime=T0,
        EventStatus=EventStatus(currentStatus=status, dateTime=T0, potentiallySuperseded=False),
        interval=DateTimeInterval(duration=duration, start=start),
        DERControlBase=DERControlBase(**(base or {"opModExpLimW": active_power(5000)})),
    )


def _controls(*controls: DERControl) -> DERControlList:
    items = controls or (_der_control(),)
    return DERControlList(href="/derp/1/derc", all=len(items), results=len(items), DERControl=items)


def test_nothing_but_the_registration_is_followed_until_the_pin_is_checked() -> None:
    walker = DeviceWalker(LFDI, SFDI, 123455)
    walker.set_end_device(_end_device(), 300, T0)
    assert {e.href for e in walker.tree.due(T0)} == {"/edev/5/rg"}
    assert not walker.registered and walker.view().programs == ()
    walker.received("/edev/5/rg", Registration(dateTimeRegistered=T0, pIN=123455), T0)
    assert walker.registered
    assert {e.href for e in walker.tree.due(T0)} == {"/fsa", "/der"}


def test_a_registration_with_another_pin_stops_the_device() -> None:
    walker = DeviceWalker(LFDI, SFDI, 123455)
    walker.set_end_device(_end_device(), 300, T0)
    with pytest.raises(PinMismatch, match="123455"):
        walker.received("/edev/5/rg", Registration(dateTimeRegistered=T0, pIN=111111), T0)
    assert not walker.registered


def test_a_pin_cannot_be_checked_without_a_registration_link() -> None:
    walker = DeviceWalker(LFDI, SFDI, 123455)
    with pytest.raises(NotRegistered):
        walker.set_end_device(_end_device(RegistrationLink=None), 300, T0)


def test_the_view_holds_programs_defaults_and_controls_once_all_are_fetched() -> None:
    from derlink.sep2.xml import DefaultDERControl

    walker = DeviceWalker(LFDI, SFDI, None)
    walker.set_end_device(_end_device(), 300, T0)
    walker.received("/fsa", _fsas(), T0)
    walker.received("/der", DERList(href="/der", all=0, results=0), T0)
    walker.received("/fsa/1/derp", _programs(), T0)
    assert {e.href for e in walker.tree.due(T0)} == {"/derp/1/derc", "/derp/1/dderc"}
    assert not walker.view().complete
    walker.received("/derp/1/derc", _controls(), T0)
    default = DefaultDERControl(
        href="/derp/1/dderc",
        mRID=b"\x03" * 16,
        DERControlBase=DERControlBase(opModGenLimW=active_power(8000)),
    )
    walker.received("/derp/1/dderc", default, T0)
    view = walker.view()
    assert view.complete
    (program,) = view.programs
    assert program.id == program_id("/derp/1") and program.primacy == 10
    assert program.default == ControlBase(generation_limit_w=8000)
    (control,) = view.controls
    assert control.base == ControlBase(export_limit_w=5000) and control.start == T0 + 10
    assert view.meta[control.mrid].reply_to == "/rsps/1/rsp"


def test_invalid_controls_are_rejected_and_other_categories_ignored() -> None:
    bad = [
        _der_control(1, duration=0),  # no window
        _der_control(2, opModConnect=None),  # no mode at all
        _der_control(3, status=9),  # no such EventStatus
    ]
    other = DERControl(**{**_fields(_der_control(4)), "deviceCategory": b"\x00\x00\x00\x02"})
    converted = convert_controls("p1", [*bad, other, _der_control(5)], device_category=0x01)
    assert [c.mrid for c in converted.controls] == [(5).to_bytes(16, "big").hex().upper()]
    assert len(converted.rejected) == 3
    assert {r.status for r in converted.rejected} == {ResponseStatus.REJECTED_INVALID}
    assert len(converted.meta) == 4  # the other category is not even answered


def _fields(obj: DERControl) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def test_program_ids_are_stable_domain_names() -> None:
    assert program_id("/derp/1") == program_id("/derp/1") != program_id("/derp/2")
    Program(program_id("/a/very/long/href?with=query" * 5), primacy=1)


# --- the event engine ------------------------------------------------------------------------

PROGRAM = Program("p1", primacy=10, default=ControlBase(generation_limit_w=9000))


def _control(
    n: int, *, start: int = T0 + 100, duration: int = 300, created: int = T0, **base: Any
) -> Control:
    return Control(
        mrid=f"{n:032X}",
        program="p1",
        start=start,
        duration=duration,
        base=ControlBase(**(base or {"export_limit_w": 5000})),
        created=created,
    )


def _view(
    *controls: Control, required: int = 0x03, complete: bool = True, **kw: Any
) -> ProgramView:
    meta = {c.mrid: EventMeta(bytes.fromhex(c.mrid), "/rsp", required) for c in controls}
    return ProgramView((PROGRAM,), tuple(controls), meta, complete=complete, **kw)


def _statuses(decision: Any) -> list[tuple[str, ResponseStatus]]:
    return [(r.mrid[-2:], r.status) for r in decision.responses]


def test_an_event_is_received_started_and_completed_at_its_times() -> None:
    engine = EventEngine(seed=LFDI)
    a = _control(1)
    d = engine.update(_view(a), T0)
    assert _statuses(d) == [("01", R)]
    assert d.envelope == ControlBase(generation_limit_w=9000) and d.in_force.is_default
    assert d.wake_at == T0 + 100
    assert engine.update(_view(a), T0 + 50).responses == ()
    d = engine.update(_view(a), T0 + 100)
    assert _statuses(d) == [("01", S)]
    assert d.envelope == ControlBase(export_limit_w=5000, generation_limit_w=9000)
    d = engine.update(_view(a), T0 + 400)
    assert _statuses(d) == [("01", C)] and d.in_force.is_default


def test_response_required_bits_decide_what_is_posted() -> None:
    for required, wanted in ((0x00, []), (0x01, [R]), (0x02, [S]), (0x03, [R, S])):
        engine = EventEngine(seed=LFDI)
        d = engine.update(_view(_control(1, start=T0), required=required), T0)
        assert [s for _, s in _statuses(d)] == wanted


def test_a_newer_event_with_the_same_modes_supersedes_the_running_one() -> None:
    engine = EventEngine(seed=LFDI)
    old = _control(1, start=T0, duration=600, export_limit_w=4000)
    engine.update(_view(old), T0 + 1)
    new = _control(2, start=T0 + 30, duration=600, created=T0 + 20, export_limit_w=2500)
    d = engine.update(_view(old, new), T0 + 20)
    assert _statuses(d) == [("02", R)]
    d = engine.update(_view(old, new), T0 + 30)
    assert sorted(_statuses(d)) == [("01", SUP), ("02", S)]
    assert d.envelope.export_limit_w == 2500


def test_a_cancelled_event_stops_and_the_defaults_return() -> None:
    engine = EventEngine(seed=LFDI)
    a = _control(1, start=T0)
    assert engine.update(_view(a), T0 + 1).envelope.export_limit_w == 5000
    cancelled = Control(**{**_fields(a), "status": ControlStatus.CANCELLED, "status_time": T0 + 5})
    d = engine.update(_view(cancelled), T0 + 6)
    assert _statuses(d) == [("01", X)] and d.envelope.export_limit_w is None


def test_an_event_withdrawn_from_its_list_before_its_end_is_cancelled() -> None:
    engine = EventEngine(seed=LFDI)
    a = _control(1, start=T0)
    engine.update(_view(a), T0 + 1)
    assert engine.update(_view(complete=False), T0 + 2).responses == ()  # not sure yet
    d = engine.update(_view(), T0 + 3)
    assert _statuses(d) == [("01", X)] and d.envelope.export_limit_w is None


def test_an_event_the_server_stopped_listing_at_its_end_runs_out_its_own_duration() -> None:
    engine = EventEngine(seed=LFDI)
    a = Control(**{**_fields(_control(1, start=T0, duration=100)), "randomize_duration": 600})
    offsets = engine.update(_view(a), T0 + 1)
    window_end = offsets.wake_at
    assert window_end is not None and window_end >= T0 + 100
    if window_end > T0 + 101:  # this device drew a longer duration: it keeps the limit
        d = engine.update(_view(), T0 + 101)
        assert d.envelope.export_limit_w == 5000 and d.responses == ()
    d = engine.update(_view(), window_end)
    assert _statuses(d) == [("01", C)]


def test_invalid_and_expired_events_are_answered_once_and_never_applied() -> None:
    from derlink.sep2.client import Rejected

    engine = EventEngine(seed=LFDI)
    meta = EventMeta(b"\x09" * 16, "/rsp", 3)
    bad = Rejected("09" * 16, meta, ResponseStatus.REJECTED_INVALID, "no window")
    expired = _control(2, start=T0 - 1000, duration=100)
    view = _view(expired, rejected=(bad,))
    d = engine.update(view, T0)
    assert sorted(s for _, s in _statuses(d)) == [
        R,
        ResponseStatus.REJECTED_INVALID,
        ResponseStatus.REJECTED_EXPIRED,
    ]
    assert engine.update(view, T0 + 1).responses == ()
    assert d.in_force.is_default


def test_each_device_draws_its_own_randomised_start() -> None:
    a = Control(**{**_fields(_control(1, start=T0 + 100)), "randomize_start": 600})
    starts = set()
    for n in range(8):
        engine = EventEngine(seed=f"{n:040X}")
        starts.add(engine.update(_view(a), T0).wake_at)
    assert len(starts) > 1 and all(T0 + 100 <= s <= T0 + 700 for s in starts if s)
    again = EventEngine(seed=f"{0:040X}").update(_view(a), T0).wake_at
    assert again == EventEngine(seed=f"{0:040X}").update(_view(a), T0).wake_at


# --- telemetry and mirrors -------------------------------------------------------------------


def test_averages_of_samples_and_a_fresh_start_after_each_take() -> None:
    avg = Averager(T0)
    for w in (1000.0, 2000.0, 3000.0):
        avg.add(Sample(w, 0.0, -w, 0.0, 50.0, 230.0, None))
    got = avg.take(T0 + 60)
    assert got is not None and got.site_w == 2000.0 and got.der_w == -2000.0
    assert got.soc_pct is None
    assert avg.take(T0 + 120) is None
    avg.add(Sample(0.0, 0.0, 0.0, 0.0, 49.9, 231.0, 40.0))
    avg.add(Sample(0.0, 0.0, 0.0, 0.0, 50.1, 229.0, 60.0))
    got = avg.take(T0 + 180)
    assert got is not None and got.soc_pct == 50.0 and got.hz == pytest.approx(50.0)


def test_mirror_windows_are_aligned_and_posted_after_a_device_phase() -> None:
    clock = MirrorClock(60, phase=0.1)
    clock.start(T0 + 17)
    assert clock.window_start == T0 + 17 - (T0 + 17) % 60
    assert not clock.due(clock.window_end + 5) and clock.due(clock.window_end + 6)
    start, duration = clock.advance(clock.window_end + 6)
    assert duration == 60 and clock.window_start == start + 60
    clock.set_interval(300)
    assert clock.window_start % 300 == 0 and clock.offset == 30.0


def test_mirror_documents_carry_the_csip_aus_reading_types() -> None:
    site = mirror.usage_point(LFDI, mirror.SITE_ROLE, storage=True, interval=60)
    dev = mirror.usage_point(LFDI, mirror.DEVICE_ROLE, storage=True, interval=60)
    assert site.roleFlags == b"\x00\x03" and dev.roleFlags == b"\x00\x49"
    assert [m.ReadingType.uom for m in site.MirrorMeterReading] == [38, 63, 33, 29]  # type: ignore[union-attr]
    assert [m.ReadingType.uom for m in dev.MirrorMeterReading] == [38, 63, 33, 29, 0]  # type: ignore[union-attr]
    assert {(m.ReadingType.kind, m.ReadingType.dataQualifier) for m in dev.MirrorMeterReading} == {
        (37, 2)
    }  # type: ignore[union-attr]
    assert site.mRID == mirror.usage_point(LFDI, mirror.SITE_ROLE, storage=False, interval=300).mRID
    average = Sample(-3500.4, 120.0, 4200.0, -50.0, 49.987, 231.26, 55.5)
    body = mirror.readings(LFDI, mirror.SITE_ROLE, average, T0, 60, storage=True)
    values = [m.MirrorReadingSet[0].Reading[0].value for m in body.MirrorMeterReading]
    assert values == [-3500, 120, 4999, 2313]
    body = mirror.readings(LFDI, mirror.DEVICE_ROLE, average, T0, 60, storage=True)
    assert [m.MirrorReadingSet[0].Reading[0].value for m in body.MirrorMeterReading] == [
        4200,
        -50,
        4999,
        2313,
        56,
    ]
    encode(body)


def test_the_server_clock_ignores_sub_second_skew_and_follows_real_skew() -> None:
    clock = ServerClock(tolerance=2.0)
    clock.update(T0, T0 + 0.9)
    assert clock.now(T0 + 0.9) == T0
    clock.update(T0 + 100, T0)
    assert clock.now(T0 + 1) == T0 + 101 and clock.local(T0 + 101) == T0 + 1


# --- subscriptions ---------------------------------------------------------------------------


def test_subscriptions_follow_the_policy_and_the_advertised_subscribable() -> None:
    candidates = [("/derp/1/derc", 1), ("/derp/1/dderc", 0), ("/derp/2/derc", None)]
    auto = SubscriptionBook(SubscribePolicy.AUTO, "https://me/notify/1")
    assert auto.plan(candidates, T0) == (["/derp/1/derc"], [])
    always = SubscriptionBook(SubscribePolicy.ALWAYS, "https://me/notify/1")
    assert always.plan(candidates, T0)[0] == ["/derp/1/dderc", "/derp/1/derc", "/derp/2/derc"]
    always.subscribed("/derp/1/derc", "/sub/1")
    always.refuse("/derp/1/dderc", T0)
    assert always.plan(candidates, T0 + 1)[0] == ["/derp/2/derc"]
    assert always.plan(candidates[:1], T0 + 1) == ([], [])
    assert always.plan([], T0) == ([], ["/sub/1"])
    assert SubscriptionBook(SubscribePolicy.NEVER, "https://x").plan(candidates, T0) == ([], [])
    assert SubscriptionBook(SubscribePolicy.ALWAYS, None).plan(candidates, T0) == ([], [])


def test_subscriptions_left_on_the_server_are_adopted_not_duplicated() -> None:
    book = SubscriptionBook(SubscribePolicy.ALWAYS, "https://me/notify/1")

    def sub(n: int, resource: str, uri: str = "https://me/notify/1") -> Subscription:
        return Subscription(
            href=f"/sub/{n}",
            subscribedResource=resource,
            encoding=0,
            level="+S1",
            limit=1,
            notificationURI=uri,
        )

    surplus = book.adopt([sub(1, "/a"), sub(2, "/a"), sub(3, "/b", "https://other")])
    assert surplus == ["/sub/2"] and book.active == {"/a": "/sub/1"} and book.knows("/sub/1")
    book.ended("/sub/1")
    assert not book.active


# --- the HTTP shell without a network --------------------------------------------------------


def _server(pages: dict[int, DERControlList], seen: list[httpx.URL]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        start = int(request.url.params.get("s", "0"))
        return httpx.Response(
            200, content=encode(pages[start]), headers={"content-type": MEDIA_TYPE}
        )

    return httpx.MockTransport(answer)


async def test_lists_are_read_page_by_page_with_an_explicit_limit() -> None:
    controls = [_der_control(n) for n in range(1, 6)]
    pages = {
        s: DERControlList(
            href="/l",
            all=5,
            results=len(controls[s : s + 2]),
            DERControl=tuple(controls[s : s + 2]),
        )
        for s in (0, 2, 4)
    }
    seen: list[httpx.URL] = []
    async with httpx.AsyncClient(transport=_server(pages, seen)) as client:
        http = Sep2Http(client, "https://head.end:8443", page_size=2)
        got = await http.get_any("/l", DERControlList)
    assert [int(u.params["s"]) for u in seen] == [0, 2, 4]
    assert {u.params["l"] for u in seen} == {"2"}
    assert got.all == 5 and got.results == 5 and len(got.DERControl) == 5


async def test_only_what_the_codec_accepts_from_the_configured_server_is_used() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/html":
            return httpx.Response(200, content=b"<html/>", headers={"content-type": "text/html"})
        return httpx.Response(
            200, content=b"<DERControlList/>", headers={"content-type": MEDIA_TYPE}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        http = Sep2Http(client, "https://head.end:8443")
        with pytest.raises(BadResource, match="content type"):
            await http.get("/html", DERControlList)
        with pytest.raises(BadResource):
            await http.get("/bad", DERControlList)
        with pytest.raises(BadResource, match="leaves the configured server"):
            await http.get("https://elsewhere:8443/derc", DERControlList)


async def test_the_notification_endpoint_decodes_and_routes_by_end_device() -> None:
    from pathlib import Path

    listener = NotificationListener(
        "127.0.0.1", 0, certfile=Path("-"), keyfile=Path("-"), cafile=Path("-")
    )
    got: list[Notification] = []
    uri = listener.register("42", lambda note: got.append(note) or True)
    assert uri.endswith("/notify/42")
    note = Notification(
        subscribedResource="/derp/1/derc", Resource=_controls(), status=0, subscriptionURI="/sub/1"
    )

    async def post(path: str, body: bytes) -> int:
        sent: list[dict[str, Any]] = []
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return chunks.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await listener.app({"type": "http", "method": "POST", "path": path}, receive, send)
        return int(sent[0]["status"])

    assert await post("/notify/42", encode(note)) == 204
    assert got and got[0].subscribedResource == "/derp/1/derc"
    assert await post("/notify/42", b"<Notification>") == 400
    assert await post("/notify/7", encode(note)) == 404
