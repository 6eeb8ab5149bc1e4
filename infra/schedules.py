"""What starts exports on a schedule: EventBridge Scheduler schedules from config.

Each starts the export state machine with its request, or the batch state machine with its batch,
`{scheduled_time}` in each export's name replaced by the time Scheduler meant to run it. Failed
starts are retried, then parked in an encrypted SQS dead-letter queue (alarmed in monitoring).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import ScheduleConfig, StackConfig
from infra.functions import dead_letter_queue
from infra.scheduled_requests import SCHEDULED_TIME_TOKEN
from ongage_export.domain.batch import BATCH_KEY


def _dated(request: dict[str, Any]) -> dict[str, Any]:
    """The request with the scheduled time in its name."""
    name = str(request["name"]).replace(
        SCHEDULED_TIME_TOKEN, scheduler.ContextAttribute.scheduled_time
    )
    return {**request, "name": name}


def scheduled_input(schedule: ScheduleConfig) -> dict[str, Any]:
    """The execution input a schedule sends: its request (or its batch's requests), the
    scheduled time in each name."""
    document: dict[str, Any] = (
        {"request": _dated(schedule.request)}
        if schedule.request is not None
        else {BATCH_KEY: [_dated(request) for request in schedule.requests()]}
    )
    if schedule.polling:
        document["polling"] = dict(schedule.polling)
    return document


class ScheduledExports(Construct):
    """One Scheduler schedule per configured entry, a shared role and dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        state_machine: sfn.IStateMachine,
        batch_machine: sfn.IStateMachine,
        key: kms.IKey | None,
    ):
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self, key)
        account = cdk.Stack.of(self).account
        self.role = iam.Role(
            self,
            "Role",
            description="EventBridge Scheduler: start the Ongage export (or batch) workflow",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            ),
        )
        if key is not None:
            # Sending to the dead-letter queue under the key (CDK grants only SendMessage).
            key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        self.schedules = [
            self._schedule(schedule, config, batch_machine if schedule.batch else state_machine)
            for schedule in config.schedules
        ]

    def _schedule(
        self, schedule: ScheduleConfig, config: StackConfig, state_machine: sfn.IStateMachine
    ) -> scheduler.Schedule:
        target = scheduler_targets.StepFunctionsStartExecution(
            state_machine,
            input=scheduler.ScheduleTargetInput.from_object(scheduled_input(schedule)),
            role=self.role,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=config.scheduler_retry_attempts,
            max_event_age=cdk.Duration.seconds(config.scheduler_max_event_age_seconds),
        )
        return scheduler.Schedule(
            self,
            f"Schedule-{schedule.name}",
            description=f"Ongage export {schedule.name}",
            schedule=scheduler.ScheduleExpression.expression(
                schedule.expression, cdk.TimeZone.of(schedule.time_zone)
            ),
            target=target,
            enabled=schedule.enabled,
            time_window=scheduler.TimeWindow.off(),
        )
