"""The whole deployable system around the workflow, and the outputs the CLI reads."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.api import ExportApi
from infra.config import StackConfig
from infra.consumer import CuratedExports
from infra.credentials import OngageCredentials
from infra.encryption import data_key
from infra.functions import ExportFunctions
from infra.monitoring import Monitoring
from infra.notifications import Notifications
from infra.parameters import ongage_base_url
from infra.schedules import ScheduledExports
from infra.storage import ExportStorage
from infra.workflow import ExportWorkflow
from ongage_export.contract import EXPORT_PREFIX

# Output names are a contract with `ongage-export start|status|wait` (ongage_cli/deployed.py).
OUTPUT_STATE_MACHINE = "StateMachineArn"
OUTPUT_API_URL = "ApiUrl"
OUTPUT_BUCKET = "BucketName"
OUTPUT_TOPIC = "TopicArn"
OUTPUT_CURATED_PREFIX = "CuratedPrefix"
OUTPUT_CURATED_TABLE = "CuratedTable"
OUTPUT_ATHENA_WORKGROUP = "AthenaWorkGroup"
OUTPUT_ACCOUNT_SECRETS = "AccountSecrets"


class OngageExportStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        install_dependencies: bool = True,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        # None unless cdk.json's kms_key is set: then it encrypts contact data and credentials.
        self.key = data_key(self, config)
        self.storage = ExportStorage(self, "Storage", config=config, key=self.key)
        self.credentials = OngageCredentials(self, "Credentials", config=config, key=self.key)
        self.notifications = Notifications(self, "Notifications", config=config, data_key=self.key)
        self.functions = ExportFunctions(
            self,
            "Functions",
            config=config,
            storage=self.storage,
            credentials=self.credentials,
            ongage_base_url=ongage_base_url(self, config.ongage_base_url),
            install_dependencies=install_dependencies,
        )
        self.workflow = ExportWorkflow(
            self,
            "Workflow",
            functions={
                "CreateExport": self.functions.create_export,
                "RetrieveExport": self.functions.retrieve_export,
            },
            topic=self.notifications.topic,
            topic_key=self.notifications.key,
            log_retention_days=config.log_retention_days,
            key=self.key,
        )
        state_machine = self.workflow.state_machine
        self.notifications.watch_executions(
            state_machine,
            code=self.functions.code,
            log_retention_days=config.log_retention_days,
            log_key=self.key,
        )
        self.schedules = ScheduledExports(
            self, "Schedules", config=config, state_machine=state_machine, key=self.key
        )
        self.api = ExportApi(
            self,
            "Api",
            config=config,
            state_machine=state_machine,
            bucket=self.storage.bucket,
            code=self.functions.code,
            key=self.key,
        )
        # The optional consumer of landed exports (docs/consumers.md, "Curated Parquet").
        self.consumer = (
            CuratedExports(
                self,
                "Curation",
                config=config,
                storage=self.storage,
                install_dependencies=install_dependencies,
                topic=self.notifications.topic,
                topic_key=self.notifications.key,
                state_machine=state_machine,
            )
            if config.curated.enabled
            else None
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            topic=self.notifications.topic,
            state_machine=state_machine,
            workflow_functions=self.functions.ongage_callers,
            status_function=self.api.status_function,
            announcer=self.notifications.announcer,
            dead_letter_queue=self.schedules.dead_letter_queue,
            api=self.api.api,
            consumer=self.consumer,
        )
        self._outputs()

    def _outputs(self) -> None:
        bucket = self.storage.bucket
        outputs = {
            OUTPUT_STATE_MACHINE: (self.workflow.state_machine.state_machine_arn, "The workflow"),
            OUTPUT_API_URL: (self.api.api.url, "REST API base URL (POST exports, GET exports/ID)"),
            OUTPUT_BUCKET: (bucket.bucket_name, "Where exports land, under exports/"),
            OUTPUT_TOPIC: (self.notifications.topic.topic_arn, "Success/failure notifications"),
            "SecretId": (
                self.credentials.secret_id,
                "Put the Ongage credentials here (aws secretsmanager put-secret-value)",
            ),
            OUTPUT_ACCOUNT_SECRETS: (
                self.to_json_string(self.credentials.secret_ids),
                "Each account's credentials secret, by account name (JSON)",
            ),
            "DashboardName": (self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
            "SchedulerDeadLetterQueueUrl": (
                self.schedules.dead_letter_queue.queue_url,
                "Runs a schedule could not start (docs/operations.md, 'SchedulerDeadLetters')",
            ),
            "ExportCreatedEventPattern": (
                cdk.Fn.sub(
                    json.dumps(
                        {
                            "source": ["aws.s3"],
                            "detail-type": ["Object Created"],
                            "detail": {
                                "bucket": {"name": ["${Bucket}"]},
                                "object": {"key": [{"prefix": EXPORT_PREFIX}]},
                            },
                        }
                    ),
                    {"Bucket": bucket.bucket_name},
                ),
                "EventBridge pattern for downstream consumers of landed exports",
            ),
        }
        if self.consumer is not None:
            outputs[OUTPUT_CURATED_PREFIX] = (
                f"s3://{bucket.bucket_name}/{self.consumer.prefix}",
                "Where landed exports are curated to Parquet (+ _manifest.json per export)",
            )
            catalog = self.consumer.catalog
            outputs[OUTPUT_CURATED_TABLE] = (
                f"{catalog.database_name}.{catalog.table_name}",
                "The Glue table over the curated Parquet (Athena: WHERE list = '<id>')",
            )
            outputs["CurationDeadLetterQueueUrl"] = (
                self.consumer.dead_letter_queue.queue_url,
                "Landed exports not curated (docs/operations.md, 'CurationDeadLetters')",
            )
            outputs[OUTPUT_ATHENA_WORKGROUP] = (
                catalog.workgroup.name or "",
                "Athena workgroup for the curated table (results encrypted)",
            )
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
