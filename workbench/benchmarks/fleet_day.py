"""A fleet's day on a simulated clock: every export's run as the workflow makes it, with the
limiter's and the polling policy's own code deciding, and nothing sleeping.

Each run: CreateExport asks its account for a slot (holder: the run, lease: the function's
timeout + 30 s); refused, it makes no call and the run waits `slot_wait_seconds` (a Wait state)
and asks again; granted, it calls Ongage and releases the slot when the call ends. Then the
first wait of the polling policy, and RetrieveExport the same way for every poll: a 412 holds
its slot for the call, the next wait is the policy's `after_not_ready` (a slot wait is not a
poll), and the 200 holds its slot for the whole download. A 429 (which a working limiter never
causes) is retried as the ASL's retrier for OngageRateLimited says.

Events are kept in whole milliseconds; the limiter reads the clock as epoch seconds.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from benchmarks.fleet_ongage import SimulatedOngage
from benchmarks.fleet_workload import AccountPlan, ExportPlan, day_exports, run_rng
from ongage_export.domain.call_limits import CallLimits, MustWait, slot_wait_seconds
from ongage_export.domain.polling import PollingPolicy
from statemachine import ASL_FILE

EPOCH_MS = round(datetime(2026, 12, 7, tzinfo=UTC).timestamp() * 1000)
STATES = {"create": "CreateExport", "retrieve": "RetrieveExport"}
FUNCTIONS = {"create": "create-export", "retrieve": "retrieve-export"}  # cost_model's names
# The function's timeout and a margin, as infra/functions.py's with_lease sets CALL_LEASE_SECONDS.
LEASE_SECONDS = {"create": 120, "retrieve": 930}
CALL_SECONDS = (0.2, 1.0)  # a create or a 412 poll: uniform in this range
DOWNLOAD_BYTES_PER_SECOND = 20e6
RATE_LIMITED = "OngageRateLimited"


class Slots(Protocol):
    """The limiter as the Lambdas use it (adapters/call_slots.py: CallSlots)."""

    def take(self, account: str, holder: str, limits: CallLimits, lease_seconds: float) -> int: ...

    def release(self, account: str, holder: str) -> None: ...


class SimulatedClock:
    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> float:
        return (EPOCH_MS + self.ms) / 1000


@dataclass
class Run:
    plan: ExportPlan
    rng: random.Random
    polls: int = 0
    refusals: int = 0  # in a row
    refused_asks: int = 0
    slot_wait_seconds: int = 0
    rate_limited: int = 0  # 429s in a row, for the retrier
    asked_ms: int = 0  # when the granted invocation began
    ready_ms: int = 0
    landed_ms: int | None = None
    failed: str | None = None


@dataclass
class Day:
    runs: list[Run]
    ongage: SimulatedOngage
    dynamodb_calls: Counter[str] = field(default_factory=Counter)  # by function
    refused_asks: Counter[str] = field(default_factory=Counter)  # by function


def _states() -> dict[str, Any]:
    states: dict[str, Any] = json.loads(ASL_FILE.read_text())["States"]
    return states


def rate_limit_retriers() -> dict[str, dict[str, Any]]:
    """Each step's retrier for OngageRateLimited, read from the ASL."""
    states = _states()
    return {
        step: next(r for r in states[state]["Retry"] if RATE_LIMITED in r["ErrorEquals"])
        for step, state in STATES.items()
    }


def refused_ask_transitions() -> dict[str, int]:
    """The states a refused ask enters, by function: the shortest way from its Task back to it
    in the ASL (the Task, the Choice that sees the refusal, the Wait), each a transition."""
    states = _states()
    return {FUNCTIONS[step]: shortest_cycle(states, state) for step, state in STATES.items()}


def shortest_cycle(states: Mapping[str, Any], start: str) -> int:
    frontier, seen, entered = [start], {start}, 0
    while frontier:
        entered += 1
        following = [name for state in frontier for name in _next_states(states[state])]
        if start in following:
            return entered
        frontier = [name for name in following if name not in seen]
        seen.update(frontier)
    raise ValueError(f"{start} never comes back to itself in the ASL")


def _next_states(state: Mapping[str, Any]) -> list[str]:
    choices = [choice["Next"] for choice in state.get("Choices", [])]
    return [*choices, *(state[key] for key in ("Next", "Default") if key in state)]


class FleetDay:
    def __init__(
        self,
        accounts: Sequence[AccountPlan],
        slots: Slots,
        clock: SimulatedClock,
        *,
        seed: int,
        meter: Callable[[], int] = lambda: 0,
        policy: PollingPolicy | None = None,
    ):
        self.limits: Mapping[str, CallLimits] = {a.name: a.limits for a in accounts}
        self.exports = day_exports(accounts, seed)
        self.slots, self.clock, self.seed, self.meter = slots, clock, seed, meter
        # First runs of their exports: no readiness history to learn from.
        self.policy = policy or PollingPolicy(learn=False)
        self.retriers = rate_limit_retriers()
        self.queue: list[tuple[int, int, Callable[[], None]]] = []
        self.order = itertools.count()
        self.day = Day([], SimulatedOngage(self.limits))

    def run(self) -> Day:
        for plan in self.exports:
            run = Run(plan, run_rng(self.seed, plan.holder))
            self.day.runs.append(run)
            self._at(plan.start_ms, partial(self._ask, run, "create"))
        while self.queue:
            self.clock.ms, _, action = heapq.heappop(self.queue)
            action()
        return self.day

    def _at(self, ms: int, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (ms, next(self.order), action))

    def _after(self, seconds: float, action: Callable[[], None]) -> None:
        self._at(self.clock.ms + round(seconds * 1000), action)

    def _limiter(self, step: str, operation: Callable[[], Any]) -> Any:
        before = self.meter()
        result = operation()
        self.day.dynamodb_calls[FUNCTIONS[step]] += self.meter() - before
        return result

    def _ask(self, run: Run, step: str) -> None:
        """One invocation of the step's Lambda: a slot, then the call; or a wait for a slot."""
        account, holder = run.plan.account, run.plan.holder
        limits, lease = self.limits[account], LEASE_SECONDS[step]
        wait = self._limiter(step, lambda: self.slots.take(account, holder, limits, lease))
        if not wait:
            run.refusals, run.asked_ms = 0, self.clock.ms
            self._call(run, step)
            return
        run.refusals += 1
        run.refused_asks += 1
        self.day.refused_asks[FUNCTIONS[step]] += 1
        seconds = slot_wait_seconds(MustWait(wait, "refused"), run.refusals, run.rng)
        run.slot_wait_seconds += seconds
        self._after(seconds, lambda: self._ask(run, step))

    def _call(self, run: Run, step: str) -> None:
        if not self.day.ongage.begin(run.plan.account, self.clock.ms):
            self._release(run, step)
            self._rate_limited(run, step)
            return
        run.rate_limited = 0
        seconds = run.rng.uniform(*CALL_SECONDS)
        ready = step == "retrieve" and self.clock.ms >= run.ready_ms
        if ready:
            seconds += run.plan.size_bytes / DOWNLOAD_BYTES_PER_SECOND
        self._after(seconds, lambda: self._answered(run, step, ready))

    def _answered(self, run: Run, step: str, ready: bool) -> None:
        self.day.ongage.end(run.plan.account)
        self._release(run, step)
        if step == "create":
            run.ready_ms = self.clock.ms + run.plan.ready_after_ms
            self._after(self.policy.next_wait(0, 0.0, run.rng), lambda: self._ask(run, "retrieve"))
            return
        run.polls += 1
        if ready:
            run.landed_ms = self.clock.ms
            return
        # As domain/retrieve.py's _not_ready: elapsed since the run started, at the invocation.
        elapsed = (run.asked_ms - run.plan.start_ms) / 1000
        decision = self.policy.after_not_ready(run.polls, elapsed, run.rng, None)
        if isinstance(decision, str):
            run.failed = "ExportNotReady"
        else:
            self._after(decision, lambda: self._ask(run, "retrieve"))

    def _release(self, run: Run, step: str) -> None:
        self._limiter(step, lambda: self.slots.release(run.plan.account, run.plan.holder))

    def _rate_limited(self, run: Run, step: str) -> None:
        """The ASL's retrier: interval x backoff^attempt, capped, with full jitter."""
        retrier = self.retriers[step]
        if run.rate_limited >= retrier["MaxAttempts"]:
            run.failed = RATE_LIMITED
            return
        delay = retrier["IntervalSeconds"] * retrier["BackoffRate"] ** run.rate_limited
        delay = min(delay, retrier.get("MaxDelaySeconds", delay))
        if retrier.get("JitterStrategy") == "FULL":
            delay = run.rng.uniform(0, delay)
        run.rate_limited += 1
        self._after(delay, lambda: self._ask(run, step))
