"""The retrieve use case (the workflow's RetrieveExport step): one retrieve, then land the
export if it is ready, else decide the next wait or give up.

A run's progress travels in the workflow state as a small JSON job (`job.py`: never the data,
never a credential). `poll_job` returns it updated: still waiting (with the next wait), given up
(with why and what to do), or landed (with the success notice, `notices.py`). Once it has landed
or given up, `readiness_of` says what the run learned for the next ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from ongage_export.adapters.landing import LandedObject, UploadProgress
from ongage_export.domain.call_limits import MustWait, slot_wait_seconds
from ongage_export.domain.errors import DownloadNotResumable
from ongage_export.domain.job import Job
from ongage_export.domain.notices import (
    object_metadata,
    parse_timestamp,
    redrive_command,
    success_notice,
)
from ongage_export.domain.object_keys import export_key, staging_key
from ongage_export.domain.polling import Readiness
from ongage_export.domain.ports import Clock, Landing, NotReady, Ongage
from ongage_export.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    job.slot_refusals = 0
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


def waiting_for_slot(
    job: Job, seconds: int, *, now: Clock = utc_now, rng: random.Random | None = None
) -> Job:
    """No slot of the account's calls was free for this retrieve (nothing was called): wait and
    ask again, longer after each refusal in a row; unless the run's deadline has passed while
    it waited, which ends the run like polling in vain does."""
    job = job.model_copy(deep=True)
    job.slot_refusals += 1
    elapsed = (now() - parse_timestamp(job.started_at)).total_seconds()
    if elapsed >= job.polling.deadline_seconds:
        job.give_up = (
            f"the deadline of {job.polling.deadline_seconds} s passed while the run waited for "
            f"a free slot of the account {job.account!r}'s calls at Ongage (its parallel calls "
            "or calls per minute were in use by other runs). What to do: run "
            f"`{redrive_command(job)}` to keep waiting for export {job.export_id}, or raise the "
            "account's parallel_calls/calls_per_minute in cdk.json if Ongage allows it more"
        )
        return job
    refused = MustWait(seconds, "no free slot")
    job.next_wait_seconds = slot_wait_seconds(refused, job.slot_refusals, rng or random.Random())
    return job
