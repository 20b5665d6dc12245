"""Group commit: concurrent submissions share transactions and each waits for its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from derlink.control.batching import GroupCommit


async def test_concurrent_items_share_commits_and_all_are_acknowledged() -> None:
    commits: list[list[int]] = []

    async def flush(items: Sequence[int]) -> None:
        await asyncio.sleep(0.01)
        commits.append(list(items))

    group = GroupCommit(flush)
    await asyncio.gather(*(group.submit(i) for i in range(100)))
    assert sorted(i for batch in commits for i in batch) == list(range(100))
    assert len(commits) < 10


async def test_a_failed_commit_fails_only_its_batch() -> None:
    async def flush(items: Sequence[int]) -> None:
        if 13 in items:
            raise RuntimeError("disk full")

    group = GroupCommit(flush, max_batch=1)
    results = await asyncio.gather(*(group.submit(i) for i in range(20)), return_exceptions=True)
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert failed == [13]
    with pytest.raises(RuntimeError):
        await group.submit(13)
