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
# A Lambda error is usually one the workflow retries on the way to a landed export (Ongage's
# 429 and 5xx, a broken download; the consumer's are retried by Lambda): alone it pages nobody.
# What pages is a run that ended badly, a message in a dead-letter queue, or a function whose
# invocations keep failing: at least half of them in every 5-minute period with any, for 30
# minutes (longer than the back-offs between retries), so retries are not getting through.
_ERROR_RATE_PERCENT = 50
_ERROR_RATE_PERIODS = 6
RUNBOOK = "docs/operations.md"


class Monitoring(Construct):
    """`alarms` (each notifies the topic) and `dashboard`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        state_machine: sfn.StateMachine,
        batch_machine: sfn.StateMachine,
        workflow_functions: Sequence[lambda_.Function],
        status_function: lambda_.Function,
        announcer: lambda_.Function,
        dead_letter_queue: sqs.IQueue,
        api: apigw.RestApi,
        consumer: CuratedExports | None = None,
    ):
        super().__init__(scope, construct_id)
        self.action = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = [
            *self._run_alarms(state_machine),
            *self._batch_alarms(batch_machine),
            *(
                self._error_rate_alarm(
                    function,
                    "the workflow's retries of its calls to Ongage and S3 are not getting "
                    "through (Ongage down or refusing, S3 or Secrets Manager access); runs will "
                    "fail and be announced",
                )
                for function in workflow_functions
            ),
            self._error_rate_alarm(
                status_function, "GET /exports/{id} answers errors to its callers"
            ),
            self._error_rate_alarm(
                announcer, "runs that ended without the workflow's notice may be unannounced"
            ),
            self._alarm(
                "SchedulerDeadLetters",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum"
                ),
                "A schedule could not start a run: its event is in the scheduler's dead-letter "
                "queue",
            ),
        ]
        functions = [*workflow_functions, status_function, announcer]
        if consumer is not None:
            self.alarms += self._consumer_alarms(consumer)
            functions.append(consumer.function)
        self.dashboard = self._dashboard(state_machine, functions, dead_letter_queue, api)
        self.dashboard.add_widgets(_batch_graph(batch_machine))
        if consumer is not None:
            self.dashboard.add_widgets(*_consumer_widgets(consumer))

    def _run_alarms(self, state_machine: sfn.StateMachine) -> list[cloudwatch.Alarm]:
        """A run that ended without landing its export: failed (announced by the workflow with
        its error and what to do, or by the execution-status rule when the workflow could not),
        timed out or aborted (announced by the execution-status rule)."""
        return [
            self._alarm(
                "ExecutionsFailed",
                state_machine.metric_failed(period=_PERIOD, statistic="Sum"),
                "An Ongage export run failed; its failure notice on the topic says why and what "
                "to do",
            ),
            self._alarm(
                "ExecutionsTimedOut",
                state_machine.metric_timed_out(period=_PERIOD, statistic="Sum"),
                "An Ongage export run timed out (Step Functions' execution timeout)",
            ),
            self._alarm(
                "ExecutionsAborted",
                state_machine.metric_aborted(period=_PERIOD, statistic="Sum"),
                "An Ongage export run was stopped before it landed its export",
            ),
        ]

    def _batch_alarms(self, batch_machine: sfn.StateMachine) -> list[cloudwatch.Alarm]:
        """A batch that timed out or was stopped: its notice was never sent, and some of its
        exports may not have started. A batch that failed needs no alarm of its own: it failed
        because an export failed, which ExecutionsFailed already pages."""
        return [
            self._alarm(
                "BatchesTimedOut",
                batch_machine.metric_timed_out(period=_PERIOD, statistic="Sum"),
                "A batch of Ongage exports timed out (Step Functions' execution timeout) before "
                "every export ended; no batch notice was sent",
            ),
            self._alarm(
                "BatchesAborted",
                batch_machine.metric_aborted(period=_PERIOD, statistic="Sum"),
                "A batch of Ongage exports was stopped; its running exports were stopped with it "
                "and no batch notice was sent",
            ),
        ]

    def _consumer_alarms(self, consumer: CuratedExports) -> list[cloudwatch.Alarm]:
        return [
            self._error_rate_alarm(
                consumer.function,
                "landed exports are not being curated (Lambda retries each twice, then parks "
                "it in the curation dead-letter queue)",
            ),
            self._alarm(
                "CurationDeadLetters",
                consumer.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum"
                ),
                "A landed export was not curated: its event is in the curation dead-letter queue",
            ),
        ]

    def _error_rate_alarm(self, function: lambda_.Function, meaning: str) -> cloudwatch.Alarm:
        name = function.node.id
        rate = cloudwatch.MathExpression(
            expression="IF(invocations > 0, 100 * errors / invocations)",
            using_metrics={
                "errors": function.metric_errors(period=_PERIOD, statistic="Sum"),
                "invocations": function.metric_invocations(period=_PERIOD, statistic="Sum"),
            },
            label=f"{name} errors (% of invocations)",
            period=_PERIOD,
        )
        return self._alarm(
            f"{name}ErrorRate",
            rate,
            f"For 30 minutes at least {_ERROR_RATE_PERCENT} % of the {name} Lambda's "
            f"invocations failed: {meaning}. Its logs say why",
            threshold=_ERROR_RATE_PERCENT,
            periods=_ERROR_RATE_PERIODS,
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        threshold: float = 1,
        periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            alarm_description=f"{description}. Runbook: {RUNBOOK}, '{name}'",
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
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
            _graph(
                "Lambda errors (mostly retried: runs that failed are under Executions)",
                *(f.metric_errors(period=_PERIOD) for f in functions),
            ),
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


def _batch_graph(batch_machine: sfn.StateMachine) -> cloudwatch.GraphWidget:
    return _graph(
        "Batches",
        batch_machine.metric_started(period=_PERIOD),
        batch_machine.metric_succeeded(period=_PERIOD),
        batch_machine.metric_failed(period=_PERIOD),
        batch_machine.metric_timed_out(period=_PERIOD),
        batch_machine.metric_aborted(period=_PERIOD),
    )


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
