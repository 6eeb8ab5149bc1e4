"""The fleet's day: which accounts, their limits, and when each export starts, how long Ongage
takes to build it and how big it is.

The skew of an agency's deployment: one big account with a burst at night plus exports through
the day, a few mid-size accounts with a nightly batch each, many small accounts with a handful
of exports at random times. Every export draws from a generator of its own, seeded by the day's
seed and its own name: an export's draws do not depend on which other exports exist, so a day
without the burst is the same day for everyone else.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ongage_export.domain.call_limits import CallLimits

DAY_SECONDS = 24 * 3600
MIB = 1024 * 1024
BUSY = "agency"
BURST_HOUR = 2
BATCH_HOURS = (1, 2, 3, 4, 5)  # the mid-size accounts' nightly batches, in turn
NARROW = "brand-2"  # the one account with fewer parallel calls than Ongage's default
NARROW_LIMITS = CallLimits(parallel_calls=2)
# Ongage builds an export in a log-normal time (seconds), clipped; bodies are log-normal too.
READY_MEDIAN_SECONDS = 600
READY_SIGMA = 1.0
READY_RANGE_SECONDS = (30, 6 * 3600)
SIZE_SIGMA = 1.0
SIZE_CAP_MIB = 4096  # every body downloads within one invocation: no resumed download here
SIZE_MEDIAN_MIB = {"busy": 100, "mid": 50, "small": 5}


@dataclass(frozen=True)
class FleetSize:
    burst: int  # the busy account's exports started together at BURST_HOUR
    busy_spread: int  # the busy account's other exports, through the day
    mid_accounts: int
    mid_batch: int  # each mid-size account's nightly batch
    mid_spread: int
    small_accounts: int
    small_exports: int  # over all the small accounts

    @property
    def exports(self) -> int:
        mid = self.mid_accounts * (self.mid_batch + self.mid_spread)
        return self.burst + self.busy_spread + mid + self.small_exports


FULL = FleetSize(burst=300, busy_spread=100, mid_accounts=5, mid_batch=70, mid_spread=20,
                 small_accounts=14, small_exports=150)  # fmt: skip
SMALL = FleetSize(burst=40, busy_spread=10, mid_accounts=2, mid_batch=12, mid_spread=4,
                  small_accounts=4, small_exports=12)  # fmt: skip


@dataclass(frozen=True)
class AccountPlan:
    name: str
    kind: str  # busy | mid | small
    limits: CallLimits
    batches: tuple[tuple[int, int], ...]  # (hour, exports started together)
    spread: int  # exports started at random times of the day


@dataclass(frozen=True)
class ExportPlan:
    account: str
    holder: str  # the run's name; the limiter's holder (an execution ARN in the stack)
    start_ms: int
    ready_after_ms: int  # after the create call, Ongage answers 200
    size_bytes: int


def fleet_accounts(size: FleetSize) -> list[AccountPlan]:
    busy = AccountPlan(BUSY, "busy", CallLimits(), ((BURST_HOUR, size.burst),), size.busy_spread)
    mids = [
        AccountPlan(
            name := f"brand-{i + 1}",
            "mid",
            NARROW_LIMITS if name == NARROW else CallLimits(),
            ((_batch_hour(i), size.mid_batch),),
            size.mid_spread,
        )
        for i in range(size.mid_accounts)
    ]
    share, extra = divmod(size.small_exports, size.small_accounts)
    smalls = [
        AccountPlan(f"client-{i + 1:02d}", "small", CallLimits(), (), share + (i < extra))
        for i in range(size.small_accounts)
    ]
    return [busy, *mids, *smalls]


def _batch_hour(mid_account: int) -> int:
    return BATCH_HOURS[mid_account % len(BATCH_HOURS)]


def without_burst(accounts: Sequence[AccountPlan]) -> list[AccountPlan]:
    """The same day with the busy account's burst left out."""
    return [replace(a, batches=()) if a.name == BUSY else a for a in accounts]


def day_exports(accounts: Sequence[AccountPlan], seed: int) -> list[ExportPlan]:
    plans = []
    for account in accounts:
        for hour, count in account.batches:
            names = [f"{account.name}/batch-{hour}/{k}" for k in range(count)]
            plans += [_export(account, name, hour * 3600.0, seed) for name in names]
        for k in range(account.spread):
            name = f"{account.name}/spread/{k}"
            start = _rng(seed, name, "start").uniform(0, DAY_SECONDS)
            plans.append(_export(account, name, start, seed))
    return sorted(plans, key=lambda plan: (plan.start_ms, plan.holder))


def _export(account: AccountPlan, holder: str, start_seconds: float, seed: int) -> ExportPlan:
    rng = _rng(seed, holder, "export")
    low, high = READY_RANGE_SECONDS
    ready = min(high, max(low, rng.lognormvariate(math.log(READY_MEDIAN_SECONDS), READY_SIGMA)))
    median_mib = SIZE_MEDIAN_MIB[account.kind]
    size_mib = min(SIZE_CAP_MIB, rng.lognormvariate(math.log(median_mib), SIZE_SIGMA))
    return ExportPlan(account.name, holder, round(start_seconds * 1000), round(ready * 1000),
                      round(size_mib * MIB))  # fmt: skip


def _rng(seed: int, holder: str, purpose: str) -> random.Random:
    return random.Random(f"{seed}/{holder}/{purpose}")


def run_rng(seed: int, holder: str) -> random.Random:
    """The generator of one run's own decisions (jitter, call times), apart from its plan's."""
    return _rng(seed, holder, "run")


def model(size: FleetSize) -> dict[str, Any]:
    """What the day is made of, for the report."""
    return {
        "exports": size.exports,
        "accounts": 1 + size.mid_accounts + size.small_accounts,
        "burst": size.burst,
        "burst_hour": BURST_HOUR,
        "busy_spread": size.busy_spread,
        "mid_accounts": size.mid_accounts,
        "mid_batch": size.mid_batch,
        "mid_spread": size.mid_spread,
        "batch_hours": [_batch_hour(i) for i in range(size.mid_accounts)],
        "small_accounts": size.small_accounts,
        "small_exports": size.small_exports,
        "narrow_account": NARROW,
        "narrow_parallel_calls": NARROW_LIMITS.parallel_calls,
        "ready_median_s": READY_MEDIAN_SECONDS,
        "ready_sigma": READY_SIGMA,
        "ready_range_s": list(READY_RANGE_SECONDS),
        "size_median_mib": SIZE_MEDIAN_MIB,
        "size_sigma": SIZE_SIGMA,
        "size_cap_mib": SIZE_CAP_MIB,
    }
