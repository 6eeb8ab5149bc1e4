"""Step 1 (CreateExport): the create use case (`domain/create.py`) with its adapters; here, the
Ongage create made once per execution.

The create is recorded per execution (Powertools idempotency, DynamoDB): IN_PROGRESS before
Ongage is called, COMPLETED with the export id after. So a retry of an invocation that died
(Runtime.ExitError...) before the record was written creates the export, and one that died
after it was completed reuses the export id: either way one export, landed. One that died in
between (reading the secret, or with the Ongage call in flight) leaves the record IN_PROGRESS
until the dead invocation's timeout: whether Ongage created the export is unknown (Ongage
cannot be asked by name), so the retry fails the run with CreateInterrupted instead of risking
a second export. The workflow's retries of a dead create all fall well inside that timeout
(tests/unit/test_error_names.py); a retry after it would call Ongage again.
"""

from __future__ import annotations

import random
from functools import cache, partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from ongage_export.adapters import clients
from ongage_export.domain.call_limits import MustWait, slot_wait_seconds
from ongage_export.domain.create import start_run
from ongage_export.domain.errors import CreateInterrupted
from ongage_export.domain.polling import Readiness
from ongage_export.domain.request import ExportRequest
from ongage_export.observability import logger, metrics, tracer
from ongage_export.settings import Settings

IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="execution_arn",
    # Longer than Step Functions keeps a failed run redrivable (14 days): a redriven run that
    # starts over never creates a second export.
    expires_after_seconds=15 * 24 * 3600,
)


@cache
def _create_once(table_name: str) -> Any:
    """Ongage's create call, remembered per execution id: a retried invocation reuses the id."""

    @idempotent_function(
        data_keyword_argument="call",
        config=IDEMPOTENCY_CONFIG,
        persistence_store=DynamoDBPersistenceLayer(table_name=table_name),
    )
    def create(call: dict[str, Any]) -> dict[str, str]:
        settings = Settings.from_env()
        account = settings.account(call["account"])
        request = ExportRequest(call["body"], account.name)
        # NoFreeSlot leaves before Ongage is called; the record is deleted on the way out.
        with clients.holding_slot(settings, account, call["execution_arn"]):
            export_id = clients.calling_ongage(
                settings, account, lambda ongage: ongage.create_export(request)
            )
        metrics.add_metric(name="ExportsCreated", unit=MetricUnit.Count, value=1)
        return {"export_id": export_id}

    return create


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    execution_arn = event["execution_arn"]
    logger.append_keys(execution_arn=execution_arn)
    refusals = event.get("slot_refusals", 0)
    if not refusals:
        metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1)
    try:
        job = start_run(
            event.get("input"),
            default_policy=settings.default_polling,
            create=partial(_create, settings, context, execution_arn),
            load_history=partial(_history, settings),
            execution_arn=execution_arn,
            started_at=event["started_at"],
            rng=random.Random(),
        )
    except clients.NoFreeSlot as refused:
        return _wait_for_slot(refused, refusals + 1)
    logger.info(
        "job started",
        extra={"export_id": job.export_id, "request_name": job.request_name},
    )
    return job.state()


def _create(
    settings: Settings, context: LambdaContext, execution_arn: str, request: ExportRequest
) -> str:
    IDEMPOTENCY_CONFIG.register_lambda_context(context)
    try:
        export_id: str = _create_once(settings.idempotency_table)(
            call={
                "execution_arn": execution_arn,
                "body": dict(request.body),
                "account": request.account,
            }
        )["export_id"]
    except IdempotencyAlreadyInProgressError:
        raise CreateInterrupted(
            "An earlier attempt of this run died while it was asking Ongage to create the "
            f"export {request.name!r}, so whether Ongage created it is unknown; it was not "
            "asked again, to avoid a second export. What to do: look for the export in Ongage; "
            'if it is there, start a run that carries on with it (input `"resume": {"export_id": '
            "...}`), else start a new run"
        ) from None
    logger.info("export created", extra={"export_id": export_id})
    return export_id


def _wait_for_slot(refused: clients.NoFreeSlot, refusals: int) -> dict[str, Any]:
    """What WaitForCreateSlot reads: the account's calls are all in use; nothing was created."""
    seconds = slot_wait_seconds(
        MustWait(refused.seconds, "no free slot"), refusals, random.Random()
    )
    logger.info("no free slot of the account's calls", extra={"next_wait_seconds": seconds})
    metrics.add_metric(name="SlotWaits", unit=MetricUnit.Count, value=1)
    return {"slot_wait_seconds": seconds, "slot_refusals": refusals}


def _history(settings: Settings, key: str) -> list[Readiness]:
    """Earlier runs of this export; none (the default policy) if the table cannot be read."""
    try:
        history = clients.readiness_history(settings).load(key)
    except (BotoCoreError, ClientError) as error:
        logger.warning("readiness history unreadable: default polling", extra={"error": str(error)})
        return []
    logger.info("readiness history", extra={"runs": len(history)})
    return history
