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
class SimulatorStats:
    """A snapshot of what the simulator has seen."""

    total_calls: int = 0
    calls_by_endpoint: dict[str, int] = field(default_factory=dict)
    status_counts: dict[int, int] = field(default_factory=dict)
    in_flight: int = 0
    peak_concurrent: int = 0  # most requests being handled at once, refused ones included
    rate_limited: int = 0  # 429 answers, whatever the cause
    creates: int = 0  # exports created


class StatsRecorder:
    """Thread-safe counters behind `SimulatorStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._in_flight = 0
        self._peak = 0
        self._creates = 0

    def begin(self, endpoint: str) -> None:
        with self._lock:
            self._calls[endpoint] += 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def end(self, status: int) -> None:
        with self._lock:
            self._in_flight -= 1
            self._statuses[status] += 1

    def created(self) -> None:
        with self._lock:
            self._creates += 1

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._statuses.clear()
            self._peak = self._in_flight
            self._creates = 0

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
            )
