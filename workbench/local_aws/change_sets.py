"""Change sets behave as CloudFormation's do, for `cdk deploy` of a new stack and of a change.

moto applies every change set as an update of the (empty) stack it made for the review: that
path creates resources in template order, ignoring `DependsOn` (CDK's API Deployment then fails
with NoMethodDefined), and leaves the stack without Outputs. `cdk deploy` always deploys through
a change set, so the first deployment goes through here. A resource that fails leaves the stack
in CREATE_FAILED with the reason as its last event, which `cdk deploy` prints.

A deployment of a changed stack first deletes the CDK CLI's change set of the last deployment
and waits until DescribeChangeSet says ChangeSetNotFound. moto keeps executed change sets (AWS
removes a stack's change sets once one is executed), fails DeleteChangeSet of a missing one
(UnboundLocalError) and answers a missing one with ValidationError, on which the CLI stops. An
UPDATE change set is applied by `stack_updates`.
"""

from __future__ import annotations

import logging
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack

from local_aws import stack_updates

log = logging.getLogger(__name__)


class ChangeSetNotFound(CloudFormationError):
    code = "ChangeSetNotFoundException"  # the model's shape: the query error ChangeSetNotFound

    def __init__(self, name_or_id: str):
        super().__init__(f"ChangeSet [{name_or_id}] does not exist")


def find_change_set(backend: CloudFormationBackend, name_or_id: str) -> ChangeSet:
    if name_or_id in backend.change_sets:
        return backend.change_sets[name_or_id]
    for change_set in backend.change_sets.values():
        if change_set.change_set_name == name_or_id:
            return change_set
    raise ChangeSetNotFound(name_or_id)


def describe_change_set(self: CloudFormationBackend, change_set_name: str) -> ChangeSet:
    return find_change_set(self, change_set_name)


def delete_change_set(self: CloudFormationBackend, change_set_name: str) -> None:
    """As AWS: deleting a change set that is already gone succeeds."""
    try:
        change_set = find_change_set(self, change_set_name)
    except ChangeSetNotFound:
        return
    del self.change_sets[change_set.change_set_id]


def create_stack_from(change_set: ChangeSet) -> Stack:
    """Build the reviewed stack's resources from the change set, in dependency order."""
    stack = change_set.stack
    stack.template = change_set.template
    stack._parse_template()
    stack.parameters = change_set.parameters
    stack.description = stack.template_dict.get("Description")
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    try:
        stack.resource_map = stack._create_resource_map()
        stack.output_map = stack._create_output_map()
        stack.create_resources()
    except Exception as error:  # what CloudFormation reports as the resource's failure
        log.warning("stack %s failed: %s", stack.name, error)
        stack.status = "CREATE_FAILED"
        stack._add_stack_event("CREATE_FAILED", resource_status_reason=str(error)[:1000])
    return stack


def execute_change_set(
    self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
) -> Any:
    try:
        change_set = find_change_set(self, change_set_name)
    except ChangeSetNotFound:
        raise ValidationError(message=f"ChangeSet [{change_set_name}] does not exist") from None
    if change_set.change_set_type == "CREATE":
        stack = create_stack_from(change_set)
    else:
        stack = change_set.stack
        stack_updates.apply(stack, change_set.template, change_set.parameters)
    stack_updates.publish_exports(self, stack)
    change_set.execution_status = "EXECUTE_COMPLETE"
    for executed in [c for c in self.change_sets.values() if c.stack_id == stack.stack_id]:
        del self.change_sets[executed.change_set_id]
    return None


PATCHES = (
    (CloudFormationBackend, "execute_change_set", execute_change_set),
    (CloudFormationBackend, "describe_change_set", describe_change_set),
    (CloudFormationBackend, "delete_change_set", delete_change_set),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
