"""The back-off policy: growth, cap, jitter, deadline and poll budget; the learned window."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongage_export.adapters.readiness_history import HISTORY_LIMIT
from ongage_export.domain.polling import (
    EXTRA_POLLS,
    PollingPolicy,
    Readiness,
    Window,
    default_schedule,
    learned_window,
    polls_by,
    simulate,
)


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


# Learned polling (issue 13): a window from earlier runs, bounded by the default schedule.

DEFAULT = PollingPolicy()
STEADY = PollingPolicy(jitter=0)
runs = st.lists(
    st.tuples(st.floats(0, 20000), st.floats(1, 20000) | st.none()).map(
        lambda pair: Readiness(pair[0], None if pair[1] is None else pair[0] + pair[1])
    ),
    min_size=1,
    max_size=HISTORY_LIMIT,
)


def polls_until_ready(
    policy: PollingPolicy, ready_at: float, window: Window | None, rng: random.Random
) -> int:
    return simulate(policy, ready_at, rng, window).polls


def test_no_history_means_the_default_policy() -> None:
    assert learned_window([]) is None
    assert [DEFAULT.next_wait(n, 0, random.Random(3), None) for n in range(4)] == [
        DEFAULT.next_wait(n, 0, random.Random(3)) for n in range(4)
    ]


def test_runs_that_agree_give_a_window_around_their_overlap() -> None:
    window = learned_window([Readiness(560, 640), Readiness(590, 620)])
    assert window is not None
    # highest 412 at 590, lowest 200 at 620: 18 % of 605 earlier, 30 % later
    assert (round(window.start), round(window.end)) == (481, 802)
    assert [round(t) for t in window.poll_times()] == [561, 641, 721, 802]


def test_runs_that_differ_give_a_window_across_their_spread() -> None:
    window = learned_window([Readiness(480, 500), Readiness(700, 720)])
    assert window is not None
    # lowest 200 at 500, highest 412 at 700, middle 600
    assert (round(window.start), round(window.end)) == (392, 880)


def test_a_coarse_run_does_not_stretch_the_window() -> None:
    fine = [Readiness(110, 120), Readiness(125, 135)]
    coarse = Readiness(80, 340)  # the default policy's first run: polls at 80 s and 340 s
    assert learned_window([coarse, *fine]) == learned_window(fine)


def test_a_run_that_gave_up_pushes_the_window_later() -> None:
    window = learned_window([Readiness(110, 120), Readiness(3600, None)])
    assert window is not None and window.end > 3600


def test_the_first_wait_goes_straight_to_the_window_and_polls_it_evenly() -> None:
    window = Window(start=5400, end=7200)
    waits, elapsed = [], 0.0
    for polls in range(5):
        waits.append(STEADY.next_wait(polls, elapsed, random.Random(), window))
        elapsed += waits[-1]
    assert waits[:4] == [5850, 450, 450, 450]  # the cap is for the back-off, not for the window
    assert waits[4] == 450  # past the window: the back-off, from the window's spacing


@given(history=runs, ready_at=st.floats(1, 40000), seed=st.integers())
def test_whatever_the_history_says_it_costs_at_most_extra_polls(
    history: list[Readiness], ready_at: float, seed: int
) -> None:
    window = learned_window(history)
    learned = polls_until_ready(STEADY, ready_at, window, random.Random(seed))
    default = polls_until_ready(STEADY, ready_at, None, random.Random(seed))
    assert learned <= default + EXTRA_POLLS


@given(history=runs, polls=st.integers(0, 400), elapsed=st.floats(0, 43199), seed=st.integers())
def test_a_learned_wait_keeps_the_deadline_and_never_beats_the_budget(
    history: list[Readiness], polls: int, elapsed: float, seed: int
) -> None:
    window = learned_window(history)
    wait = DEFAULT.next_wait(polls, elapsed, random.Random(seed), window)
    assert 1 <= wait <= max(1, round(DEFAULT.deadline_seconds - elapsed))
    allowed = polls_by(DEFAULT, elapsed + wait + 0.5) + EXTRA_POLLS
    assert polls + 1 <= allowed or wait == max(1, round(DEFAULT.deadline_seconds - elapsed))


def test_the_default_schedule_is_the_back_off_without_jitter() -> None:
    assert default_schedule(DEFAULT)[:5] == (90, 360, 960, 1560, 2160)
    assert polls_by(DEFAULT, 359) == 1 and polls_by(DEFAULT, 360) == 2


def test_learn_is_a_boolean_setting() -> None:
    assert PollingPolicy.from_mapping({"learn": False}).learn is False
    assert PollingPolicy.from_mapping({"learn": "false"}).learn is False
    with pytest.raises(ValueError, match="learn must be true or false"):
        PollingPolicy.from_mapping({"learn": "sometimes"})
    with pytest.raises(ValueError, match="must be a number"):
        PollingPolicy.from_mapping({"max_polls": True})


def test_a_simulated_run_polls_until_ready_or_gives_up() -> None:
    run = simulate(STEADY, 400, random.Random())
    assert (run.polls, run.not_ready_seconds, run.ready_seconds) == (3, 360, 960)
    short = PollingPolicy(jitter=0, deadline_seconds=100)
    assert simulate(short, 400, random.Random()).readiness == Readiness(100, None)
