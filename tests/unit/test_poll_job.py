"""`poll_job`'s branches with small fakes of Ongage and of the landing (exports.Ongage, Landing)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ongage_export.adapters.landing import LandedObject, UploadProgress
from ongage_export.domain.create import Learned, history_key, start_job
from ongage_export.domain.errors import DownloadNotResumable
from ongage_export.domain.job import Job
from ongage_export.domain.polling import PollingPolicy, Readiness
from ongage_export.domain.ports import NotReady
from ongage_export.domain.request import parse_request
from ongage_export.domain.retrieve import poll_job, readiness_of, waiting_for_slot
from ongage_export.settings import Settings

STARTED = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:ongage-export:run-1"
REQUEST = parse_request(
    {"name": "Daily actives", "list_id": 1111, "segment_id": [77197], "date_format": "mm/dd/yyyy",
     "file_format": "csv", "status": ["active"]}
)  # fmt: skip
SETTINGS = Settings.from_env(
    {"EXPORT_BUCKET": "exports", "IDEMPOTENCY_TABLE": "table", "ONGAGE_SECRET_ID": "secret",
     "ONGAGE_BASE_URL": "https://api.ongage.net"}
)  # fmt: skip


@dataclass
class FakeDownload:
    body: bytes
    start: int = 0
    total: int | None = None

    def chunks(self) -> Iterator[bytes]:
        yield self.body[self.start :]

    def __enter__(self) -> FakeDownload:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@dataclass
class FakeOngage:
    answers: list[NotReady | FakeDownload]
    asked: list[int] = field(default_factory=list)

    def retrieve(
        self, export_id: str, list_id: int | None, *, start: int = 0
    ) -> NotReady | FakeDownload:
        self.asked.append(start)
        return self.answers.pop(0)


@dataclass
class FakeLanding:
    """Lands whatever it is given; `stop_after` bytes cut a fresh landing short, as time running
    out does."""

    landed: dict[str, LandedObject] = field(default_factory=dict)
    stop_after: int | None = None
    open_uploads: set[str] = field(default_factory=set)
    aborted: list[str] = field(default_factory=list)
    completed: dict[str, int] = field(default_factory=dict)  # uploads completed, by key: size
    resumed: list[UploadProgress | None] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)

    def find_landed(self, key: str) -> LandedObject | None:
        found = self.landed.get(key)
        return LandedObject(**{**found.__dict__, "already_landed": True}) if found else None

    def land(self, chunks: Iterable[bytes], **kwargs: Any) -> LandedObject | UploadProgress:
        body = b"".join(chunks)
        resume = kwargs.get("resume")
        self.resumed.append(resume)
        size = (resume.size if resume else 0) + len(body)
        if self.stop_after is not None and resume is None:
            progress = UploadProgress(kwargs["staging_key"], "upload-1", 1, self.stop_after)
            self.open_uploads.add(progress.key)
            return progress
        landed = LandedObject("exports", kwargs["final_key"], size, "0" * 64, landing="single-pass")
        self.landed[kwargs["final_key"]] = landed
        return landed

    def exists(self, key: str) -> bool:
        return key in self.landed

    def is_open(self, progress: UploadProgress) -> bool:
        return progress.key in self.open_uploads

    def abort_uploads(self, key: str) -> None:
        self.aborted.append(key)

    def completed_upload(self, progress: UploadProgress) -> UploadProgress | None:
        size = self.completed.get(progress.key)
        return None if size is None else replace(
            progress, upload_id="", parts=0, size=size, total=size, staged=True
        )  # fmt: skip

    def discard(self, key: str) -> None:
        self.discarded.append(key)


def new_job(history: list[Readiness] | None = None, **polling: Any) -> Job:
    policy = PollingPolicy(jitter=0, **polling)
    return start_job(
        REQUEST, policy, "7000001", execution_arn=ARN, started_at=STARTED.isoformat(),
        rng=random.Random(1),
        history=None if history is None else Learned(history_key(REQUEST.work_shape()), history),
    )  # fmt: skip


def at(seconds: float):
    return lambda: STARTED + timedelta(seconds=seconds)


def poll(job: Job, ongage: FakeOngage, landing: FakeLanding, seconds: float) -> Job:
    return poll_job(job, settings=SETTINGS, client=ongage, landing=landing, now=at(seconds))


def test_not_ready_counts_the_poll_and_backs_off() -> None:
    job = poll(new_job(), FakeOngage([NotReady("Export not finished")]), FakeLanding(), 90)
    assert (job.polls, job.not_ready_seconds, job.last_message) == (1, 90, "Export not finished")
    assert job.next_wait_seconds == 270 and job.landed is None and job.give_up is None


def test_ready_lands_and_records_when_the_first_200_came() -> None:
    landing = FakeLanding()
    job = poll(new_job(), FakeOngage([FakeDownload(b"zip")]), landing, 95)
    assert job.landed is not None and job.landed["key"] in landing.landed
    assert (job.polls, job.ready_seconds) == (1, 95)
    assert job.landed["execution_arn"] == ARN and job.landed["duration_seconds"] == 95
    assert readiness_of(job) == Readiness(0.0, 95)


def test_an_export_landed_by_an_earlier_attempt_is_reported_without_calling_ongage() -> None:
    landing, ongage = FakeLanding(), FakeOngage([FakeDownload(b"zip")])
    first = poll(new_job(), ongage, landing, 10)
    again = poll(first.model_copy(update={"landed": None}), FakeOngage([]), landing, 11)
    assert again.landed is not None and again.landed["already_landed"]


def test_the_deadline_gives_up_with_what_to_do() -> None:
    job = poll(new_job(deadline_seconds=100), FakeOngage([NotReady("wait")]), FakeLanding(), 100)
    assert job.give_up is not None and "deadline" in job.give_up and ARN in job.give_up
    assert readiness_of(job) == Readiness(100, None)
    # The advice is a command to run as it stands: the run's ARN and a doubled deadline.
    assert f"run `ongage-export redrive {ARN} --deadline 200`" in job.give_up


def test_a_landing_cut_short_waits_zero_and_resumes_with_range() -> None:
    landing = FakeLanding(stop_after=2)
    job = poll(new_job(), FakeOngage([FakeDownload(b"abcd", total=4)]), landing, 20)
    assert job.download is not None and job.next_wait_seconds == 0 and job.ready_seconds == 20
    landing.stop_after = None
    ongage = FakeOngage([FakeDownload(b"abcd", start=2, total=4)])
    job = poll(job, ongage, landing, 30)
    assert ongage.asked == [2] and job.landed is not None and job.ready_seconds == 20


def cut_short(landing: FakeLanding) -> Job:
    """A job whose landing handed over after 2 of 4 bytes; `landing` lands the rest."""
    job = poll(new_job(), FakeOngage([FakeDownload(b"abcd", total=4)]), landing, 20)
    assert job.download is not None
    landing.stop_after = None
    return job


def test_an_upload_a_dead_invocation_completed_is_checked_again_not_downloaded_again() -> None:
    landing = FakeLanding(stop_after=2)
    job = cut_short(landing)
    assert job.download is not None
    # The next invocation streamed the rest, completed the upload, and died checking it.
    landing.open_uploads.clear()
    landing.completed[job.download.key] = 4
    ongage = FakeOngage([])
    again = poll(job, ongage, landing, 30)
    assert ongage.asked == [] and again.landed is not None and again.landed["bytes"] == 4
    resumed = landing.resumed[-1]
    assert resumed is not None and (resumed.staged, resumed.size) == (True, 4)


def test_an_upload_gone_with_nothing_completed_is_downloaded_again_from_byte_zero() -> None:
    landing = FakeLanding(stop_after=2)
    job = cut_short(landing)
    landing.open_uploads.clear()  # aborted by the lifecycle rule
    ongage = FakeOngage([FakeDownload(b"abcd", total=4)])
    again = poll(job, ongage, landing, 30)
    assert ongage.asked == [0] and again.landed is not None and landing.resumed[-1] is None


def test_a_staged_object_an_attempt_published_before_dying_is_deleted_by_the_retry() -> None:
    landing = FakeLanding(stop_after=2)
    job = cut_short(landing)
    assert job.download is not None
    poll(job, FakeOngage([FakeDownload(b"abcd", start=2, total=4)]), landing, 30)  # then died
    again = poll(job, FakeOngage([]), landing, 40)
    assert again.landed is not None and again.landed["already_landed"]
    assert landing.discarded == [job.download.key]


def test_ongage_ignoring_the_range_fails_the_run_clearly() -> None:
    landing = FakeLanding(stop_after=2)
    job = poll(new_job(), FakeOngage([FakeDownload(b"abcd", total=4)]), landing, 20)
    with pytest.raises(DownloadNotResumable, match="HTTP Range"):
        poll(job, FakeOngage([FakeDownload(b"abcd", start=0, total=4)]), landing, 30)
    assert landing.aborted == [job.download.key if job.download else ""]


def test_a_learning_job_waits_for_its_window() -> None:
    history = [Readiness(560, 640), Readiness(590, 620)]
    job = new_job(history)
    assert job.window is not None and job.history_key is not None
    assert job.next_wait_seconds == round(job.window.poll_times()[0])
    assert new_job(None).history_key is None and new_job(None).next_wait_seconds == 90


def test_the_job_is_plain_json_and_validated() -> None:
    job = new_job([Readiness(1, 2)])
    assert Job.model_validate(job.state()) == job
    with pytest.raises(ValueError, match="next_wait_seconds"):
        Job.model_validate({**job.state(), "next_wait_seconds": -1})


def test_a_retrieve_without_a_free_slot_waits_longer_each_time_and_counts_no_poll() -> None:
    job = new_job()
    waits = []
    for _ in range(6):
        job = waiting_for_slot(job, 2, now=at(30), rng=random.Random(3))
        waits.append(job.next_wait_seconds)
    assert job.polls == 0 and job.slot_refusals == 6 and job.give_up is None
    assert min(waits) >= 2 and max(waits) > 4  # the ceiling doubles: 2, 4, 8, ... s
    granted = poll_job(
        job, settings=SETTINGS, client=FakeOngage([NotReady("Export is not ready")]),
        landing=FakeLanding(), now=at(31),
    )  # fmt: skip
    assert granted.slot_refusals == 0 and granted.polls == 1


def test_a_run_whose_deadline_passes_while_it_waits_for_a_slot_gives_up_saying_so() -> None:
    job = new_job(deadline_seconds=600)
    job = waiting_for_slot(job, 2, now=at(601))
    assert job.give_up is not None
    assert "waited for a free slot of the account 'default'" in job.give_up
    assert "ongage-export redrive" in job.give_up


def test_a_job_carries_the_account_its_request_names() -> None:
    request = parse_request({**REQUEST.body, "account": "brand-eu"})
    job = start_job(request, PollingPolicy(), "7000002", execution_arn=ARN,
                    started_at=STARTED.isoformat(), rng=random.Random(1))  # fmt: skip
    assert job.account == "brand-eu" and "account" not in job.request
