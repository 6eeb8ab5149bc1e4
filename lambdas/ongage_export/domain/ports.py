"""What the use cases need of the world, as Protocols: the adapters (`ongage_export.adapters`)
meet them, the handlers pass them in, tests pass fakes. The domain never imports an adapter,
with one exception: the landing's value types, `LandedObject` and `UploadProgress` (the job
carries the latter), still defined beside the S3 code that makes them (job.py, retrieve.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ongage_export.domain.polling import Readiness

if TYPE_CHECKING:  # value types of the landing, named here only in signatures
    from ongage_export.adapters.landing import LandedObject, UploadProgress

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class NotReady:
    """Retrieve answered 412: the export is not finished (Ongage's message says so)."""

    message: str


class Download(Protocol):
    """A 200 answer of the retrieve (adapters.ongage_client.ExportDownload)."""

    start: int
    total: int | None

    def chunks(self) -> Iterator[bytes]: ...

    def __enter__(self) -> Download: ...

    def __exit__(self, *exc: object) -> None: ...


class Ongage(Protocol):
    """What polling needs of Ongage (adapters.ongage_client.OngageClient)."""

    def retrieve(
        self, export_id: str, list_id: int | None, *, start: int = 0
    ) -> NotReady | Download: ...


class Landing(Protocol):
    """What polling needs of S3 (adapters.landing.S3Landing)."""

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


class ReadinessHistory(Protocol):
    """Earlier runs' timings (adapters.readiness_history.DynamoReadinessHistory)."""

    def load(self, key: str) -> list[Readiness]: ...

    def record(self, key: str, run: Readiness, now: datetime) -> None: ...


class Executions(Protocol):
    """What a run's status needs of Step Functions (adapters.step_functions.StepFunctionsRuns)."""

    def describe(self, execution_arn: str) -> Mapping[str, Any] | None:
        """DescribeExecution's answer; None when there is no such execution."""
        ...


class LinkSigner(Protocol):
    """Presigns an S3 GET (a boto3 S3 client)."""

    def generate_presigned_url(
        self, ClientMethod: str, Params: Mapping[str, Any], ExpiresIn: int
    ) -> str: ...
