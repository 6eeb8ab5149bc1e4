"""The batch state machine: its ASL file, substitutions, logging, and a role that holds exactly
what `startExecution.sync:2` of the export machine and the batch notice need."""

from __future__ import annotations

import json

from infra.batch_workflow import SYNC_EVENTS_RULE
from infra.workflow import asl_placeholders
from statemachine import BATCH_ASL_FILE
from tests.infra.helpers import actions_on, logical_id, props, statements


def _machine(synth):
    return props(synth.json, synth.main.batch_workflow.state_machine)


def _allowed(synth):
    role_id = _machine(synth)["RoleArn"]["Fn::GetAtt"][0]
    return actions_on(statements(synth.json, role_id))


def test_a_standard_machine_from_its_asl_file_logging_everything_and_traced(synth):
    machine = _machine(synth)
    assert machine["StateMachineType"] == "STANDARD"
    assert "DefinitionS3Location" in machine
    assert "DefinitionString" not in machine
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is True
    group = synth.json["Resources"][logical_id(synth.main.batch_workflow.log_group)]
    assert group["Properties"]["RetentionInDays"] == 30
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_every_placeholder_is_substituted_with_the_export_machine_and_the_topic(synth):
    substitutions = _machine(synth)["DefinitionSubstitutions"]
    assert asl_placeholders(BATCH_ASL_FILE) == set(substitutions)
    assert substitutions == {
        "ExportStateMachineArn": {"Ref": logical_id(synth.main.workflow.state_machine)},
        "NotificationTopicArn": {"Ref": logical_id(synth.main.notifications.topic)},
    }


def test_the_role_holds_exactly_what_sync_child_executions_and_the_notice_need(synth):
    allowed = _allowed(synth)
    export_machine = logical_id(synth.main.workflow.state_machine)
    key_arn = {"Fn::GetAtt": [logical_id(synth.main.notifications.key), "Arn"]}
    # X-Ray and log delivery take "*" (as for the export machine); the rest is named.
    named = {action: on for action, on in allowed.items() if on != ["*"]}
    assert set(named) == {
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    assert named["states:StartExecution"] == [{"Ref": export_machine}]
    for action in ("states:DescribeExecution", "states:StopExecution"):
        (executions,) = named[action]
        text = json.dumps(executions)
        assert ":execution:" in text and f'"{export_machine}", "Name"' in text
        assert text.endswith(':*"]]}')
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        (rule,) = named[action]
        assert json.dumps(rule).endswith(f':rule/{SYNC_EVENTS_RULE}"]]}}')
    assert named["sns:Publish"] == [{"Ref": logical_id(synth.main.notifications.topic)}]
    assert named["kms:Decrypt"] == [key_arn]
    starts_anything_else = [on for on in allowed.get("states:StartExecution", []) if on == "*"]
    assert not starts_anything_else


def test_the_batch_machine_is_an_output(synth):
    value = synth.json["Outputs"]["BatchStateMachineArn"]["Value"]
    assert value == {"Ref": logical_id(synth.main.batch_workflow.state_machine)}
