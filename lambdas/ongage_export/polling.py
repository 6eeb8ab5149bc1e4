"""How long to wait between retrieve polls, and when to give up.

The workflow's Wait state sleeps `next_wait_seconds`; this module decides it: exponential
back-off from `initial_seconds` by `growth`, capped at `max_seconds`, with jitter so runs
started together drift apart, never past the deadline. The poll budget keeps the execution
history far below Step Functions' 25,000 events (about 9 events a poll).

The defaults (1.5 minutes, then x3, capped at 10 minutes) reach a 30-minute export in 5 polls,
a tenth of what a 30-second loop costs, and see any export at most 10 minutes after it is ready;
short exports wait a little longer than with a gentler start (docs/benchmarks.md, cost section).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

# Standard executions may run a year; ours stop well before the machine's TimeoutSeconds.
MAX_DEADLINE_SECONDS = 47 * 3600
MAX_POLL_BUDGET = 1000


@dataclass(frozen=True)
class PollingPolicy:
    initial_seconds: int = 90
    growth: float = 3.0
    max_seconds: int = 600
    jitter: float = 0.2
    deadline_seconds: int = 12 * 3600
    max_polls: int = 500

    ENV_VARS: ClassVar[dict[str, str]] = {
        "initial_seconds": "POLL_INITIAL_SECONDS",
        "growth": "POLL_GROWTH",
        "max_seconds": "POLL_MAX_SECONDS",
        "jitter": "POLL_JITTER",
        "deadline_seconds": "POLL_DEADLINE_SECONDS",
        "max_polls": "POLL_MAX_POLLS",
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
        """A policy from `values` (strings or numbers), missing keys taken from `base`."""
        merged = asdict(base or cls())
        unknown = set(values) - set(merged)
        if unknown:
            raise ValueError(f"unknown polling settings {sorted(unknown)}; known: {list(merged)}")
        for key, value in values.items():
            kind = type(merged[key])
            try:
                merged[key] = kind(float(value)) if kind is int else kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"polling setting {key} must be a number, not {value!r}") from None
        return cls(**merged)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def next_wait(self, polls_done: int, elapsed_seconds: float, rng: random.Random) -> int:
        """Seconds to wait before poll number `polls_done + 1`, at least 1 second."""
        backoff = min(self.max_seconds, self.initial_seconds * self.growth**polls_done)
        jittered = backoff * (1.0 - self.jitter * rng.random())
        remaining = self.deadline_seconds - elapsed_seconds
        return max(1, round(min(jittered, remaining)))

    def give_up_reason(self, polls_done: int, elapsed_seconds: float) -> str | None:
        """Why polling must stop now, or None to keep waiting."""
        if elapsed_seconds >= self.deadline_seconds:
            return f"the deadline of {self.deadline_seconds} s passed"
        if polls_done >= self.max_polls:
            return f"the poll budget of {self.max_polls} retrieves is spent"
        return None
