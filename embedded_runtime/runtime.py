"""The whole AWS side on a laptop: moto runs the real ASL file and dispatches its Lambda tasks
to the real handlers, in this process.

Created here, as the CDK stack creates them in AWS: the export bucket, the SNS topic (with an
SQS queue subscribed, so notices can be read back), the idempotency table, the credentials
secret, both functions (same handler strings, same environment variables) and the state machine
from `statemachine/export.asl.json` with its placeholders substituted.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from embedded_runtime.lambda_dispatch import LambdaDispatcher
from ongage_export.polling import PollingPolicy
from ongage_export.resume import resume_input

REGION = "us-east-1"
ASL_FILE = Path(__file__).resolve().parent.parent / "statemachine" / "export.asl.json"
FUNCTIONS = {
    "CreateExportFunctionArn": ("create-export", "ongage_export.handlers.create_export.handler"),
    "RetrieveExportFunctionArn": (
        "retrieve-export",
        "ongage_export.handlers.retrieve_export.handler",
    ),
}
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    # Powertools Metrics keeps one metric set per process, as Lambda runs one invocation per
    # process; here many run in parallel threads, so EMF output is left to real Lambda.
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


@dataclass(frozen=True)
class OngageAccount:
    """Where Ongage is and who we are there (the simulator's demo account by default)."""

    url: str
    username: str
    password: str = field(repr=False)
    account_code: str = field(repr=False)


@dataclass
class RunResult:
    """What a finished execution tells: its status, the landed object or the failure."""

    execution_arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    notices: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        landed = self.output or {}
        failure = next((n for n in self.notices if n["message"].get("status") == "FAILED"), None)
        notice = failure["message"] if failure else {}
        return {
            "status": self.status,
            "execution_arn": self.execution_arn,
            "export_id": landed.get("export_id", notice.get("export_id")),
            "bucket": landed.get("bucket"),
            "key": landed.get("key"),
            "bytes": landed.get("bytes"),
            "sha256": landed.get("sha256"),
            "error": self.error,
            "cause": self.cause,
        }


class EmbeddedRuntime:
    """Use as a context manager; each instance is a fresh, empty AWS account."""

    def __init__(
        self,
        ongage: OngageAccount,
        *,
        polling: PollingPolicy | None = None,
        retry_time_scale: float = 1.0,
        reserved_concurrency: dict[str, int] | None = None,
        log_stream: IO[str] | None = None,
        part_size_mib: int = 8,
        function_timeout_seconds: int = 900,
        stop_margin_seconds: float = 180,
    ):
        self.ongage = ongage
        self.polling = polling or PollingPolicy()
        self.retry_time_scale = retry_time_scale
        self.reserved_concurrency = reserved_concurrency or {}
        self.log_stream = log_stream or sys.stderr
        self.part_size_mib = part_size_mib
        self.function_timeout_seconds = function_timeout_seconds
        self.stop_margin_seconds = stop_margin_seconds
        self.suffix = uuid.uuid4().hex[:8]
        self.bucket = f"ongage-exports-{self.suffix}"
        self._mock = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "lambda": {"use_docker": False},
            }
        )
        self._saved_env: dict[str, str | None] = {}
        self.dispatcher = LambdaDispatcher(log_stream=self.log_stream)

    # -- set-up -------------------------------------------------------------------------------

    def __enter__(self) -> EmbeddedRuntime:
        # moto's interpreter logs every failed state with its internals; the run's result and
        # the failure notice say what matters.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._set_env(FAKE_AWS_ENV)
        self._mock.start()
        parameters.clear_caches()  # a cached secret from an earlier account must not leak in
        self.dispatcher.install()
        try:
            self._create_resources()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispatcher.uninstall()
        self._mock.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

    def _create_resources(self) -> None:
        self.client("s3").create_bucket(Bucket=self.bucket)
        self.topic_arn = self.client("sns").create_topic(Name=f"ongage-exports-{self.suffix}")[
            "TopicArn"
        ]
        self.queue_url = self._subscribe_queue()
        self.table = f"ongage-export-idempotency-{self.suffix}"
        self._create_idempotency_table()
        self.secret_id = f"ongage-export/credentials-{self.suffix}"
        self.client("secretsmanager").create_secret(
            Name=self.secret_id,
            SecretString=json.dumps(
                {
                    "username": self.ongage.username,
                    "password": self.ongage.password,
                    "account_code": self.ongage.account_code,
                }
            ),
        )
        self.role_arn = self._create_role()
        environment = self.lambda_environment()
        self._set_env(environment)  # handlers run in this process and read os.environ
        substitutions = {"NotificationTopicArn": self.topic_arn}
        for placeholder, (name, handler) in FUNCTIONS.items():
            substitutions[placeholder] = self._create_function(name, handler, environment)
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=f"ongage-export-{self.suffix}",
            definition=load_definition(substitutions, self.retry_time_scale),
            roleArn=self.role_arn,
        )["stateMachineArn"]

    def lambda_environment(self) -> dict[str, str]:
        env = {
            "EXPORT_BUCKET": self.bucket,
            "IDEMPOTENCY_TABLE": self.table,
            "ONGAGE_SECRET_ID": self.secret_id,
            "ONGAGE_BASE_URL": self.ongage.url,
            "EXPORT_PREFIX": "exports/",
            "STAGING_PREFIX": "incoming/",
            "PART_SIZE_MIB": str(self.part_size_mib),
            "STREAM_STOP_MARGIN_SECONDS": str(self.stop_margin_seconds),
            "POWERTOOLS_SERVICE_NAME": "ongage-export",
            "POWERTOOLS_METRICS_NAMESPACE": "OngageExport",
        }
        policy = self.polling.as_dict()
        env.update({var: str(policy[key]) for key, var in PollingPolicy.ENV_VARS.items()})
        return env

    def _create_role(self) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        return self.client("iam").create_role(
            RoleName=f"ongage-export-{self.suffix}", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]

    def _subscribe_queue(self) -> str:
        sqs = self.client("sqs")
        queue_url = sqs.create_queue(QueueName=f"ongage-notices-{self.suffix}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.client("sns").subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        return queue_url

    def _create_idempotency_table(self) -> None:
        self.client("dynamodb").create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def _create_function(self, name: str, handler: str, environment: dict[str, str]) -> str:
        lam = self.client("lambda")
        arn = lam.create_function(
            FunctionName=f"{name}-{self.suffix}",
            Runtime="python3.13",
            Role=self.role_arn,
            Handler=handler,
            Code={"ZipFile": b"the real handler runs in-process"},
            Timeout=self.function_timeout_seconds,
            MemorySize=256,
            Environment={"Variables": environment},
        )["FunctionArn"]
        if name in self.reserved_concurrency:
            lam.put_function_concurrency(
                FunctionName=arn, ReservedConcurrentExecutions=self.reserved_concurrency[name]
            )
        return arn

    # -- running ------------------------------------------------------------------------------

    def start(self, run_input: dict[str, Any], name: str | None = None) -> str:
        """Start a run; starting the same name with the same input again returns that run
        (as Step Functions does while it runs, and as the API does for a double submit)."""
        sfn = self.client("stepfunctions")
        name = name or str(uuid.uuid4())
        try:
            return str(
                sfn.start_execution(
                    stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(run_input)
                )["executionArn"]
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
            if json.loads(sfn.describe_execution(executionArn=arn)["input"]) != run_input:
                raise
            return arn

    def wait(self, execution_arn: str, timeout: float = 300.0) -> RunResult:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout} s")
            time.sleep(0.05)
        output = described.get("output")
        return RunResult(
            execution_arn=execution_arn,
            status=described["status"],
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
            notices=[n for n in self.notices() if _is_about(n, execution_arn)],
        )

    def redrive(self, execution_arn: str) -> str:
        """Start a run that carries on with a failed run's export (see ongage_export.resume)."""
        return self.start(resume_input(self.client("stepfunctions"), execution_arn))

    def run(self, run_input: dict[str, Any], timeout: float = 300.0) -> RunResult:
        return self.wait(self.start(run_input), timeout)

    def notices(self) -> list[dict[str, Any]]:
        """Every SNS notice published so far (kept, so repeated calls see them all)."""
        sqs = self.client("sqs")
        if not hasattr(self, "_notices"):
            self._notices: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return list(self._notices)
            for message in batch:
                envelope = json.loads(message["Body"])
                self._notices.append(
                    {
                        "subject": envelope.get("Subject"),
                        "message": json.loads(envelope["Message"]),
                        "attributes": {
                            k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                        },
                    }
                )
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def download(self, key: str, destination: Path) -> Path:
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.client("s3").download_file(self.bucket, key, str(destination))
        return destination

    def open_uploads(self) -> list[dict[str, Any]]:
        return self.client("s3").list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])

    def object_keys(self) -> list[str]:
        listed = self.client("s3").list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listed.get("Contents", [])]


def _is_about(notice: dict[str, Any], execution_arn: str) -> bool:
    message = notice["message"]
    return execution_arn in (message.get("execution_arn"), message.get("execution_id"))


def load_definition(substitutions: dict[str, str], retry_time_scale: float = 1.0) -> str:
    """The ASL file with its `${...}` placeholders filled in, as CDK's substitutions do.

    `retry_time_scale` shrinks Retry intervals for tests (Ongage's 429 guidance is minutes);
    the flow itself is never altered.
    """
    text = ASL_FILE.read_text()
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    if "${" in text:
        raise ValueError(f"unsubstituted placeholder left in {ASL_FILE.name}")
    definition = json.loads(text)
    if retry_time_scale != 1.0:
        for state in definition["States"].values():
            for retrier in state.get("Retry", []):
                for key in ("IntervalSeconds", "MaxDelaySeconds"):
                    if key in retrier:
                        retrier[key] = max(1, round(retrier[key] * retry_time_scale))
    return json.dumps(definition)
