"""The published benchmark figures are the run's: README's "Performance" block and the tables in
docs/benchmarks.md are what workbench/benchmarks/results.json renders to, and every number in
them is in that file. A figure typed by hand, or a block left behind by a new run, fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import publish
from benchmarks.paired import MIN_ROUNDS

RESULTS = publish.load()
# A number: not part of a name (S3, SHA-256, ZIP64), thousands separated or not; a range
# (0.80-1.00) and a ratio (1.07x) count.
NUMBER = re.compile(
    r"(?<![\w.,])(?<![A-Za-z]-)(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?=x\b|[^\w.]|\.(?!\d)|$)"
)
DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def numeric_leaves(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from numeric_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from numeric_leaves(item)


def renderings(value: float) -> set[str]:
    """Every way the tables print a number: fixed decimals, as a percentage, a byte count in
    MiB or GiB (three significant digits), unsigned."""
    texts = set()
    for scaled in (value, value * 100):
        texts |= {f"{abs(scaled):.{digits}f}" for digits in range(11)}
    for unit in (1024**2, 1024**3):
        texts.add(f"{value / unit:.3g}")
    return texts


FIGURES = {text for leaf in numeric_leaves(RESULTS) for text in renderings(leaf)}


def machine_names(results: dict[str, Any]) -> list[str]:
    """The machine's names (CPU model, versions): text of the results file, not figures."""
    machine = results["machine"]
    names = [machine["cpu_model"], machine["python"], machine["platform"]]
    return [*names, *(v for v in machine["versions"].values() if v)]


def numbers_in(text: str) -> list[str]:
    for name in machine_names(RESULTS):
        text = text.replace(name, "")
    return [n.replace(",", "") for n in NUMBER.findall(DATE.sub("", text))]


def spreads(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if {"median", "min", "max", "rounds"} <= set(value):
            yield value
        for item in value.values():
            yield from spreads(item)
    elif isinstance(value, list):
        for item in value:
            yield from spreads(item)


@pytest.mark.parametrize("kind", sorted(publish.BLOCKS))
def test_block_is_what_the_results_file_renders(kind: str) -> None:
    path, render = publish.BLOCKS[kind]
    assert publish.block_in(kind, path.read_text()) == publish.wrapped(kind, render(RESULTS)), (
        f"{path} is stale: run `python -m benchmarks.publish --write` (or `make bench`)"
    )


@pytest.mark.parametrize("kind", sorted(publish.BLOCKS))
def test_every_number_in_a_block_is_in_the_results_file(kind: str) -> None:
    path, _ = publish.BLOCKS[kind]
    block = publish.block_in(kind, path.read_text())
    assert block is not None
    assert [n for n in numbers_in(block) if n not in FIGURES] == []
    assert RESULTS["date"] in block


def test_a_typed_number_would_be_caught() -> None:
    assert numbers_in("landing 152 MB/s (2026-12-01 19:29), SHA-256, S3") == ["152"]
    assert "987654.321" not in FIGURES


def test_no_figure_is_typed_outside_the_blocks() -> None:
    readme = publish.README.read_text()
    section = readme.split("## Performance\n", 1)[1].split("\n## ", 1)[0]
    docs = publish.DOCS.read_text()
    for kind, text in (("readme", section), ("docs", docs)):
        block = publish.block_in(kind, text)
        assert block is not None
        outside = re.sub(r"`[^`]*`", "", text.replace(block, ""))  # code names may hold digits
        assert numbers_in(outside) == [], kind


def test_published_spreads_come_from_enough_rounds() -> None:
    sections = RESULTS["sections"]
    found = [s for name in ("throughput", "local-run") for s in spreads(sections[name]["result"])]
    assert found
    for figure in found:
        assert figure["rounds"] >= MIN_ROUNDS
        assert figure["min"] <= figure["median"] <= figure["max"]


def test_the_block_checker_flags_a_stale_file(tmp_path: Path, monkeypatch: Any) -> None:
    copy = tmp_path / "README.md"
    text = publish.README.read_text()
    copy.write_text(text.replace(publish.MARKERS["readme"][0], publish.MARKERS["readme"][0] + " "))
    monkeypatch.setitem(publish.BLOCKS, "readme", (copy, publish.readme_block))
    assert publish.stale(RESULTS) == [str(copy)]
