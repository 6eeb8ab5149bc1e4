"""Interleaved rounds and paired ratios: how every comparison in the benchmarks is summarized.

Pure: no clocks, processes or I/O. Each round runs every contender once, in an order rotated
from round to round, so that neither a slow spell on the shared machine nor going first favours
one contender. A ratio is taken within each round (A's round n against B's round n), never
between medians of different rounds, and is reported as its median with the min-max range.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
MIN_ROUNDS = 5  # a published figure's median and range come from at least this many rounds


@dataclass(frozen=True)
class Spread:
    """A figure over rounds: its median and its range."""

    median: float
    low: float
    high: float
    rounds: int

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "rounds": self.rounds}


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no rounds to summarize")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """numerators[n] / denominators[n] for every round n: both sides must have every round."""
    if len(numerators) != len(denominators):
        raise ValueError(f"unpaired rounds: {len(numerators)} against {len(denominators)}")
    if any(d == 0 for d in denominators):
        raise ValueError("a round's denominator is 0")
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def paired(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    return spread(paired_ratios(numerators, denominators))


def round_order(names: Sequence[str], round_index: int) -> list[str]:
    """The contenders in the order round `round_index` runs them: rotated by one each round."""
    if not names:
        return []
    shift = round_index % len(names)
    return [*names[shift:], *names[:shift]]


def interleave(
    contenders: Mapping[str, Callable[[], T]], rounds: int, *, warmup: bool = True
) -> dict[str, list[T]]:
    """Every contender's result per round (index n = round n), run in rotated order. A warm-up
    round first (discarded) gives every contender the same warm caches (imports, page cache)."""
    names = list(contenders)
    if warmup:
        for name in names:
            contenders[name]()
    results: dict[str, list[T]] = {name: [] for name in names}
    for n in range(rounds):
        for name in round_order(names, n):
            results[name].append(contenders[name]())
    return results
