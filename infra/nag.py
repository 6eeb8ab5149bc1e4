"""cdk-nag AwsSolutions checks, and every finding suppressed on purpose, with its reason.

cdk-nag 2.38.2 is pinned: it works as a CDK Aspect from Python. 3.0.2 fails under Python
aspects (`aspect.visit is not a function`) and moved to the `Validations` plugin API.
Findings were fixed where a fix exists (own roles instead of managed policies, named KMS actions,
EventBridge notifications without a custom resource). What is left is listed here, scoped to one
construct and, for wildcards, to the exact resource or action (`applies_to`).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

from infra.stack import OngageExportStack
from ongage_export.consumer.manifest import SCHEMAS_FOLDER
from ongage_export.contract import EXPORT_PREFIX, STAGING_PREFIX

XRAY = (
    "X-Ray PutTraceSegments/PutTelemetryRecords (and GetSampling* for Step Functions) do not "
    "support resource-level permissions; '*' is the only valid resource "
    "(https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html)."
)
SFN_LOGGING = (
    "Step Functions log delivery to CloudWatch Logs uses logs:*LogDelivery, "
    "logs:PutResourcePolicy, logs:DescribeResourcePolicies and logs:DescribeLogGroups, which "
    "support only '*' (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html). " + XRAY
)


def add_checks(app: cdk.App) -> None:
    """The checks over every stack of `app`, and the suppressions of each OngageExportStack in it
    (here, not in the stack: the stack knows nothing of cdk-nag)."""
    for stack in app.node.children:
        if isinstance(stack, OngageExportStack):
            add_suppressions(stack)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))


def _suppress(
    construct: IConstruct,
    rule: str,
    reason: str,
    applies_to: Sequence[str | RegexAppliesTo] | None = None,
) -> None:
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)],
        apply_to_children=True,
    )


def add_suppressions(stack: OngageExportStack) -> None:
    _functions(stack)
    _workflow(stack)
    _api(stack)
    _credentials(stack)
    _consumer(stack)
    _announcer(stack)
    _suppress(
        stack.schedules.dead_letter_queue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue of the Scheduler targets; a DLQ of a DLQ "
        "adds nothing. Its depth is alarmed (Monitoring/SchedulerDeadLetters).",
    )


def _bucket_objects(stack: OngageExportStack, prefix: str) -> str:
    bucket_id = stack.get_logical_id(stack.storage.bucket.node.default_child)  # type: ignore[arg-type]
    return f"Resource::<{bucket_id}.Arn>/{prefix}*"


def _functions(stack: OngageExportStack) -> None:
    functions = [*stack.functions.ongage_callers, stack.api.status_function]
    for function in functions:
        assert function.role is not None
        _suppress(function.role, "AwsSolutions-IAM5", XRAY, ["Resource::*"])
    _suppress(
        stack.functions.retrieve_export.role,  # type: ignore[arg-type]
        "AwsSolutions-IAM5",
        "Each export gets new object keys (incoming/<upload>, exports/list=<id>/date=<d>/...), so "
        "object permissions are scoped to the two prefixes, not to keys known at deploy time.",
        [_bucket_objects(stack, STAGING_PREFIX), _bucket_objects(stack, EXPORT_PREFIX)],
    )
    state_machine_id = stack.get_logical_id(
        stack.workflow.state_machine.node.default_child  # type: ignore[arg-type]
    )
    _suppress(
        stack.api.status_function.role,  # type: ignore[arg-type]
        "AwsSolutions-IAM5",
        "GET /exports/{id} describes executions named at run time; the wildcard is limited to "
        "executions of this one state machine. Download links are signed for landed exports "
        "only (exports/ prefix), whose keys are made per export.",
        [
            # Partition, region and account are literals or tokens depending on the stack's env.
            RegexAppliesTo(
                regex=f"/^Resource::arn:.+:states:.+:execution:<{state_machine_id}"
                r"\.Name>:\*$/"
            ),
            _bucket_objects(stack, EXPORT_PREFIX),
        ],
    )


def _consumer(stack: OngageExportStack) -> None:
    consumer = stack.consumer
    if consumer is None:
        return
    role = consumer.function.role
    assert role is not None
    state_machine = stack.get_logical_id(
        stack.workflow.state_machine.node.default_child  # type: ignore[arg-type]
    )
    _suppress(role, "AwsSolutions-IAM5", XRAY, ["Resource::*"])
    _suppress(
        role,
        "AwsSolutions-IAM5",
        "Every export lands under a new key (exports/list=<id>/date=<d>/<name>.zip) and gets "
        "its own curated folder, so object permissions are scoped to prefixes: GetObject "
        "on landed exports and on the schema records, PutObject/AbortMultipartUpload on the "
        "curated prefix. DescribeExecution reads the request of the run that landed an export "
        "(named at run time), limited to executions of this one state machine.",
        [
            _bucket_objects(stack, EXPORT_PREFIX),
            _bucket_objects(stack, consumer.prefix),
            _bucket_objects(stack, f"{consumer.prefix}{SCHEMAS_FOLDER}"),
            RegexAppliesTo(
                regex=f"/^Resource::arn:.+:states:.+:execution:.*{state_machine}.*:\\*$/"
            ),
        ],
    )
    if stack.key is not None:
        _suppress(
            role,
            "AwsSolutions-IAM5",
            "The on-failure destination (SqsDestination) sends to the dead-letter queue, which is "
            "encrypted with the stack's key: CDK's Queue.grantSendMessages grants that key's "
            "encrypt/decrypt set (GenerateDataKey*, ReEncrypt*), on that one key only.",
            ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
        )
    _suppress(
        consumer.dead_letter_queue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue of the curation rule's target and the "
        "function's on-failure destination; a DLQ of a DLQ adds nothing. Its depth is alarmed "
        "(Monitoring/CurationDeadLetters).",
    )


def _announcer(stack: OngageExportStack) -> None:
    role = stack.notifications.announcer.role
    assert role is not None
    state_machine = stack.get_logical_id(
        stack.workflow.state_machine.node.default_child  # type: ignore[arg-type]
    )
    _suppress(role, "AwsSolutions-IAM5", XRAY, ["Resource::*"])
    _suppress(
        role,
        "AwsSolutions-IAM5",
        "GetExecutionHistory reads the history of whichever run ended (named at run time), "
        "limited to executions of this one state machine.",
        [RegexAppliesTo(regex=f"/^Resource::arn:.+:states:.+:execution:.*{state_machine}.*:\\*$/")],
    )


def _workflow(stack: OngageExportStack) -> None:
    _suppress(
        stack.workflow.state_machine.role,
        "AwsSolutions-IAM5",
        SFN_LOGGING,
        ["Resource::*"],
    )


def _api(stack: OngageExportStack) -> None:
    api = stack.api.api
    _suppress(
        api,
        "AwsSolutions-COG4",
        "Callers are IAM principals (scripts, the CLI, other AWS services), not end users: "
        "methods use AWS_IAM (SigV4) authorization, so there is no Cognito user pool to check.",
    )
    _suppress(
        api,
        "AwsSolutions-APIG3",
        "Every method requires SigV4-signed IAM credentials, so anonymous traffic never reaches "
        "an integration; the stage throttles requests and bodies are schema-validated. A WAF web "
        "ACL (fixed monthly cost per ACL and rule) would add nothing for this internal API.",
    )
    if stack.config.api.create_cloudwatch_role:
        _suppress(
            api,
            "AwsSolutions-IAM4",
            "The API Gateway account-level CloudWatch role (needed for execution logging, "
            "APIG6) serves every REST API of the account and region; the AWS managed "
            "AmazonAPIGatewayPushToCloudWatchLogs policy is what AWS documents for it. "
            "Set api.create_cloudwatch_role=false where the account already has one.",
            [
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs"
            ],
        )


def _credentials(stack: OngageExportStack) -> None:
    credentials = stack.credentials
    if credentials.imported:
        # Granting read on a secret imported by name needs its random 6-character suffix.
        for function in stack.functions.ongage_callers:
            _suppress(
                function.role,  # type: ignore[arg-type]
                "AwsSolutions-IAM5",
                "A secret imported by name has a random suffix unknown at deploy time; "
                "'-??????' matches exactly that suffix of each configured secret.",
                [RegexAppliesTo(regex=r"/^Resource::arn:.*:secret:.*-\?\?\?\?\?\?$/")],
            )
    for name, secret in credentials.secrets.items():
        if name in credentials.imported:
            continue
        _suppress(
            secret,  # type: ignore[arg-type]
            "AwsSolutions-SMG4",
            "The secret holds credentials of a third-party account (Ongage), changed in "
            "Ongage's UI; Secrets Manager cannot rotate them. Rotate by putting the new value "
            "(README, Deploy), which the Lambdas pick up at the next refused call.",
        )
