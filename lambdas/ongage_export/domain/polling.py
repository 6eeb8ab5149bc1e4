"""How long to wait between retrieve polls, and when to give up.

The workflow's Wait state sleeps `next_wait_seconds`; this module decides it: exponential
back-off from `initial_seconds` by `growth`, capped at `max_seconds`, with jitter so runs
started together drift apart, never past the deadline. The poll budget keeps the execution
history far below Step Functions' 25,000 events (about 9 events a poll).

The defaults (1.5 minutes, then x3, capped at 10 minutes) reach a 30-minute export in 5 polls,
a tenth of what a 30-second loop costs, and see any export at most 10 minutes after it is ready;
short exports wait a little longer than with a gentler start (docs/benchmarks.md, cost section).

A recurring export learns (`learn`, on by default): earlier runs of the same export say when it
was ready (`Readiness`), `learned_window` turns them into the span where this run should be
ready, and `next_wait` then sleeps until that span and polls it densely: `WINDOW_POLLS` polls
evenly across it, then a back-off that restarts from the window's spacing. Whatever the history
says, poll number n never comes before the default schedule's poll n - EXTRA_POLLS
(`default_schedule`): a run that learned wrong costs at most EXTRA_POLLS more retrieves than the
default policy would have made. With the defaults that leaves room for WINDOW_POLLS = 4 before
the default's second poll (360 s), so even a 2-minute export's window is polled whole.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, ClassVar

# Standard executions may run a year; ours stop well before the machine's TimeoutSeconds.
MAX_DEADLINE_SECONDS = 47 * 3600
MAX_POLL_BUDGET = 1000
WINDOW_POLLS = 4
EXTRA_POLLS = 3
# How far the window reaches before and after what earlier runs saw, as shares of its middle:
# a few runs see less than the whole spread, and an export found late costs far more than one
# found early (past the window the polls thin out). Tuned in benchmarks/recurring.py.
MARGIN_BEFORE = 0.18
MARGIN_AFTER = 0.3


@dataclass(frozen=True)
class Readiness:
    """What one earlier run saw: still 412 at `not_ready_seconds` after the run started (its
    last 412; 0 if its first retrieve was ready), ready at `ready_seconds` (its first 200;
    None if the run gave up waiting)."""

    not_ready_seconds: float
    ready_seconds: float | None


@dataclass(frozen=True)
class Window:
    """Where this run should be ready, in seconds after it started."""

    start: float
    end: float

    @property
    def spacing(self) -> float:
        return (self.end - self.start) / WINDOW_POLLS

    def poll_times(self) -> list[float]:
        return [self.start + self.spacing * k for k in range(1, WINDOW_POLLS + 1)]


def learned_window(history: Sequence[Readiness]) -> Window | None:
    """The span this run's readiness should fall in, from earlier runs; None without history.

    Each run bounds its readiness: later than its last 412, no later than its first 200. The
    span runs from the lowest "ready" to the highest "not yet" when the runs differ, or over
    their overlap when they agree; either way a bound that a coarse run gave (a first poll long
    after the export was ready) cannot stretch it. It then reaches MARGIN_BEFORE of its middle
    earlier and MARGIN_AFTER later.
    """
    if not history:
        return None
    highest_not_ready = max(run.not_ready_seconds for run in history)
    readies = [run.ready_seconds for run in history if run.ready_seconds is not None]
    lowest_ready = min(readies) if readies else 2 * highest_not_ready
    low, high = sorted((highest_not_ready, lowest_ready))
    middle = (low + high) / 2
    return Window(
        start=max(1.0, low - MARGIN_BEFORE * middle), end=max(2.0, high + MARGIN_AFTER * middle)
    )


@dataclass(frozen=True)
class PollingPolicy:
    initial_seconds: int = 90
    growth: float = 3.0
    max_seconds: int = 600
    jitter: float = 0.2
    deadline_seconds: int = 12 * 3600
    max_polls: int = 500
    learn: bool = True

    ENV_VARS: ClassVar[dict[str, str]] = {
        "initial_seconds": "POLL_INITIAL_SECONDS",
        "growth": "POLL_GROWTH",
        "max_seconds": "POLL_MAX_SECONDS",
        "jitter": "POLL_JITTER",
        "deadline_seconds": "POLL_DEADLINE_SECONDS",
        "max_polls": "POLL_MAX_POLLS",
        "learn": "POLL_LEARN",
    }

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.initial_seconds <= 3600:
            problems.append("initial_seconds must be between 1 and 3600")
        if not self.initial_seconds <= self.max_seconds <= 3600:
            problems.append("max_seconds must be between initial_seconds and 3600")
        if not 1.0 <= self.growth <= 10.0:
            problems.append("growth must be between 1 and 10")
        if not 0.0 <= self.jitter < 1.0:
            problems.append("jitter must be at least 0 and below 1")
        if not 1 <= self.deadline_seconds <= MAX_DEADLINE_SECONDS:
            problems.append(f"deadline_seconds must be between 1 and {MAX_DEADLINE_SECONDS}")
        if not 1 <= self.max_polls <= MAX_POLL_BUDGET:
            problems.append(f"max_polls must be between 1 and {MAX_POLL_BUDGET}")
        if problems:
            raise ValueError("invalid polling policy: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: PollingPolicy | None = None):
        """A policy from `values` (strings or numbers; `learn` a boolean or "true"/"false"),
        missing keys taken from `base`."""
        merged = asdict(base or cls())
        unknown = set(values) - set(merged)
        if unknown:
            raise ValueError(f"unknown polling settings {sorted(unknown)}; known: {list(merged)}")
        for key, value in values.items():
            merged[key] = _setting(key, type(merged[key]), value)
        return cls(**merged)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def next_wait(
        self,
        polls_done: int,
        elapsed_seconds: float,
        rng: random.Random,
        window: Window | None = None,
    ) -> int:
        """Seconds to wait before poll number `polls_done + 1`, at least 1 second."""
        if window is None:
            backoff = min(self.max_seconds, self.initial_seconds * self.growth**polls_done)
            wait = backoff * (1.0 - self.jitter * rng.random())
        else:
            target, step = self._learned_target(elapsed_seconds, window)
            jittered = target - self.jitter * rng.random() * step / 2
            wait = max(jittered, self._earliest(polls_done + 1)) - elapsed_seconds
        remaining = self.deadline_seconds - elapsed_seconds
        return max(1, round(min(wait, remaining)))

    def _learned_target(self, elapsed: float, window: Window) -> tuple[float, float]:
        """When to poll next and the spacing around it: the window's next poll, or past its
        end a back-off that grows from the window's spacing by `growth`, capped."""
        upcoming = [t for t in window.poll_times() if t > elapsed + window.spacing / 2]
        if upcoming:
            return upcoming[0], window.spacing
        past_end = max(0.0, elapsed - window.end)
        step = min(self.max_seconds, max(window.spacing, self.growth * past_end, 1.0))
        return elapsed + step, step

    def _earliest(self, poll_number: int) -> float:
        """The default schedule's poll `poll_number - EXTRA_POLLS`: no learned poll comes sooner."""
        index = poll_number - EXTRA_POLLS - 1
        schedule = default_schedule(self)
        if index < 0:
            return 0.0
        return schedule[index] if index < len(schedule) else math.inf

    def after_not_ready(
        self, polls_done: int, elapsed_seconds: float, rng: random.Random, window: Window | None
    ) -> int | str:
        """After poll `polls_done` answered 412: the next wait, or why to give up."""
        reason = self.give_up_reason(polls_done, elapsed_seconds)
        return reason or self.next_wait(polls_done, elapsed_seconds, rng, window)

    def give_up_reason(self, polls_done: int, elapsed_seconds: float) -> str | None:
        """Why polling must stop now, or None to keep waiting."""
        if elapsed_seconds >= self.deadline_seconds:
            return f"the deadline of {self.deadline_seconds} s passed"
        if polls_done >= self.max_polls:
            return f"the poll budget of {self.max_polls} retrieves is spent"
        return None


@cache
def default_schedule(policy: PollingPolicy) -> tuple[float, ...]:
    """When the default back-off polls, without jitter, until the deadline or the budget."""
    times: list[float] = []
    elapsed = 0.0
    while elapsed < policy.deadline_seconds and len(times) < policy.max_polls:
        elapsed += min(policy.max_seconds, policy.initial_seconds * policy.growth ** len(times))
        times.append(elapsed)
    return tuple(times)


def polls_by(policy: PollingPolicy, elapsed_seconds: float) -> int:
    """How many polls the default schedule has made `elapsed_seconds` after the start."""
    return bisect.bisect_right(default_schedule(policy), elapsed_seconds)


def _setting(key: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"polling setting {key} must be true or false, not {value!r}")
    try:
        if isinstance(value, bool):
            raise TypeError
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"polling setting {key} must be a number, not {value!r}") from None


@dataclass(frozen=True)
class SimulatedRun:
    polls: int
    not_ready_seconds: float  # the last 412
    ready_seconds: float | None  # the first 200; None if the run gave up

    @property
    def readiness(self) -> Readiness:
        return Readiness(self.not_ready_seconds, self.ready_seconds)


def simulate(
    policy: PollingPolicy, ready_at: float, rng: random.Random, window: Window | None = None
) -> SimulatedRun:
    """One run against an export ready `ready_at` seconds after the start, on a simulated
    clock: the workflow's loop (wait, retrieve, decide) with this module's decisions, for the
    benchmarks and the tests."""
    elapsed, polls, not_ready = float(policy.next_wait(0, 0.0, rng, window)), 1, 0.0
    while elapsed < ready_at:
        not_ready = elapsed
        decision = policy.after_not_ready(polls, elapsed, rng, window)
        if isinstance(decision, str):
            return SimulatedRun(polls, not_ready, None)
        elapsed += decision
        polls += 1
    return SimulatedRun(polls, not_ready, elapsed)
