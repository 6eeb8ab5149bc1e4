"""Small lookups over a synthesized template."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import IConstruct


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's resource (or of an L1 itself)."""
    resource = construct.node.default_child or construct
    assert isinstance(resource, cdk.CfnElement)
    return cdk.Stack.of(construct).get_logical_id(resource)


def resource(template: dict[str, Any], construct: IConstruct) -> dict[str, Any]:
    return template["Resources"][logical_id(construct)]


def props(template: dict[str, Any], construct: IConstruct) -> dict[str, Any]:
    return resource(template, construct)["Properties"]


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to the role with logical id `role_id`."""
    found: list[dict[str, Any]] = []
    for policy in of_type(template, "AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_id} in roles:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    role = template["Resources"][role_id]["Properties"]
    for inline in role.get("Policies", []):
        found += inline["PolicyDocument"]["Statement"]
    return found


def actions_on(statements_: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """action -> the resources it is allowed on, over all Allow statements."""
    allowed: dict[str, list[Any]] = {}
    for statement in statements_:
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            allowed.setdefault(action, []).extend(as_list(statement["Resource"]))
    return allowed


def role_of(template: dict[str, Any], function: IConstruct) -> str:
    role = props(template, function)["Role"]
    return role["Fn::GetAtt"][0]
