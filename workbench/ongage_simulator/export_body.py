"""The ZIP body of a finished export, generated while it streams out.

The CSV rows come from a per-export template of ROWS_PER_BLOCK rows in which the block number
is a fixed-width placeholder. Every block therefore has the same byte length: the body's size
and the position of any byte are known without generating anything, a block costs one
`bytes.replace`, and a range can start in the middle of the body.

The ZIP holds one STORED member with a data descriptor (flag bit 3), so the CRC-32 is computed
while the data streams and written after it. A range that starts late still needs the CRC of
everything before it: CRC values are remembered every few blocks, so a resumed download only
regenerates the gap since the last remembered point.
"""

from __future__ import annotations

import hashlib
import re
import struct
import threading
import zlib
from collections.abc import Generator, Iterator, Sequence

from ongage_simulator.csv_rows import DEFAULT_DATE_FORMAT, DEFAULT_FIELDS, CsvSource

_CHECKPOINT_EVERY = 64  # CSV chunks between remembered CRC values
_ZIP32_MAX = 0xFFFF_FFFF  # a 32-bit field holding this means "see the Zip64 record"
_DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 1  # 2024-01-01: a fixed timestamp keeps bodies
_DOS_TIME = 0  # reproducible, so tests can compute the expected sha256


def member_name(export_name: str) -> str:
    """A safe file name (no path, ASCII only) derived from the export name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", export_name).strip("._")
    return (safe or "export")[:100]


class ExportBody:
    """The full ZIP body of one export: its size up front, any byte range on demand."""

    def __init__(
        self,
        export_id: str,
        name: str,
        fields: Sequence[str] = DEFAULT_FIELDS,
        date_format: str = DEFAULT_DATE_FORMAT,
        target_bytes: int = 64 * 1024,
        force_zip64: bool = False,
    ):
        self.member_name = member_name(name) + ".csv"  # the CSV inside the ZIP
        self.download_name = member_name(name) + ".zip"  # Content-Disposition file name
        self._name = self.member_name.encode()
        self._csv = CsvSource(zlib.crc32(export_id.encode()), fields, date_format, target_bytes)
        # Zip64 only when a 32-bit size or offset would overflow (or a test forces it).
        self.zip64 = force_zip64 or 30 + len(self._name) + self._csv.size + 16 >= _ZIP32_MAX
        self._local_header = self._build_local_header()
        self.data_start = len(self._local_header)
        self.data_end = self.data_start + self._csv.size
        self.size = self.data_end + len(self._build_trailer(0))
        self._crc_at: dict[int, int] = {0: 0}  # chunk index -> CRC of the CSV before it
        self._crc: int | None = None
        self._lock = threading.Lock()
        self._sha256: str | None = None

    @property
    def csv_size(self) -> int:
        return self._csv.size

    @property
    def rows(self) -> int:
        return self._csv.rows

    @property
    def corrupt_offset(self) -> int:
        """The body byte that `corrupt=True` flips: inside the member data."""
        return self.data_start + self._csv.size // 2

    def iter_csv(self) -> Iterator[bytes]:
        """The member's CSV, chunk by chunk (for `archives.PackedBody`)."""
        return (self._csv.chunk(index) for index in range(self._csv.chunk_count))

    def sha256(self) -> str:
        """The hex sha256 of the full body, computed by generating it (cached)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            for chunk in self.iter_range():
                digest.update(chunk)
            self._sha256 = digest.hexdigest()
        return self._sha256

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes [start, end) as one object: for small bodies and tests only."""
        return b"".join(self.iter_range(start, end))

    def iter_range(
        self, start: int = 0, end: int | None = None, corrupt: bool = False
    ) -> Iterator[bytes]:
        """Yield the body bytes [start, end) in chunks of at most one block."""
        end = self.size if end is None else min(end, self.size)
        chunks = self._iter_range(start, end)
        if not corrupt:
            return chunks
        return _flip_byte(chunks, start, self.corrupt_offset)

    def _iter_range(self, start: int, end: int) -> Iterator[bytes]:
        if start >= end:
            return
        yield from _overlap(self._local_header, 0, start, end)
        if end <= self.data_start:
            return
        need_crc = end > self.data_end and self._crc is None
        crc = yield from self._iter_data(start, end, need_crc)
        if end > self.data_end:
            if need_crc:
                self._crc = crc
            assert self._crc is not None
            yield from _overlap(self._build_trailer(self._crc), self.data_end, start, end)

    def _iter_data(self, start: int, end: int, need_crc: bool) -> Generator[bytes, None, int]:
        """Yield the CSV part of [start, end); return its CRC when `need_crc`."""
        first = self._csv.chunk_at(max(start - self.data_start, 0))
        crc = 0
        if need_crc:
            # Start from the last remembered CRC at or before `first` and CRC the gap unsent.
            with self._lock:
                first = max(index for index in self._crc_at if index <= first)
                crc = self._crc_at[first]
        for index in range(first, self._csv.chunk_count):
            chunk_start = self.data_start + self._csv.chunk_start(index)
            if not need_crc and chunk_start >= end:
                break
            chunk = self._csv.chunk(index)
            if need_crc:
                crc = zlib.crc32(chunk, crc)
                if (index + 1) % _CHECKPOINT_EVERY == 0:
                    with self._lock:
                        self._crc_at[index + 1] = crc
            yield from _overlap(chunk, chunk_start, start, end)
        return crc

    def _build_local_header(self) -> bytes:
        # With flag bit 3 the CRC and sizes here are zero; the data descriptor carries them.
        extra = struct.pack("<HHQQ", 1, 16, 0, 0) if self.zip64 else b""
        sizes = _ZIP32_MAX if self.zip64 else 0
        header = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, self._version, 0x08, 0, _DOS_TIME, _DOS_DATE,
            0, sizes, sizes, len(self._name), len(extra),
        )  # fmt: skip
        return header + self._name + extra

    @property
    def _version(self) -> int:
        return 45 if self.zip64 else 20

    def _build_trailer(self, crc: int) -> bytes:
        """Data descriptor, central directory and end records: everything after the data."""
        size = self._csv.size
        if self.zip64:
            descriptor = struct.pack("<IIQQ", 0x08074B50, crc, size, size)
        else:
            descriptor = struct.pack("<IIII", 0x08074B50, crc, size, size)
        central = self._build_central_header(crc)
        cd_offset = self.data_end + len(descriptor)
        end_records = self._build_end_records(cd_offset, len(central))
        return descriptor + central + end_records

    def _build_central_header(self, crc: int) -> bytes:
        size = self._csv.size
        extra = struct.pack("<HHQQ", 1, 16, size, size) if self.zip64 else b""
        size32 = _ZIP32_MAX if self.zip64 else size
        header = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | self._version, self._version, 0x08, 0,
            _DOS_TIME, _DOS_DATE, crc, size32, size32, len(self._name), len(extra), 0, 0, 0,
            0o100644 << 16, 0,
        )  # fmt: skip
        return header + self._name + extra

    def _build_end_records(self, cd_offset: int, cd_size: int) -> bytes:
        if not self.zip64:
            return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, cd_size, cd_offset, 0)
        zip64_end_offset = cd_offset + cd_size
        zip64_end = struct.pack(
            "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, cd_size, cd_offset
        )
        locator = struct.pack("<IIQI", 0x07064B50, 0, zip64_end_offset, 1)
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, _ZIP32_MAX, _ZIP32_MAX, 0)
        return zip64_end + locator + end


def _overlap(data: bytes, offset: int, start: int, end: int) -> Iterator[bytes]:
    """Yield the part of `data` (placed at `offset`) that falls inside [start, end)."""
    lo, hi = max(start - offset, 0), min(end - offset, len(data))
    if lo < hi:
        yield data if (lo, hi) == (0, len(data)) else data[lo:hi]


def _flip_byte(chunks: Iterator[bytes], start: int, target: int) -> Iterator[bytes]:
    """Pass `chunks` (the body from `start`) through with the byte at `target` inverted."""
    position = start
    for chunk in chunks:
        if position <= target < position + len(chunk):
            flipped = bytearray(chunk)
            flipped[target - position] ^= 0xFF
            chunk = bytes(flipped)
        position += len(chunk)
        yield chunk
