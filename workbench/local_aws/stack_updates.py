"""A stack update changes what the new template changes, as CloudFormation does.

moto 5.2.5 updates a stack (an UPDATE change set, or UpdateStack) by the resources whose template
text changed, in any order: a model that cannot update becomes None in the stack, a resource
that refers to a replaced one keeps the old name, outputs are not read again, and a parameter
left at its previous value fails (UpdateStack: KeyError 'BootstrapVersion') or takes the
resolved value of an SSM parameter instead of its name (change sets). Here:

- parameters: UsePreviousValue is the value given last time, or the template's default (for
  `AWS::SSM::Parameter::Value` types, the parameter's name, read again);
- resources, in dependency order: added ones are created; a changed one (its properties with
  every parameter and resource name resolved differ from the ones it was made from) is updated
  in place where moto's model can, else replaced, and so the resources using a replaced one
  change in turn; removed ones are deleted at the end (DeletionPolicy Retain keeps them),
  replaced ones after their replacement exists;
- outputs and exports are read from the updated stack; a failure leaves UPDATE_FAILED with the
  reason as the stack's last event (no rollback).

Not emulated: a replacement of a resource moto cannot update keeps no state (a DynamoDB table
whose properties change starts empty), and a property CloudFormation updates in place may be
a replacement here where moto's model replaces (an SNS topic: its subscriptions are lost).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterator
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.cloudformation import parsing
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.parsing import ResourceMap

log = logging.getLogger(__name__)
_SUB_NAME = re.compile(r"\$\{([^!][^}.]*)")


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def references(resource: dict[str, Any]) -> set[str]:
    """The parameters and resources whose values a resource's definition uses (Ref, GetAtt,
    Sub)."""
    names: set[str] = set()
    for key, value in _walk(resource.get("Properties", {})):
        if key == "Ref" and isinstance(value, str):
            names.add(value)
        elif key == "Fn::GetAtt":
            names.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
        elif key == "Fn::Sub":
            text = value[0] if isinstance(value, list) else value
            names.update(_SUB_NAME.findall(str(text)))
    return names


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Each resource after the ones it refers to; otherwise in template order."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered or name in visiting or name not in resources:
            return
        visiting.add(name)
        depends_on = resources[name].get("DependsOn", [])
        after = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        for dependency in sorted(references(resources[name]) | after):
            visit(dependency)
        ordered.append(name)

    for name in resources:
        visit(name)
    return ordered


def previous_parameters(stack: Stack) -> dict[str, Any]:
    """Each template parameter's input value: the one given last, else its default."""
    slots = stack.template_dict.get("Parameters") or {}
    defaults = {name: slot.get("Default") for name, slot in slots.items()}
    return {**defaults, **(stack.parameters or {})}


def _updatable(resource_json: dict[str, Any]) -> bool:
    model = parsing.resource_class_from_type(resource_json["Type"])
    return model is not None and not hasattr(
        model.update_from_cloudformation_json, "__isabstractmethod__"
    )


class Update:
    """One update of a stack's resources to a new template and parameters."""

    def __init__(self, resources: ResourceMap, template: dict[str, Any]):
        self.resources = resources
        self.old = dict(resources._resource_json_map)
        self.new: dict[str, Any] = template["Resources"]
        self.template = template
        self.retired: list[tuple[Any, dict[str, Any]]] = []  # replaced, deleted at the end
        # What each resource was made from: its properties with every name resolved.
        self.before = {
            name: self.resolve(definition) for name, definition in self.old.items()
            if name in resources._parsed_resources
        }  # fmt: skip

    def resolve(self, definition: dict[str, Any]) -> Any:
        try:
            properties = copy.deepcopy(definition.get("Properties", {}))
            return [definition["Type"], parsing.clean_json(properties, self.resources)]
        except Exception:  # a value that cannot be read: the resource counts as changed
            return None

    def load(self, parameters: dict[str, Any]) -> None:
        resources = self.resources
        resources._template = self.template
        resources.input_parameters = parameters
        resources.load_mapping()
        resources.load_parameters()
        resources.load_conditions()
        resources._resource_json_map = self.new

    def run(self) -> None:
        for name in dependency_order(self.new):
            if name not in self.old:
                self.resources[name]  # the lazy map creates what it is asked for
            elif self.outdated(name):
                self.change(name)
        for name in reversed(dependency_order(self.old)):
            if name not in self.new:
                self.remove(name, self.old[name])
        for resource, resource_json in self.retired:
            self.resources._delete_resource(resource, resource_json)

    def outdated(self, name: str) -> bool:
        """Whether what it is made from now differs: a changed property, or a parameter or
        resource it uses whose value changed (its template alone may differ, e.g. a literal
        account id where `AWS::AccountId` was, and change nothing)."""
        before = self.before.get(name)
        return before is None or self.resolve(self.new[name]) != before

    def change(self, name: str) -> None:
        """Update the resource in place where moto's model can, else replace it."""
        original = self.resources._parsed_resources.get(name)
        if original is None:  # never created (a false Condition, or a type moto skips)
            self.resources[name]
        elif _updatable(self.new[name]):  # moto's update reads the original from the map
            self.resources._parsed_resources[name] = parsing.parse_and_update_resource(
                name, copy.deepcopy(self.new[name]), self.resources,
                account_id=self.resources._account_id, region_name=self.resources._region_name,
            )  # fmt: skip
        else:
            self.replace(name, original)

    def replace(self, name: str, original: Any) -> None:
        del self.resources._parsed_resources[name]  # so that the map creates it anew
        name_property = parsing.resource_name_property_from_type(self.new[name]["Type"])
        if name_property and name_property in self.new[name].get("Properties", {}):
            # A named resource cannot exist twice: the old one goes first.
            self.resources._delete_resource(original, self.old[name])
        else:
            self.retired.append((original, self.old[name]))
        self.resources[name]

    def remove(self, name: str, resource_json: dict[str, Any]) -> None:
        resource = self.resources._parsed_resources.pop(name, None)
        if resource is not None and resource_json.get("DeletionPolicy") != "Retain":
            self.resources._delete_resource(resource, resource_json)


def apply(stack: Stack, template: str, parameters: dict[str, Any]) -> None:
    """Update `stack` to `template` with `parameters` (input values, complete or not)."""
    stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    update = Update(stack.resource_map, Stack.parse_template(template))
    try:
        update.load(parameters)
        update.run()
    except Exception as error:  # what CloudFormation reports as the update's failure
        log.warning("stack %s failed to update: %s", stack.name, error)
        stack.status = "UPDATE_FAILED"
        stack._add_stack_event("UPDATE_FAILED", resource_status_reason=str(error)[:1000])
        return
    stack.template = template
    stack._parse_template()
    stack.parameters = parameters
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    stack.status = "UPDATE_COMPLETE"
    stack._add_stack_event("UPDATE_COMPLETE")


def publish_exports(backend: CloudFormationBackend, stack: Stack) -> None:
    """The account's exports: this stack's as its outputs now say."""
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del backend.exports[name]
    for export in stack.exports:
        backend.exports[export.name] = export


def update(
    self: Stack,
    template: str,
    role_arn: str | None = None,
    parameters: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """UpdateStack (`cdk deploy --method=direct`)."""
    apply(self, template, parameters or {})
    self.role_arn = role_arn
    if tags is not None:
        self.tags = tags


def resolve_update_parameters(
    self: CloudFormationBackend, instance: Any, incoming_params: list[dict[str, Any]]
) -> dict[str, Any]:
    previous = previous_parameters(instance) if isinstance(instance, Stack) else {}
    return {
        p["ParameterKey"]: previous.get(p["ParameterKey"]) if p.get("UsePreviousValue")
        else p.get("ParameterValue")
        for p in incoming_params
    }  # fmt: skip


_update_function = LambdaFunction.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def update_function(
    cls: type[LambdaFunction], original_resource: Any, new_resource_name: str,
    cloudformation_json: Any, account_id: str, region_name: str,
) -> Any:  # fmt: skip
    """moto's update of a function, plus its reserved concurrency (which moto leaves)."""
    function = _update_function(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    )
    properties = cloudformation_json["Properties"]
    function.reserved_concurrency = properties.get("ReservedConcurrentExecutions")
    return function


PATCHES = (
    (Stack, "update", update),
    (Stack, "stack_parameters", property(previous_parameters)),
    (CloudFormationBackend, "_resolve_update_parameters", resolve_update_parameters),
    (LambdaFunction, "update_from_cloudformation_json", classmethod(update_function)),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
