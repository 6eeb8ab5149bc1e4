"""The optional consumer: each landed export ZIP becomes Parquet, partitioned for query engines.

For `exports/list=<id>/date=<day>/<name>.zip` it writes, for every CSV member,
`curated/list=<id>/date=<day>/<name>/<member>.parquet` (typed system fields, parquet.py),
then `.../<name>/_manifest.json` (manifest.py). The Glue table (infra/catalog.py) reads
`curated/` with partition projection on `list` and `date`.

Memory stays flat whatever the export's size, and nothing touches /tmp: the ZIP is read in place
through ranged GETs (`S3ObjectReader`), each member is parsed in blocks and written a row group
at a time, and the Parquet bytes leave through the project's multipart uploader, part by part.

Re-processing the same object rewrites the same keys with the same data (only the manifest's
`curated_at` changes), so EventBridge's at-least-once delivery and Lambda's retries are harmless.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ongage_export.adapters.multipart import READ_BUFFER, MultipartUploader
from ongage_export.adapters.s3_object_reader import S3ObjectReader
from ongage_export.consumer.manifest import (
    MANIFEST_NAME,
    CuratedFile,
    build_manifest,
    previous_schema,
    record_schema,
    schema_changed_notice,
    schema_state_key,
    selection_of,
)
from ongage_export.consumer.parquet import CsvToParquet
from ongage_export.domain.object_keys import slug
from ongage_export.settings import CurateSettings

# The layout `object_keys.export_key` writes, below the export prefix.
EXPORT_LAYOUT = re.compile(
    r"^list=(?P<list_id>[^/]+)/date=(?P<date>\d{4}-\d{2}-\d{2})/(?P<name>[^/]+)\.zip$"
)


class NotAnExport(ValueError):
    """The object is not one the workflow landed (wrong bucket, prefix or layout): skip it."""


class UnreadableExport(Exception):
    """The ZIP or one of its CSV members cannot be read; nothing new is published for it."""


@dataclass(frozen=True)
class SourceObject:
    """A landed export as S3 describes it (HEAD): size and the workflow's user metadata."""

    bucket: str
    key: str
    size: int
    metadata: Mapping[str, str]

    @classmethod
    def head(cls, s3: Any, bucket: str, key: str) -> SourceObject:
        head = s3.head_object(Bucket=bucket, Key=key)
        return cls(bucket, key, head["ContentLength"], head.get("Metadata", {}))


@dataclass(frozen=True)
class Destination:
    """Where one export's curated files go: `<curated>/list=<id>/date=<day>/<name>/`."""

    list_id: str
    date: str
    name: str
    prefix: str


def destination_for(source_key: str, settings: CurateSettings) -> Destination:
    """The curated folder mirroring the export's partitions; NotAnExport if it is not one."""
    relative = source_key[len(settings.export_prefix) :]
    match = EXPORT_LAYOUT.match(relative) if source_key.startswith(settings.export_prefix) else None
    if match is None:
        raise NotAnExport(f"{source_key!r} is not laid out as {settings.export_prefix}{_LAYOUT}")
    list_id, date, name = slug(match["list_id"]), match["date"], slug(match["name"])
    prefix = f"{settings.curated_prefix}list={list_id}/date={date}/{name}/"
    return Destination(list_id=list_id, date=date, name=name, prefix=prefix)


_LAYOUT = "list=<id>/date=<YYYY-MM-DD>/<name>.zip"


@dataclass(frozen=True)
class ExportRequest:
    """What the consumer needs from the request the export was made with."""

    date_format: str | None = None  # None: unknown (dates then stay null, and are counted)
    fields_selected: tuple[str, ...] | None = None

    @classmethod
    def from_execution_input(cls, document: Mapping[str, Any]) -> ExportRequest:
        request = document.get("request") or {}
        fields = request.get("fields_selected")
        return cls(request.get("date_format"), tuple(fields) if fields else None)


def execution_arn(state_machine_arn: str, execution_name: str) -> str:
    """The ARN of an execution of `state_machine_arn` (the metadata keeps only its name)."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{execution_name}"


def request_of(sfn: Any, state_machine_arn: str, metadata: Mapping[str, str]) -> ExportRequest:
    """The request of the run that landed the export, from its execution input."""
    name = metadata.get("execution-id")
    if not name or not state_machine_arn:
        return ExportRequest()
    described = sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))
    return ExportRequest.from_execution_input(json.loads(described.get("input") or "{}"))


RequestLookup = Callable[[Mapping[str, str]], ExportRequest]


@dataclass(frozen=True)
class Curated:
    """A curated export: its manifest, and the SNS notice to publish if its columns drifted."""

    manifest: dict[str, Any]
    schema_changed: dict[str, Any] | None


def curate_export(
    s3: Any,
    bucket: str,
    key: str,
    settings: CurateSettings,
    request_for: RequestLookup = lambda metadata: ExportRequest(),
    *,
    upload_concurrency: int = 2,
) -> Curated:
    """Curate every CSV member of the export at s3://bucket/key; publish the manifest and
    record the export's columns. `request_for(metadata)` gives the export's ExportRequest.

    Raises NotAnExport (before reading anything) for objects the workflow did not land.
    """
    if bucket != settings.export_bucket:
        raise NotAnExport(f"bucket {bucket!r} is not the export bucket")
    destination = destination_for(key, settings)
    source = SourceObject.head(s3, bucket, key)
    request = request_for(source.metadata)
    uploader = MultipartUploader(
        s3, bucket, part_size=settings.part_size_bytes, upload_concurrency=upload_concurrency
    )
    with _open_zip(s3, source) as archive:
        files = [
            _curate_member(archive, member, uploader, member_key, request.date_format)
            for member, member_key in member_keys(archive, destination.prefix)
        ]
    manifest = build_manifest(
        source,
        destination,
        files,
        date_format=request.date_format,
        selection=selection_of(request.fields_selected),
    )
    _put_json(s3, bucket, destination.prefix + MANIFEST_NAME, manifest)
    state_key = schema_state_key(settings.curated_prefix, manifest)
    notice = schema_changed_notice(previous_schema(s3, bucket, state_key), manifest)
    return Curated(manifest, notice)


def record_columns(s3: Any, settings: CurateSettings, manifest: Mapping[str, Any]) -> None:
    """Keep the export's columns for the next export's drift check (after the notice is out,
    so a failure in between sends the notice again rather than never)."""
    state_key = schema_state_key(settings.curated_prefix, manifest)
    record_schema(s3, settings.export_bucket, state_key, manifest)


def _put_json(s3: Any, bucket: str, key: str, document: Mapping[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, indent=2, ensure_ascii=False).encode(),
        ContentType="application/json",
    )


def _open_zip(s3: Any, source: SourceObject) -> zipfile.ZipFile:
    raw = S3ObjectReader(s3, source.bucket, source.key, source.size)
    try:
        return zipfile.ZipFile(io.BufferedReader(raw, READ_BUFFER))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as error:
        raise UnreadableExport(f"{source.key} is not a readable ZIP: {error}") from None


def member_keys(archive: zipfile.ZipFile, prefix: str) -> list[tuple[zipfile.ZipInfo, str]]:
    """Each CSV member and its curated key (safe names, never two members on one key)."""
    chosen: list[tuple[zipfile.ZipInfo, str]] = []
    taken: set[str] = set()
    for info in archive.infolist():
        if info.is_dir() or not info.filename.lower().endswith(".csv"):
            continue
        stem = slug(info.filename.rsplit("/", 1)[-1][: -len(".csv")])
        name, n = stem, 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name)
        chosen.append((info, f"{prefix}{name}.parquet"))
    return chosen


def _curate_member(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    uploader: MultipartUploader,
    key: str,
    date_format: str | None,
) -> CuratedFile:
    try:
        with archive.open(member) as raw:
            member_pass = CsvToParquet(raw, date_format)
            chunks = member_pass.chunks()
            first = next(chunks, None)
            if first is None:  # not even a header: there are no columns to write
                return CuratedFile(
                    member.filename, None, [], 0, member_pass.bytes_in, 0, member_pass.sha256()
                )
            uploaded = uploader.upload_stream(
                _prepend(first, chunks),
                key,
                check_start=None,
                object_args={"ContentType": PARQUET_CONTENT_TYPE},
            )
    except (zipfile.BadZipFile, EOFError, pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise UnreadableExport(
            f"member {member.filename!r} cannot be read as UTF-8 CSV: {error}. What to do: "
            "check the ZIP (the landed object is unchanged); once fixed, redrive the event"
        ) from None
    return CuratedFile(
        member=member.filename,
        key=key,
        columns=member_pass.columns,
        rows=member_pass.rows,
        bytes_in=member_pass.bytes_in,
        bytes_out=uploaded.size,
        sha256=member_pass.sha256(),
        unparseable=member_pass.unparseable,
    )


PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
