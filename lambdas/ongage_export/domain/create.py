"""The create use case (the workflow's CreateExport step): read the run's input, create the
Ongage export once, and start the job, learning from earlier runs of the same export.

The once-per-execution create itself is the caller's (`create`: Powertools idempotency in the
handler); so is reading the history (`load_history`: an unreadable table is no history). Here:
which export the run lands (a new one, or the one a resumed run carries on with), whether it
learns, and under which key its readiness is kept.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from ongage_export.domain.errors import InvalidExportRequest, InvalidPollingPolicy
from ongage_export.domain.export_id import export_id_problem
from ongage_export.domain.job import Job
from ongage_export.domain.polling import PollingPolicy, Readiness, learned_window
from ongage_export.domain.request import ExportRequest, parse_request

HISTORY_KEY_PREFIX = "readiness#"


class RunInput(NamedTuple):
    """The execution input `{"request": {...}, "polling": {...}?, "resume": {...}?}`, validated;
    `resumed_export` is the export id a resumed run carries on with (ongage_cli/resume.py), if
    any."""

    request: ExportRequest
    policy: PollingPolicy
    resumed_export: str | None


class Learned(NamedTuple):
    """Earlier runs of the same export, and the key this run's readiness is recorded under."""

    key: str
    runs: Sequence[Readiness]


def start_run(
    run_input: Any,
    *,
    default_policy: PollingPolicy,
    create: Callable[[ExportRequest], str],
    load_history: Callable[[str], Sequence[Readiness]],
    execution_arn: str,
    started_at: str,
    rng: random.Random,
) -> Job:
    """The job of a new run: its export created (or resumed), its polling learned."""
    given = parse_run_input(run_input, default_policy)
    export_id = given.resumed_export or create(given.request)
    learned = None
    if learns(given.policy, given.resumed_export is not None):
        key = history_key(given.request.work_shape())
        learned = Learned(key, load_history(key))
    return start_job(
        given.request,
        given.policy,
        export_id,
        execution_arn=execution_arn,
        started_at=started_at,
        rng=rng,
        history=learned,
    )


def parse_run_input(run_input: Any, default_policy: PollingPolicy) -> RunInput:
    if not isinstance(run_input, Mapping):
        run_input = {}
    request = parse_request(run_input.get("request"))
    overrides = run_input.get("polling") or {}
    try:
        if not isinstance(overrides, Mapping):
            raise ValueError("'polling' must be an object of numbers")
        policy = PollingPolicy.from_mapping(overrides, base=default_policy)
    except ValueError as error:
        raise InvalidPollingPolicy(f"{error}. Fix the run's 'polling' settings.") from None
    return RunInput(request, policy, _resumed_export_id(run_input.get("resume")))


def _resumed_export_id(resume: Any) -> str | None:
    if resume is None:
        return None
    export_id = resume.get("export_id") if isinstance(resume, Mapping) else None
    problem = export_id_problem(export_id) if isinstance(export_id, str) else "it is not a string"
    if problem:
        raise InvalidExportRequest(
            [f"'resume' must be {{\"export_id\": <an Ongage export id>}}, as "
             f"`ongage-export redrive` writes it; its export_id is refused: {problem}"]
        )  # fmt: skip
    return export_id


def learns(policy: PollingPolicy, resumed: bool) -> bool:
    """Whether the run reads and writes readiness history: not when told not to, and not when
    it resumes an export created by an earlier run (its timings would say nothing)."""
    return policy.learn and not resumed


def history_key(work_shape: Mapping[str, Any]) -> str:
    """Runs are "the same export" when they share the list and what is exported (ids,
    statuses, fields), whatever they are named: the key is a SHA-256 of that shape."""
    canonical = json.dumps(work_shape, sort_keys=True, separators=(",", ":"))
    return HISTORY_KEY_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


def start_job(
    request: ExportRequest,
    policy: PollingPolicy,
    export_id: str,
    *,
    execution_arn: str,
    started_at: str,
    rng: random.Random,
    history: Learned | None = None,
) -> Job:
    """The job of a new run; `history` (earlier runs of the same export) when it learns."""
    window = learned_window(history.runs) if history is not None else None
    return Job(
        export_id=export_id,
        list_id=request.list_id,
        request_name=request.name,
        account=request.account,
        request=request.summary(),
        execution_arn=execution_arn,
        started_at=started_at,
        polling=policy,
        polls=0,
        next_wait_seconds=policy.next_wait(0, 0.0, rng, window),
        last_message=None,
        window=window,
        history_key=history.key if history is not None else None,
        download=None,
        landed=None,
        give_up=None,
    )
