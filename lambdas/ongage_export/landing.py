"""Landing an export in S3: stream, verify, publish — never a partial object in sight.

1. The body streams into a multipart upload under the staging prefix, part by part (constant
   memory; S3 checks each part's CRC-32), while we count bytes and hash the whole (SHA-256).
2. The staged object is opened as a ZIP through ranged reads: central directory and every
   member's CRC-32 must be sound.
3. It is copied server-side (parts in parallel) to its final key with its metadata (export id,
   list id, sha256), completed with If-None-Match so an existing object is never overwritten;
   staging is deleted.
Any failure aborts the multipart upload, so consumers only ever see complete, verified exports.
"""

from __future__ import annotations

import base64
import hashlib
import io
import queue
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from ongage_export.errors import CorruptExport, StorageAccessDenied
from ongage_export.ongage_client import check_zip_start

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 9_000  # S3 allows 10,000 per upload; the margin absorbs a wrong Content-Length
COPY_PART_SIZE = 512 * 1024 * 1024  # UploadPartCopy takes up to 5 GiB a part
COPY_CONCURRENCY = 4  # server-side copies: no memory here, and S3 copies parts in parallel
READ_BUFFER = 8 * 1024 * 1024


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
class _Sent:
    parts: int = 0
    size: int = 0
    sha256: str = ""
    stopped: bool = False


@dataclass(frozen=True)
class LandedObject:
    bucket: str
    key: str
    size: int
    sha256: str
    already_landed: bool = False


class S3Landing:
    def __init__(self, s3: Any, bucket: str, *, part_size: int, upload_concurrency: int = 2):
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self.s3 = s3
        self.bucket = bucket
        self.part_size = part_size
        self.upload_concurrency = upload_concurrency

    def find_landed(self, key: str) -> LandedObject | None:
        """The object a previous attempt of this run already landed, if any."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise storage_error(error, self.bucket) from None
        return LandedObject(
            bucket=self.bucket,
            key=key,
            size=head["ContentLength"],
            sha256=head.get("Metadata", {}).get("sha256", ""),
            already_landed=True,
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
        """Stream, verify and publish; or, if `should_stop` says time is short, hand back the
        progress so the next invocation resumes the same upload with an HTTP Range; or, if
        `time_to_verify(size)` says the check would not fit in what is left of this invocation,
        hand back the staged object for the next one to check and publish."""
        try:
            if resume is not None and resume.staged:
                staged = StagedObject(resume.key, resume.size, resume.sha256)
            else:
                streamed = self.stream_to_staging(
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
            try:
                # A resumed upload was hashed by pieces in several processes: hash it whole.
                staged = replace(staged, sha256=staged.sha256 or self._sha256_of(staged))
                verify_zip(S3ObjectReader(self.s3, self.bucket, staged.key, staged.size))
                return self.publish(staged, final_key, {**metadata, "sha256": staged.sha256})
            finally:
                self.s3.delete_object(Bucket=self.bucket, Key=staged.key)
        except ClientError as error:
            raise storage_error(error, self.bucket) from None

    def stream_to_staging(
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
        if resume is None:
            self.abort_uploads(key)  # an earlier invocation that died may have left one
            upload_id = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="CRC32", **(object_args or {})
            )["UploadId"]
            done = UploadProgress(key, upload_id, 0, 0, total, self.part_size_for(total))
        else:
            done = resume
        try:
            sent = self._upload_parts(chunks, done, should_stop, check_start)
            if sent.stopped:
                parts, size = done.parts + sent.parts, done.size + sent.size
                return UploadProgress(key, done.upload_id, parts, size, done.total, done.part_size)
            self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=done.upload_id,
                MultipartUpload={"Parts": self._listed_parts(key, done.upload_id)},
            )
        except BaseException:
            if resume is None:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=done.upload_id)
            raise
        # A resumed upload was hashed by pieces in several processes: its hash is unknown here.
        digest = sent.sha256 if resume is None else ""
        return StagedObject(key=key, size=done.size + sent.size, sha256=digest)

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

    def _upload_parts(
        self,
        chunks: Iterable[bytes],
        done: UploadProgress,
        should_stop: Callable[[], bool],
        check_start: Callable[[bytes], None] | None,
    ) -> _Sent:
        whole = hashlib.sha256()
        sent = _Sent()
        # One part filling while at most `upload_concurrency` upload: memory stays flat.
        buffers = _PartBuffers(done.part_size or self.part_size, self.upload_concurrency + 1)
        parts = _parts(chunks, buffers)
        futures: list[Future[None]] = []
        with ThreadPoolExecutor(max_workers=self.upload_concurrency) as pool:
            try:
                while not should_stop():
                    part = next(parts, None)
                    if part is None:
                        break
                    if done.parts + sent.parts == 0 and check_start:
                        check_start(part.view[:4].tobytes())
                    whole.update(part.view)
                    sent.parts += 1
                    sent.size += len(part)
                    number = done.parts + sent.parts
                    future = pool.submit(self._upload_part, done.key, done.upload_id, number, part)
                    future.add_done_callback(buffers.give_back_when_done(part))
                    futures.append(future)
                    _raise_first_failure(futures)
                else:
                    sent.stopped = True
                if done.parts + sent.parts == 0:
                    (check_start or _refuse_empty)(b"")
                for future in futures:
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        sent.sha256 = whole.hexdigest()
        return sent

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

    def exists(self, key: str) -> bool:
        return self.find_landed(key) is not None

    def _sha256_of(self, staged: StagedObject) -> str:
        digest = hashlib.sha256()
        raw = S3ObjectReader(self.s3, self.bucket, staged.key, staged.size)
        reader = io.BufferedReader(raw, READ_BUFFER)
        while block := reader.read(READ_BUFFER):
            digest.update(block)
        return digest.hexdigest()

    def _upload_part(self, key: str, upload_id: str, number: int, part: _Part) -> None:
        # Given in a header, so botocore does not switch to a chunk-encoded body with a
        # trailing checksum (computed in Python) over HTTPS.
        checksum = base64.b64encode(zlib.crc32(part.view).to_bytes(4, "big")).decode()
        self.s3.upload_part(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=part,
            ChecksumAlgorithm="CRC32",
            ChecksumCRC32=checksum,
        )

    def publish(self, staged: StagedObject, key: str, metadata: dict[str, str]) -> LandedObject:
        """Server-side copy to the final key, refusing to overwrite an existing object."""
        upload_id = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, Metadata=metadata, ContentType="application/zip"
        )["UploadId"]
        try:
            starts = range(0, max(staged.size, 1), COPY_PART_SIZE)

            def copy_part(number: int, first: int) -> dict[str, Any]:
                last = min(first + COPY_PART_SIZE, staged.size) - 1
                copied = self.s3.upload_part_copy(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": staged.key},
                    CopySourceRange=f"bytes={first}-{last}",
                )
                return {"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]}

            with ThreadPoolExecutor(max_workers=COPY_CONCURRENCY) as pool:
                parts = list(pool.map(copy_part, range(1, len(starts) + 1), starts))
            self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except ClientError as error:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            if error.response["Error"]["Code"] in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                existing = self.find_landed(key)
                if existing is not None:
                    return existing
            raise
        except BaseException:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return LandedObject(self.bucket, key, staged.size, staged.sha256)


ACCESS_ERRORS = (
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "KMS.AccessDeniedException",
)


def storage_error(error: ClientError, bucket: str) -> Exception:
    """S3 refusing access is a configuration problem, said plainly; anything else stays as is
    (botocore has already retried throttling and 5xx answers)."""
    code = error.response.get("Error", {}).get("Code", "")
    if code not in ACCESS_ERRORS:
        return error
    operation = getattr(error, "operation_name", "a request")
    return StorageAccessDenied(
        f"S3 refused {operation} on bucket {bucket} ({code}). Check the retrieve function's "
        "IAM role (s3:PutObject, GetObject, DeleteObject, AbortMultipartUpload, ListBucket) "
        "and the bucket policy, then redrive the run."
    )


def _refuse_empty(first_bytes: bytes) -> None:
    raise ValueError("nothing to upload: S3 has no empty multipart object")


class _SeekableReader(io.RawIOBase):
    """Read-only and seekable over `size` bytes; a subclass reads from `position`."""

    size: int
    position: int

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position


class _PartBuffers:
    """At most `count` part-sized buffers, reused: a fresh part-sized allocation costs a page
    fault per 4 KiB, and reuse keeps the process's memory flat however long the body."""

    def __init__(self, part_size: int, count: int):
        self.part_size = part_size
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._unmade = count

    def take(self) -> bytearray:
        """A free buffer; waits for an upload to give one back once `count` exist."""
        if self._unmade and self._free.empty():
            self._unmade -= 1
            return bytearray(self.part_size)
        return self._free.get()

    def give_back(self, part: _Part) -> None:
        self._free.put(part.buffer)

    def give_back_when_done(self, part: _Part) -> Callable[[Future[None]], None]:
        return lambda _: self.give_back(part)


class _Part(_SeekableReader):
    """The first `size` bytes of a reused buffer, read in place: botocore takes a file-like
    body, which it can rewind to retry (it takes no memoryview, and a bytes copy would cost
    the fresh allocation the buffers avoid)."""

    def __init__(self, buffer: bytearray, size: int):
        self.buffer = buffer
        self.view = memoryview(buffer)[:size]
        self.size, self.position = size, 0

    def __len__(self) -> int:
        return self.size

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else self.position + size
        data = self.view[self.position : end].tobytes()
        self.position += len(data)
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)


def _parts(chunks: Iterable[bytes], buffers: _PartBuffers) -> Iterator[_Part]:
    """Regroup a stream of chunks into parts of exactly `part_size` bytes (the last shorter),
    each in a buffer from `buffers`, copied into once. The consumer gives every part back
    (`buffers.give_back`) when it is done with it."""
    buffer, filled = buffers.take(), 0
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        while view:
            count = min(len(view), buffers.part_size - filled)
            buffer[filled : filled + count] = view[:count]
            filled += count
            view = view[count:]
            if filled == buffers.part_size:
                yield _Part(buffer, filled)
                buffer, filled = buffers.take(), 0
    if filled:
        yield _Part(buffer, filled)


def _raise_first_failure(futures: list[Future[Any]]) -> None:
    for future in futures:
        if future.done() and future.exception() is not None:
            future.result()


class S3ObjectReader(_SeekableReader):
    """A seekable, read-only view of an S3 object through ranged GETs (for `zipfile`)."""

    def __init__(self, s3: Any, bucket: str, key: str, size: int):
        self.s3, self.bucket, self.key, self.size = s3, bucket, key, size
        self.position = 0

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.size or not len(buffer):
            return 0
        last = min(self.position + len(buffer), self.size) - 1
        body = self.s3.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{last}"
        )["Body"]
        view = memoryview(buffer).cast("B")
        count = 0
        for chunk in body.iter_chunks(1024 * 1024):
            view[count : count + len(chunk)] = chunk
            count += len(chunk)
        self.position += count
        return count


def verify_zip(raw: S3ObjectReader) -> None:
    """Raise CorruptExport unless the object is a ZIP whose every member checks out."""
    try:
        with zipfile.ZipFile(io.BufferedReader(raw, READ_BUFFER)) as archive:
            bad_member = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as error:
        raise CorruptExport(f"the export is not a readable ZIP: {error}") from None
    if bad_member is not None:
        raise CorruptExport(f"the export's member {bad_member!r} fails its CRC-32 check")
