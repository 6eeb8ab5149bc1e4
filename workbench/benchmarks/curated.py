"""The consumer: CSV MB/s into Parquet, peak RSS, and the size of Parquet against the CSV.

The real `curate_export` runs in a fresh child process on a ZIP on local disk (ranged reads
answered from the file, parts written to a file: the consumer's own CPU and memory, without S3
or moto). Two bodies of one size: the simulator's rows (a block of 1000 rows repeated, the best
case for Parquet's dictionaries) and varied rows (every value drawn at random, closer to a real
list). Goals: a 1 GiB export curated within the function's 15 minutes, in a peak RSS far below
its 1769 MB.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from benchmarks.report import met, mib, table
from benchmarks.services import MIB, peak_rss_of
from ongage_simulator.csv_rows import EVERY_KIND_OF_FIELD
from ongage_simulator.export_body import ExportBody

FULL_SIZE_MIB = 1024
SMALL_SIZE_MIB = 16
FIELDS = EVERY_KIND_OF_FIELD
DATE_FORMAT = "mm/dd/yyyy"
TIMEOUT_SECONDS = 900  # the curate function's timeout
RSS_GOAL_MIB = 512  # well within the function's 1769 MB
KEY = "exports/list=1111/date=2026-01-02/Bench-1.zip"
PART_SIZE = 16 * MIB


def run(size_mib: int, work_dir: Path) -> dict[str, Any]:
    folder = work_dir / "curated"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for body, write in (("simulator rows", write_simulator_zip), ("varied rows", write_varied_zip)):
        source = folder / "export.zip"
        write(source, size_mib * MIB)
        row = {"body": body, "zip_bytes": source.stat().st_size} | curate_in_child(source)
        rows.append(row | derived(row))
        source.unlink()
    return {
        "size_mib": size_mib,
        "rows": rows,
        "goal_targets": {"timeout_seconds": TIMEOUT_SECONDS, "rss_mib": RSS_GOAL_MIB},
    }


def derived(row: dict[str, Any]) -> dict[str, float]:
    """The figures the table prints, kept in the result beside what they come from."""
    return {
        "seconds_per_gib": seconds_per_gib(row),
        "parquet_over_csv": row["parquet_bytes"] / row["csv_bytes"],
        "parquet_over_zip": row["parquet_bytes"] / row["zip_bytes"],
    }


def write_simulator_zip(path: Path, size: int) -> None:
    body = ExportBody("7000001", "Bench", fields=FIELDS, target_bytes=size)
    with path.open("wb") as out:
        for chunk in body.iter_range():
            out.write(chunk)


def write_varied_zip(path: Path, size: int) -> None:
    """One STORED CSV member of about `size` bytes, every value random (seeded)."""
    rng = random.Random(15)
    names = ["Zoë", "Søren", "李", "Anna", "José", "Ngozi", "Ólafur", "Priya", "Mateus", "Ines"]
    contact = 10_000_000
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive,
        archive.open("Bench.csv", "w", force_zip64=True) as member,
    ):
        written = member.write(csv_bytes([FIELDS]))
        while written < size:
            rows = []
            for _ in range(1000):
                contact += rng.randint(1, 9)
                rows.append(varied_row(rng, names, contact))
            written += member.write(csv_bytes(rows))


def csv_bytes(rows: Any) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode()


def varied_row(rng: random.Random, names: list[str], contact: int) -> list[str]:
    day = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2010, 2026)}"
    gone = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2026" if rng.random() < 0.1 else ""
    first = rng.choice(names)
    return [
        f"{first.lower()}.{rng.getrandbits(40):x}@example.com",
        first,
        f"{rng.choice(names)}-{rng.getrandbits(16):x}",
        str(contact),
        day,
        gone,
        f'{rng.randint(1, 999)} {rng.choice(names)} St\n"Apt {rng.randint(1, 99)}", City',
    ]


def curate_in_child(source: Path) -> dict[str, Any]:
    """The curation in a fresh interpreter, so its peak RSS is the consumer's alone."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.curated", str(source)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


class LocalS3:
    """Just enough S3 for `curate_export`: the export from a local file, parts to a file."""

    def __init__(self, source: Path, out: Path):
        self.source, self.out = source, out
        self.written = 0

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"ContentLength": self.source.stat().st_size, "Metadata": {}}

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:
        first, last = (int(n) for n in Range.removeprefix("bytes=").split("-"))
        with self.source.open("rb") as body:
            body.seek(first)
            return {"Body": _Body(body.read(last + 1 - first))}

    def create_multipart_upload(self, **_: Any) -> dict[str, Any]:
        self.out.write_bytes(b"")
        return {"UploadId": "bench"}

    def upload_part(self, PartNumber: int, Body: Any, **_: Any) -> dict[str, Any]:
        data = Body.read()
        with self.out.open("r+b") as out:
            out.seek((PartNumber - 1) * PART_SIZE)
            out.write(data)
        self.written += len(data)
        return {"ETag": f'"{PartNumber}"'}

    def list_multipart_uploads(self, **_: Any) -> dict[str, Any]:
        return {"Uploads": []}

    def get_paginator(self, operation: str) -> Any:
        return type("Pages", (), {"paginate": lambda _, **kwargs: [{"Parts": []}]})()

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def put_object(self, **_: Any) -> None:
        pass

    def list_objects_v2(self, **_: Any) -> dict[str, Any]:
        return {}


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def iter_chunks(self, size: int) -> Any:
        view = memoryview(self.data)
        return (view[i : i + size] for i in range(0, len(view), size))


def child(source: Path) -> dict[str, Any]:
    from ongage_export.consumer.curate import ExportRequest, curate_export
    from ongage_export.settings import CurateSettings

    settings = CurateSettings.from_env(
        CurateSettings.environment(export_bucket="bench", part_size_mib=PART_SIZE // MIB)
    )
    s3 = LocalS3(source, source.with_suffix(".parquet"))
    baseline = peak_rss_mib()
    started = time.perf_counter()
    curated = curate_export(s3, "bench", KEY, settings, lambda _: ExportRequest(DATE_FORMAT))
    seconds = time.perf_counter() - started
    (file,) = curated.manifest["files"]
    source.with_suffix(".parquet").unlink()
    return {
        "csv_bytes": file["bytes_in"],
        "parquet_bytes": file["bytes_out"],
        "rows": file["rows"],
        "seconds": seconds,
        "csv_mb_per_s": file["bytes_in"] / 1e6 / seconds,
        "peak_rss_mib": peak_rss_mib(),
        "rss_after_imports_mib": baseline,
        "unparseable": sum(file["unparseable"].values()),
    }


def peak_rss_mib() -> float:
    # VmHWM starts anew at exec; ru_maxrss would keep the forking parent's size.
    return peak_rss_of(os.getpid()) or 0.0


def markdown(result: dict[str, Any]) -> str:
    head = [
        "body",
        "CSV",
        "rows",
        "CSV MB/s",
        "time for 1 GiB",
        "peak RSS MiB",
        "Parquet / CSV",
        "Parquet / ZIP",
    ]
    lines = [table(head, [_row(row) for row in result["rows"]])]
    worst = max(seconds_per_gib(row) for row in result["rows"])
    rss = max(row["peak_rss_mib"] for row in result["rows"])
    imports = result["rows"][0]["rss_after_imports_mib"]
    lines.append(
        f"\n1 GiB within the {TIMEOUT_SECONDS} s timeout (at this machine's speed): "
        f"{met(worst < TIMEOUT_SECONDS)} ({worst:.0f} s); peak RSS under {RSS_GOAL_MIB} MiB: "
        f"{met(rss < RSS_GOAL_MIB)} ({rss:.0f} MiB, {imports:.0f} MiB of it the interpreter "
        "with pyarrow loaded)."
    )
    return "\n".join(lines)


def seconds_per_gib(row: dict[str, Any]) -> float:
    return float(row["seconds"] * 1024 * MIB / row["csv_bytes"])


def _row(row: dict[str, Any]) -> list[str]:
    return [
        row["body"],
        mib(row["csv_bytes"]),
        f"{row['rows']:,}",
        f"{row['csv_mb_per_s']:.1f}",
        f"{seconds_per_gib(row):.0f} s",
        f"{row['peak_rss_mib']:.0f}",
        f"{row['parquet_over_csv']:.1%}",
        f"{row['parquet_over_zip']:.1%}",
    ]


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    print(json.dumps(child(Path(sys.argv[1]))))
