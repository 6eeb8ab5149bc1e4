"""Streaming a body into an S3 multipart upload: parts of a fixed size cut from any chunking, a
bounded set of reused part buffers, a few parts in flight, the whole hashed (SHA-256) on the way.

`MultipartUploader` is what the landing (landing.py) and the consumer (curate.py) build on; the
parts are cut in `part_buffers`; `s3_object_reader` reads an object back (for `zipfile`).
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ongage_export.adapters.ongage_answers import check_zip_start
from ongage_export.adapters.part_buffers import Part, PartBuffers, cut_parts
from ongage_export.adapters.s3_object_reader import S3ObjectReader
from ongage_export.adapters.s3_storage import storage_error
from ongage_export.adapters.zip_format import crc32

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 9_000  # S3 allows 10,000 per upload; the margin absorbs a wrong Content-Length
READ_BUFFER = 8 * 1024 * 1024


# What `check_start` sees of a body: its magic, and the first entry's local header and name.
FIRST_BYTES_CHECKED = 64 * 1024


@dataclass(frozen=True)
class StagedObject:
    key: str
    size: int
    sha256: str  # "" when unknown (a resumed upload)


@dataclass(frozen=True)
class UploadProgress:
    """A staging upload cut short to stay within one invocation; the next one resumes it."""

    key: str
    upload_id: str
    parts: int
    size: int  # bytes in those parts: where the next HTTP Range starts
    total: int | None = None  # the whole body's size, as Ongage declared it
    part_size: int = 0  # kept, so a resumed upload goes on cutting parts the same way
    # Every byte is in the staged object, and its check and publication are left to the next
    # invocation, which has a whole timeout for them; `sha256` is the body's, when known.
    staged: bool = False
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sent:
    """What one call of `upload_parts` sent."""

    parts: int = 0
    size: int = 0
    sha256: str = ""
    stopped: bool = False  # `should_stop` said so before the body ended
    digest: Any = field(default_factory=hashlib.sha256, repr=False)  # of the bytes sent


class MultipartUploader:
    def __init__(self, s3: Any, bucket: str, *, part_size: int, upload_concurrency: int = 2):
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self.s3 = s3
        self.bucket = bucket
        self.part_size = part_size
        self.upload_concurrency = upload_concurrency

    def upload_stream(
        self,
        chunks: Iterable[bytes],
        key: str,
        *,
        resume: UploadProgress | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        total: int | None = None,
        check_start: Callable[[bytes], None] | None = check_zip_start,
        object_args: Mapping[str, str] | None = None,
    ) -> StagedObject | UploadProgress:
        """Upload the stream as a multipart object; abort it on any failure, unless it resumes
        an upload of an earlier invocation: that one stays open for the retry, which carries on
        from the same checkpoint (S3 replaces a part uploaded again under its number).

        `check_start` vets the first bytes before anything is uploaded (a ZIP, by default);
        `object_args` go to CreateMultipartUpload (ContentType, Metadata...).
        """
        done = resume or self.start_upload(key, total, object_args or {})
        try:
            sent = self.upload_parts(chunks, done, should_stop, check_start)
            if sent.stopped:
                parts, size = done.parts + sent.parts, done.size + sent.size
                return UploadProgress(key, done.upload_id, parts, size, done.total, done.part_size)
            self.complete(done)
        except BaseException:
            if resume is None:
                self.abort(done)
            raise
        # A resumed upload was hashed by pieces in several processes: its hash is unknown here.
        digest = sent.sha256 if resume is None else ""
        return StagedObject(key=key, size=done.size + sent.size, sha256=digest)

    def start_upload(
        self, key: str, total: int | None, object_args: Mapping[str, Any]
    ) -> UploadProgress:
        """A new multipart upload at `key` (any left by an invocation that died is aborted)."""
        self.abort_uploads(key)
        upload_id = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ChecksumAlgorithm="CRC32", **object_args
        )["UploadId"]
        return UploadProgress(key, upload_id, 0, 0, total, self.part_size_for(total))

    def complete(self, upload: UploadProgress, **conditions: str) -> None:
        self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=upload.key,
            UploadId=upload.upload_id,
            MultipartUpload={"Parts": self._listed_parts(upload.key, upload.upload_id)},
            **conditions,
        )

    def abort(self, upload: UploadProgress) -> None:
        self.s3.abort_multipart_upload(
            Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id
        )

    def part_size_for(self, total: int | None) -> int:
        """The configured part size, grown for very large bodies: S3 takes 10,000 parts."""
        if total is None:
            return self.part_size
        return max(self.part_size, -(-total // MAX_PARTS))

    def is_open(self, progress: UploadProgress) -> bool:
        """Whether the upload `progress` resumes still takes parts (not aborted or completed)."""
        try:
            self.s3.list_parts(
                Bucket=self.bucket, Key=progress.key, UploadId=progress.upload_id, MaxParts=1
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchUpload":
                return False
            raise storage_error(error, self.bucket) from None
        return True

    def abort_uploads(self, key: str) -> None:
        listed = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        for upload in listed.get("Uploads", []):
            if upload["Key"] == key:
                self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                )

    def upload_parts(
        self,
        chunks: Iterable[bytes],
        done: UploadProgress,
        should_stop: Callable[[], bool],
        check_start: Callable[[bytes], None] | None,
    ) -> Sent:
        """Upload `chunks` as the parts after `done`'s, until the body ends or `should_stop`."""
        sent = Sent()
        # One part filling while at most `upload_concurrency` upload: memory stays flat.
        buffers = PartBuffers(done.part_size or self.part_size, self.upload_concurrency + 1)
        parts = cut_parts(chunks, buffers)
        futures: list[Future[None]] = []
        with ThreadPoolExecutor(max_workers=self.upload_concurrency) as pool:
            try:
                while not should_stop():
                    part = next(parts, None)
                    if part is None:
                        break
                    futures.append(self._send(pool, part, done, sent, buffers, check_start))
                    _raise_first_failure(futures)
                else:
                    sent.stopped = True
                if done.parts + sent.parts == 0 and not sent.stopped:
                    (check_start or _refuse_empty)(b"")  # the body ended before its first byte
                _wait_for_all(futures)
            finally:
                parts.close()  # hands the end of the body on (a streaming check waits for it)
        sent.sha256 = sent.digest.hexdigest()
        return sent

    def _send(
        self, pool: ThreadPoolExecutor, part: Part, done: UploadProgress, sent: Sent,
        buffers: PartBuffers, check_start: Callable[[bytes], None] | None,
    ) -> Future[None]:  # fmt: skip
        """Submit `part` as the next part number (the upload's first is checked before); its
        buffer is reused once it is up."""
        if done.parts + sent.parts == 0 and check_start:
            check_start(part.view[:FIRST_BYTES_CHECKED].tobytes())
        sent.digest.update(part.view)
        sent.parts += 1
        sent.size += len(part)
        number = done.parts + sent.parts
        future = pool.submit(self._upload_part, done.key, done.upload_id, number, part)
        future.add_done_callback(buffers.give_back_when_done(part))
        return future

    def _listed_parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        """Every uploaded part, from S3 itself (a resumed upload's parts span invocations)."""
        parts: list[dict[str, Any]] = []
        paginator = self.s3.get_paginator("list_parts")
        for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
            for part in page.get("Parts", []):
                entry = {"PartNumber": part["PartNumber"], "ETag": part["ETag"]}
                if "ChecksumCRC32" in part:
                    entry["ChecksumCRC32"] = part["ChecksumCRC32"]
                parts.append(entry)
        return parts

    def sha256_of(self, key: str, size: int) -> str:
        """The SHA-256 of a stored object, read back through ranged GETs."""
        digest = hashlib.sha256()
        reader = io.BufferedReader(S3ObjectReader(self.s3, self.bucket, key, size), READ_BUFFER)
        while block := reader.read(READ_BUFFER):
            digest.update(block)
        return digest.hexdigest()

    def _upload_part(self, key: str, upload_id: str, number: int, part: Part) -> None:
        # Given in a header, so botocore does not switch to a chunk-encoded body with a
        # trailing checksum (computed in Python) over HTTPS.
        checksum = base64.b64encode(crc32(part.view).to_bytes(4, "big")).decode()
        self.s3.upload_part(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=part,
            ChecksumAlgorithm="CRC32",
            ChecksumCRC32=checksum,
        )


def _refuse_empty(first_bytes: bytes) -> None:
    raise ValueError("nothing to upload: S3 has no empty multipart object")


def _wait_for_all(futures: list[Future[None]]) -> None:
    """Every upload's end; on a failure (or an interruption) the ones not started are dropped."""
    try:
        for future in futures:
            future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _raise_first_failure(futures: list[Future[Any]]) -> None:
    for future in futures:
        if future.done() and future.exception() is not None:
            future.result()
