"""The optional consumer: each landed export ZIP becomes gzip CSV, partitioned for query engines.

For `exports/list=<id>/date=<day>/<name>.zip` it writes, for every CSV member,
`curated/list=<id>/date=<day>/<name>/<member>.csv.gz`, then `.../<name>/_manifest.json`
(columns, record count, source object and its sha256, bytes in and out). The manifest goes last,
so once it exists the folder is complete; its leading underscore makes Athena/Hive skip it when
they read the folder as table data.

Memory stays flat whatever the export's size, and nothing touches /tmp: the ZIP is read in place
through ranged GETs (`landing.S3ObjectReader`), each member streams through a single pass that
feeds the CSV parser (records are counted, not lines: quoted fields may hold newlines), a SHA-256
and a gzip compressor, and the compressed bytes leave as a multipart upload, part by part.

Re-processing the same object rewrites the same keys, the data with the same bytes (the gzip
header holds no timestamp; only the manifest's `curated_at` changes), so EventBridge's
at-least-once delivery and Lambda's retries are harmless.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import unquote

from ongage_export.landing import READ_BUFFER, S3Landing, S3ObjectReader
from ongage_export.object_keys import slug
from ongage_export.settings import CurateSettings

MANIFEST_NAME = "_manifest.json"
MANIFEST_VERSION = 1
GZIP_LEVEL = 6  # zlib's default: ~4x smaller CSV at tens of MB/s per core
STREAM_CHUNK = 1024 * 1024  # how much is read, compressed and handed on at a time
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
class CuratedFile:
    """What the manifest says about one CSV member."""

    member: str
    key: str
    columns: list[str]
    rows: int
    bytes_in: int
    bytes_out: int
    sha256: str


def curate_export(
    s3: Any, bucket: str, key: str, settings: CurateSettings, *, upload_concurrency: int = 2
) -> dict[str, Any]:
    """Curate every CSV member of the export at s3://bucket/key; publish and return the manifest.

    Raises NotAnExport (before reading anything) for objects the workflow did not land.
    """
    if bucket != settings.export_bucket:
        raise NotAnExport(f"bucket {bucket!r} is not the export bucket")
    destination = destination_for(key, settings)
    source = SourceObject.head(s3, bucket, key)
    with _open_zip(s3, source) as archive:
        files = [
            _curate_member(archive, member, s3, source.bucket, key, settings, upload_concurrency)
            for member, key in member_keys(archive, destination.prefix)
        ]
    manifest = build_manifest(source, destination, files)
    s3.put_object(
        Bucket=source.bucket,
        Key=destination.prefix + MANIFEST_NAME,
        Body=json.dumps(manifest, indent=2, ensure_ascii=False).encode(),
        ContentType="application/json",
    )
    return manifest


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
        chosen.append((info, f"{prefix}{name}.csv.gz"))
    return chosen


def _curate_member(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    s3: Any,
    bucket: str,
    key: str,
    settings: CurateSettings,
    upload_concurrency: int,
) -> CuratedFile:
    try:
        with archive.open(member) as raw:
            csv_pass = CsvGzipPass(raw)
            uploaded = S3Landing(
                s3,
                bucket,
                part_size=settings.part_size_bytes,
                upload_concurrency=upload_concurrency,
            ).stream_to_staging(
                csv_pass.chunks(),
                key,
                check_start=None,
                object_args={"ContentType": "application/gzip"},
            )
    except (zipfile.BadZipFile, EOFError, csv.Error) as error:
        raise UnreadableExport(f"member {member.filename!r} cannot be read: {error}") from None
    return CuratedFile(
        member=member.filename,
        key=key,
        columns=csv_pass.columns,
        rows=csv_pass.rows,
        bytes_in=csv_pass.bytes_in,
        bytes_out=uploaded.size,
        sha256=csv_pass.sha256(),
    )


def build_manifest(
    source: SourceObject, destination: Destination, files: list[CuratedFile]
) -> dict[str, Any]:
    meta = source.metadata
    return {
        "manifest_version": MANIFEST_VERSION,
        "source": {
            "bucket": source.bucket,
            "key": source.key,
            "s3_uri": f"s3://{source.bucket}/{source.key}",
            "bytes": source.size,
            "sha256": meta.get("sha256"),
            "export_id": meta.get("export-id"),
            "list_id": meta.get("list-id"),
            # The workflow percent-encodes it: S3 user metadata is ASCII only.
            "request_name": unquote(meta["request-name"]) if "request-name" in meta else None,
            "execution_id": meta.get("execution-id"),
        },
        "partition": {"list": destination.list_id, "date": destination.date},
        "name": destination.name,
        "prefix": destination.prefix,
        "files": [asdict(file) for file in files],
        "rows": sum(file.rows for file in files),
        "curated_at": datetime.now(UTC).isoformat(),
    }


class CsvGzipPass:
    """One read of a CSV member that feeds the CSV parser, a SHA-256 and gzip all at once.

    `chunks()` yields the gzip bytes; once it is exhausted `columns`, `rows` (records after the
    header; blank lines are not records), `bytes_in` and `sha256()` describe the member.
    """

    def __init__(self, source: IO[bytes], level: int = GZIP_LEVEL):
        self.source = source
        self.columns: list[str] = []
        self.rows = 0
        self.bytes_in = 0
        self._digest = hashlib.sha256()
        # wbits 31: a gzip wrapper whose header has no timestamp, so output is reproducible.
        self._gzip = zlib.compressobj(level, zlib.DEFLATED, 31)
        self._out = bytearray()

    def chunks(self) -> Iterator[bytes]:
        tap = _Tap(self.source, self._take)
        # The bytes are copied verbatim; decoding only serves parsing, so a stray non-UTF-8 byte
        # must not stop the count. utf-8-sig drops a BOM from the first column's name.
        text = io.TextIOWrapper(
            io.BufferedReader(tap, STREAM_CHUNK),
            encoding="utf-8-sig",
            errors="replace",
            newline="",  # csv handles \r\n and newlines inside quoted fields itself
        )
        records = csv.reader(text)
        self.columns = next(records, [])
        for record in records:
            if record:
                self.rows += 1
            if len(self._out) >= STREAM_CHUNK:
                yield self._drain()
        self._out += self._gzip.flush()
        yield self._drain()

    def sha256(self) -> str:
        return self._digest.hexdigest()

    def _take(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self._digest.update(data)
        self._out += self._gzip.compress(data)

    def _drain(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out


class _Tap(io.RawIOBase):
    """A readable stream that hands every byte it passes on to `listener` as well."""

    def __init__(self, source: IO[bytes], listener: Callable[[bytes], None]):
        self.source = source
        self.listener = listener

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        if data:
            self.listener(data)
        return len(data)
