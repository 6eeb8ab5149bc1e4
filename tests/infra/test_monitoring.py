"""Alarms to the topic, one dashboard, and the outputs the CLI relies on."""

from __future__ import annotations

from infra.stack import OUTPUT_API_URL, OUTPUT_BUCKET, OUTPUT_STATE_MACHINE, OUTPUT_TOPIC
from tests.infra.helpers import logical_id, of_type


def _alarms(synth):
    return [a["Properties"] for a in of_type(synth.json, "AWS::CloudWatch::Alarm").values()]


def test_alarms_for_executions_lambda_errors_and_dead_letters(synth):
    metrics = sorted((a["Namespace"], a["MetricName"]) for a in _alarms(synth))
    assert metrics == sorted(
        [
            ("AWS/States", "ExecutionsFailed"),
            ("AWS/States", "ExecutionsTimedOut"),
            ("AWS/Lambda", "Errors"),
            ("AWS/Lambda", "Errors"),
            ("AWS/Lambda", "Errors"),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ]
    )


def test_every_lambda_has_an_error_alarm(synth):
    alarmed = {
        a["Dimensions"][0]["Value"]["Ref"] for a in _alarms(synth) if a["MetricName"] == "Errors"
    }
    assert alarmed == set(of_type(synth.json, "AWS::Lambda::Function"))


def test_every_alarm_notifies_the_topic(synth):
    topic = {"Ref": logical_id(synth.main.notifications.topic)}
    for alarm in _alarms(synth):
        assert alarm["AlarmActions"] == [topic]
        assert alarm["Threshold"] == 1
        assert alarm["TreatMissingData"] == "notBreaching"


def test_dead_letter_alarm_watches_the_scheduler_queue(synth):
    (alarm,) = [a for a in _alarms(synth) if a["Namespace"] == "AWS/SQS"]
    queue = logical_id(synth.main.schedules.dead_letter_queue)
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}


def test_one_dashboard(synth):
    assert len(of_type(synth.json, "AWS::CloudWatch::Dashboard")) == 1


def test_outputs_name_what_the_cli_needs(synth):
    outputs = synth.json["Outputs"]
    for name in (OUTPUT_STATE_MACHINE, OUTPUT_API_URL, OUTPUT_BUCKET, OUTPUT_TOPIC):
        assert name in outputs
    assert outputs[OUTPUT_STATE_MACHINE]["Value"] == {
        "Ref": logical_id(synth.main.workflow.state_machine)
    }
    assert outputs[OUTPUT_BUCKET]["Value"] == {"Ref": logical_id(synth.main.storage.bucket)}
