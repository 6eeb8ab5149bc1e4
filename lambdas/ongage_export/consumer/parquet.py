"""One CSV member of an Ongage export -> Parquet bytes, streamed row group by row group.

Every field is a string, as Ongage wrote it, except the documented system fields, which get
their real types (schema.py): `ocx_contact_id` a 64-bit integer, `ocx_created_date` and
`ocx_unsubscribe_date` timestamps parsed with the request's `date_format`. An empty value is
null; a value that does not parse is null too and counted in `unparseable`, so the manifest says
what was lost.

pyarrow's CSV reader handles quoted newlines, doubled quotes, CRLF and a UTF-8 BOM; it reads the
member in blocks, so memory holds one row group (`ROW_GROUP_BYTES` of Arrow data) plus what the
Parquet writer has not handed on yet, whatever the member's size.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Mapping
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ongage_export.consumer.schema import COMPRESSION, SYSTEM_FIELD_TYPES, glue_type

ROW_GROUP_BYTES = 32 * 1024 * 1024  # Arrow data gathered before one row group is written
# CSV bytes per parsed block. The reader keeps up to 32 blocks read ahead (Arrow's background
# queue), so the block size bounds that memory: 32 MiB.
READ_BLOCK = 1024 * 1024
HEADER_PEEK = 1024 * 1024  # the header must lie within the member's first MiB
TIMESTAMP = pa.timestamp("ms")  # Athena and DuckDB read Parquet millisecond timestamps
# The Arrow type of each Glue type the curated files hold (schema.py).
ARROW_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "timestamp": TIMESTAMP,
}
SYSTEM_TYPES = {name: ARROW_TYPES[kind] for name, kind in SYSTEM_FIELD_TYPES.items()}
INTEGER = r"^\s*[+-]?\d{1,18}\s*$"  # fits an int64 whatever its digits
# Every Ongage date_format starts with day and month (in either order), then the year.
DAY_AND_MONTH = r"^(?P<first>\d{1,2})[/-](?P<second>\d{1,2})[/-]"


def strptime_format(date_format: str) -> str:
    """Ongage's `date_format` (e.g. 'dd-mm-yy') as a strptime format ('%d-%m-%y')."""
    pattern = date_format.replace("yyyy", "%Y").replace("yy", "%y")
    return pattern.replace("mm", "%m").replace("dd", "%d")


def parquet_type(name: str) -> pa.DataType:
    return ARROW_TYPES[glue_type(name)]


def curated_schema(columns: list[str]) -> pa.Schema:
    return pa.schema([pa.field(name, parquet_type(name)) for name in columns])


class CsvToParquet:
    """One read of a CSV member: `chunks()` yields Parquet bytes; once it is exhausted,
    `columns`, `rows`, `unparseable` (per typed column), `bytes_in` and `sha256()` describe it.

    `date_format` is the request's (None when unknown: every non-empty date is then unparseable).
    """

    def __init__(self, source: IO[bytes], date_format: str | None):
        self.source = _HashingReader(source)
        self.date_format = strptime_format(date_format) if date_format else None
        self.day_first = bool(date_format and date_format.startswith("dd"))
        self.columns: list[str] = []
        self.rows = 0
        self.unparseable: dict[str, int] = {}

    @property
    def bytes_in(self) -> int:
        return self.source.count

    def sha256(self) -> str:
        return self.source.digest.hexdigest()

    def chunks(self) -> Iterator[bytes]:
        buffered = io.BufferedReader(self.source, HEADER_PEEK)
        self.columns = header_of(buffered.peek(HEADER_PEEK))
        if not self.columns:
            return  # a member without even a header: nothing to write
        self.unparseable = {name: 0 for name in self.columns if name in SYSTEM_TYPES}
        schema = curated_schema(self.columns)
        sink = _DrainableSink()
        with pq.ParquetWriter(sink, schema, compression=COMPRESSION) as writer:
            for group in self._row_groups(buffered):
                writer.write_table(group, row_group_size=group.num_rows)
                yield sink.drain()
        yield sink.drain()  # the footer

    def _row_groups(self, source: IO[bytes]) -> Iterator[pa.Table]:
        pending: list[pa.RecordBatch] = []
        for batch in self._batches(source):
            pending.append(batch)
            if sum(b.nbytes for b in pending) >= ROW_GROUP_BYTES:
                yield pa.Table.from_batches(pending)
                pending = []
        if pending:
            yield pa.Table.from_batches(pending)

    def _batches(self, source: IO[bytes]) -> Iterator[pa.RecordBatch]:
        reader = pa_csv.open_csv(
            source,
            # One parsing thread: the function has one vCPU, and the Python side is serial anyway.
            read_options=pa_csv.ReadOptions(block_size=READ_BLOCK, use_threads=False),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            # Every column read as text: inference would guess a type from the first block.
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in self.columns}
            ),
        )
        schema = curated_schema(self.columns)
        for batch in reader:
            self.rows += batch.num_rows
            arrays = [self._typed(name, batch.column(i)) for i, name in enumerate(self.columns)]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _typed(self, name: str, values: pa.Array) -> pa.Array:
        kind = SYSTEM_TYPES.get(name)
        if kind is None:
            return values
        given = pc.not_equal(pc.utf8_trim_whitespace(values), "")
        typed = self._parse(values, kind)
        self.unparseable[name] += pc.sum(pc.and_(given, pc.is_null(typed))).as_py() or 0
        return typed

    def _parse(self, values: pa.Array, kind: pa.DataType) -> pa.Array:
        if kind == pa.int64():
            whole = pc.match_substring_regex(values, INTEGER)
            kept = pc.if_else(whole, pc.utf8_trim_whitespace(values), None)
            return pc.cast(kept, pa.int64())
        if self.date_format is None:
            return pa.nulls(len(values), kind)
        text = pc.utf8_trim_whitespace(values)
        day = pc.strptime(text, format=self.date_format, unit="ms", error_is_null=True)
        # Ongage documents dates only; a time of day after the date is taken, not dropped.
        moment = pc.strptime(
            text, format=self.date_format + " %H:%M:%S", unit="ms", error_is_null=True
        )
        return self._as_written(text, pc.coalesce(day, moment))

    def _as_written(self, text: pa.Array, parsed: pa.Array) -> pa.Array:
        """Only dates whose day and month are the ones written: strptime rolls an impossible
        date over (31/02 becomes 3 March) instead of refusing it."""
        parts = pc.extract_regex(text, DAY_AND_MONTH)
        first = pc.cast(pc.struct_field(parts, "first"), pa.int64())
        second = pc.cast(pc.struct_field(parts, "second"), pa.int64())
        day, month = (first, second) if self.day_first else (second, first)
        kept = pc.and_(pc.equal(pc.day(parsed), day), pc.equal(pc.month(parsed), month))
        return pc.if_else(kept, parsed, pa.scalar(None, parsed.type))


def header_of(start: bytes) -> list[str]:
    """The column names in the first record of `start` (a UTF-8 BOM is not part of them)."""
    text = start.decode("utf-8-sig", errors="replace")
    return next(csv.reader(io.StringIO(text, newline="")), [])


class _HashingReader(io.RawIOBase):
    """A readable stream that counts and hashes every byte it passes on."""

    def __init__(self, source: IO[bytes]):
        self.source = source
        self.count = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        self.count += len(data)
        self.digest.update(data)
        return len(data)


class _DrainableSink(io.RawIOBase):
    """Where the Parquet writer writes: bytes wait here until `drain()` hands them on."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.pending += view
        self.position += len(view)
        return len(view)

    def tell(self) -> int:
        return self.position

    def close(self) -> None:
        pass  # the writer closes its sink; what is pending must survive for the last drain

    def drain(self) -> bytes:
        out = bytes(self.pending)
        self.pending.clear()
        return out
