"""A state machine created by CloudFormation gets its definition from S3, and it runs.

CDK's `DefinitionBody.from_file` emits `DefinitionS3Location` and `DefinitionSubstitutions`;
moto reads only `DefinitionString`, so the machine would have an empty definition. It also
creates it in the non-executing backend, where DescribeStateMachine then says
StateMachineDoesNotExist when `execute_state_machine` is on. Here the definition is read from
moto's S3, its `${Name}` placeholders substituted as CloudFormation does, and the machine is
created in the backend the API uses. An update (same name) reads the definition the same way:
moto's would keep the old one, as it too reads only `DefinitionString`.

Tests may compress the workflow's Retry waits (`RETRY_TIME_SCALE`, e.g. 0.02 turns Ongage's
one-minute 429 back-off into about a second): the flow, the attempts and the order of retries
are unchanged; only how long each retry waits shrinks. It is 1 (off) unless set.
"""

from __future__ import annotations

import json
from typing import Any

from moto.stepfunctions import models
from moto.stepfunctions.responses import get_backend


def substitute(definition: str, substitutions: dict[str, Any]) -> str:
    """CloudFormation's DefinitionSubstitutions: each `${Name}` replaced by its value."""
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


RETRY_TIME_SCALE = 1.0


def scale_retry_waits(definition: str, scale: float) -> str:
    """Every Retry's IntervalSeconds and MaxDelaySeconds times `scale` (at least 1 s)."""
    if scale == 1.0:
        return definition
    document = json.loads(definition)
    for state in document.get("States", {}).values():
        for retrier in state.get("Retry", []):
            for key in ("IntervalSeconds", "MaxDelaySeconds"):
                if key in retrier:
                    retrier[key] = max(1, round(retrier[key] * scale))
    return json.dumps(document)


def definition_from(properties: dict[str, Any], account_id: str, region_name: str) -> str:
    definition = properties.get("DefinitionString")
    if definition is None and "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        location = properties["DefinitionS3Location"]
        key: Any = s3_backends[account_id][get_partition(region_name)].get_object(
            location["Bucket"], location["Key"], version_id=location.get("Version")
        )
        definition = key.value.decode("utf-8")
    definition = substitute(definition or "", properties.get("DefinitionSubstitutions") or {})
    return scale_retry_waits(definition, RETRY_TIME_SCALE)


def create_from_cloudformation_json(
    cls: type[models.StateMachine],
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> models.StateMachine:
    properties = cloudformation_json["Properties"]
    backend = get_backend(account_id, region_name)
    return backend.create_state_machine(
        properties.get("StateMachineName", resource_name),
        definition_from(properties, account_id, region_name),
        properties.get("RoleArn", ""),
        tags=models.cfn_to_api_tags(properties.get("Tags", [])),
    )


def update_from_cloudformation_json(
    cls: type[models.StateMachine],
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> models.StateMachine:
    properties = cloudformation_json.get("Properties", {})
    if properties.get("StateMachineName", original_resource.name) != original_resource.name:
        return _moto_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
    return get_backend(account_id, region_name).update_state_machine(
        original_resource.arn,
        definition=definition_from(properties, account_id, region_name),
        role_arn=properties.get("RoleArn"),
    )


_moto_update = models.StateMachine.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

# What install() replaces, by (owner, attribute): `extensions.applied` patches the same pairs
# for a while only.
PATCHES = (
    (
        models.StateMachine,
        "create_from_cloudformation_json",
        classmethod(create_from_cloudformation_json),
    ),
    (
        models.StateMachine,
        "update_from_cloudformation_json",
        classmethod(update_from_cloudformation_json),
    ),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
