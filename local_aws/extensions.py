"""Every extension of moto this endpoint needs, applied in one place."""

from __future__ import annotations

from local_aws import (
    change_sets,
    event_patterns,
    iam_requests,
    resource_models,
    s3_streaming,
    secure_transport,
    state_machines,
    template_url,
)

# Each module's install() patches one named gap of moto 5.2.5 (see each module's docstring).
MODULES = (
    template_url,
    change_sets,
    resource_models,
    state_machines,
    secure_transport,
    iam_requests,
    event_patterns,
    s3_streaming,
)


def install() -> None:
    for module in MODULES:
        module.install()
