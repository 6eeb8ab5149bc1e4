"""Landing an export in S3: stream, verify, publish — never a partial object in sight.

Single pass (a body that fits in one invocation, the common case): the body streams into a
multipart upload at its final key while `zip_stream.StreamingZipCheck` checks the ZIP as the
bytes go by; the upload is completed with If-None-Match only once the whole ZIP checked out,
and aborted on any failure. An incomplete upload is no object, so nothing partial is ever
visible, nothing is overwritten, and "Object Created" fires once, for a verified object. No byte
is read back or copied.

Staged (a download resumed across invocations, whose inflate state cannot travel):
1. The body streams into a multipart upload under the staging prefix, part by part, possibly
   over several invocations, while we count bytes and hash the whole (SHA-256).
2. The staged object is opened as a ZIP through ranged reads: central directory and every
   member's CRC-32 must be sound.
3. It is copied server-side (parts in parallel) to its final key with its metadata, completed
   with If-None-Match; staging is deleted.

Object metadata: the caller's (export id, list id...) and `landing` (which path); `sha256` only
on staged objects, because S3 fixes an object's metadata when its multipart upload is created,
before a single pass has seen the body (the success notice carries it on both paths). S3's own
checksums cannot stand in for it: a multipart upload's SHA-256 is COMPOSITE (a hash of the
parts' hashes, not the file's), and full-object checksums are CRCs only. Adding it afterwards
would take a CopyObject of the whole body: the copy the single pass exists to avoid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ongage_export.adapters.multipart import (
    MIN_PART_SIZE,
    READ_BUFFER,
    MultipartUploader,
    StagedObject,
    UploadProgress,
)
from ongage_export.adapters.ongage_answers import check_zip_start
from ongage_export.adapters.s3_object_reader import S3ObjectReader
from ongage_export.adapters.s3_storage import storage_error
from ongage_export.adapters.server_copy import copy_in_parts, verify_zip
from ongage_export.adapters.zip_stream import StreamingZipCheck
from ongage_export.contract import SERVICE_NAME

__all__ = [
    "MIN_PART_SIZE",
    "READ_BUFFER",
    "LandedObject",
    "S3Landing",
    "S3ObjectReader",
    "StagedObject",
    "UploadProgress",
    "verify_zip",
]

# A child of the handlers' logger (observability.py): the Tracer made there costs ~0.1 s of
# imports that a process only landing, such as the benchmarks', has no use for.
logger = Logger(service=SERVICE_NAME, child=True)
SINGLE_PASS: Literal["single-pass"] = "single-pass"
STAGED: Literal["staged"] = "staged"
CONDITION_FAILED = ("PreconditionFailed", "ConditionalRequestConflict")
# Logged around the staged object's check (the chaos suite kills a worker between the two).
CHECK_STARTED = "checking the staged export"
CHECK_PASSED = "staged export checked, publishing it"


@dataclass(frozen=True)
class LandedObject:
    bucket: str
    key: str
    size: int
    sha256: str
    already_landed: bool = False
    landing: str = STAGED  # SINGLE_PASS or STAGED: how the bytes got to `key`


class S3Landing(MultipartUploader):
    def find_landed(self, key: str) -> LandedObject | None:
        """The object a previous attempt of this run already landed, if any."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
            metadata = head.get("Metadata", {})
            # A single-pass object has no sha256 in its metadata: hashed again, in the rare
            # case of an attempt that landed it and died before it could say so.
            sha256 = metadata.get("sha256") or self.sha256_of(key, head["ContentLength"])
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise storage_error(error, self.bucket) from None
        return LandedObject(
            bucket=self.bucket,
            key=key,
            size=head["ContentLength"],
            sha256=sha256,
            already_landed=True,
            landing=metadata.get("landing", STAGED),
        )

    def land(
        self,
        chunks: Iterable[bytes],
        *,
        staging_key: str,
        final_key: str,
        metadata: dict[str, str],
        resume: UploadProgress | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        total: int | None = None,
        time_to_verify: Callable[[int], bool] = lambda size: True,
    ) -> LandedObject | UploadProgress:
        """Land the body in one pass if it fits in this invocation (`time_to_verify(total)`:
        the single pass goes at least as fast as the check), else stage it.

        A staged body hands back its progress when `should_stop` says time is short (the next
        invocation resumes the same upload with an HTTP Range), or the staged object when
        `time_to_verify(size)` says its check would not fit in what is left of this one."""
        try:
            if resume is None and time_to_verify(total or 0):
                landed = self.land_single_pass(chunks, final_key, metadata, should_stop, total)
                # Out of time after all: the body is downloaded again, staged this time.
                return landed or self.start_upload(staging_key, total, {})
            return self._land_staged(
                chunks, staging_key, final_key, metadata, resume, should_stop, total,
                time_to_verify,
            )  # fmt: skip
        except ClientError as error:
            raise storage_error(error, self.bucket) from None

    def land_single_pass(
        self,
        chunks: Iterable[bytes],
        key: str,
        metadata: dict[str, str],
        should_stop: Callable[[], bool] = lambda: False,
        total: int | None = None,
    ) -> LandedObject | None:
        """Stream into an upload at `key`, checking the ZIP on the way; complete it only if the
        ZIP checked out. None (the upload aborted) if `should_stop` cut the body short."""
        object_args = {"Metadata": {**metadata, "landing": SINGLE_PASS},
                       "ContentType": "application/zip"}  # fmt: skip
        upload = self.start_upload(key, total, object_args)
        check = StreamingZipCheck()
        try:
            sent = self.upload_parts(check.passing(chunks), upload, should_stop, check_zip_start)
            if sent.stopped:
                self.abort(upload)
                return None
            check.result()
            self.complete(upload, IfNoneMatch="*")
        except ClientError as error:
            self.abort(upload)
            if error.response["Error"]["Code"] in CONDITION_FAILED:
                existing = self.find_landed(key)  # landed meanwhile by another attempt
                if existing is not None:
                    return existing
            raise
        except BaseException:
            self.abort(upload)
            raise
        finally:
            check.close()
        return LandedObject(self.bucket, key, sent.size, sent.sha256, landing=SINGLE_PASS)

    def _land_staged(
        self,
        chunks: Iterable[bytes],
        staging_key: str,
        final_key: str,
        metadata: dict[str, str],
        resume: UploadProgress | None,
        should_stop: Callable[[], bool],
        total: int | None,
        time_to_verify: Callable[[int], bool],
    ) -> LandedObject | UploadProgress:
        if resume is not None and resume.staged:
            staged = StagedObject(resume.key, resume.size, resume.sha256)
        else:
            streamed = self.upload_stream(
                chunks, staging_key, resume=resume, should_stop=should_stop, total=total
            )
            if isinstance(streamed, UploadProgress):
                return streamed
            staged = streamed
            if not time_to_verify(staged.size):
                return UploadProgress(
                    key=staged.key,
                    upload_id="",  # completed
                    parts=0,
                    size=staged.size,
                    total=staged.size,
                    staged=True,
                    sha256=staged.sha256,
                )
        return self._check_and_publish(staged, final_key, metadata)

    def _check_and_publish(
        self, staged: StagedObject, final_key: str, metadata: dict[str, str]
    ) -> LandedObject:
        """Check the staged object's ZIP, copy it to `final_key`; the staged object is deleted
        either way (a retry of an invocation that died here checks it again)."""
        try:
            logger.info(CHECK_STARTED, extra={"key": staged.key, "bytes": staged.size})
            # A resumed upload was hashed by pieces in several processes: hash it whole.
            sha256 = staged.sha256 or self.sha256_of(staged.key, staged.size)
            staged = replace(staged, sha256=sha256)
            verify_zip(S3ObjectReader(self.s3, self.bucket, staged.key, staged.size))
            logger.info(CHECK_PASSED, extra={"key": staged.key, "bytes": staged.size})
            published_metadata = {**metadata, "sha256": staged.sha256, "landing": STAGED}
            return self.publish(staged, final_key, published_metadata)
        finally:
            self.s3.delete_object(Bucket=self.bucket, Key=staged.key)

    def exists(self, key: str) -> bool:
        return self._size_of(key) is not None

    def completed_upload(self, progress: UploadProgress) -> UploadProgress | None:
        """The staged object `progress`'s upload became, as a hand-over to check and publish:
        an invocation that died completed it (it was checking it). None when there is none, or
        not of the body's size."""
        size = self._size_of(progress.key)
        if size is None or size < progress.size or progress.total not in (None, size):
            return None
        return replace(progress, upload_id="", parts=0, size=size, total=size, staged=True,
                       sha256="")  # fmt: skip

    def discard(self, key: str) -> None:
        """Delete `key` (a staged object an attempt that died left behind); gone already is
        fine."""
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            raise storage_error(error, self.bucket) from None

    def _size_of(self, key: str) -> int | None:
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise storage_error(error, self.bucket) from None
        return int(head["ContentLength"])

    def publish(self, staged: StagedObject, key: str, metadata: dict[str, str]) -> LandedObject:
        """Server-side copy to the final key, refusing to overwrite an existing object (an
        upload an invocation that died left open at the key is aborted first)."""
        self.abort_uploads(key)
        try:
            copy_in_parts(self.s3, self.bucket, staged, key, metadata)
        except ClientError as error:
            if error.response["Error"]["Code"] in CONDITION_FAILED:
                existing = self.find_landed(key)
                if existing is not None:
                    return existing
            raise
        return LandedObject(self.bucket, key, staged.size, staged.sha256, landing=STAGED)
