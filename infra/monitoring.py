"""Alarms (published to the notification topic) and one dashboard for the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ongage_export.contract import METRICS_NAMESPACE, SERVICE_NAME

if TYPE_CHECKING:
    from infra.consumer import CuratedExports

_PERIOD = cdk.Duration.minutes(5)


class Monitoring(Construct):
    """`alarms` (each notifies the topic) and `dashboard`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        state_machine: sfn.StateMachine,
        functions: Sequence[lambda_.Function],
        dead_letter_queue: sqs.IQueue,
        api: apigw.RestApi,
        consumer: CuratedExports | None = None,
    ):
        super().__init__(scope, construct_id)
        self.action = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = [
            self._alarm(
                "ExecutionsFailed",
                state_machine.metric_failed(period=_PERIOD, statistic="Sum"),
                "An Ongage export execution failed",
            ),
            self._alarm(
                "ExecutionsTimedOut",
                state_machine.metric_timed_out(period=_PERIOD, statistic="Sum"),
                "An Ongage export execution timed out",
            ),
            *(
                self._alarm(
                    f"{function.node.id}Errors",
                    function.metric_errors(period=_PERIOD, statistic="Sum"),
                    f"The {function.node.id} Lambda raised errors (retried by the workflow)",
                )
                for function in functions
            ),
            self._alarm(
                "SchedulerDeadLetters",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum"
                ),
                "A scheduled export could not be started (see the dead-letter queue)",
            ),
        ]
        if consumer is not None:
            self.alarms += self._consumer_alarms(consumer)
            functions = [*functions, consumer.function]
        self.dashboard = self._dashboard(state_machine, functions, dead_letter_queue, api)
        if consumer is not None:
            self.dashboard.add_widgets(*_consumer_widgets(consumer))

    def _consumer_alarms(self, consumer: CuratedExports) -> list[cloudwatch.Alarm]:
        return [
            self._alarm(
                f"{consumer.function.node.id}Errors",
                consumer.function.metric_errors(period=_PERIOD, statistic="Sum"),
                f"The {consumer.function.node.id} Lambda failed to curate an export (Lambda "
                "retries it, then parks it in the curation dead-letter queue)",
            ),
            self._alarm(
                "CurationDeadLetters",
                consumer.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum"
                ),
                "A landed export was not curated (see the curation dead-letter queue)",
            ),
        ]

    def _alarm(self, name: str, metric: cloudwatch.Metric, description: str) -> cloudwatch.Alarm:
        alarm = metric.create_alarm(
            self,
            name,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No executions or invocations in a period is normal, not a problem.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self.action)
        return alarm

    def _dashboard(
        self,
        state_machine: sfn.StateMachine,
        functions: Sequence[lambda_.Function],
        dead_letter_queue: sqs.IQueue,
        api: apigw.RestApi,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.days(7))
        dashboard.add_widgets(
            _graph(
                "Executions",
                state_machine.metric_started(period=_PERIOD),
                state_machine.metric_succeeded(period=_PERIOD),
                state_machine.metric_failed(period=_PERIOD),
                state_machine.metric_timed_out(period=_PERIOD),
                state_machine.metric_aborted(period=_PERIOD),
            ),
            _graph(
                "Execution time (p90)",
                state_machine.metric_time(period=_PERIOD, statistic="p90"),
            ),
            cloudwatch.AlarmStatusWidget(alarms=self.alarms, title="Alarms", width=8),
        )
        dashboard.add_widgets(
            _graph(
                "Lambda invocations", *(f.metric_invocations(period=_PERIOD) for f in functions)
            ),
            _graph("Lambda errors", *(f.metric_errors(period=_PERIOD) for f in functions)),
            _graph("Lambda throttles", *(f.metric_throttles(period=_PERIOD) for f in functions)),
        )
        dashboard.add_widgets(
            _graph(
                "Lambda duration (p90)",
                *(f.metric_duration(period=_PERIOD, statistic="p90") for f in functions),
            ),
            _graph(
                "API requests and errors",
                api.metric_count(period=_PERIOD),
                api.metric_client_error(period=_PERIOD),
                api.metric_server_error(period=_PERIOD),
            ),
            _graph(
                "Scheduler dead letters",
                dead_letter_queue.metric_approximate_number_of_messages_visible(period=_PERIOD),
            ),
        )
        return dashboard


def _consumer_widgets(consumer: CuratedExports) -> list[cloudwatch.IWidget]:
    # What curate_export publishes with Powertools (EMF): dimension `service`.
    curated = [
        cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": SERVICE_NAME},
            statistic="Sum",
            period=_PERIOD,
        )
        for name in ("ExportsCurated", "CurationsSkipped")
    ]
    return [
        _graph("Exports curated and skipped", *curated),
        _graph(
            "Curation dead letters",
            consumer.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=_PERIOD
            ),
        ),
    ]


def _graph(title: str, *metrics: cloudwatch.IMetric) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=8)
