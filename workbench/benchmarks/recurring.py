"""Recurring exports (issue 13): what learned polling does over the runs of one schedule.

A schedule exports the same segment every day; each run's readiness is drawn uniformly within
SPREAD of a centre (2 min, 10 min, 30 min, 2 h). Run 1 has no history; every later run learns
from the ones before it (the last HISTORY_LIMIT, as readiness_history.py keeps them). An 11th
run then takes LIE_FACTOR times longer: the history lies.

On a simulated clock: ten runs at 2 h readiness cannot run in wall time. Every decision is the
Lambda's own (`polling.simulate`, `learned_window`, `readiness_history.appended`), and polls are
priced with the cost model fitted from real runs on the embedded runtime (benchmarks/cost.py).
tests/integration/test_learned_polling.py runs the learning for real on the embedded runtime.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from typing import Any

from benchmarks import cost
from benchmarks.cost_model import FIXED_POLL_SECONDS, Model, fit, fixed_loop_polls, poll_loop_cost
from benchmarks.policies import GENTLE_POLICY, detection, policy_text
from benchmarks.report import dollars, met, table
from ongage_export.adapters.readiness_history import appended
from ongage_export.domain.polling import PollingPolicy, Readiness, learned_window, simulate

CENTRES = {"2 min": 120, "10 min": 600, "30 min": 1800, "2 h": 7200}
RUNS = 10
HISTORY_RUNS = 3  # the goals hold from the run after these on
SPREAD = 0.2
LIE_FACTOR = 3
FULL_SCHEDULES = 1000
SMALL_SCHEDULES = 100
GOAL_POLLS = 3
GOAL_LATENCY_SHARE = 0.10
GOAL_LIE_EXTRA_POLLS = 3
APPROACHES = {
    "learned": "learned, runs 4-10",
    "first": "learned, run 1 (no history)",
    "default": "default policy, runs 4-10",
    "gentle": "gentle policy, runs 4-10",
    "fixed": "fixed 30 s loop, runs 4-10",
}


def one_schedule(centre: float, seed: int) -> dict[str, list[tuple[int, float, float]]]:
    """(polls, detection latency, readiness) per run and approach, over one schedule."""
    rng = random.Random(seed)
    policy = PollingPolicy()
    history: list[Readiness] = []
    out: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for index in range(RUNS + 1):
        ready_at = centre * rng.uniform(1 - SPREAD, 1 + SPREAD)
        if index == RUNS:
            ready_at *= LIE_FACTOR
        run_seed = rng.randrange(2**32)
        learned = simulate(policy, ready_at, random.Random(run_seed), learned_window(history))
        history = appended(history, learned.readiness)
        latency = math.inf if learned.ready_seconds is None else learned.ready_seconds - ready_at
        kind = "lie" if index == RUNS else ("first" if index == 0 else "learned")
        if 0 < index <= HISTORY_RUNS:
            continue  # still learning from the coarse first run: in no row
        out[kind].append((learned.polls, latency, ready_at))
        default = (*detection(policy, ready_at, random.Random(run_seed)), ready_at)
        if kind != "learned":  # the same run and jitter draws without history: the default
            out[f"{kind}_default"].append(default)
            continue
        out["default"].append(default)
        out["gentle"].append((*detection(GENTLE_POLICY, ready_at, rng), ready_at))
        fixed = fixed_loop_polls(ready_at)
        out["fixed"].append((fixed, fixed * FIXED_POLL_SECONDS - ready_at, ready_at))
    return out


def summary(runs: list[tuple[int, float, float]], model: Model) -> dict[str, Any]:
    polls = [p for p, _, _ in runs]
    latencies = [latency for _, latency, _ in runs]
    return {
        "runs": len(runs),
        "polls_mean": statistics.mean(polls),
        "polls_max": max(polls),
        "share_within_goal_polls": sum(p <= GOAL_POLLS for p in polls) / len(polls),
        "latency_mean_s": statistics.mean(latencies),
        "latency_max_s": max(latencies),
        "latency_share_mean": statistics.mean(latency / ready for _, latency, ready in runs),
        "usd_per_export": statistics.mean(poll_loop_cost(model, p)["total_usd"] for p in polls),
    }


def centre_row(label: str, centre: float, schedules: int, model: Model) -> dict[str, Any]:
    merged: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for seed in range(schedules):
        for kind, runs in one_schedule(centre, seed).items():
            merged[kind].extend(runs)
    rows = {kind: summary(runs, model) for kind, runs in merged.items()}
    lie = [(p, latency) for p, latency, _ in merged["lie"]]
    extra = [p - q for (p, _), (q, _, _) in zip(lie, merged["lie_default"], strict=True)]
    learned, first, default = rows["learned"], rows["first"], rows["first_default"]
    goals = {
        "polls": learned["polls_mean"] <= GOAL_POLLS,
        "latency": learned["latency_share_mean"] <= GOAL_LATENCY_SHARE,
        "no_history": first["polls_mean"] <= default["polls_mean"] + 1e-9
        and first["latency_mean_s"] <= default["latency_mean_s"] + 1e-9,
        "lie": max(extra) <= GOAL_LIE_EXTRA_POLLS and all(math.isfinite(x) for _, x in lie),
    }
    return {
        "case": label,
        "centre_s": centre,
        "approaches": rows,
        "lie_extra_polls_max": max(extra),
        "lie_landed": sum(math.isfinite(x) for _, x in lie) / len(lie),
        "goals": goals,
    }


def run(schedules: int, model: Model | None = None) -> dict[str, Any]:
    model = model or fit(cost.measure_runs())
    rows = [centre_row(label, centre, schedules, model) for label, centre in CENTRES.items()]
    return {"schedules": schedules, "runs_per_schedule": RUNS, "spread": SPREAD,
            "lie_factor": LIE_FACTOR, "policy": PollingPolicy().as_dict(),
            "gentle_policy": GENTLE_POLICY.as_dict(), "rows": rows,
            "all_goals_met": all(all(row["goals"].values()) for row in rows),
            # The goals' bounds, which the tables print.
            "goal_targets": {"polls": GOAL_POLLS, "latency_share": GOAL_LATENCY_SHARE,
                             "lie_extra_polls": GOAL_LIE_EXTRA_POLLS,
                             "first_learned_run": HISTORY_RUNS + 1}}  # fmt: skip


def markdown(result: dict[str, Any]) -> str:
    note = (
        f"{result['schedules']} simulated schedules per centre, {result['runs_per_schedule']} runs "
        f"each plus an 11th {result['lie_factor']}x slower; default policy "
        f"({policy_text(result['policy'])}), gentle ({policy_text(result['gentle_policy'])}). "
        "Runs 2 and 3 learn from a coarse first run and are in no row."
    )
    return "\n\n".join([runs_table(result), lie_table(result), goals_table(result), note])


def runs_table(result: dict[str, Any]) -> str:
    head = ["readiness", "approach", "polls / run (mean / max)", "runs <= 3 polls",
            "detection latency s (mean / max)", "latency / readiness", "cost / export"]  # fmt: skip
    body = []
    for row in result["rows"]:
        for kind, name in APPROACHES.items():
            a = row["approaches"][kind]
            body.append([
                f"{row['case']} ±{result['spread']:.0%}",
                name,
                f"{a['polls_mean']:.2f} / {a['polls_max']}",
                f"{a['share_within_goal_polls']:.0%}",
                f"{a['latency_mean_s']:.0f} / {a['latency_max_s']:.0f}",
                f"{a['latency_share_mean']:.1%}",
                dollars(a["usd_per_export"]),
            ])  # fmt: skip
    return table(head, body)


def lie_table(result: dict[str, Any]) -> str:
    head = ["readiness", "history lies: learned polls (mean / max)", "default polls (mean)",
            "most extra polls", "landed"]  # fmt: skip
    body = []
    for row in result["rows"]:
        lie, default = row["approaches"]["lie"], row["approaches"]["lie_default"]
        body.append([
            f"{LIE_FACTOR} x {row['case']}",
            f"{lie['polls_mean']:.2f} / {lie['polls_max']}",
            f"{default['polls_mean']:.2f}",
            f"{row['lie_extra_polls_max']:+d}",
            f"{row['lie_landed']:.0%}",
        ])  # fmt: skip
    return table(head, body)


def goals_table(result: dict[str, Any]) -> str:
    head = [
        "readiness",
        f"<= {GOAL_POLLS} retrieves / run (mean, runs 4-10)",
        f"mean latency <= {GOAL_LATENCY_SHARE:.0%} of readiness",
        "no history: not worse than the default",
        f"history lies: <= default + {GOAL_LIE_EXTRA_POLLS}, lands",
    ]
    kinds = ("polls", "latency", "no_history", "lie")
    body = [[row["case"]] + [met(row["goals"][k]) for k in kinds] for row in result["rows"]]
    return table(head, body)
