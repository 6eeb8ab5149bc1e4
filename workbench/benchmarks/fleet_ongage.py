"""Ongage's limits as Ongage would hold them, on the simulated clock: per account, the calls in
flight and the calls of every rolling minute; a call beyond either is answered 429.

It counts on its own, in whole milliseconds, apart from the limiter's book: what it sees is what
the limiter must keep within bounds. The peaks count every call that arrived, the ones answered
429 too, so a limiter that lets too many through shows as a peak above the limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from ongage_export.domain.call_limits import CallLimits

WINDOW_MS = 60_000


@dataclass
class AccountCalls:
    limits: CallLimits
    in_flight: int = 0
    served: deque[int] = field(default_factory=deque)  # starts of the last minute's calls
    arrived: deque[int] = field(default_factory=deque)  # the same, 429s included
    calls: int = 0
    rate_limited: int = 0
    peak_in_flight: int = 0
    most_in_a_minute: int = 0


class SimulatedOngage:
    def __init__(self, limits: Mapping[str, CallLimits]):
        self.accounts = {name: AccountCalls(account) for name, account in limits.items()}

    def begin(self, account: str, now_ms: int) -> bool:
        """A call arrives: True if served, False if answered 429 (it ends at once)."""
        calls = self.accounts[account]
        for starts in (calls.served, calls.arrived):
            while starts and starts[0] <= now_ms - WINDOW_MS:
                starts.popleft()
        calls.arrived.append(now_ms)
        calls.peak_in_flight = max(calls.peak_in_flight, calls.in_flight + 1)
        calls.most_in_a_minute = max(calls.most_in_a_minute, len(calls.arrived))
        if (
            calls.in_flight >= calls.limits.parallel_calls
            or len(calls.served) >= calls.limits.calls_per_minute
        ):
            calls.rate_limited += 1
            return False
        calls.in_flight += 1
        calls.served.append(now_ms)
        calls.calls += 1
        return True

    def end(self, account: str) -> None:
        self.accounts[account].in_flight -= 1
