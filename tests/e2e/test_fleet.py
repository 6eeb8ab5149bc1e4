"""A fleet on the stack deployed to the local AWS: the stack synthesized with a second account
(cdk.json's `accounts`: its own secret and limits), a batch over both accounts started with the
CLI, and Ongage's limits held per account by the functions' limiter, one account apart from
the other. Downloads trickle, so an account's exports contend for its slots.

ONGAGE_E2E_FLEET_EXPORTS sets the batch's size (6 by default; the issue's check is 50)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import pytest

from local_aws.cloud_assembly import stack_in
from local_aws.deployment import project_config, synthesize
from ongage_simulator import Credentials, Fault, ServedAccount
from tests.e2e.conftest import LocalTarget
from tests.e2e.test_local_deployment import REQUEST, deploy_variant, start_and_wait

pytestmark = pytest.mark.e2e

OTHERS = {
    "brand-eu": Credentials("brand-eu-user", "brand-eu-password", "BRANDEU"),
    "brand-us": Credentials("brand-us-user", "brand-us-password", "BRANDUS"),
}
LIMITS = {"default": 2, "brand-eu": 1, "brand-us": 2}  # parallel calls, at Ongage and in cdk.json
EXPORTS = int(os.environ.get("ONGAGE_E2E_FLEET_EXPORTS", "6"))


def test_a_batch_over_three_accounts_lands_every_export_within_each_accounts_limits(
    local_env: LocalTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project_config()
    config["ongage_concurrency_limit"] = LIMITS["default"]
    config["accounts"] = {name: {"parallel_calls": LIMITS[name]} for name in OTHERS}
    out = synthesize(tmp_path / "cdk.out", config)
    template = json.loads((out / f"{stack_in(out)}.template.json").read_text())
    fleet = deploy_variant(local_env, "OngageExportFleet", template)
    secrets = json.loads(fleet.outputs["AccountSecrets"])
    for name, other in OTHERS.items():
        fleet.client("secretsmanager").put_secret_value(
            SecretId=secrets[name],
            SecretString=json.dumps({"username": other.username, "password": other.password,
                                     "account_code": other.account_code}),
        )  # fmt: skip
    simulator = local_env.simulator
    served = dataclasses.replace(
        simulator.config,
        max_parallel=LIMITS["default"],
        export_bytes=100_000,
        accounts=tuple(ServedAccount(c, parallel_calls=LIMITS[n]) for n, c in OTHERS.items()),
    )
    monkeypatch.setattr(simulator, "config", served)
    simulator.reset()  # peaks from here on
    simulator.inject(Fault.SLOW_TRICKLE, times=None)
    accounts = [list(LIMITS)[index % len(LIMITS)] for index in range(EXPORTS)]
    batch = {"exports": [{**REQUEST, "name": f"fleet {index}", "account": account}
                         for index, account in enumerate(accounts)]}  # fmt: skip

    report = start_and_wait(tmp_path, batch, "--stack", fleet.stack)

    simulator.clear_faults()
    assert report["status"] == "SUCCEEDED", report
    assert [export["account"] for export in report["exports"]] == accounts
    bucket = fleet.outputs["BucketName"]
    for export in report["exports"]:
        stored = fleet.client("s3").get_object(Bucket=bucket, Key=export["key"])["Body"].read()
        expected = simulator.expected_body(export["export_id"])
        assert hashlib.sha256(stored).hexdigest() == expected.sha256() == export["sha256"]
    stats = simulator.stats.by_account
    codes = {"default": served.credentials.account_code}
    codes |= {name: other.account_code for name, other in OTHERS.items()}
    for account, code in codes.items():
        counted = stats[code]
        assert counted.creates == accounts.count(account), (account, counted)  # one each
        assert counted.peak_in_flight <= LIMITS[account], (account, counted)
        assert counted.rate_limited == 0, (account, counted)
