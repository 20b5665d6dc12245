"""EventStatus of price intervals, load controls and text messages (Annex B EventStatus)."""

from __future__ import annotations

from typing import Any

from derlink.control.events_published import device_categories as by_category
from derlink.control.events_published import event_statuses, whole_list
from derlink.domain import (
    ControlStatus,
    Event,
    LoadControl,
    LoadModes,
    Message,
    PriceBlock,
    TariffInterval,
)

S = ControlStatus
T0 = 1_800_000_000


def _timing(n: int, start: int, created: int, **more: Any) -> dict[str, Any]:
    return {
        "mrid": f"{n:032X}",
        "program": "p",
        "start": start,
        "duration": 3600,
        "created": created,
        **more,
    }


def load(n: int, start: int, created: int, categories: int, **more: Any) -> LoadControl:
    modes = LoadModes(duty_cycle_pct=50)
    return LoadControl(
        **_timing(n, start, created, **more), device_category=categories, modes=modes
    )


def price(n: int, start: int, created: int, **more: Any) -> TariffInterval:
    blocks = (PriceBlock(0, 25),)
    return TariffInterval(**_timing(n, start, created, **more), component="rc", blocks=blocks)


def text(n: int, start: int, created: int) -> Message:
    return Message(**_timing(n, start, created), text=f"message {n}")


def status(events: list[Any], now: int, scope: Any, n: int) -> tuple[S, int, bool]:
    found = event_statuses(events, now, scope)[f"{n:032X}"]
    return found.current_status, found.date_time, found.potentially_superseded


def test_same_categories_supersede_at_the_newer_events_earliest_start() -> None:
    events: list[Event] = [load(1, T0, T0 - 100, 0x8), load(2, T0 + 600, T0 - 50, 0x8)]
    assert status(events, T0 - 60, by_category, 1) == (S.SCHEDULED, T0 - 100, False)
    assert status(events, T0 + 10, by_category, 1) == (S.ACTIVE, T0, False)
    assert status(events, T0 + 600, by_category, 1) == (S.SUPERSEDED, T0 + 600, False)
    assert status(events, T0 + 600, by_category, 2) == (S.ACTIVE, T0 + 600, False)


def test_partly_shared_categories_flag_potentially_superseded() -> None:
    events: list[Event] = [load(1, T0, T0 - 100, 0x9), load(2, T0, T0 - 50, 0x8)]
    assert status(events, T0 - 60, by_category, 1) == (S.SCHEDULED, T0 - 100, False)
    assert status(events, T0 + 1, by_category, 1) == (S.ACTIVE, T0, True)
    assert status(events, T0 + 1, by_category, 2)[2] is False
    apart: list[Event] = [load(1, T0, T0 - 100, 0x1), load(2, T0, T0 - 50, 0x8)]
    assert status(apart, T0 + 1, by_category, 1) == (S.ACTIVE, T0, False)


def test_price_intervals_of_a_rate_component_supersede_each_other() -> None:
    events: list[Event] = [price(1, T0, T0 - 100), price(2, T0 + 1800, T0 - 10)]
    assert status(events, T0 + 1800, whole_list, 1)[0] is S.SUPERSEDED
    late: list[Event] = [price(1, T0, T0 - 100), price(2, T0 + 1800, T0 + 2000)]
    assert status(late, T0 + 2000, whole_list, 1) == (S.SUPERSEDED, T0 + 2000, False)


def test_text_messages_are_never_superseded() -> None:
    events: list[Event] = [text(1, T0, T0 - 100), text(2, T0, T0 - 50)]
    assert [status(events, T0 + 1, None, n)[0] for n in (1, 2)] == [S.ACTIVE, S.ACTIVE]


def test_cancellation_and_randomized_start() -> None:
    cancelled = load(2, T0, T0 - 50, 0x8, status=S.CANCELLED, status_time=T0 - 20)
    events: list[Event] = [load(1, T0, T0 - 1000, 0x8, randomize_start=-300), cancelled]
    assert status(events, T0 - 301, by_category, 1)[0] is S.SCHEDULED
    assert status(events, T0 - 300, by_category, 1) == (S.ACTIVE, T0 - 300, False)
    assert status(events, T0 + 10, by_category, 1)[0] is S.ACTIVE
    assert status(events, T0 - 30, by_category, 2) == (S.SCHEDULED, T0 - 50, False)
    assert status(events, T0 + 10, by_category, 2) == (S.CANCELLED, T0 - 20, False)
