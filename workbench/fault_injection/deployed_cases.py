"""The chaos suite's cases (deployed.py runs them): the crashes, the settings each runs under, and
what a run and a case come to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from local_aws.deployment import LocalDeployment
from ongage_export.adapters.landing import CHECK_PASSED, CHECK_STARTED
from ongage_simulator import Credentials, OngageSimulator

CREDENTIALS = Credentials.demo()


REQUEST = {
    "list_id": 3333,
    "segment_id": [1],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "status": ["active"],
}


FAST_POLLING = {"initial_seconds": 1, "growth": 1.0, "max_seconds": 1, "jitter": 0.0}


RUN_TIMEOUT_SECONDS = 300.0


WATCH_SECONDS = 0.05


KILL_WATCH_SECONDS = 0.005  # a kill inside a short window (the ZIP check) watches closely


class Target(Protocol):
    """A stack deployed to the local AWS, the simulator as its Ongage, its notices readable
    (tests/e2e/conftest.LocalTarget is one)."""

    deployed: LocalDeployment
    simulator: OngageSimulator
    state_dir: Path  # the local AWS's: the functions' output is under logs/

    def read_notices(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Kill:
    """SIGKILL the workers of the function whose name holds `function`, once `fraction` of
    the body has streamed (estimated from the body's trickle rate); or, with `within`, once
    the function has logged the first of these two messages for the run, and not the second
    (checked again once the worker is dead: a kill that missed is a problem of the case)."""

    function: str
    fraction: float = 0.0
    within: tuple[str, str] | None = None


@dataclass(frozen=True)
class FunctionSettings:
    """A function's timeout and extra environment for one case (restored afterwards)."""

    function: str
    timeout: int
    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DeployedCase:
    name: str
    expect: Literal["landed", "failed"] = "landed"
    kill: Kill | None = None
    runs: int = 1
    bytes_per_second: int | None = None  # the body trickles, so a kill lands
    trickled_retrieves: int = 1  # how many retrieves of each run the trickle slows
    export_bytes: int | None = None  # the export's size, when not the target's
    settings: FunctionSettings | None = None
    create_stall_seconds: float | None = None  # the create answers late, so a kill lands
    error: str | None = None  # what a run expected to fail ends with


@dataclass
class RunOutcome:
    execution_arn: str
    status: str
    error: str | None
    byte_identical: bool
    exports_created: int
    notices: int


@dataclass
class DeployedResult:
    case: DeployedCase
    runs: list[RunOutcome]
    open_uploads: int
    partial_objects: int
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def row(self) -> str:
        landed = sum(run.status == "SUCCEEDED" and run.byte_identical for run in self.runs)
        failed = sum(run.status == "FAILED" for run in self.runs)
        failed_ok = failed if self.case.expect == "failed" else 0
        count = max(len(self.runs), 1)
        per_run = sum(run.exports_created for run in self.runs) / count
        notices_per_run = sum(run.notices for run in self.runs) / count
        lost = "0" if self.ok else "; ".join(self.problems)
        return (f"| {self.case.name} | {len(self.runs)} | {landed} | {failed_ok} | {per_run:g} "
                f"| {self.open_uploads} | {self.partial_objects} | {notices_per_run:g} | {lost} "
                f"| {self.seconds:.1f} |")  # fmt: skip


def body_kill(fraction: float, name: str) -> DeployedCase:
    return DeployedCase(
        f"RetrieveExport worker killed {name} ({fraction:.0%})",
        kill=Kill("RetrieveExport", fraction),
        bytes_per_second=100_000,
    )


CASES = (
    body_kill(0.15, "early in the body"),
    body_kill(0.5, "in the middle of the body"),
    body_kill(0.92, "late in the body"),
    DeployedCase("50 runs started at once", runs=50),
    # A 40 MiB body staged over three invocations of 12 s that stop 6 s before their end: the
    # first a single pass the trickle cuts short, the second streams two parts from byte 0,
    # the third the rest with a Range, then checks the staged object (its estimated 2 s fit)
    # and is killed doing so. The retry checks it again: not downloaded a fourth time.
    DeployedCase(
        "RetrieveExport worker killed during the ZIP check",
        kill=Kill("RetrieveExport", within=(CHECK_STARTED, CHECK_PASSED)),
        bytes_per_second=1536 * 1024,
        trickled_retrieves=2,
        export_bytes=40 * 1024 * 1024,
        settings=FunctionSettings(
            "RetrieveExport", 12, (("STREAM_STOP_MARGIN_SECONDS", "6"), ("PART_SIZE_MIB", "5"))
        ),
    ),
    # Ongage has made the export and the worker dies before it hears the id: the retry does not
    # ask again (a second export), it ends the run with a notice that says so.
    DeployedCase(
        "CreateExport worker killed during the create",
        expect="failed",
        kill=Kill("CreateExport", 0.0),
        create_stall_seconds=30,
        error="CreateInterrupted",
    ),
)
