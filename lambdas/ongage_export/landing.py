"""Landing an export in S3: stream, verify, publish — never a partial object in sight.

1. The body streams into a multipart upload under the staging prefix, part by part (constant
   memory; S3 checks each part's SHA-256), while we count bytes and hash the whole.
2. The staged object is opened as a ZIP through ranged reads: central directory and every
   member's CRC-32 must be sound.
3. It is copied server-side to its final key with its metadata (export id, list id, sha256),
   completed with If-None-Match so an existing object is never overwritten; staging is deleted.
Any failure aborts the multipart upload, so consumers only ever see complete, verified exports.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from threading import BoundedSemaphore
from typing import Any

from botocore.exceptions import ClientError

from ongage_export.errors import CorruptExport
from ongage_export.ongage_client import check_zip_start

MIN_PART_SIZE = 5 * 1024 * 1024
COPY_PART_SIZE = 512 * 1024 * 1024  # UploadPartCopy takes up to 5 GiB a part
READ_BUFFER = 8 * 1024 * 1024


@dataclass(frozen=True)
class StagedObject:
    key: str
    size: int
    sha256: str


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
            raise
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
    ) -> LandedObject:
        staged = self.stream_to_staging(chunks, staging_key)
        try:
            verify_zip(S3ObjectReader(self.s3, self.bucket, staged.key, staged.size))
            return self.publish(staged, final_key, {**metadata, "sha256": staged.sha256})
        finally:
            self.s3.delete_object(Bucket=self.bucket, Key=staged.key)

    def stream_to_staging(self, chunks: Iterable[bytes], key: str) -> StagedObject:
        """Upload the stream as a multipart object; abort it on any failure."""
        upload_id = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256"
        )["UploadId"]
        try:
            size, digest, parts = self._upload_parts(chunks, key, upload_id)
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return StagedObject(key=key, size=size, sha256=digest)

    def _upload_parts(
        self, chunks: Iterable[bytes], key: str, upload_id: str
    ) -> tuple[int, str, list[dict[str, Any]]]:
        whole = hashlib.sha256()
        size = 0
        # At most `upload_concurrency` parts in flight plus the one filling: memory stays flat.
        slots = BoundedSemaphore(self.upload_concurrency)
        futures: list[Future[dict[str, Any]]] = []
        with ThreadPoolExecutor(max_workers=self.upload_concurrency) as pool:
            try:
                for number, part in enumerate(_parts(chunks, self.part_size), start=1):
                    if number == 1:
                        check_zip_start(part[:4])
                    whole.update(part)
                    size += len(part)
                    slots.acquire()
                    future = pool.submit(self._upload_part, key, upload_id, number, part)
                    future.add_done_callback(lambda _: slots.release())
                    futures.append(future)
                    _raise_first_failure(futures)
                if not futures:
                    check_zip_start(b"")
                parts = [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return size, whole.hexdigest(), parts

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        response = self.s3.upload_part(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    def publish(self, staged: StagedObject, key: str, metadata: dict[str, str]) -> LandedObject:
        """Server-side copy to the final key, refusing to overwrite an existing object."""
        upload_id = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, Metadata=metadata, ContentType="application/zip"
        )["UploadId"]
        try:
            parts = []
            for number, first in enumerate(range(0, max(staged.size, 1), COPY_PART_SIZE), 1):
                last = min(first + COPY_PART_SIZE, staged.size) - 1
                copied = self.s3.upload_part_copy(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": staged.key},
                    CopySourceRange=f"bytes={first}-{last}",
                )
                parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
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


def _parts(chunks: Iterable[bytes], part_size: int) -> Iterator[bytes]:
    """Regroup a stream of chunks into parts of exactly `part_size` bytes (the last shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= part_size:
            yield bytes(buffer[:part_size])
            del buffer[:part_size]
    if buffer:
        yield bytes(buffer)


def _raise_first_failure(futures: list[Future[Any]]) -> None:
    for future in futures:
        if future.done() and future.exception() is not None:
            future.result()


class S3ObjectReader(io.RawIOBase):
    """A seekable, read-only view of an S3 object through ranged GETs (for `zipfile`)."""

    def __init__(self, s3: Any, bucket: str, key: str, size: int):
        self.s3, self.bucket, self.key, self.size = s3, bucket, key, size
        self.position = 0

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
