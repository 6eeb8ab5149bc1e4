"""The deployed stack's two Ongage-calling functions, as the embedded runtime finds and runs
them."""

from __future__ import annotations

from typing import Any

from ongage_export.settings import Settings

LEASE_VARIABLE = Settings.model_fields["call_lease_seconds"].alias or ""
FUNCTIONS = {"create-export": "FunctionsCreateExport", "retrieve-export": "FunctionsRetrieveExport"}


def stack_functions(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """Function name by role (create-export, retrieve-export), from the deployed stack."""
    resources = cloudformation.list_stack_resources(StackName=stack_name)
    found = {}
    for resource in resources["StackResourceSummaries"]:
        for name, prefix in FUNCTIONS.items():
            logical = resource["LogicalResourceId"]
            if resource["ResourceType"] == "AWS::Lambda::Function" and logical.startswith(prefix):
                found[name] = resource["PhysicalResourceId"]
    return found


def shared_environment(lam: Any, functions: list[str]) -> dict[str, str]:
    """The one environment both functions run with in one process. They differ only in how
    long a slot they die holding stays held (each its timeout and a margin): here both hold it
    as long as the longer of the two, which is never too short."""
    environments = [
        dict(lam.get_function_configuration(FunctionName=f)["Environment"]["Variables"])
        for f in functions
    ]
    leases = [float(env.pop(LEASE_VARIABLE, "0")) for env in environments]
    if any(env != environments[0] for env in environments):
        raise RuntimeError("the stack's Ongage functions have different environments")
    return {**environments[0], LEASE_VARIABLE: str(max(leases))}
