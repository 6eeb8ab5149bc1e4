"""The per-account limiter's decisions (pure: a book, a holder, a time)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ongage_export.domain.call_limits import (
    SLOT_RECHECK_SECONDS,
    SLOT_WAIT_MAX_SECONDS,
    WINDOW_SECONDS,
    CallLimits,
    Granted,
    MustWait,
    SlotBook,
    release,
    slot_wait_seconds,
    take_call,
    take_slot,
)

LIMITS = CallLimits(parallel_calls=2, calls_per_minute=5)
LEASE = 90.0


def granted(decision: object) -> SlotBook:
    assert isinstance(decision, Granted), decision
    return decision.book


def test_a_slot_is_refused_when_every_parallel_call_is_in_flight_and_free_once_released() -> None:
    book = granted(take_slot(SlotBook(), "run-a", 0.0, LIMITS, LEASE))
    book = granted(take_slot(book, "run-b", 1.0, LIMITS, LEASE))
    refused = take_slot(book, "run-c", 2.0, LIMITS, LEASE)
    assert isinstance(refused, MustWait)
    assert refused.seconds == SLOT_RECHECK_SECONDS and "2 parallel calls" in refused.reason
    book = release(book, "run-a", 3.0)
    assert set(granted(take_slot(book, "run-c", 3.0, LIMITS, LEASE)).leases) == {"run-b", "run-c"}


def test_a_holder_asking_again_renews_its_own_lease_instead_of_taking_a_second() -> None:
    book = granted(take_slot(SlotBook(), "run-a", 0.0, LIMITS, LEASE))
    book = granted(take_slot(book, "run-b", 0.0, LIMITS, LEASE))
    again = granted(take_slot(book, "run-a", 10.0, LIMITS, LEASE))  # its retry, after a crash
    assert again.leases == {"run-a": 10.0 + LEASE, "run-b": LEASE}
    assert len(again.calls) == 3  # the retry's call counts against the minute


def test_a_lease_of_a_crashed_holder_frees_its_slot_when_it_expires() -> None:
    book = granted(take_slot(SlotBook(), "crashed", 0.0, LIMITS, LEASE))
    book = granted(take_slot(book, "run-b", 0.0, LIMITS, LEASE))
    assert isinstance(take_slot(book, "run-c", LEASE - 1, LIMITS, LEASE), MustWait)
    assert "crashed" not in granted(take_slot(book, "run-c", LEASE, LIMITS, LEASE)).leases


def test_calls_beyond_the_minute_wait_until_the_oldest_leaves_the_window() -> None:
    book = SlotBook()
    for second in range(5):
        book = granted(take_call(book, float(second), LIMITS))
    refused = take_slot(book, "run-a", 10.0, LIMITS, LEASE)
    assert isinstance(refused, MustWait) and "5 calls" in refused.reason
    assert refused.seconds == WINDOW_SECONDS - 10  # the call at 0 s leaves at 60 s
    assert isinstance(take_slot(book, "run-a", WINDOW_SECONDS, LIMITS, LEASE), Granted)


def test_release_keeps_the_minutes_calls_and_ignores_a_holder_it_does_not_know() -> None:
    book = granted(take_slot(SlotBook(), "run-a", 0.0, LIMITS, LEASE))
    freed = release(book, "someone-else", 1.0)
    assert freed.leases == book.leases and freed.calls == book.calls
    assert freed.version == book.version + 1


def test_waits_grow_with_refusals_never_below_the_refusal_nor_above_the_ceiling() -> None:
    rng = random.Random(7)
    short = MustWait(1, "busy")
    first = [slot_wait_seconds(short, 1, rng) for _ in range(200)]
    later = [slot_wait_seconds(short, 8, rng) for _ in range(200)]
    assert max(first) <= SLOT_RECHECK_SECONDS < max(later) <= SLOT_WAIT_MAX_SECONDS
    assert min(first) >= 1 and slot_wait_seconds(MustWait(45, "minute"), 1, rng) == 45


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["take", "call", "release"]), st.integers(0, 5),
                  st.floats(0, 5)),
        max_size=80,
    )
)  # fmt: skip
def test_no_sequence_of_asks_ever_exceeds_either_limit(steps: list[tuple[str, int, float]]) -> None:
    book, now = SlotBook(), 0.0
    for action, holder, advance in steps:
        now += advance
        if action == "release":
            book = release(book, f"run-{holder}", now)
            continue
        decision = (
            take_slot(book, f"run-{holder}", now, LIMITS, LEASE)
            if action == "take"
            else take_call(book, now, LIMITS)
        )
        if isinstance(decision, Granted):
            book = decision.book
        current = book.at(now)
        assert len(current.leases) <= LIMITS.parallel_calls
        assert len(current.calls) <= LIMITS.calls_per_minute
