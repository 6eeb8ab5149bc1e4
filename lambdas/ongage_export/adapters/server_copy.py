"""A staged object's way to its final key: checked as a ZIP through ranged reads, then copied
server-side in parts (no byte comes through the function), never over an existing object."""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ongage_export.adapters.multipart import READ_BUFFER, StagedObject
from ongage_export.adapters.s3_object_reader import S3ObjectReader
from ongage_export.adapters.zip_format import unsupported_entry
from ongage_export.domain.errors import CorruptExport

COPY_PART_SIZE = 512 * 1024 * 1024  # UploadPartCopy takes up to 5 GiB a part
COPY_CONCURRENCY = 4  # server-side copies: no memory here, and S3 copies parts in parallel


def verify_zip(raw: S3ObjectReader) -> None:
    """Raise CorruptExport unless the object is a ZIP whose every member checks out (the
    staged path's check: it reads the object back)."""
    try:
        with zipfile.ZipFile(io.BufferedReader(raw, READ_BUFFER)) as archive:
            for info in archive.infolist():  # refused as the single pass refuses them
                refusal = unsupported_entry(info.orig_filename.encode(), info.flag_bits,
                                            info.compress_type)  # fmt: skip
                if refusal is not None:
                    raise refusal
            bad_member = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as error:
        raise CorruptExport(f"the export is not a readable ZIP: {error}") from None
    if bad_member is not None:
        raise CorruptExport(f"the export's member {bad_member!r} fails its CRC-32 check")


def copy_in_parts(
    s3: Any, bucket: str, staged: StagedObject, key: str, metadata: dict[str, str]
) -> None:
    """Copy `staged` to `key` with `metadata`, parts in parallel, completed with If-None-Match
    (S3 refuses it over an existing object); the upload is aborted on any failure."""
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key=key, Metadata=metadata, ContentType="application/zip"
    )["UploadId"]
    starts = range(0, max(staged.size, 1), COPY_PART_SIZE)

    def copy_part(number: int, first: int) -> dict[str, Any]:
        last = min(first + COPY_PART_SIZE, staged.size) - 1
        copied = s3.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": bucket, "Key": staged.key},
            CopySourceRange=f"bytes={first}-{last}",
        )
        return {"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]}

    try:
        with ThreadPoolExecutor(max_workers=COPY_CONCURRENCY) as pool:
            parts = list(pool.map(copy_part, range(1, len(starts) + 1), starts))
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
