"""The back-off policy: growth, cap, jitter, deadline and poll budget."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongage_export.polling import PollingPolicy


def test_waits_grow_then_stay_at_the_cap_without_jitter() -> None:
    policy = PollingPolicy(initial_seconds=30, growth=2, max_seconds=200, jitter=0)
    waits = [policy.next_wait(n, 0, random.Random(1)) for n in range(6)]
    assert waits == [30, 60, 120, 200, 200, 200]


@given(polls=st.integers(0, 999), elapsed=st.floats(0, 40000), seed=st.integers())
def test_jittered_wait_is_bounded(polls: int, elapsed: float, seed: int) -> None:
    policy = PollingPolicy(
        initial_seconds=30, growth=1.5, max_seconds=600, jitter=0.2, deadline_seconds=43200
    )
    wait = policy.next_wait(polls, elapsed, random.Random(seed))
    full = min(600, 30 * 1.5**polls)
    remaining = 43200 - elapsed
    assert 1 <= wait <= max(1, round(min(full, remaining)))
    assert wait >= min(round(full * 0.8), max(1, round(remaining)))


def test_never_waits_past_the_deadline() -> None:
    policy = PollingPolicy(initial_seconds=60, max_seconds=600, deadline_seconds=100, jitter=0)
    assert policy.next_wait(5, 95, random.Random()) == 5


def test_gives_up_at_deadline_or_budget() -> None:
    policy = PollingPolicy(deadline_seconds=100, max_polls=3)
    assert policy.give_up_reason(1, 50) is None
    assert "deadline" in (policy.give_up_reason(1, 100) or "")
    assert "budget" in (policy.give_up_reason(3, 50) or "")


def test_history_stays_far_below_the_execution_limit() -> None:
    """About 9 history events a poll: the largest budget must stay well under 25,000."""
    assert PollingPolicy(max_polls=1000).max_polls * 9 < 25_000 / 2


def test_overrides_are_checked_and_explained() -> None:
    base = PollingPolicy()
    assert PollingPolicy.from_mapping({"initial_seconds": "5"}, base).initial_seconds == 5
    with pytest.raises(ValueError, match="unknown polling settings"):
        PollingPolicy.from_mapping({"initial": 5})
    with pytest.raises(ValueError, match="must be a number"):
        PollingPolicy.from_mapping({"growth": "fast"})
    with pytest.raises(ValueError, match="max_seconds must be between"):
        PollingPolicy.from_mapping({"initial_seconds": 100, "max_seconds": 10})
