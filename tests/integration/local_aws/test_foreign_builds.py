"""A deployment package's wheels built for Lambda's platform give way to the host's same build."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from local_aws.foreign_builds import foreign_distributions, use_host_builds

ARM64_TAG = "cp314-cp314-manylinux_2_17_aarch64"


def install(code_dir: Path, name: str, version: str, tag: str) -> list[Path]:
    """A wheel as pip --target leaves it: the package, its dist-info, WHEEL tags and RECORD."""
    package = code_dir / name
    package.mkdir(parents=True)
    files = [package / "__init__.py", package / "_native.cpython-314-aarch64-linux-gnu.so"]
    for path in files:
        path.write_text("")
    dist_info = code_dir / f"{name}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
    record = [*files, dist_info / "WHEEL", dist_info / "RECORD"]
    (dist_info / "RECORD").write_text(
        "".join(f"{path.relative_to(code_dir)},,\n" for path in record)
    )
    return [*files, dist_info / "WHEEL"]


def test_a_foreign_build_the_host_has_in_the_same_version_is_dropped(tmp_path: Path) -> None:
    version = importlib.metadata.version("pydantic_core")
    files = install(tmp_path, "pydantic_core", version, ARM64_TAG)

    assert use_host_builds(tmp_path) == ["pydantic_core"]

    assert not any(path.exists() for path in files)


def test_a_foreign_build_in_another_version_stays(tmp_path: Path) -> None:
    files = install(tmp_path, "pydantic_core", "0.0.1", ARM64_TAG)

    assert use_host_builds(tmp_path) == []

    assert all(path.exists() for path in files)


def test_pure_python_wheels_are_not_foreign(tmp_path: Path) -> None:
    install(tmp_path, "requests", importlib.metadata.version("requests"), "py3-none-any")

    assert list(foreign_distributions(tmp_path)) == []


def test_nothing_outside_the_package_folder_is_removed(tmp_path: Path) -> None:
    code_dir = tmp_path / "code"
    install(code_dir, "pydantic_core", importlib.metadata.version("pydantic_core"), ARM64_TAG)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    record = next(code_dir.glob("*.dist-info")) / "RECORD"
    record.write_text(record.read_text() + "../outside.txt,,\n")

    use_host_builds(code_dir)

    assert outside.read_text() == "keep"
