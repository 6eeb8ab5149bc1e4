"""The deployed stack's functions, as the embedded runtime finds and runs them: the two that call
Ongage by role, and the one environment all of them share in its process."""

from __future__ import annotations

from typing import Any

from ongage_export.settings import Settings

LEASE_VARIABLE = Settings.model_fields["call_lease_seconds"].alias or ""
FUNCTIONS = {"create-export": "FunctionsCreateExport", "retrieve-export": "FunctionsRetrieveExport"}


def _function_resources(cloudformation: Any, stack_name: str) -> list[dict[str, Any]]:
    resources = cloudformation.list_stack_resources(StackName=stack_name)
    return [
        resource
        for resource in resources["StackResourceSummaries"]
        if resource["ResourceType"] == "AWS::Lambda::Function"
    ]


def stack_functions(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """Function name by role (create-export, retrieve-export), from the deployed stack."""
    found = {}
    for resource in _function_resources(cloudformation, stack_name):
        for name, prefix in FUNCTIONS.items():
            if resource["LogicalResourceId"].startswith(prefix):
                found[name] = resource["PhysicalResourceId"]
    return found


def every_function(cloudformation: Any, stack_name: str) -> list[str]:
    """Every function the stack deploys (the announcer, the status API, the consumer too)."""
    return [r["PhysicalResourceId"] for r in _function_resources(cloudformation, stack_name)]


def shared_environment(lam: Any, functions: list[str]) -> dict[str, str]:
    """The one environment the Ongage-calling `functions` run with in one process. They differ
    only in how long a slot they die holding stays held (each its timeout and a margin): here
    both hold it as long as the longer of the two, which is never too short."""
    environments = [_variables(lam, function) for function in functions]
    leases = [float(env.pop(LEASE_VARIABLE, "0")) for env in environments]
    if any(env != environments[0] for env in environments):
        raise RuntimeError("the stack's Ongage functions have different environments")
    return {**environments[0], LEASE_VARIABLE: str(max(leases))}


def process_environment(
    lam: Any, cloudformation: Any, stack_name: str, ongage: list[str]
) -> dict[str, str]:
    """The `ongage` functions' shared environment and what the stack's other functions (the
    announcer, the status API, the consumer) set besides: all run in the one process. Where
    another sets a variable the Ongage functions have, they agree in the template; the
    runtime's overrides of the Ongage functions hold."""
    every = shared_environment(lam, ongage)
    others = [f for f in every_function(cloudformation, stack_name) if f not in ongage]
    for function in others:
        for name, value in _variables(lam, function).items():
            every.setdefault(name, value)
    return every


def _variables(lam: Any, function: str) -> dict[str, str]:
    config = lam.get_function_configuration(FunctionName=function)
    return dict(config.get("Environment", {}).get("Variables", {}))
