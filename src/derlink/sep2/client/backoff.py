"""Exponential back-off with jitter, sans-IO: the caller passes the attempt and a random source.

Full jitter on the upper half ("equal jitter"): the delay after the n-th consecutive failure is
drawn in ``[d/2, d]`` with ``d = min(cap, base × 2^n)``. Thousands of devices that lost the same
server at the same instant come back spread over the window instead of all at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 1.0
    cap: float = 300.0

    def ceiling(self, attempt: int) -> float:
        return float(min(self.cap, self.base * 2.0 ** max(0, min(attempt, 62))))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after ``attempt`` consecutive failures (0 for the first retry)."""
        top = self.ceiling(attempt)
        return rng.uniform(top / 2, top)
