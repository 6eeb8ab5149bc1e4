"""A CREATE change set is executed as a stack creation, as CloudFormation does.

moto applies every change set as an update of the (empty) stack it made for the review: that
path creates resources in template order, ignoring `DependsOn` (CDK's API Deployment then fails
with NoMethodDefined), and leaves the stack without Outputs. `cdk deploy` always deploys through
a change set, so the first deployment goes through here. A resource that fails leaves the stack
in CREATE_FAILED with the reason as its last event, which `cdk deploy` prints.
"""

from __future__ import annotations

import logging
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack

log = logging.getLogger(__name__)
_original_execute = CloudFormationBackend.execute_change_set


def find_change_set(backend: CloudFormationBackend, name_or_id: str) -> ChangeSet:
    if name_or_id in backend.change_sets:
        return backend.change_sets[name_or_id]
    for change_set in backend.change_sets.values():
        if change_set.change_set_name == name_or_id:
            return change_set
    raise ValidationError(name_or_id)


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
    change_set = find_change_set(self, change_set_name)
    if change_set.change_set_type != "CREATE":
        return _original_execute(self, change_set_name=change_set_name, stack_name=stack_name)
    stack = create_stack_from(change_set)
    for export in stack.exports:
        self.exports[export.name] = export
    change_set.execution_status = "EXECUTE_COMPLETE"
    return None


def install() -> None:
    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]
