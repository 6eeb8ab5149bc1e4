"""Ongage's limits per account, held across every run: at most `parallel_calls` calls in flight
and at most `calls_per_minute` calls started in any rolling minute.

An account's state is one record, `SlotBook` (adapters/call_slots.py keeps it in DynamoDB and
writes it only if nobody changed it since it was read): the leases of the calls in flight, each
with the time it expires, and the start times of the calls of the last minute. Pure functions
decide; nothing here sleeps: a refusal says how long to wait, and the workflow waits (a native
Wait state).

A lease outlives a holder that crashed, never much longer: it expires when the holder's
function would have timed out. A holder that asks again (its retry) gets its own lease back,
renewed, not a second one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

WINDOW_SECONDS = 60.0
# Ongage documents both limits per account (ONGAGE.md); the defaults are its defaults.
DEFAULT_PARALLEL_CALLS = 10
DEFAULT_CALLS_PER_MINUTE = 300
# How soon to ask again when every slot is held: most calls are polls that end within a second.
SLOT_RECHECK_SECONDS = 2


@dataclass(frozen=True)
class CallLimits:
    parallel_calls: int = DEFAULT_PARALLEL_CALLS
    calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE


@dataclass(frozen=True)
class SlotBook:
    """One account's calls in flight (holder -> lease expiry, epoch seconds) and the starts of
    its calls in the last minute (oldest first); `version` counts the writes."""

    leases: Mapping[str, float] = field(default_factory=dict)
    calls: tuple[float, ...] = ()
    version: int = 0

    def at(self, now: float) -> SlotBook:
        """The book without expired leases and calls older than the window."""
        return SlotBook(
            leases={holder: until for holder, until in self.leases.items() if until > now},
            calls=tuple(start for start in self.calls if start > now - WINDOW_SECONDS),
            version=self.version,
        )


@dataclass(frozen=True)
class Granted:
    book: SlotBook  # the book to write (version + 1)


@dataclass(frozen=True)
class MustWait:
    seconds: int  # whole seconds, as a Wait state takes them
    reason: str


Decision = Granted | MustWait


def take_slot(
    book: SlotBook, holder: str, now: float, limits: CallLimits, lease_seconds: float
) -> Decision:
    """A slot for one call by `holder` (a run), held until released or `lease_seconds` pass."""
    current = book.at(now)
    if holder not in current.leases and len(current.leases) >= limits.parallel_calls:
        return MustWait(
            SLOT_RECHECK_SECONDS, f"all {limits.parallel_calls} parallel calls are in flight"
        )
    return _with_call(current, now, limits, {**current.leases, holder: now + lease_seconds})


def take_call(book: SlotBook, now: float, limits: CallLimits) -> Decision:
    """One more call under a slot already held (a redirect hop, a retry with a rotated secret):
    it counts against the minute, not against the calls in flight."""
    current = book.at(now)
    return _with_call(current, now, limits, dict(current.leases))


def release(book: SlotBook, holder: str, now: float) -> SlotBook:
    """The book with `holder`'s slot free again (the version is the caller's to bump)."""
    current = book.at(now)
    leases = {other: until for other, until in current.leases.items() if other != holder}
    return SlotBook(leases=leases, calls=current.calls, version=book.version + 1)


def _with_call(
    current: SlotBook, now: float, limits: CallLimits, leases: Mapping[str, float]
) -> Decision:
    if len(current.calls) >= limits.calls_per_minute:
        # The oldest call of the window leaves it then; a second on top, as Wait is whole.
        oldest_leaves = current.calls[-limits.calls_per_minute] + WINDOW_SECONDS
        return MustWait(
            max(1, math.ceil(oldest_leaves - now)),
            f"{limits.calls_per_minute} calls were made in the last minute",
        )
    return Granted(
        SlotBook(leases=leases, calls=(*current.calls, now), version=current.version + 1)
    )
