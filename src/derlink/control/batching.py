"""Group commit: many concurrent writers, one transaction, each answered once it is durable.

A device's report must be durable before it is acknowledged, and a transaction per report
makes the disk's flush the limit. Writers ``submit`` and wait; while one transaction is being
committed the next batch gathers, so under load each commit carries many reports and under no
load a report is committed at once, alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(
        self, flush: Callable[[Sequence[T]], Awaitable[None]], max_batch: int = 1000
    ) -> None:
        self._flush = flush
        self._max = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once ``item`` is committed; raise what the commit raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            try:
                await self._flush([item for item, _ in batch])
            except Exception as err:  # each waiter learns what happened to its item
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
