"""The fleet benchmark would catch a broken limiter: one that lets too many calls through shows
as 429s and peaks above the limits, one that mixes accounts as a quiet account's exports
changed by a busy one's burst. And its parts keep their contracts: Ongage's rolling minute,
the table's conditional put and its request units, the same day for the same seed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from benchmarks import fleet
from benchmarks.fleet_day import (
    Day,
    FleetDay,
    SimulatedClock,
    Slots,
    refused_ask_transitions,
    shortest_cycle,
)
from benchmarks.fleet_ongage import SimulatedOngage
from benchmarks.fleet_table import CountingTable, item_size
from benchmarks.fleet_workload import (
    BUSY,
    NARROW,
    SMALL,
    AccountPlan,
    fleet_accounts,
    without_burst,
)
from ongage_export.adapters.call_slots import CallSlots
from ongage_export.domain.call_limits import CallLimits

SEED = 11
ACCOUNTS = fleet_accounts(SMALL)
# One account whose burst meets its minute's limit long before its parallel calls' limit.
TIGHT = [AccountPlan("tight", "busy", CallLimits(calls_per_minute=20), ((2, 30),), 0)]


class NeverRefuses:
    """A limiter that lets every call through."""

    def __init__(self, clock: SimulatedClock):
        pass

    def take(self, account: str, holder: str, limits: CallLimits, lease_seconds: float) -> int:
        return 0

    def release(self, account: str, holder: str) -> None:
        pass


class OneBookForAll:
    """The real limiter, but every account's calls in one book: accounts not held apart."""

    def __init__(self, clock: SimulatedClock):
        self.slots = CallSlots(CountingTable(), "fleet", clock=clock)

    def take(self, account: str, holder: str, limits: CallLimits, lease_seconds: float) -> int:
        return self.slots.take("everyone", holder, limits, lease_seconds)

    def release(self, account: str, holder: str) -> None:
        self.slots.release("everyone", holder)


def day_of(accounts: list[AccountPlan], limiter: Callable[[SimulatedClock], Slots]) -> Day:
    clock = SimulatedClock()
    return FleetDay(accounts, limiter(clock), clock, seed=SEED).run()


def real(clock: SimulatedClock) -> CallSlots:
    return CallSlots(CountingTable(), "fleet", clock=clock)


def test_the_real_limiter_holds_every_account_within_its_limits() -> None:
    result = fleet.run(SMALL, seed=SEED)
    rows = {row["account"]: row for row in result["rows"]}
    assert result["problems"] == [] and result["totals"]["rate_limited"] == 0
    assert rows[NARROW]["peak_in_flight"] == 2  # its batch fills both slots, never a third
    assert rows[BUSY]["peak_in_flight"] == 10 and rows[BUSY]["refused_asks"] > 0
    assert result["burst"]["changed"] == 0 and result["burst"]["other_exports"] > 0
    # Each export: one create and its polls; a wait for a slot is neither.
    assert result["totals"]["calls"] == SMALL.exports + result["totals"]["polls"]


def test_a_limiter_that_never_refuses_is_caught_by_ongage() -> None:
    day = day_of(ACCOUNTS, NeverRefuses)
    rows = fleet.account_rows(ACCOUNTS, day)
    busy = next(row for row in rows if row["account"] == BUSY)
    assert busy["rate_limited"] > 0 and busy["peak_in_flight"] > 10
    assert any(f"{BUSY}: Ongage answered" in problem for problem in fleet.account_problems(rows))


def test_the_minute_is_held_and_a_limiter_that_ignores_it_is_caught() -> None:
    rows = fleet.account_rows(TIGHT, day_of(TIGHT, real))
    assert rows[0]["most_in_a_minute"] == 20 and rows[0]["rate_limited"] == 0
    assert rows[0]["peak_in_flight"] <= 10
    careless = fleet.account_rows(TIGHT, day_of(TIGHT, NeverRefuses))
    assert careless[0]["most_in_a_minute"] > 20 and careless[0]["rate_limited"] > 0


def test_a_limiter_that_mixes_accounts_lets_a_burst_delay_the_others() -> None:
    held_apart = fleet.burst_effect(day_of(ACCOUNTS, real), day_of(without_burst(ACCOUNTS), real))
    mixed = fleet.burst_effect(
        day_of(ACCOUNTS, OneBookForAll), day_of(without_burst(ACCOUNTS), OneBookForAll)
    )
    assert held_apart["changed"] == 0
    assert mixed["changed"] > 0
    assert mixed["with"]["slot_wait_s"]["max"] > mixed["without"]["slot_wait_s"]["max"]


def test_the_same_seed_gives_the_same_day() -> None:
    def outcome(day: Day) -> list[tuple[str, int | None, int, int]]:
        return [(r.plan.holder, r.landed_ms, r.slot_wait_seconds, r.polls) for r in day.runs]

    assert outcome(day_of(ACCOUNTS, real)) == outcome(day_of(ACCOUNTS, real))


def test_ongage_answers_429_beyond_the_rolling_minute_or_the_calls_in_flight() -> None:
    ongage = SimulatedOngage({"a": CallLimits(parallel_calls=2, calls_per_minute=3)})
    assert ongage.begin("a", 0) and ongage.begin("a", 1)
    assert not ongage.begin("a", 2)  # a third call in flight
    ongage.end("a")
    ongage.end("a")
    assert ongage.begin("a", 3)
    ongage.end("a")
    assert not ongage.begin("a", 59_999)  # the fourth call within a minute
    assert ongage.begin("a", 60_000)  # the first call left the window
    calls = ongage.accounts["a"]
    assert (calls.calls, calls.rate_limited, calls.peak_in_flight) == (4, 2, 3)


def test_the_table_keeps_the_conditional_put_and_bills_it() -> None:
    table = CountingTable()
    item = {"id": {"S": "k"}, "version": {"N": "1"}, "calls": {"S": "x" * 5000}}
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(id)")
    with pytest.raises(table.exceptions.ConditionalCheckFailedException):
        stale = {":read": {"N": "0"}}
        table.put_item(
            Item={**item, "version": {"N": "2"}},
            ConditionExpression="version = :read",
            ExpressionAttributeValues=stale,
        )
    assert table.items["k"]["version"] == {"N": "1"}  # the lost put changed nothing
    assert table.get_item(Key={"id": {"S": "k"}}, ConsistentRead=True)["Item"] == item
    usage = table.usage
    assert (usage.writes, usage.failed_writes, usage.write_units) == (2, 1, 10)  # 5 KB each
    assert (usage.reads, usage.read_units) == (1, 2)  # over 4 KB: two units
    with pytest.raises(ValueError, match="does not evaluate"):
        table.put_item(Item=item, ConditionExpression="attribute_exists(id)")


def test_item_size_follows_dynamodbs_rules() -> None:
    # Names and strings in UTF-8 bytes; a number: one byte per two significant digits, plus one.
    assert item_size({"id": {"S": "é"}}) == 2 + 2
    assert item_size({"version": {"N": "12300"}}) == 7 + 2 + 1


def test_a_refused_ask_costs_the_states_of_its_loop_in_the_asl() -> None:
    states = {
        "Task": {"Next": "Choice"},
        "Choice": {"Choices": [{"Next": "Done"}], "Default": "Wait"},
        "Wait": {"Next": "Task"},
        "Done": {"Type": "Succeed"},
    }
    assert shortest_cycle(states, "Task") == 3  # Choice, Wait, and the Task again
    with pytest.raises(ValueError, match="never comes back"):
        shortest_cycle(states, "Done")
    assert set(refused_ask_transitions().values()) == {3}  # the workflow's two loops
