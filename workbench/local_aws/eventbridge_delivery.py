"""EventBridge hands the events AWS services put on an account's default bus to its rules.

moto puts some service events on its buses (S3's, for a bucket with EventBridge notifications
on) but delivers them only to SQS, CloudWatch Logs and other buses: a Lambda or SNS target
raises NotImplementedError, which moto swallows, so nothing runs. Here, as EventBridge does,
every enabled rule of the default bus whose pattern matches the event (moto's matcher) gets it,
each of its targets once, asynchronously: the service that emitted the event never waits for
the delivery nor sees how it went.
- A Lambda function is invoked through the Lambda backend, so whatever runs functions here runs
  it (`lambda_executor`: worker processes in the local AWS, in-process in the embedded runtime);
  only if its resource policy lets events.amazonaws.com invoke it for this rule, as Lambda
  checks (a template without the `AWS::Lambda::Permission` fails here as on AWS).
- An SNS topic gets the event as a message.
A target's constant `Input` replaces the event; one with an `InputTransformer` or `InputPath`
is not delivered (recorded UNSUPPORTED).

Sources call `deliver(event)` with the event as the service sends it (`service_event`):
`s3_events` for S3's "Object Created", `execution_events` for Step Functions' "Execution
Status Change". Not emulated: retries (the rule's retry policy,
Lambda's asynchronous retries), dead-letter queues and on-failure destinations. Each delivery
and its outcome is in `deliveries` (what tests and the embedded runtime wait for); a failed one
is also logged.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.events.models import events_backends
from moto.utilities.arns import parse_arn

DEFAULT_BUS = "default"
# Target settings that shape the input (moto's renderer leaves strings unquoted, unlike
# EventBridge): such a target is recorded as UNSUPPORTED rather than sent the wrong input.
UNSUPPORTED_TARGET_SETTINGS = {"InputPath", "InputTransformer"}
EVENTS_PRINCIPAL = "events.amazonaws.com"
log = logging.getLogger(__name__)


def service_event(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    *,
    resources: list[str],
    account_id: str,
    region: str,
) -> dict[str, Any]:
    """An event as an AWS service puts it on the default bus (its envelope, `detail` its own)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


@dataclass
class Delivery:
    """One event to one target of one rule; `outcome` PENDING until the target answered."""

    rule_arn: str
    target_arn: str
    event: Any  # what the target gets: the event, or the target's constant Input
    outcome: str = "PENDING"  # DELIVERED, FAILED (the target raised), DENIED, UNSUPPORTED
    answer: Any = None  # what the target answered (a function's result or error payload)
    done: threading.Event = field(default_factory=threading.Event, repr=False)


class Deliveries:
    """Every delivery so far, in order; `wait` until those in flight are done."""

    def __init__(self) -> None:
        self._all: list[Delivery] = []
        self._lock = threading.Lock()

    def start(self, delivery: Delivery, send: Callable[[Delivery], None]) -> None:
        with self._lock:
            self._all.append(delivery)
        threading.Thread(target=_finish, args=(delivery, send), daemon=True).start()

    def to(self, target_arn: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self._all if d.target_arn == target_arn]

    def wait(self, timeout: float) -> bool:
        """True when every delivery started so far is done within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            pending = [d for d in self._all if not d.done.is_set()]
        return all(d.done.wait(max(0.0, deadline - time.monotonic())) for d in pending)


def _finish(delivery: Delivery, send: Callable[[Delivery], None]) -> None:
    try:
        send(delivery)
    except Exception as error:  # a delivery never fails its source: recorded and logged
        delivery.outcome, delivery.answer = "FAILED", f"{type(error).__name__}: {error}"
    finally:
        if delivery.outcome != "DELIVERED":
            log.warning("event of %s to %s: %s %s", delivery.rule_arn, delivery.target_arn,
                        delivery.outcome, delivery.answer)  # fmt: skip
        delivery.done.set()


deliveries = Deliveries()


def deliver(event: dict[str, Any]) -> list[Delivery]:
    """Hand `event` to each target of each enabled default-bus rule whose pattern matches."""
    backend = events_backends[event["account"]][event["region"]]
    bus = backend.event_buses.get(DEFAULT_BUS)
    started = []
    for rule in list(bus.rules.values()) if bus else []:
        if not _matches(rule, event):
            continue
        for target in rule.targets:
            delivery = Delivery(rule.arn, target["Arn"], target_input(target, event))
            deliveries.start(delivery, functools.partial(send, target=target))
            started.append(delivery)
    return started


def _matches(rule: Any, event: Any) -> bool:
    """Whether the enabled `rule` takes `event`; a rule moto cannot evaluate takes nothing, and
    says so (the source's request, e.g. the S3 write, must not fail for it)."""
    try:
        return rule.state == "ENABLED" and bool(rule.event_pattern.matches_event(event))
    except Exception as error:
        log.warning("rule %s not evaluated: %s: %s", rule.arn, type(error).__name__, error)
        return False


def target_input(target: dict[str, Any], event: Any) -> Any:
    """What the target gets: the event, or its constant `Input`."""
    return json.loads(target["Input"]) if "Input" in target else event


def send(delivery: Delivery, target: dict[str, Any] | None = None) -> None:
    service = parse_arn(delivery.target_arn).service
    sender = {"lambda": _invoke_function, "sns": _publish}.get(service)
    if sender is None or set(target or {}) & UNSUPPORTED_TARGET_SETTINGS:
        delivery.outcome = "UNSUPPORTED"
        delivery.answer = f"no delivery to {service} with {sorted(target or {})} here"
        return
    sender(delivery)


def _invoke_function(delivery: Delivery) -> None:
    from moto.awslambda.utils import get_backend

    arn = parse_arn(delivery.target_arn)
    backend = get_backend(arn.account, arn.region)
    function = backend.get_function(delivery.target_arn)
    if not allows_rule(function.policy.statements, delivery.rule_arn):
        delivery.outcome = "DENIED"
        delivery.answer = f"{function.function_name}'s policy does not let the rule invoke it"
        return
    headers: dict[str, str] = {}
    body = json.dumps(delivery.event)
    answer = backend.invoke(delivery.target_arn, None, body, {}, headers)
    delivery.answer = json.loads(answer) if answer else None
    delivery.outcome = "FAILED" if "x-amz-function-error" in headers else "DELIVERED"


def allows_rule(statements: list[dict[str, Any]], rule_arn: str) -> bool:
    """Whether a function's resource policy lets EventBridge invoke it for `rule_arn`."""
    for statement in statements:
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        source = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
        if (
            statement.get("Effect") == "Allow"
            and statement.get("Action") in ("lambda:InvokeFunction", "lambda:*")
            and service == EVENTS_PRINCIPAL
            and source in (None, rule_arn)
        ):
            return True
    return False


def _publish(delivery: Delivery) -> None:
    from moto.sns.models import sns_backends

    arn = parse_arn(delivery.target_arn)
    message = delivery.event if isinstance(delivery.event, str) else json.dumps(delivery.event)
    sns_backends[arn.account][arn.region].publish(message, arn=delivery.target_arn)
    delivery.outcome = "DELIVERED"
