"""Interleaved rounds and paired ratios (benchmarks.paired): the method behind every ratio."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from benchmarks import throughput, throughput_report
from benchmarks.paired import interleave, paired, paired_ratios, round_order, spread
from benchmarks.report import verdict


def test_spread_is_median_and_range() -> None:
    summary = spread([3.0, 1.0, 2.0, 10.0, 4.0])
    assert (summary.median, summary.low, summary.high, summary.rounds) == (3.0, 1.0, 10.0, 5)
    assert summary.as_dict() == {"median": 3.0, "min": 1.0, "max": 10.0, "rounds": 5}
    assert spread([1.0, 2.0]).median == 1.5


def test_spread_refuses_no_rounds() -> None:
    with pytest.raises(ValueError):
        spread([])


def test_ratios_are_taken_within_each_round() -> None:
    # A is twice as fast as B in every round, though the machine slows down over the rounds.
    a = [1.0, 2.0, 4.0, 8.0, 16.0]
    b = [2.0, 4.0, 8.0, 16.0, 32.0]
    assert paired_ratios(a, b) == [0.5] * 5
    ratio = paired(a, b)
    assert (ratio.median, ratio.low, ratio.high) == (0.5, 0.5, 0.5)
    # A ratio of medians from unpaired rounds would say the same here, but not when one round
    # is slow for A only: the pairing keeps that round's ratio as an outlier, not a shift.
    assert paired([1.0, 1.0, 5.0], [1.0, 1.0, 1.0]).median == 1.0


def test_unpaired_or_zero_rounds_are_refused() -> None:
    with pytest.raises(ValueError, match="unpaired"):
        paired_ratios([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="0"):
        paired_ratios([1.0], [0.0])


def test_round_order_rotates_so_each_contender_goes_first_in_turn() -> None:
    names = ["a", "b", "c"]
    assert [round_order(names, n)[0] for n in range(4)] == ["a", "b", "c", "a"]
    assert sorted(round_order(names, 2)) == names
    assert round_order([], 3) == []


def test_interleave_runs_every_contender_once_per_round_after_a_warmup() -> None:
    calls: list[str] = []

    def contender(name: str) -> Callable[[], str]:
        def run() -> str:
            calls.append(name)
            return f"{name}{sum(c == name for c in calls)}"

        return run

    results = interleave({"a": contender("a"), "b": contender("b")}, rounds=3)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then rotated rounds
    assert results == {"a": ["a2", "a3", "a4"], "b": ["b2", "b3", "b4"]}  # warm-up discarded
    calls.clear()
    assert interleave({"a": contender("a")}, rounds=2, warmup=False) == {"a": ["a1", "a2"]}


def test_a_verdict_reads_a_floor_or_a_ceiling_over_every_round() -> None:
    figure = {"median": 1.1, "min": 1.0, "max": 1.2}
    assert verdict(figure, 1.0) == "met in every round"
    assert verdict(figure, 1.1) == "met in some rounds only"
    assert verdict(figure, 1.3) == "NOT met in any round"
    assert verdict(figure, 1.2, at_most=True) == "met in every round"
    assert verdict(figure, 1.1, at_most=True) == "met in some rounds only"
    assert verdict(figure, 0.9, at_most=True) == "NOT met in any round"


def test_the_throughput_cpu_ratio_is_paired_and_judged_against_its_ceiling() -> None:
    def rounds(cpus: list[float]) -> list[dict[str, Any]]:
        return [{"mb_s": 100.0, "cpu_s_per_gib": cpu, "process": {"load_before": 0.0},
                 "bytes": 1, "peak_rss_mib": None} for cpu in cpus]  # fmt: skip

    trials = {name: rounds([2.0, 2.0]) for name in throughput.CONTENDERS}
    trials["single-pass"] = rounds([2.2, 2.4])  # 1.1x and 1.2x stream's, round by round
    result = throughput_report.summarize(throughput_report.Plan(size_mib=1, rounds=2), trials)
    (cpu,) = result["cpu_ratios"]
    assert (cpu["min"], cpu["max"]) == pytest.approx((1.1, 1.2))
    assert (
        "| single-pass / stream, CPU s per GiB | 1.15 (1.10-1.20) | <= 1.15 | met in some "
        "rounds only |" in throughput_report.ratio_table(result)
    )
