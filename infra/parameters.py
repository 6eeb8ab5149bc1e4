"""Deploy-time parameters: what may differ between deployments of one synthesized template.

Only the Ongage base URL does: its default is `ongage_base_url` from cdk.json (https only), and
a deployment into the local AWS passes the Ongage simulator's loopback address
(`--parameters OngageBaseUrl=http://127.0.0.1:PORT`), so the template that runs on a laptop is
byte for byte the one that deploys to AWS. Plain http is accepted for loopback hosts only.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

ONGAGE_BASE_URL = "OngageBaseUrl"
ONGAGE_BASE_URL_PATTERN = (
    r"^(https://[^\s/?#]+(/[^\s?#]*)?"
    r"|http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?(/[^\s?#]*)?)$"
)


def ongage_base_url(scope: Construct, default: str) -> str:
    """The parameter's value (a token in the template)."""
    return cdk.CfnParameter(
        scope,
        ONGAGE_BASE_URL,
        type="String",
        default=default,
        allowed_pattern=ONGAGE_BASE_URL_PATTERN,
        constraint_description="an https:// URL, or http:// on 127.0.0.1/localhost (local AWS)",
        description="Ongage API base URL (default: ongage_base_url in cdk.json)",
    ).value_as_string
