#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth|deploy` (see cdk.json) builds the OngageExport stack."""

from __future__ import annotations

import os

# Node 20 is what CI and the README ask for; jsii's end-of-life banner is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk

from infra.bundling import INSTALL_CONTEXT_KEY
from infra.config import CONTEXT_KEY, ConfigError, load_config
from infra.nag import add_checks
from infra.stack import OngageExportStack


def _flag(app: cdk.App, key: str, default: bool) -> bool:
    value = app.node.try_get_context(key)
    if value is None:
        return default
    if isinstance(value, str):  # -c key=false arrives as a string
        return value.strip().lower() not in ("false", "0", "no")
    return bool(value)


def main() -> None:
    app = cdk.App()
    try:
        config = load_config(app.node.try_get_context(CONTEXT_KEY))
    except ConfigError as error:
        raise SystemExit(f"cdk.json context is invalid: {error}") from None
    OngageExportStack(
        app,
        config.stack_name,
        config=config,
        install_dependencies=_flag(app, INSTALL_CONTEXT_KEY, True),
        description="Ongage exports into S3: schedules, API, Step Functions, Lambda, alarms",
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    add_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
