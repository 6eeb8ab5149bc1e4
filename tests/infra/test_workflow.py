"""The state machine: the ASL file, its substitutions, logging, tracing and its role."""

from __future__ import annotations

import json
import re

from infra.workflow import ASL_FILE, asl_placeholders
from tests.infra.helpers import actions_on, logical_id, of_type, props, statements

FUNCTION_PLACEHOLDER = re.compile(r"^(\w+)FunctionArn$")


def _machine(synth):
    return props(synth.json, synth.main.workflow.state_machine)


def _role_id(synth):
    return _machine(synth)["RoleArn"]["Fn::GetAtt"][0]


def test_two_standard_state_machines_the_export_one_from_its_asl_file(synth):
    # the export workflow and the batch workflow (tests/infra/test_batch_workflow.py)
    assert len(of_type(synth.json, "AWS::StepFunctions::StateMachine")) == 2
    machine = _machine(synth)
    assert machine["StateMachineType"] == "STANDARD"
    # The file is uploaded as is (an asset): no second copy of the flow lives in the template.
    assert "DefinitionS3Location" in machine
    assert "DefinitionString" not in machine


def test_logs_everything_to_a_log_group_with_retention_and_traces(synth):
    machine = _machine(synth)
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    group_id = logical_id(synth.main.workflow.log_group)
    assert logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": [group_id, "Arn"]
    }
    assert synth.json["Resources"][group_id]["Properties"]["RetentionInDays"] == 30
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_every_asl_placeholder_is_substituted_and_nothing_else(synth):
    text = ASL_FILE.read_text()
    json.loads(text)  # the file itself is valid JSON
    substitutions = _machine(synth)["DefinitionSubstitutions"]
    assert asl_placeholders() == set(substitutions)
    assert asl_placeholders() >= {
        "CreateExportFunctionArn",
        "RetrieveExportFunctionArn",
        "NotificationTopicArn",
    }
    assert substitutions["NotificationTopicArn"] == {
        "Ref": logical_id(synth.main.notifications.topic)
    }


def test_every_function_the_workflow_invokes_is_granted_invoke(synth):
    substitutions = _machine(synth)["DefinitionSubstitutions"]
    invoked = [
        value["Fn::GetAtt"][0]
        for name, value in substitutions.items()
        if FUNCTION_PLACEHOLDER.match(name)
    ]
    assert len(invoked) == 2
    functions = of_type(synth.json, "AWS::Lambda::Function")
    assert all(function_id in functions for function_id in invoked)
    granted = actions_on(statements(synth.json, _role_id(synth)))["lambda:InvokeFunction"]
    assert sorted(json.dumps(r) for r in granted) == sorted(
        json.dumps({"Fn::GetAtt": [function_id, "Arn"]}) for function_id in invoked
    )


def test_every_function_named_in_the_asl_is_a_lambda_task():
    definition = json.loads(ASL_FILE.read_text())
    named = {
        state["Parameters"]["FunctionName"]
        for state in definition["States"].values()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    assert named == {"${CreateExportFunctionArn}", "${RetrieveExportFunctionArn}"}


def test_workflow_may_publish_to_the_encrypted_topic(synth):
    allowed = actions_on(statements(synth.json, _role_id(synth)))
    assert allowed["sns:Publish"] == [{"Ref": logical_id(synth.main.notifications.topic)}]
    key_arn = {"Fn::GetAtt": [logical_id(synth.main.notifications.key), "Arn"]}
    assert allowed["kms:GenerateDataKey"] == [key_arn]
    assert allowed["kms:Decrypt"] == [key_arn]
