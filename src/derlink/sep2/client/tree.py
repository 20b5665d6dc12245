"""The resources a client watches, and when each is due: a poll schedule over followed links.

Sans-IO. The client never builds an href: every entry of the tree was linked from a resource it
fetched (its *parents*), down from a root it was given (DeviceCapability, or an EndDevice). When
a resource arrives, :meth:`ResourceTree.received` stores it, sets its next poll from its own
``pollRate`` (IEEE 2030.5: "the default polling rate for this function set (this resource and
all resources below)"; 900 s when the attribute is absent) or its parent's rate for types that
carry none, and re-reads its links: new links become entries due at once, links that are gone
drop the entries nobody else links (and everything below them).

``follow`` is the owner's rule for which links of a resource to watch, as
``(href, expected type)`` pairs; the tree itself knows no resource type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

from derlink.sep2.xml import Sep2Object

DEFAULT_POLL_RATE = 900
MIN_POLL_RATE = 1
Follow = Callable[[Sep2Object], Iterable[tuple[str, type[Sep2Object]]]]


_HAS_POLL_RATE: dict[type[Sep2Object], bool] = {}


def has_poll_rate(kind: type[Sep2Object]) -> bool:
    found = _HAS_POLL_RATE.get(kind)
    if found is None:
        found = _HAS_POLL_RATE[kind] = any(f.name == "pollRate" for f in fields(kind))  # type: ignore[arg-type]
    return found


def own_rate(obj: Sep2Object) -> int | None:
    """The pollRate ``obj`` states, the 900 s default if its type has the attribute but it is
    absent, None if its type has no pollRate (it inherits its parent's)."""
    if not has_poll_rate(type(obj)):
        return None
    rate = getattr(obj, "pollRate", None)
    return DEFAULT_POLL_RATE if rate is None else max(MIN_POLL_RATE, int(rate))


@dataclass(slots=True)
class Entry:
    href: str
    kind: type[Sep2Object]
    rate: int
    due: float
    parents: set[str] = field(default_factory=set)
    children: tuple[str, ...] = ()
    obj: Sep2Object | None = None
    fetched: float | None = None
    failures: int = 0
    polled: bool = True


class ResourceTree:
    """href → :class:`Entry`; roots are given, everything else is followed."""

    def __init__(self, follow: Follow) -> None:
        self.follow = follow
        self.entries: dict[str, Entry] = {}

    def add_root(
        self, href: str, kind: type[Sep2Object], now: float, *, rate: int = DEFAULT_POLL_RATE
    ) -> Entry:
        entry = self.entries.get(href)
        if entry is None:
            entry = self.entries[href] = Entry(href, kind, rate, now)
        return entry

    def set_inline(self, href: str, obj: Sep2Object, rate: int, now: float) -> None:
        """A resource the client holds without polling it (an EndDevice inside its list)."""
        entry = self.add_root(href, type(obj), now, rate=rate)
        entry.polled = False
        self.received(href, obj, now)

    def get(self, href: str | None) -> Sep2Object | None:
        if href is None:
            return None
        entry = self.entries.get(href)
        return None if entry is None else entry.obj

    def due(self, now: float) -> list[Entry]:
        """Entries to fetch now, parents before children (insertion order follows links)."""
        return [e for e in self.entries.values() if e.polled and e.due <= now]

    def next_due(self) -> float | None:
        return min((e.due for e in self.entries.values() if e.polled), default=None)

    def received(self, href: str, obj: Sep2Object, now: float) -> None:
        entry = self.entries.get(href)
        if entry is None:
            return  # dropped while it was being fetched
        rate = own_rate(obj)
        entry.rate = rate if rate is not None else self._inherited(entry)
        entry.obj, entry.fetched, entry.failures = obj, now, 0
        entry.due = now + entry.rate
        self.relink(entry, now)

    def relink(self, entry: Entry, now: float) -> None:
        """Re-read the links of ``entry`` (after it changed, or after a rule changed)."""
        if entry.obj is None:
            return
        links = dict(self.follow(entry.obj))
        for href, kind in links.items():
            child = self.entries.get(href)
            if child is None:
                child = self.entries[href] = Entry(href, kind, entry.rate, now)
            child.parents.add(entry.href)
            if child.obj is not None and own_rate(child.obj) is None:
                child.rate = entry.rate
        for gone in set(entry.children) - set(links):
            self._unlink(gone, entry.href)
        entry.children = tuple(links)

    def remove(self, href: str) -> None:
        """Stop watching ``href`` and whatever only it linked."""
        entry = self.entries.pop(href, None)
        if entry is not None:
            for child in entry.children:
                self._unlink(child, href)

    def failed(self, href: str, now: float, delay: float) -> None:
        """A fetch failed: try again after ``delay``, never later than the poll rate."""
        entry = self.entries.get(href)
        if entry is not None:
            entry.failures += 1
            entry.due = now + min(delay, entry.rate)

    def refresh(self, href: str, now: float) -> bool:
        """Fetch ``href`` at once (a notification said it changed); False if not watched."""
        entry = self.entries.get(href)
        if entry is None or not entry.polled:
            return False
        entry.due = min(entry.due, now)
        return True

    def refresh_all(self, now: float) -> None:
        for entry in self.entries.values():
            entry.due = min(entry.due, now)

    def complete(self, hrefs: Iterable[str]) -> bool:
        """Whether every one of ``hrefs`` has been fetched at least once."""
        return all((e := self.entries.get(h)) is not None and e.obj is not None for h in hrefs)

    def _inherited(self, entry: Entry) -> int:
        rates = [self.entries[p].rate for p in entry.parents if p in self.entries]
        return min(rates, default=entry.rate)

    def _unlink(self, href: str, parent: str) -> None:
        child = self.entries.get(href)
        if child is None:
            return
        child.parents.discard(parent)
        if child.parents or not child.polled:
            return
        del self.entries[href]
        for grandchild in child.children:
            self._unlink(grandchild, href)
