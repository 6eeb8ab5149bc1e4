"""Ongage's per-account limits (calls per minute, parallel calls) and the call statistics."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

RATE_MESSAGE = "Calls per minute exceeded"
PARALLEL_MESSAGE = "Parallel calls exceeded: no more than {limit} API calls may run at once"


class AccountLimits:
    """A sliding-window call counter and an in-flight counter per account, shared by threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: defaultdict[str, deque[float]] = defaultdict(deque)
        self._in_flight: Counter[str] = Counter()

    def enter(self, account: str, per_window: int, window: float, max_parallel: int) -> str | None:
        """Admit a call, or return why it is refused; an admitted call must `leave` later."""
        now = self._clock()
        with self._lock:
            calls = self._calls[account]
            while calls and calls[0] <= now - window:
                calls.popleft()
            if self._in_flight[account] >= max_parallel:
                return PARALLEL_MESSAGE.format(limit=max_parallel)
            if len(calls) >= per_window:
                return RATE_MESSAGE
            calls.append(now)
            self._in_flight[account] += 1
        return None

    def leave(self, account: str) -> None:
        with self._lock:
            self._in_flight[account] -= 1

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._in_flight.clear()


@dataclass(frozen=True)
class AccountStats:
    """What one account (by account code) asked of the simulator."""

    calls: int = 0  # authenticated as this account
    peak_in_flight: int = 0  # most of its calls being handled at once, refused ones included
    rate_limited: int = 0  # 429 answers to it, whatever the cause
    creates: int = 0  # exports created for it


@dataclass(frozen=True)
class SimulatorStats:
    """A snapshot of what the simulator has seen."""

    total_calls: int = 0
    calls_by_endpoint: dict[str, int] = field(default_factory=dict)
    status_counts: dict[int, int] = field(default_factory=dict)
    in_flight: int = 0
    peak_concurrent: int = 0  # most requests being handled at once, refused ones included
    rate_limited: int = 0  # 429 answers, whatever the cause
    creates: int = 0  # exports created
    by_account: dict[str, AccountStats] = field(default_factory=dict)  # by account code


class StatsRecorder:
    """Thread-safe counters behind `SimulatorStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._in_flight = 0
        self._peak = 0
        self._creates = 0
        # Per account code: calls, in_flight, peak_in_flight, rate_limited, creates.
        self._accounts: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def begin(self, endpoint: str) -> None:
        with self._lock:
            self._calls[endpoint] += 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def authenticated(self, account: str) -> None:
        """The call being handled is `account`'s; `end` must then name it."""
        with self._lock:
            counts = self._accounts[account]
            counts["calls"] += 1
            counts["in_flight"] += 1
            counts["peak_in_flight"] = max(counts["peak_in_flight"], counts["in_flight"])

    def end(self, status: int, account: str | None = None) -> None:
        with self._lock:
            self._in_flight -= 1
            self._statuses[status] += 1
            if account is not None:
                self._accounts[account]["in_flight"] -= 1
                self._accounts[account]["rate_limited"] += status == 429

    def created(self, account: str) -> None:
        with self._lock:
            self._creates += 1
            self._accounts[account]["creates"] += 1

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._statuses.clear()
            self._peak = self._in_flight
            self._creates = 0
            for counts in self._accounts.values():
                kept = counts["in_flight"]
                counts.clear()
                counts.update(in_flight=kept, peak_in_flight=kept)

    def snapshot(self) -> SimulatorStats:
        with self._lock:
            return SimulatorStats(
                total_calls=sum(self._calls.values()),
                calls_by_endpoint=dict(self._calls),
                status_counts=dict(self._statuses),
                in_flight=self._in_flight,
                peak_concurrent=self._peak,
                rate_limited=self._statuses[429],
                creates=self._creates,
                by_account={
                    account: AccountStats(
                        counts["calls"],
                        counts["peak_in_flight"],
                        counts["rate_limited"],
                        counts["creates"],
                    )
                    for account, counts in self._accounts.items()
                },
            )
