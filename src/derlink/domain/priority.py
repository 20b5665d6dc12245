"""Traffic-light priorities of a dispatch.

The regulation's traffic light: *green*, the market acts freely; *yellow*, the grid operator
constrains; *red*, the grid operator takes direct control. Grid constraints win over market
dispatch, which 2030.5 expresses by primacy (lower value = higher priority) and 61850 by the
schedule priority (higher value = higher priority).
"""

from __future__ import annotations

import enum


class Priority(enum.Enum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"

    @property
    def primacy(self) -> int:
        """IEEE 2030.5 DERProgram primacy for this priority (lower wins)."""
        return {Priority.RED: 0, Priority.YELLOW: 10, Priority.GREEN: 100}[self]

    @classmethod
    def of_primacy(cls, primacy: int) -> Priority:
        if primacy < Priority.YELLOW.primacy:
            return Priority.RED
        return Priority.YELLOW if primacy < Priority.GREEN.primacy else Priority.GREEN
