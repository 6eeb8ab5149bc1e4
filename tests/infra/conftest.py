"""One in-process synth per session (bundling skipped: the template does not depend on it).

Four stacks in one app: `main` (every optional feature on; creates the secret and the API
Gateway CloudWatch role), `imported` (an existing secret by name, no role), `default` (cdk.json
exactly as committed, what `make synth` builds) and `curated` (`main` plus the optional consumer,
which adds resources the other stacks' exact counts do not expect). Two more, `encrypted`
(`curated` with `kms_key: "create"`) and `key_imported` (`imported` with a key ARN), build the
customer-managed-key variants.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.config import CONTEXT_KEY, load_config
from infra.nag import add_checks
from infra.stack import OngageExportStack

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY_LIMIT = 7
# A second account the main stack creates a secret for, with limits of its own.
SECOND_ACCOUNT = "brand-eu"
CURATED: dict[str, Any] = {
    "enabled": True,
    "prefix": "tables/ongage/",
    "memory_mb": 2048,
    "fields": ["email", "first_name", "City"],
}

SCHEDULED_REQUEST = {
    "list_id": 4242,
    "name": "nightly-{scheduled_time}",
    "segment_id": [77197],
    "date_format": "dd/mm/yyyy",
    "file_format": "csv",
    "status": ["active", "bounced"],
}


def settings_under_test() -> dict[str, Any]:
    """The configuration the main test stack is built from (every optional feature on)."""
    return {
        "stack_name": "OngageExportTest",
        "ongage_base_url": "https://api.ongage.example",
        "ongage_trusted_origins": ["https://connect.ongage.example"],
        "ongage_concurrency_limit": CONCURRENCY_LIMIT,
        "accounts": {SECOND_ACCOUNT: {"parallel_calls": 2, "calls_per_minute": 120}},
        "polling": {"initial_seconds": 20, "max_seconds": 300, "deadline_seconds": 7200},
        "export_retention_days": 400,
        "staging_retention_days": 2,
        "log_retention_days": 30,
        "notification_emails": ["data-team@example.com", "oncall@example.com"],
        "scheduler_retry_attempts": 4,
        "scheduler_max_event_age_seconds": 1800,
        "schedules": [
            {
                "name": "nightly",
                "expression": "cron(15 2 * * ? *)",
                "time_zone": "Europe/Berlin",
                "request": SCHEDULED_REQUEST,
                "polling": {"initial_seconds": 60},
            },
            {
                "name": "hourly-mailing",
                "expression": "rate(1 hour)",
                "enabled": False,
                "request": {
                    "name": "hourly",
                    "mailing_id": [1, 2],
                    "date_format": "mm/dd/yyyy",
                    "file_format": "csv",
                    "status": ["opened"],
                },
            },
        ],
        "api": {"throttle_rate_limit": 3, "throttle_burst_limit": 6},
    }


IMPORTED_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def encrypted_settings() -> dict[str, Any]:
    """The consumer's configuration with a key the stack creates."""
    return {**curated_settings(), "stack_name": "OngageExportEncrypted", "kms_key": "create"}


def key_imported_settings() -> dict[str, Any]:
    """An existing secret and an existing key: what the stack can and cannot add to either."""
    return {
        **IMPORTED_SETTINGS,
        "stack_name": "OngageExportKeyImported",
        "kms_key": IMPORTED_KEY_ARN,
    }


def curated_settings() -> dict[str, Any]:
    """The main test configuration with the optional consumer on (non-default prefix, memory)."""
    return {**settings_under_test(), "stack_name": "OngageExportCurated", "curated": CURATED}


IMPORTED_SETTINGS: dict[str, Any] = {
    "stack_name": "OngageExportImported",
    "ongage_secret_name": "prod/ongage/credentials",
    "accounts": {"agency": {"secret_name": "prod/ongage/agency"}},
    "api": {"create_cloudwatch_role": False},
}


@dataclass
class Synth:
    app: cdk.App
    main: OngageExportStack
    imported: OngageExportStack
    default: OngageExportStack
    curated: OngageExportStack
    encrypted: OngageExportStack
    key_imported: OngageExportStack
    template: Template
    imported_template: Template
    default_template: Template
    curated_template: Template
    encrypted_template: Template
    key_imported_template: Template

    @functools.cached_property
    def json(self) -> dict[str, Any]:
        # Every to_json() is a round trip to the jsii process: fetch the main template once.
        return dict(self.template.to_json())

    def resources(self, kind: str, template: Template | None = None) -> dict[str, Any]:
        return dict((template or self.template).find_resources(kind))


def cdk_context() -> dict[str, Any]:
    """cdk.json's context (feature flags included), with bundling skipped for speed."""
    context = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    context["aws:cdk:bundling-stacks"] = []
    return context


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    context = cdk_context()
    app = cdk.App(context=context, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    main = OngageExportStack(app, "Main", config=load_config(settings_under_test()))
    imported = OngageExportStack(app, "Imported", config=load_config(IMPORTED_SETTINGS))
    # A concrete environment, as `cdk deploy` has: ARNs render with literal region/account.
    default = OngageExportStack(
        app,
        "Default",
        config=load_config(context[CONTEXT_KEY]),
        env=cdk.Environment(account="123456789012", region="eu-west-1"),
    )
    curated = OngageExportStack(app, "Curated", config=load_config(curated_settings()))
    encrypted = OngageExportStack(app, "Encrypted", config=load_config(encrypted_settings()))
    key_imported = OngageExportStack(
        app, "KeyImported", config=load_config(key_imported_settings())
    )
    add_checks(app)
    return Synth(
        app=app,
        main=main,
        imported=imported,
        default=default,
        curated=curated,
        encrypted=encrypted,
        key_imported=key_imported,
        template=Template.from_stack(main),
        imported_template=Template.from_stack(imported),
        default_template=Template.from_stack(default),
        curated_template=Template.from_stack(curated),
        encrypted_template=Template.from_stack(encrypted),
        key_imported_template=Template.from_stack(key_imported),
    )
