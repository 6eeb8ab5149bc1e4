"""The SNS topic, its key, subscriptions and the execution-ended rule."""

from __future__ import annotations

import json

from tests.infra.helpers import logical_id, of_type, props


def test_topic_encrypted_with_a_rotating_customer_key(synth):
    notifications = synth.main.notifications
    topic = props(synth.json, notifications.topic)
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [logical_id(notifications.key), "Arn"]}
    assert props(synth.json, notifications.key)["EnableKeyRotation"] is True


def test_key_lets_cloudwatch_and_eventbridge_publish(synth):
    policy = props(synth.json, synth.main.notifications.key)["KeyPolicy"]["Statement"]
    services = {
        s["Principal"]["Service"]
        for s in policy
        if isinstance(s.get("Principal"), dict) and "Service" in s["Principal"]
    }
    assert {"cloudwatch.amazonaws.com", "events.amazonaws.com"} <= services


def test_topic_policy_denies_plain_http(synth):
    (policy,) = of_type(synth.json, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_email_subscriptions_from_config(synth):
    subscriptions = of_type(synth.json, "AWS::SNS::Subscription").values()
    emails = {s["Properties"]["Endpoint"] for s in subscriptions}
    assert emails == {"data-team@example.com", "oncall@example.com"}
    assert all(s["Properties"]["Protocol"] == "email" for s in subscriptions)
    assert not of_type(synth.imported_template.to_json(), "AWS::SNS::Subscription")


def test_executions_ending_badly_are_announced_with_a_transformed_message(synth):
    (rule,) = of_type(synth.json, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    # FAILED runs announce themselves from the workflow: one notice per run, not two.
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [
        {"Ref": logical_id(synth.main.workflow.state_machine)}
    ]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": logical_id(synth.main.notifications.topic)}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"]["detail-executionArn"] == "$.detail.executionArn"
    # The template is JSON once EventBridge fills the placeholders in.
    filled = transformer["InputTemplate"]
    for placeholder in transformer["InputPathsMap"]:
        filled = filled.replace(f"<{placeholder}>", '"x"')
    assert json.loads(filled)["execution_arn"] == "x"
