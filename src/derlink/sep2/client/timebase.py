"""The server's time as the client estimates it, sans-IO.

Events are scheduled on the server's clock (IEEE 2030.5 Time function set): the client reads
Time.currentTime and keeps the difference to its own clock. Time has whole seconds, so a
difference within ``tolerance`` is taken for agreement (clocks synchronised by NTP), which keeps
a fresh event from looking one second in the future.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ServerClock:
    tolerance: float = 2.0
    offset: float = 0.0

    def update(self, server_time: int, local: float) -> None:
        delta = server_time - local
        self.offset = 0.0 if abs(delta) <= self.tolerance else delta

    def now(self, local: float) -> int:
        """The server's time (whole seconds) at local time ``local``."""
        return int(local + self.offset)

    def local(self, server_time: float) -> float:
        """The local time at which the server's clock shows ``server_time``."""
        return server_time - self.offset
