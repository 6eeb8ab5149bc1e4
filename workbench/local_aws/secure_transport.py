"""Bucket policies see what S3 sees of a request: TLS 1.2, over a secure transport.

CDK's `enforce_ssl` adds Deny statements conditioned on `aws:SecureTransport` and
`s3:TlsVersion`. moto evaluates a bucket policy with no request context and treats an unmet
condition of a Deny as a denial, so those statements deny every call. Every call the stack's
code makes to real S3 goes over HTTPS with TLS 1.2 or later (boto3's default); here such
conditions are decided as for that request, and statements with any other condition are left
to moto as they are.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

from moto.s3.models import FakeBucket

# The request every SDK call to S3 is: HTTPS, TLS 1.2.
REQUEST_CONTEXT = {"aws:securetransport": "true", "s3:tlsversion": "1.2"}

_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "NumericEquals": operator.eq,
    "NumericNotEquals": operator.ne,
    "NumericLessThan": operator.lt,
    "NumericLessThanEquals": operator.le,
    "NumericGreaterThan": operator.gt,
    "NumericGreaterThanEquals": operator.ge,
}
_original_get_permission = FakeBucket.get_permission


def _values(expected: Any) -> list[Any]:
    return expected if isinstance(expected, list) else [expected]


def condition_holds(operation: str, key: str, expected: Any) -> bool | None:
    """Whether one condition holds for the secure request; None if it is not about TLS."""
    actual = REQUEST_CONTEXT.get(key.lower())
    if actual is None:
        return None
    if operation == "Bool":
        return any(str(value).lower() == actual for value in _values(expected))
    compare = _NUMERIC.get(operation)
    if compare is None:
        return None
    return any(compare(float(actual), float(value)) for value in _values(expected))


def resolve_statement(statement: dict[str, Any]) -> dict[str, Any] | None:
    """The statement as it applies to a secure request: None when its TLS condition fails,
    without that condition when it holds, unchanged when it has other conditions."""
    conditions = statement.get("Condition")
    if not conditions:
        return statement
    verdicts = [
        condition_holds(operation, key, expected)
        for operation, pairs in conditions.items()
        for key, expected in pairs.items()
    ]
    if None in verdicts:
        return statement
    if not all(verdicts):
        return None
    return {name: value for name, value in statement.items() if name != "Condition"}


def policy_for_secure_request(policy: bytes) -> bytes:
    document = json.loads(policy)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    resolved = [s for s in map(resolve_statement, statements) if s is not None]
    return json.dumps({**document, "Statement": resolved}).encode()


def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(policy_for_secure_request(self.policy))
    if not policy["Statement"]:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


# What install() replaces, by (owner, attribute).
PATCHES = ((FakeBucket, "get_permission", get_permission),)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
