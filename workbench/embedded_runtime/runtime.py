"""The whole AWS side on a laptop: the synthesized stack, deployed into moto in this process,
running the real ASL and dispatching its Lambda tasks to the real handlers.

Nothing is wired by hand: `cdk.out` (what `make synth` writes, what `cdk deploy` deploys) is
deployed with CloudFormation (`local_aws.cloud_assembly`), so the bucket (versioned, with its
lifecycle rules and policy), the topic, the table, the secret, the functions (handler,
environment, timeout, memory, reserved concurrency) and the state machine (its definition
asset and substitutions) are the template's. Then the Ongage credentials are put into the
stack's secret, as a user does after `cdk deploy`.

What differs from AWS, on purpose: the handlers run in this process from the installed
package (the same code as the deployment package; `local_aws`, which `make test`'s e2e suite
deploys to, runs the package itself under IAM); memory size is not enforced; X-Ray and EMF
metrics are off. S3 keeps large objects on disk and serves ranges of them
(`local_aws.s3_streaming`), so a local run's memory stays flat in the export's size.
Tests may override a function setting through the Lambda API (part size, timeout, stop
margin, reserved concurrency) or compress Retry waits; the defaults are the template's.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import boto3
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from embedded_runtime import consumer, notices
from embedded_runtime.accounts import accounts_environment, put_secrets
from embedded_runtime.lambda_dispatch import LambdaDispatcher
from embedded_runtime.runs import OngageAccount, RunResult, download_object, finished_run
from embedded_runtime.stack_functions import process_environment, stack_functions
from local_aws import (
    cloud_assembly,
    consumer_resources,
    eventbridge_delivery,
    extensions,
    resource_models,
    state_machines,
)
from local_aws.cloud_assembly import ACCOUNT_ID, CDK_OUT, REGION
from ongage_cli.resume import resume_input
from ongage_export.domain.accounts import DEFAULT_ACCOUNT
from ongage_export.domain.polling import PollingPolicy
from ongage_export.settings import Settings
from ongage_simulator.accounts_file import AccountEntry
from ongage_simulator.config import Credentials

# A notice's delivery is one in-process Lambda invocation: under a second, seconds under load.
DELIVERY_DRAIN_SECONDS = 30.0
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


class EmbeddedRuntime:
    """Use as a context manager; each instance is a fresh AWS account with the stack deployed.

    `polling` changes the functions' default polling policy (the POLL_* variables), and
    `part_size_mib`, `function_timeout_seconds`, `stop_margin_seconds` and
    `reserved_concurrency` their configuration, through the Lambda API after the deployment;
    left None, what the template says holds. `accounts` (by name) are called with their own
    credentials, each in its own secret, and their limits override the template's; `ongage`
    is the `default` account's (a `default` entry in `accounts` gives only its limits).
    """

    def __init__(
        self,
        ongage: OngageAccount,
        *,
        polling: PollingPolicy | None = None,
        retry_time_scale: float = 1.0,
        reserved_concurrency: dict[str, int] | None = None,
        log_stream: IO[str] | None = None,
        part_size_mib: int | None = None,
        function_timeout_seconds: int | None = None,
        stop_margin_seconds: float | None = None,
        cdk_out: Path = CDK_OUT,
        accounts: Mapping[str, AccountEntry] | None = None,
    ):
        self.ongage = ongage
        self.accounts = dict(accounts or {})
        self.polling = polling
        self.retry_time_scale = retry_time_scale
        self.reserved_concurrency = reserved_concurrency or {}
        self.log_stream = log_stream or sys.stderr
        self.part_size_mib = part_size_mib
        self.function_timeout_seconds = function_timeout_seconds
        self.stop_margin_seconds = stop_margin_seconds
        self.cdk_out = cdk_out
        self.suffix = uuid.uuid4().hex[:8]
        self.stack_name = f"ongage-export-{self.suffix}"
        self._mock = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "lambda": {"use_docker": False},
            }
        )
        self._saved_env: dict[str, str | None] = {}
        self._extensions = ExitStack()  # moto patched for this runtime's lifetime only
        self.dispatcher = LambdaDispatcher(log_stream=self.log_stream)
        self.executor = self.dispatcher.executor  # its invocation counts

    # -- set-up -------------------------------------------------------------------------------

    def __enter__(self) -> EmbeddedRuntime:
        self.stack = cloud_assembly.stack_in(self.cdk_out)  # fail before anything starts
        cloud_assembly.template_path(self.cdk_out, self.stack)
        # moto's interpreter logs every failed state with its internals; the run's result and
        # the failure notice say what matters.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._set_env(FAKE_AWS_ENV)
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):  # this account, never another one
            self._saved_env.setdefault(name, os.environ.pop(name, None))
        self._mock.start()
        parameters.clear_caches()  # a cached secret from an earlier account must not leak in
        self.dispatcher.install()
        try:
            self._deploy()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # An event the last run's end set off (its failure notice) is delivered, or fails, before
        # its target goes away: not once the functions are gone, with an error on stderr.
        eventbridge_delivery.deliveries.wait(DELIVERY_DRAIN_SECONDS)
        self.dispatcher.uninstall()
        self._extensions.close()
        self._mock.stop()
        state_machines.RETRY_TIME_SCALE = 1.0
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

    def _deploy(self) -> None:
        resource_models.install()  # adds CloudFormation types; changes nothing moto had
        consumer_resources.install()
        self._extensions.enter_context(extensions.applied(*extensions.IN_PROCESS))
        state_machines.RETRY_TIME_SCALE = self.retry_time_scale
        outputs = cloud_assembly.deploy(
            self.client,
            self.cdk_out,
            stack=self.stack,
            stack_name=self.stack_name,
            parameters={"OngageBaseUrl": self.ongage.url},
            account=ACCOUNT_ID,
            region=REGION,
        )
        self.outputs = outputs
        self.bucket = outputs["BucketName"]
        self.topic_arn = outputs["TopicArn"]
        self.state_machine_arn = outputs["StateMachineArn"]
        self.batch_machine_arn = outputs.get("BatchStateMachineArn")  # none in an older cdk.out
        self.secret_id = outputs["SecretId"]
        self.account_secrets = self._put_secrets(outputs)
        self.queue_url = self._subscribe_queue()
        self.functions = stack_functions(self.client("cloudformation"), self.stack_name)
        for name, function in self.functions.items():
            self._override(name, function)
        # The handlers run in this process and read os.environ: the functions' environment.
        self._set_env(self.lambda_environment())
        self.consumer = consumer.attach(self)  # None unless cdk.out has the curated consumer

    def _put_secrets(self, outputs: Mapping[str, str]) -> dict[str, str]:
        ongage = self.ongage
        credentials = {name: entry.credentials for name, entry in self.accounts.items()}
        credentials[DEFAULT_ACCOUNT] = Credentials(
            ongage.username, ongage.password, ongage.account_code
        )
        manager = self.client("secretsmanager")
        return put_secrets(manager, outputs, credentials, prefix=f"{self.stack_name}/ongage/")

    def _override(self, name: str, function: str) -> None:
        lam = self.client("lambda")
        variables = dict(
            lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        )
        deployed = Settings.from_env(variables)
        overrides = {
            "ongage_trusted_origins": " ".join(
                [deployed.ongage_trusted_origins, *self.ongage.trusted_origins]
            ).strip(),
            "part_size_mib": self.part_size_mib,
            "stop_margin_seconds": self.stop_margin_seconds,
            "default_polling": self.polling,
        }
        variables.update(
            Settings.environment(**{k: v for k, v in overrides.items() if v not in (None, "")})
        )
        if self.accounts:
            variables.update(accounts_environment(variables, self.account_secrets, self.accounts))
        update: dict[str, Any] = {"Environment": {"Variables": variables}}
        if self.function_timeout_seconds is not None:
            update["Timeout"] = self.function_timeout_seconds
        lam.update_function_configuration(FunctionName=function, **update)
        if name in self.reserved_concurrency:
            lam.put_function_concurrency(
                FunctionName=function, ReservedConcurrentExecutions=self.reserved_concurrency[name]
            )

    def lambda_environment(self) -> dict[str, str]:
        """The one environment every function of the stack runs with in this process."""
        return process_environment(
            self.client("lambda"),
            self.client("cloudformation"),
            self.stack_name,
            list(self.functions.values()),
        )

    def _subscribe_queue(self) -> str:
        queue_url = self.client("sqs").create_queue(QueueName=f"ongage-notices-{self.suffix}")
        notices.subscribe_queue(
            self.client("sqs"), self.client("sns"), self.topic_arn, queue_url["QueueUrl"]
        )
        return str(queue_url["QueueUrl"])

    def start(
        self, run_input: dict[str, Any], name: str | None = None, machine: str | None = None
    ) -> str:
        """Start a run (of the export workflow, or of `machine`); starting the same name with the
        same input again returns that run (as Step Functions does while it runs, and as the API
        does for a double submit)."""
        sfn = self.client("stepfunctions")
        name = name or str(uuid.uuid4())
        machine = machine or self.state_machine_arn
        try:
            return str(
                sfn.start_execution(
                    stateMachineArn=machine, name=name, input=json.dumps(run_input)
                )["executionArn"]
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
            if json.loads(sfn.describe_execution(executionArn=arn)["input"]) != run_input:
                raise
            return arn

    def wait(self, execution_arn: str, timeout: float = 300.0) -> RunResult:
        return finished_run(self.client("stepfunctions"), execution_arn, timeout, self.notices)

    def stop(self, execution_arn: str, timeout: float = DELIVERY_DRAIN_SECONDS) -> None:
        """Stop a run; back once it has ended and its end's event (the notice) is delivered."""
        sfn = self.client("stepfunctions")
        sfn.stop_execution(executionArn=execution_arn)
        finished_run(sfn, execution_arn, timeout, list)
        eventbridge_delivery.deliveries.wait(timeout)

    def redrive(self, execution_arn: str) -> str:
        """Start a run that carries on with a failed run's export (see ongage_cli.resume)."""
        return self.start(resume_input(self.client("stepfunctions"), execution_arn))

    def run(self, run_input: dict[str, Any], timeout: float = 300.0) -> RunResult:
        return self.wait(self.start(run_input), timeout)

    def notices(self) -> list[dict[str, Any]]:
        """Every SNS notice published so far (kept, so repeated calls see them all)."""
        if not hasattr(self, "_notices"):
            self._notices: list[dict[str, Any]] = []
        self._notices.extend(notices.drain(self.client("sqs"), self.queue_url))
        return list(self._notices)

    def download(self, key: str, destination: Path) -> Path:
        return download_object(self.bucket, key, destination)

    def open_uploads(self) -> list[dict[str, Any]]:
        return self.client("s3").list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])

    def object_keys(self) -> list[str]:
        listed = self.client("s3").list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listed.get("Contents", [])]
