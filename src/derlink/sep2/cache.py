"""A per-process read cache of fleet state for the polling hot path.

Devices poll the same few resources again and again, and what they read (devices, site groups,
programs, controls, settings) changes only through the fleet service, which writes a row to the
change outbox in the same transaction as each change. So a snapshot stays exact while the
outbox head does not move: the cache looks at the head at most every ``check_every`` seconds
(one indexed query) and forgets everything when it moved. A change made on another node is
therefore seen within ``check_every`` seconds; poll rates are tens of seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import func, select

from derlink.store.database import Database
from derlink.store.schema import ChangeRow

T = TypeVar("T")
LIMIT = 200_000


class ReadCache:
    def __init__(self, db: Database, clock: Callable[[], float], check_every: float = 0.25) -> None:
        self.db = db
        self.clock = clock
        self.check_every = check_every
        self._head: int | None = None
        self._checked = -1e18
        self._values: dict[Hashable, Any] = {}

    async def refresh(self) -> None:
        """Forget everything if the change outbox moved since the last look."""
        now = self.clock()
        if now - self._checked < self.check_every:
            return
        self._checked = now
        async with self.db.sessions() as s:
            head = await s.scalar(select(func.max(ChangeRow.id)))
        if head != self._head:
            self._head = head
            self._values.clear()

    def forget(self) -> None:
        """Drop the snapshot now (after a change made by this process)."""
        self._values.clear()
        self._checked = -1e18

    def discard(self, key: Hashable) -> None:
        """Forget one entry (a negative answer that may change without an outbox row)."""
        self._values.pop(key, None)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        if key in self._values:
            value: T = self._values[key]
            return value
        value = await load()
        if len(self._values) >= LIMIT:
            self._values.clear()
        self._values[key] = value
        return value
