"""Alarms to the topic, one dashboard, and the outputs the CLI relies on.

Which alarm pages for which failure is checked by evaluating the synthesized alarms as
CloudWatch would over an hour of 5-minute periods of the metrics each failure class produces: a
run that ended badly or a dead letter pages at once; errors the workflow retries on the way to a
landed export page nobody; errors that keep coming for half an hour do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from infra.stack import (
    OUTPUT_API_URL,
    OUTPUT_BATCH_STATE_MACHINE,
    OUTPUT_BUCKET,
    OUTPUT_STATE_MACHINE,
    OUTPUT_TOPIC,
)
from tests.infra.helpers import logical_id, of_type

PERIODS = 12  # an hour of 5-minute periods
# metric name and the logical id of the resource it is about -> its value in each period
Metrics = Mapping[tuple[str, str], list[float | None]]


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: alarm["Properties"]
        for name, alarm in of_type(template, "AWS::CloudWatch::Alarm").items()
    }


def _resource_of(metric: Mapping[str, Any]) -> str:
    (dimension,) = metric.get("Dimensions", [])
    value = dimension["Value"]
    return str(value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0])


def _series(alarm: Mapping[str, Any], metrics: Metrics) -> list[float | None]:
    """The alarm's value in each period: its metric's, or its expression over its metrics."""
    if "MetricName" in alarm:
        return metrics.get((alarm["MetricName"], _resource_of(alarm)), [None] * PERIODS)
    named = {
        query["Id"]: metrics.get(
            (
                query["MetricStat"]["Metric"]["MetricName"],
                _resource_of(query["MetricStat"]["Metric"]),
            ),
            [None] * PERIODS,
        )
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }
    (expression,) = [query["Expression"] for query in alarm["Metrics"] if "Expression" in query]
    return [_evaluate(expression, {k: v[i] or 0 for k, v in named.items()}) for i in range(PERIODS)]


def _evaluate(expression: str, values: dict[str, float]) -> float | None:
    """CloudWatch metric math's IF(condition, value): no data point when the condition is false
    (the only form the stack uses; anything else fails here)."""
    parts = re.fullmatch(r"IF\((?P<condition>[^,]+),(?P<value>[^,]+)\)", expression)
    assert parts, f"an expression this evaluator does not know: {expression}"
    if not eval(parts["condition"], {}, dict(values)):
        return None
    return float(eval(parts["value"], {}, dict(values)))


def _fires(alarm: Mapping[str, Any], metrics: Metrics) -> bool:
    """ALARM at any point of the hour: `DatapointsToAlarm` of the last `EvaluationPeriods`
    periods at or above the threshold; missing data not breaching."""
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    breaching = [v is not None and v >= alarm["Threshold"] for v in _series(alarm, metrics)]
    window, needed = (
        alarm["EvaluationPeriods"],
        alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
    )
    return any(sum(breaching[end - window : end]) >= needed for end in range(window, PERIODS + 1))


def _every(value: float) -> list[float | None]:
    return [value] * PERIODS


def _once(value: float, at: int = 3) -> list[float | None]:
    return [value if i == at else None for i in range(PERIODS)]


def _first(count: int, value: float, then: float | None = None) -> list[float | None]:
    return [value if i < count else then for i in range(PERIODS)]


# failure class -> (the metrics it produces, given the stack's logical ids) and the alarms that page
Ids = Mapping[str, str]
SCENARIOS: dict[str, tuple[Callable[[Ids], Metrics], set[str]]] = {
    "a run failed (its failure notice went out)": (
        lambda ids: {("ExecutionsFailed", ids["machine"]): _once(1)},
        {"ExecutionsFailed"},
    ),
    "a run timed out": (
        lambda ids: {("ExecutionsTimedOut", ids["machine"]): _once(1)},
        {"ExecutionsTimedOut"},
    ),
    "a run was stopped": (
        lambda ids: {("ExecutionsAborted", ids["machine"]): _once(1)},
        {"ExecutionsAborted"},
    ),
    "a batch failed because one of its exports failed": (
        lambda ids: {
            ("ExecutionsFailed", ids["batch"]): _once(1),
            ("ExecutionsFailed", ids["machine"]): _once(1),
        },
        {"ExecutionsFailed"},
    ),
    "a batch timed out": (
        lambda ids: {("ExecutionsTimedOut", ids["batch"]): _once(1)},
        {"BatchesTimedOut"},
    ),
    "a batch was stopped, and its running exports with it": (
        lambda ids: {
            ("ExecutionsAborted", ids["batch"]): _once(1),
            ("ExecutionsAborted", ids["machine"]): _once(2),
        },
        {"BatchesAborted", "ExecutionsAborted"},
    ),
    "429s and 5xx retried for 15 minutes, then the export landed": (
        lambda ids: {
            ("Invocations", ids["create"]): _first(3, 2, then=None),
            ("Errors", ids["create"]): _first(3, 2, then=None),
            ("Invocations", ids["retrieve"]): _first(4, 1, then=1),
            ("Errors", ids["retrieve"]): _first(3, 1, then=0),
        },
        set(),
    ),
    "Ongage down for an hour while every run retries": (
        lambda ids: {
            ("Invocations", ids["retrieve"]): _every(3),
            ("Errors", ids["retrieve"]): _every(3),
        },
        {"RetrieveExportErrorRate"},
    ),
    "the status API fails every call for half an hour": (
        lambda ids: {
            ("Invocations", ids["status"]): _first(6, 1),
            ("Errors", ids["status"]): _first(6, 1),
        },
        {"ExportStatusErrorRate"},
    ),
    "a schedule could not start its run": (
        lambda ids: {("ApproximateNumberOfMessagesVisible", ids["scheduler_dlq"]): _every(1)},
        {"SchedulerDeadLetters"},
    ),
}


def _stack_ids(synth: Any) -> dict[str, str]:
    main = synth.main
    return {
        "machine": logical_id(main.workflow.state_machine),
        "batch": logical_id(main.batch_workflow.state_machine),
        "create": logical_id(main.functions.create_export),
        "retrieve": logical_id(main.functions.retrieve_export),
        "status": logical_id(main.api.status_function),
        "scheduler_dlq": logical_id(main.schedules.dead_letter_queue),
    }


def _firing(template: dict[str, Any], metrics: Metrics) -> set[str]:
    """The alarms that page, by the name they were given in infra/monitoring.py."""
    return {
        name.removeprefix("Monitoring")[:-8]  # the logical id: Monitoring<name><hash>
        for name, alarm in _alarms(template).items()
        if _fires(alarm, metrics)
    }


@pytest.mark.parametrize("failure", list(SCENARIOS))
def test_which_alarm_pages_for_which_failure(synth, failure):
    produce, paged = SCENARIOS[failure]
    assert _firing(synth.json, produce(_stack_ids(synth))) == paged


def test_the_consumer_pages_for_dead_letters_not_for_a_retried_error(synth):
    template = dict(synth.curated_template.to_json())
    consumer = synth.curated.consumer
    function, queue = logical_id(consumer.function), logical_id(consumer.dead_letter_queue)
    retried = {("Invocations", function): _first(3, 1), ("Errors", function): _once(1, at=0)}
    parked = {**retried, ("ApproximateNumberOfMessagesVisible", queue): _every(1)}
    failing = {("Invocations", function): _every(2), ("Errors", function): _every(2)}
    assert _firing(template, retried) == set()
    assert _firing(template, parked) == {"CurationDeadLetters"}
    assert _firing(template, failing) == {f"{consumer.function.node.id}ErrorRate"}


def test_every_lambda_has_an_error_rate_alarm(synth):
    watched = {
        _resource_of(query["MetricStat"]["Metric"])
        for alarm in _alarms(synth.json).values()
        for query in alarm.get("Metrics", [])
        if "MetricStat" in query and query["MetricStat"]["Metric"]["MetricName"] == "Errors"
    }
    assert watched == set(of_type(synth.json, "AWS::Lambda::Function"))


def test_every_alarm_notifies_the_topic_and_names_its_runbook_entry(synth):
    topic = {"Ref": logical_id(synth.main.notifications.topic)}
    for name, alarm in _alarms(synth.json).items():
        assert alarm["AlarmActions"] == [topic]
        assert "docs/operations.md" in alarm["AlarmDescription"]
        assert f"'{name.removeprefix('Monitoring')[:-8]}'" in alarm["AlarmDescription"]


def test_the_status_function_alarm_does_not_claim_the_workflow_retries_it(synth):
    status = synth.main.api.status_function.node.id
    (alarm,) = [a for n, a in _alarms(synth.json).items() if f"{status}ErrorRate" in n]
    assert "GET /exports/{id}" in alarm["AlarmDescription"]
    assert "retr" not in alarm["AlarmDescription"]


def test_one_dashboard(synth):
    assert len(of_type(synth.json, "AWS::CloudWatch::Dashboard")) == 1


def test_outputs_name_what_the_cli_needs(synth):
    outputs = synth.json["Outputs"]
    for name in (
        OUTPUT_STATE_MACHINE,
        OUTPUT_BATCH_STATE_MACHINE,
        OUTPUT_API_URL,
        OUTPUT_BUCKET,
        OUTPUT_TOPIC,
    ):
        assert name in outputs
    assert outputs[OUTPUT_STATE_MACHINE]["Value"] == {
        "Ref": logical_id(synth.main.workflow.state_machine)
    }
    assert outputs[OUTPUT_BUCKET]["Value"] == {"Ref": logical_id(synth.main.storage.bucket)}
    assert outputs[OUTPUT_BATCH_STATE_MACHINE]["Value"] == {
        "Ref": logical_id(synth.main.batch_workflow.state_machine)
    }


def test_the_dead_letter_queues_the_runbook_drains_are_outputs(synth):
    scheduler = synth.json["Outputs"]["SchedulerDeadLetterQueueUrl"]["Value"]
    assert scheduler == {"Ref": logical_id(synth.main.schedules.dead_letter_queue)}
    curated = dict(synth.curated_template.to_json())["Outputs"]["CurationDeadLetterQueueUrl"]
    assert curated["Value"] == {"Ref": logical_id(synth.curated.consumer.dead_letter_queue)}
    assert "CurationDeadLetterQueueUrl" not in synth.json["Outputs"]
