"""The benchmarks keep working: the small path runs end to end and reports sane JSON.

Nothing here asserts a speed: the numbers depend on the machine. What is checked is that every
section ran, measured the thing it claims to, and that the emulator fixes the benchmarks apply
to moto serve the very bytes that were stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import zipfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from benchmarks import (
    cost,
    curated,
    fleet,
    local_run,
    memory,
    policies,
    recurring,
    run,
    scale,
    throughput,
    throughput_report,
    zip_check,
)
from benchmarks.services import MIB, s3_client, start_moto
from ongage_export.adapters.landing import S3Landing, StagedObject
from ongage_export.domain.polling import PollingPolicy


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """The small path, smaller still: one size per section, three runs for scale."""
    monkeypatch.setattr(memory, "SMALL_SIZES_MIB", (1,))
    monkeypatch.setattr(throughput, "SMALL", throughput_report.Plan(8, rounds=2))
    monkeypatch.setattr(scale, "SMALL_EXECUTIONS", 3)
    monkeypatch.setattr(cost, "SMALL_SAMPLES", 200)
    monkeypatch.setattr(recurring, "SMALL_SCHEDULES", 10)
    monkeypatch.setattr(zip_check, "SMALL_SIZE_MIB", 2)
    monkeypatch.setattr(curated, "SMALL_SIZE_MIB", 2)
    monkeypatch.setattr(local_run, "SMALL_SIZES_MIB", (2,))


def run_small(out: Path) -> dict[str, Any]:
    assert run.main(["--small", "--out", str(out)]) == 0
    (report_file,) = out.glob("bench-*-small.json")
    report: dict[str, Any] = json.loads(report_file.read_text())
    return report


def test_small_benchmarks_report_every_section(
    tiny: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench"
    report = run_small(out)

    sections = report["sections"]
    assert set(sections) == {
        "memory",
        "throughput",
        "zip-check",
        "curated",
        "local-run",
        "cost",
        "recurring",
        "scale",
        "fleet",
    }
    assert {name: s.get("error") for name, s in sections.items() if not s["ok"]} == {}
    assert report["machine"]["nproc"] >= 1 and report["machine"]["python"]
    assert_memory(sections["memory"]["result"])
    assert_throughput(sections["throughput"]["result"])
    assert_zip_check(sections["zip-check"]["result"])
    assert_curated(sections["curated"]["result"])
    assert_cost(sections["cost"]["result"])
    assert_recurring(sections["recurring"]["result"])
    assert_scale(sections["scale"]["result"])
    assert_local_run(sections["local-run"]["result"])
    assert_fleet(sections["fleet"]["result"])
    printed = capsys.readouterr().out
    for title in (
        "### Memory",
        "### Throughput",
        "### CPU of the ZIP check",
        "### The consumer",
        "### Cost",
        "### Recurring exports",
        "### Scale",
        "### Local run",
        "### Fleet",
    ):
        assert title in printed
    assert (out / ".gitignore").read_text() == "*\n"  # results stay out of git


def assert_memory(result: dict[str, Any]) -> None:
    (row,) = result["rows"]
    assert row["handler"]["landed"] and row["handler"]["bytes"] == row["bytes"] >= MIB
    assert 20 < row["handler"]["rss_after_imports_mib"] <= row["handler"]["peak_rss_mib"] < 4096
    assert row["naive"]["bytes"] == row["bytes"]
    assert row["naive"]["peak_rss_mib"] > 0


def assert_local_run(result: dict[str, Any]) -> None:
    (row,) = result["rows"]
    # The plain download is another export of the same size (its file names carry its id).
    assert row["bytes"] >= 2 * MIB and abs(row["curl_bytes"] - row["bytes"]) < 1024
    (run_trial,) = row["trials"]["run"]
    # Whole process: the run's own laps and its start-up fit inside the outside clock.
    laps = run_trial["seconds"]
    assert 0 < laps["landing"] <= laps["workflow"] < run_trial["process"]["seconds"]
    assert row["phases_s"]["start-up"]["median"] > 0
    assert row["whole_run_s"]["median"] == run_trial["process"]["seconds"]
    ratio = run_trial["process"]["seconds"] / row["trials"]["curl"][0]["process"]["seconds"]
    assert row["run_over_curl"]["median"] == pytest.approx(ratio)
    assert 100 < row["peak_rss_mib"] < 4096 and result["goals"]
    assert row["simulator_cpu_s_per_gib"]["median"] > 0 and row["load_average"]["min"] >= 0


def assert_throughput(result: dict[str, Any]) -> None:
    contenders = result["contenders"]
    assert set(contenders) == set(throughput.CONTENDERS)
    assert all(len(rounds) == 2 for rounds in result["trials"].values())
    for name, rounds in result["trials"].items():
        for trial in rounds:  # the whole process, slower than the span inside it
            assert (
                trial["inner_seconds"] is None
                or trial["inner_seconds"] < trial["process"]["seconds"]
            ), name
    single, staged = contenders["single-pass"], contenders["staged"]
    # The single pass reads nothing back and copies nothing; the staged path does both.
    assert single["read_back_per_byte"] == 0 and staged["read_back_per_byte"] >= 1
    ops = result["trials"]["staged"][0]["s3_operations"]
    assert ops["UploadPartCopy"] >= 1
    assert "UploadPartCopy" not in result["trials"]["single-pass"][0]["s3_operations"]
    ratios = {r["name"]: r for r in result["ratios"]}
    assert all(r["rounds"] == 2 and r["min"] <= r["median"] <= r["max"] for r in ratios.values())


def assert_zip_check(result: dict[str, Any]) -> None:
    outcomes = {(row["body"], row["check"]): row["outcome"] for row in result["rows"]}
    assert outcomes[("stored", "zip_stream (single pass)")] == "ok"
    assert outcomes[("deflated", "zip_stream (single pass)")] == "ok"
    # Why the library is not used: it refuses the simulator's (STORED + descriptor) exports.
    assert outcomes[("stored", "stream-unzip 0.0.101")] == "refused (NotStreamUnzippable)"
    assert outcomes[("deflated", "stream-unzip 0.0.101")] == "ok"


def assert_curated(result: dict[str, Any]) -> None:
    assert [row["body"] for row in result["rows"]] == ["simulator rows", "varied rows"]
    for row in result["rows"]:
        assert row["rows"] > 0 and row["unparseable"] == 0  # every date parsed
        assert 0 < row["parquet_bytes"] < row["csv_bytes"] <= row["zip_bytes"]
        assert row["peak_rss_mib"] >= row["rss_after_imports_mib"] > 0


def assert_cost(result: dict[str, Any]) -> None:
    assert [r["status"] for r in result["runs"]] == ["SUCCEEDED", "SUCCEEDED"]
    model = result["model"]
    assert model["transitions_per_poll"] >= 1 and float(model["fixed_transitions"]).is_integer()
    for row in result["scenarios"]:
        ours, fixed = row["ours"], row["fixed_30s"]
        assert 0 < ours["total_usd"] <= fixed["total_usd"]
        assert ours["latency_max_s"] <= result["policy"]["max_seconds"]
    sweep = result["policy_sweep"]
    assert [row["ready_after_seconds"] for row in sweep] == list(policies.SWEEP_READY_AFTER_SECONDS)
    thirty = next(row for row in sweep if row["ready_after_seconds"] == 1800)
    # The default spends fewer polls on a 30-minute export than the gentle policy.
    assert thirty["default"]["polls_mean"] < thirty["gentle"]["polls_mean"]
    assert thirty["default"]["fixed_ratio"] == result["summary"]["thirty_min_fixed_ratio"]


def assert_recurring(result: dict[str, Any]) -> None:
    rows = {row["case"]: row for row in result["rows"]}
    assert list(rows) == list(recurring.CENTRES)
    for row in rows.values():
        runs = row["approaches"]
        assert runs["first"] == runs["first_default"]  # no history: the default, draw for draw
        assert row["lie_extra_polls_max"] <= recurring.GOAL_LIE_EXTRA_POLLS
        assert row["lie_landed"] == 1 and row["goals"]["lie"] and row["goals"]["no_history"]
    for case in ("30 min", "2 h"):  # history pays off most for long exports
        assert (
            rows[case]["approaches"]["learned"]["polls_mean"]
            < (rows[case]["approaches"]["default"]["polls_mean"])
        )


def assert_scale(result: dict[str, Any]) -> None:
    assert result["executions"] == 3
    assert result["succeeded"] == 3, result["errors"]
    assert 1 <= result["simulator_peak_concurrent"] <= 10
    assert result["lambda_invocations"]["retrieve-export"] >= 3
    assert result["retries"]["throttle_retry_budget"] == 12  # the ASL's throttling retrier
    # The stack as deployed: call slots hold Ongage's limits, no reserved concurrency throttles.
    assert result["ongage_limits"] == {"max_parallel": 10, "rate_per_minute": 300}
    assert set(result["lambda_throttled"].values()) == {0}


def assert_fleet(result: dict[str, Any]) -> None:
    # The small day, with the real limiter: every export landed within every account's limits.
    assert result["totals"]["exports"] == fleet.SMALL_SIZE.exports == result["totals"]["landed"]
    assert result["problems"] == [] and result["totals"]["rate_limited"] == 0
    assert result["burst"]["changed"] == 0
    assert result["cost"]["per_export"]["dynamodb_reads"] >= 2  # a take and a release at least


def test_policy_simulation_counts_polls_as_the_workflow_makes_them() -> None:
    # No jitter: waits 10, 20, 40, 40, ... so polls land at 10, 30, 70, 110.
    policy = PollingPolicy(initial_seconds=10, growth=2.0, max_seconds=40, jitter=0.0)
    rng = random.Random(0)
    assert policies.detection(policy, ready_at=0, rng=rng) == (1, 10)
    assert policies.detection(policy, ready_at=30, rng=rng) == (2, 0)
    assert policies.detection(policy, ready_at=71, rng=rng) == (4, 39)
    budget = PollingPolicy(initial_seconds=10, growth=1.0, max_seconds=10, jitter=0, max_polls=3)
    assert policies.detection(budget, ready_at=1000, rng=rng)[1] == float("inf")


def test_patched_moto_serves_the_bytes_it_stored(tmp_path: Path) -> None:
    buffer = io.BytesIO()  # a STORED ZIP of three parts, the last one short
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("export.csv", os.urandom(2 * 5 * MIB + 12345))
    body = buffer.getvalue()
    chunks = [body[i : i + MIB] for i in range(0, len(body), MIB)]
    with ExitStack() as stack:
        s3 = s3_client(start_moto(stack, tmp_path).url)
        s3.create_bucket(Bucket="bench-check")
        landing = S3Landing(s3, "bench-check", part_size=5 * MIB)
        staged = landing.upload_stream(iter(chunks), "incoming/body")
        assert isinstance(staged, StagedObject)  # complete, not progress to resume
        ranged = s3.get_object(Bucket="bench-check", Key="incoming/body", Range="bytes=7-5242999")
        assert ranged["Body"].read() == body[7:5243000]
        landing.publish(staged, "exports/body", {"k": "v"})
        copied = s3.get_object(Bucket="bench-check", Key="exports/body")["Body"].read()
    assert hashlib.sha256(copied).hexdigest() == hashlib.sha256(body).hexdigest()
