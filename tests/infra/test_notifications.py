"""The SNS topic, its key, subscriptions and the execution-ended rule."""

from __future__ import annotations

from tests.infra.helpers import logical_id, of_type, props


def test_topic_encrypted_with_a_rotating_customer_key(synth):
    notifications = synth.main.notifications
    topic = props(synth.json, notifications.topic)
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [logical_id(notifications.key), "Arn"]}
    assert props(synth.json, notifications.key)["EnableKeyRotation"] is True


def test_key_lets_cloudwatch_publish_alarms(synth):
    policy = props(synth.json, synth.main.notifications.key)["KeyPolicy"]["Statement"]
    services = {
        s["Principal"]["Service"]
        for s in policy
        if isinstance(s.get("Principal"), dict) and "Service" in s["Principal"]
    }
    # EventBridge publishes nothing itself: the announcer function does, with its role.
    assert services == {"cloudwatch.amazonaws.com"}


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


def test_executions_ending_badly_go_to_the_announcer(synth):
    rules = of_type(synth.json, "AWS::Events::Rule")
    notifications = synth.main.notifications
    rule = next(r for name, r in rules.items() if name.startswith("NotificationsExecutionEnded"))
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    # FAILED too: the announcer skips the runs the workflow announced itself.
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [
        {"Ref": logical_id(synth.main.workflow.state_machine)}
    ]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id(notifications.announcer), "Arn"]}
    assert "InputTransformer" not in target and "Input" not in target
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_the_announcer_reads_histories_and_publishes_to_the_topic(synth):
    announcer = props(synth.json, synth.main.notifications.announcer)
    assert announcer["Handler"] == "ongage_export.handlers.announce_run.handler"
    topic = {"Ref": logical_id(synth.main.notifications.topic)}
    assert announcer["Environment"]["Variables"]["TOPIC_ARN"] == topic
    policies = of_type(synth.json, "AWS::IAM::Policy").values()
    role = {"Ref": logical_id(synth.main.notifications.announcer.role.node.default_child)}
    statements = [
        s for p in policies if role in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]  # fmt: skip
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str)
               else s["Action"])}  # fmt: skip
    assert {"states:GetExecutionHistory", "sns:Publish", "kms:GenerateDataKey"} <= actions
    permissions = of_type(synth.json, "AWS::Lambda::Permission").values()
    assert any(
        p["Properties"]["Principal"] == "events.amazonaws.com"
        and p["Properties"]["FunctionName"]
        == {"Fn::GetAtt": [logical_id(synth.main.notifications.announcer), "Arn"]}
        for p in permissions
    )
