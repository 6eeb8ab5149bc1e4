"""The two steps of a run, free of Lambda glue: start an export, then poll it until it lands.

A run's progress travels in the workflow state as a small JSON job (`job.py`: never the data,
never a credential). `start_job` builds it; `poll_job` returns it updated: still waiting (with
the next wait), given up (with why and what to do), or landed (with the success notice). Once it
has landed or given up, `readiness_of` says what the run learned for the next ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol
from urllib.parse import quote

from ongage_export.adapters.landing import LandedObject, UploadProgress
from ongage_export.adapters.ongage_answers import export_id_problem
from ongage_export.adapters.ongage_client import NotReady
from ongage_export.adapters.readiness_history import history_key
from ongage_export.domain.errors import (
    DownloadNotResumable,
    InvalidExportRequest,
    InvalidPollingPolicy,
)
from ongage_export.domain.job import Job
from ongage_export.domain.object_keys import export_key, staging_key
from ongage_export.domain.polling import (
    MAX_DEADLINE_SECONDS,
    PollingPolicy,
    Readiness,
    learned_window,
)
from ongage_export.domain.request import ExportRequest, parse_request
from ongage_export.settings import Settings

Clock = Callable[[], datetime]


class Download(Protocol):
    """A 200 answer of the retrieve (ongage_client.Download)."""

    start: int
    total: int | None

    def chunks(self) -> Iterator[bytes]: ...

    def __enter__(self) -> Download: ...

    def __exit__(self, *exc: object) -> None: ...


class Ongage(Protocol):
    """What polling needs of Ongage (ongage_client.OngageClient)."""

    def retrieve(
        self, export_id: str, list_id: int | None, *, start: int = 0
    ) -> NotReady | Download: ...


class Landing(Protocol):
    """What polling needs of S3 (landing.S3Landing)."""

    def find_landed(self, key: str) -> LandedObject | None: ...

    def land(
        self,
        chunks: Iterable[bytes],
        *,
        staging_key: str,
        final_key: str,
        metadata: dict[str, str],
        resume: UploadProgress | None = None,
        should_stop: Callable[[], bool] = ...,
        total: int | None = None,
        time_to_verify: Callable[[int], bool] = ...,
    ) -> LandedObject | UploadProgress: ...

    def exists(self, key: str) -> bool: ...

    def is_open(self, progress: UploadProgress) -> bool: ...

    def abort_uploads(self, key: str) -> None: ...

    def completed_upload(self, progress: UploadProgress) -> UploadProgress | None: ...

    def discard(self, key: str) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_run_input(
    run_input: Any, default_policy: PollingPolicy
) -> tuple[ExportRequest, PollingPolicy, str | None]:
    """The execution input `{"request": {...}, "polling": {...}?, "resume": {...}?}`, validated.

    The third value is the export id a resumed run carries on with (see resume.py), if any.
    """
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
    return request, policy, _resumed_export_id(run_input.get("resume"))


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


def start_job(
    request: ExportRequest,
    policy: PollingPolicy,
    export_id: str,
    *,
    execution_arn: str,
    started_at: str,
    rng: random.Random,
    history: Sequence[Readiness] | None = None,
) -> Job:
    """The job of a new run; `history` (earlier runs of the same export) when it learns."""
    window = learned_window(history) if history is not None else None
    return Job(
        export_id=export_id,
        list_id=request.list_id,
        request_name=request.name,
        request=request.summary(),
        execution_arn=execution_arn,
        started_at=started_at,
        polling=policy,
        polls=0,
        next_wait_seconds=policy.next_wait(0, 0.0, rng, window),
        last_message=None,
        window=window,
        history_key=history_key(request.work_shape()) if history is not None else None,
        download=None,
        landed=None,
        give_up=None,
    )


def readiness_of(job: Job) -> Readiness | None:
    """What a finished run tells the next ones; None while it is still polling."""
    if job.landed is not None:
        return Readiness(job.not_ready_seconds, job.ready_seconds)
    if job.give_up is not None:
        return Readiness(job.not_ready_seconds, None)
    return None


def poll_job(
    job: Job,
    *,
    settings: Settings,
    client: Ongage,
    landing: Landing,
    time_left: Callable[[], float] = lambda: float("inf"),
    now: Clock = utc_now,
    rng: random.Random | None = None,
) -> Job:
    """One retrieve: land the export if it is ready, else decide the next wait or give up.

    A download that would outlast this invocation (`time_left`, in seconds) stops at a part
    boundary and leaves its progress in the job; the next invocation resumes with HTTP Range.
    """
    job = job.model_copy(deep=True)
    started = parse_timestamp(job.started_at)
    elapsed = (now() - started).total_seconds()
    final_key = export_key(
        settings.export_prefix, job.list_id, started, job.request_name, job.export_id
    )
    landed = landing.find_landed(final_key)  # a previous attempt of this run may have landed it
    if landed is not None and job.download is not None:
        landing.discard(job.download.key)  # staged, published, and the attempt died
    if landed is None:
        outcome = _download(job, settings, client, landing, final_key, time_left)
        if outcome is None:
            return _not_ready(job, elapsed, rng)
        if job.ready_seconds is None:
            job.ready_seconds = elapsed  # the first 200: when Ongage had the export ready
        if isinstance(outcome, UploadProgress):
            job.download = outcome
            job.next_wait_seconds = 0
            return job
        landed = outcome
    if job.ready_seconds is None:
        job.ready_seconds = elapsed
    job.download = None
    job.polls += 1
    job.landed = success_notice(job, landed, now())
    return job


def _download(
    job: Job,
    settings: Settings,
    client: Ongage,
    landing: Landing,
    final_key: str,
    time_left: Callable[[], float],
) -> LandedObject | UploadProgress | None:
    """Retrieve and land; None when Ongage says the export is not ready yet."""
    resume = _still_resumable(landing, job.download)
    land = partial(
        landing.land,
        staging_key=staging_key(settings.staging_prefix, final_key, job.execution_arn),
        final_key=final_key,
        metadata=object_metadata(job),
        resume=resume,
        should_stop=lambda: time_left() < settings.stop_margin_seconds,
        time_to_verify=lambda size: (
            time_left() >= settings.stop_margin_seconds + size / settings.verify_bytes_per_second
        ),
    )
    if resume is not None and (
        resume.staged or (resume.total is not None and resume.size >= resume.total)
    ):
        return land(iter(()))  # every byte is uploaded already: only the rest remains
    answer = client.retrieve(job.export_id, job.list_id, start=resume.size if resume else 0)
    if isinstance(answer, NotReady):
        job.last_message = answer.message
        return None
    with answer:
        if resume is not None and answer.start != resume.size:
            landing.abort_uploads(resume.key)
            raise DownloadNotResumable(
                f"export {job.export_id} could not be downloaded within one Lambda "
                f"invocation (15 minutes at most) and Ongage ignored the HTTP Range request to "
                f"resume at byte {resume.size}; the run cannot finish. Export fewer contacts "
                "per run (split segments) or ask Ongage about range support."
            )
        return land(answer.chunks(), total=answer.total if resume is None else resume.total)


def _still_resumable(landing: Landing, resume: UploadProgress | None) -> UploadProgress | None:
    """`resume`, unless what it points to is gone: a staged object that failed its check (a
    retry downloads again), an upload the lifecycle rule aborted. Then: from byte 0. An upload
    that is no longer open because an invocation that died completed it is the staged object,
    checked again rather than downloaded again."""
    if resume is None:
        return None
    if resume.staged:
        return resume if landing.exists(resume.key) else None
    return resume if landing.is_open(resume) else landing.completed_upload(resume)


def _not_ready(job: Job, elapsed: float, rng: random.Random | None) -> Job:
    job.polls += 1
    job.not_ready_seconds = elapsed
    decision = job.polling.after_not_ready(job.polls, elapsed, rng or random.Random(), job.window)
    if isinstance(decision, str):
        job.give_up = (
            f"Ongage still answered 412 ('{job.last_message}') after {job.polls} retrieves over "
            f"{elapsed:.0f} s: {decision}. What to do: check export {job.export_id} in Ongage "
            "(it may be stuck or unusually large); to keep waiting for that same export (no new "
            f"one is created), run `{redrive_command(job)}`: a new run that polls it again with "
            "a fresh deadline and poll budget; for exports that usually take this long, raise "
            "polling.deadline_seconds (and max_polls) in cdk.json."
        )
    else:
        job.next_wait_seconds = decision
    return job


def redrive_command(job: Job) -> str:
    """The command that resumes this run with twice its deadline (as far as the bound allows).
    It names the execution ARN, which is all `ongage-export redrive` needs to find the run."""
    deadline = min(2 * job.polling.deadline_seconds, MAX_DEADLINE_SECONDS)
    return f"ongage-export redrive {job.execution_arn} --deadline {deadline}"


def object_metadata(job: Job) -> dict[str, str]:
    """S3 user metadata (ASCII only: the request name is percent-encoded)."""
    return {
        "export-id": str(job.export_id),
        "list-id": str(job.list_id if job.list_id is not None else "default"),
        "request-name": quote(job.request_name, safe=" -_."),
        "execution-id": job.execution_arn.rsplit(":", 1)[-1],
    }


def success_notice(job: Job, landed: LandedObject, now: datetime) -> dict[str, Any]:
    started = parse_timestamp(job.started_at)
    return {
        "status": "SUCCEEDED",
        "bucket": landed.bucket,
        "key": landed.key,
        "s3_uri": f"s3://{landed.bucket}/{landed.key}",
        "bytes": landed.size,
        "sha256": landed.sha256,
        "already_landed": landed.already_landed,
        "landing": landed.landing,
        "export_id": job.export_id,
        "list_id": job.list_id,
        "request": job.request,
        "polls": job.polls,
        "execution_arn": job.execution_arn,
        "started_at": started.isoformat(),
        "landed_at": now.isoformat(),
        "duration_seconds": round((now - started).total_seconds(), 3),
    }


def parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
