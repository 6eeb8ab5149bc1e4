"""Every extension of moto this endpoint needs, applied in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType
from unittest import mock

from local_aws import (
    change_sets,
    child_executions,
    consumer_resources,
    early_stops,
    event_patterns,
    execution_events,
    execution_names,
    iam_requests,
    kms_keys,
    presigned_urls,
    resource_models,
    s3_events,
    s3_streaming,
    secure_transport,
    sse_kms,
    stack_updates,
    state_machines,
    template_url,
)

# Each module's install() patches one named gap of moto 5.2.5 (see each module's docstring).
MODULES = (
    template_url,
    change_sets,
    stack_updates,
    resource_models,
    state_machines,
    execution_names,
    early_stops,
    child_executions,
    secure_transport,
    iam_requests,
    presigned_urls,
    event_patterns,
    s3_streaming,
    s3_events,
    execution_events,
    consumer_resources,
    kms_keys,
    sse_kms,
)

# What the embedded runtime, which shares its process with other uses of moto, applies for its
# lifetime (see applied): the gaps its runs meet.
IN_PROCESS = (
    state_machines,
    execution_names,
    early_stops,
    child_executions,
    secure_transport,
    s3_streaming,
    s3_events,
    execution_events,
    kms_keys,
)


def install() -> None:
    for module in MODULES:
        module.install()


@contextmanager
def applied(*modules: ModuleType) -> Iterator[None]:
    """The modules' patches (their PATCHES and ENVIRONMENT) only while in the block: for a
    runtime that shares its process with other uses of moto (tests), unlike the server."""
    with ExitStack() as stack:
        for module in modules:
            for owner, attribute, replacement in module.PATCHES:
                stack.enter_context(mock.patch.object(owner, attribute, replacement))
            stack.enter_context(mock.patch.dict("os.environ", getattr(module, "ENVIRONMENT", {})))
        yield
