"""The published figures: README's "Performance" block and docs/benchmarks.md's tables, both
rendered from `workbench/benchmarks/results.json`, which a full `make bench` writes. No figure
is typed.

    python -m benchmarks.publish --write   # render both blocks from results.json
    python -m benchmarks.publish --check   # exit 1 if a block is not what results.json renders
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import spread_text, table
from benchmarks.sections import renderer, title

RESULTS = Path(__file__).resolve().parent / "results.json"
ROOT = RESULTS.parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs" / "benchmarks.md"
MARKERS = {
    "readme": ("<!-- bench-figures:start -->", "<!-- bench-figures:end -->"),
    "docs": ("<!-- bench-tables:start -->", "<!-- bench-tables:end -->"),
}


def load(path: Path = RESULTS) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(path.read_text())
    return results


def provenance(results: dict[str, Any]) -> str:
    machine, load_avg = results["machine"], results["load_average"]
    return (
        f"`make bench`, {results['date']} UTC, {results['minutes']:.0f} min; "
        f"{machine['nproc']} cores ({machine['cpu_model']}), {machine['memory_gib']} GiB, "
        f"Python {machine['python']}; load average (1 min) {load_avg['start']:.2f} at the start, "
        f"{load_avg['end']:.2f} at the end. Median (min-max) over the rounds."
    )


def readme_table(results: dict[str, Any]) -> str:
    sections = {name: s["result"] for name, s in results["sections"].items() if s["ok"]}
    rows = [*_local_rows(sections["local-run"]), *_throughput_rows(sections["throughput"]),
            *_other_rows(sections), _fleet_row(sections["fleet"])]  # fmt: skip
    return table(["what", "figure"], rows)


def _local_rows(local: dict[str, Any]) -> list[list[str]]:
    rows = [
        [f"local run, {row['size_mib']} MiB: `ongage-export run --out`, command start to ZIP "
         "in --out (whole process)",
         f"{spread_text(row['whole_run_s'], 1)} s; `curl -o` of the same body "
         f"{spread_text(row['curl_s'], 2)} s; whole run / curl -o "
         f"{spread_text(row['run_over_curl'], 1)}x"]
        for row in local["rows"]
    ]  # fmt: skip
    big = local["rows"][-1]
    phases = {name: value["median"] for name, value in big["phases_s"].items()}
    where = (
        f"start-up {phases['start-up']:.1f}, deploy {phases['deploy']:.1f}, workflow "
        f"{phases['workflow']:.1f} (of which the landing invocation {phases['landing']:.1f}), "
        f"copy to --out {phases['copy']:.1f}"
    )
    rows.append([f"where the {big['size_mib']} MiB run's time goes (s, medians)", where])
    rows.append([f"{big['size_mib']} MiB run: landing invocation alone; CPU s per GiB",
                 f"{spread_text(big['landing_mb_s'], 0)} MB/s; run process "
                 f"{big['run_cpu_s_per_gib']['median']:.1f}, landing "
                 f"{big['landing_cpu_s_per_gib']['median']:.1f}, simulator "
                 f"{big['simulator_cpu_s_per_gib']['median']:.1f}"])  # fmt: skip
    peaks = " / ".join(f"{row['peak_rss_mib']:.0f}" for row in local["rows"])
    sizes = " / ".join(f"{row['size_mib']}" for row in local["rows"])
    rows.append([f"local run peak RSS, {sizes} MiB", f"{peaks} MiB"])
    return rows


def _throughput_rows(result: dict[str, Any]) -> list[list[str]]:
    c = result["contenders"]
    rates = ", ".join(
        f"{name} {spread_text(c[name]['mb_s'], 0)}"
        for name in ("single-pass", "stream", "pipeline", "pipeline-signed")
    )
    rows = [[f"landing {result['size_mib']} MiB into S3 (moto), MB/s, whole process", rates]]
    ratios = [*result["ratios"], *result.get("cpu_ratios", [])]  # older results have no CPU ones
    rows += [[f"paired ratio: {r['name']}", spread_text(r, 2)] for r in ratios]
    return rows


def _other_rows(sections: dict[str, Any]) -> list[list[str]]:
    memory, scale = sections["memory"], sections["scale"]
    handler = " / ".join(f"{row['handler']['peak_rss_mib']:.0f}" for row in memory["rows"])
    sizes = " / ".join(f"{row['size_mib']}" for row in memory["rows"])
    cost = sections["cost"]["summary"]
    return [
        [f"retrieve handler peak RSS, {sizes} MiB export", f"{handler} MiB"],
        ["cost per export ready after 30 min", f"${cost['thirty_min_usd']:.6f}; "
         f"{cost['thirty_min_fixed_ratio']:.1f}x cheaper than a fixed 30 s loop"],
        [f"{scale['executions']} exports started together",
         f"{scale['succeeded']} landed in {scale['seconds_to_all_finished']:.0f} s; Ongage peak "
         f"{scale['simulator_peak_concurrent']} parallel calls, "
         f"{scale['simulator_429']} rate-limited answers, of {scale['simulator_calls']} calls"],
    ]  # fmt: skip


def _fleet_row(fleet: dict[str, Any]) -> list[str]:
    model, totals, burst = fleet["model"], fleet["totals"], fleet["burst"]
    busy = next(row for row in fleet["rows"] if row["kind"] == "busy")
    limits = busy["limits"]
    return [
        f"a simulated day: {model['exports']} exports over {model['accounts']} Ongage accounts "
        "(the limiter's and the polling policy's own code)",
        f"{totals['rate_limited']} rate-limited answers of {totals['calls']} calls; "
        f"`{busy['account']}` (a burst of {model['burst']}): peak {busy['peak_in_flight']} of "
        f"{limits['parallel_calls']} calls in flight, busiest minute "
        f"{busy['most_in_a_minute']} of {limits['calls_per_minute']}, slot wait p95 "
        f"{busy['slot_wait_s']['p95']:.0f} s; the other accounts' exports changed by its burst: "
        f"{burst['changed']} of {burst['other_exports']}; the limiter "
        f"${fleet['cost']['per_export']['total_usd']:.6f} per export",
    ]


def readme_block(results: dict[str, Any]) -> str:
    return f"{provenance(results)}\n\n{readme_table(results)}"


def docs_block(results: dict[str, Any]) -> str:
    parts = [provenance(results)]
    for name, section in results["sections"].items():
        body = renderer(name)(section["result"]) if section["ok"] else f"FAILED: {section['error']}"
        parts.append(f"### {title(name)}\n\n{body}")
    return "\n\n".join(parts)


BLOCKS = {"readme": (README, readme_block), "docs": (DOCS, docs_block)}


def wrapped(kind: str, body: str) -> str:
    start, end = MARKERS[kind]
    return f"{start}\n{body}\n{end}"


def block_in(kind: str, text: str) -> str | None:
    start, end = MARKERS[kind]
    i, j = text.find(start), text.find(end)
    return text[i : j + len(end)] if 0 <= i < j else None


def replaced(kind: str, text: str, block: str) -> str:
    current = block_in(kind, text)
    if current is None:
        raise ValueError(f"no {MARKERS[kind][0]} ... {MARKERS[kind][1]} section")
    return text.replace(current, block)


def write(results: dict[str, Any]) -> None:
    for kind, (path, render) in BLOCKS.items():
        path.write_text(replaced(kind, path.read_text(), wrapped(kind, render(results))))


def stale(results: dict[str, Any]) -> list[str]:
    """The files whose block is not what `results` renders to."""
    return [
        str(path)
        for kind, (path, render) in BLOCKS.items()
        if block_in(kind, path.read_text()) != wrapped(kind, render(results))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.publish", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="render the blocks from results.json")
    mode.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    args = parser.parse_args(argv)
    results = load()
    if args.write:
        write(results)
        return 0
    late = stale(results)
    for path in late:
        print(f"{path}: its figures are not what {RESULTS.name} renders", file=sys.stderr)
    return 1 if late else 0


if __name__ == "__main__":
    raise SystemExit(main())
