"""The anti-replay sliding window over sequence numbers (the scheme of RFC 4303 3.4.3).

The receiver remembers the highest sequence number accepted and a bitmap of the ``size``
numbers below it. A higher number slides the window; a number inside it is accepted once
(reordering within the window); a number below it cannot be told from a replay and is refused.
:meth:`check` decides without changing anything, :meth:`accept` records: the caller checks,
authenticates the message, and only then accepts, so a forged message changes no state.
"""

from __future__ import annotations

from derlink.e2e.errors import ConfigurationError, Reordered, Replay

MIN_WINDOW = 1
MAX_WINDOW = 4096


class ReplayWindow:
    """Which sequence numbers were already accepted, within a window of ``size``."""

    __slots__ = ("_bits", "_top", "size")

    def __init__(self, size: int = 64) -> None:
        if not MIN_WINDOW <= size <= MAX_WINDOW:
            raise ConfigurationError(f"the replay window must be {MIN_WINDOW}..{MAX_WINDOW}")
        self.size = size
        self._top = -1  # highest accepted; -1 before the first
        self._bits = 0  # bit i set: top - i was accepted

    @property
    def highest(self) -> int:
        """The highest sequence number accepted, -1 before the first."""
        return self._top

    def check(self, sequence: int) -> None:
        """Raise :class:`Replay` or :class:`Reordered` unless ``sequence`` is acceptable."""
        if sequence > self._top:
            return
        offset = self._top - sequence
        if offset >= self.size:
            raise Reordered(
                f"sequence {sequence} is older than the window ({self.size} below {self._top})"
            )
        if self._bits >> offset & 1:
            raise Replay(f"sequence {sequence} was already received")

    def accept(self, sequence: int) -> None:
        """Record ``sequence`` (already :meth:`check`-ed and authenticated)."""
        self.check(sequence)
        if sequence > self._top:
            shift = sequence - self._top
            if shift >= self.size:  # never shift by a huge attacker-chosen amount
                self._bits = 1
            else:
                self._bits = ((self._bits << shift) | 1) & ((1 << self.size) - 1)
            self._top = sequence
        else:
            self._bits |= 1 << (self._top - sequence)
