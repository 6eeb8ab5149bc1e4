"""The central directory after the last entry: it must list exactly the entries the stream
held, where they were, with the same names, CRC-32 and sizes."""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

from ongage_export.adapters.zip_format import END_SIGNATURE, ZIP64_END_SIGNATURE, Entry, shown_name
from ongage_export.domain.errors import CorruptExport


def check_central_directory(trailer: bytes, start: int, entries: list[Entry]) -> None:
    """The central directory must list exactly `entries`, and start where they end."""
    try:
        with zipfile.ZipFile(_Tail(trailer, start)) as archive:
            listed, directory_start = archive.infolist(), archive.start_dir
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as error:
        raise CorruptExport(f"the export is not a readable ZIP: {error}") from None
    counts = (len(entries), len(listed), _declared_count(trailer))
    if directory_start != start or len(set(counts)) > 1:
        raise CorruptExport(
            f"the export's central directory lists {counts[1]} entries (its end record says "
            f"{counts[2]}) from byte {directory_start}; the stream held {counts[0]} entries "
            f"up to byte {start}"
        )
    for info, entry in zip(listed, entries, strict=True):
        if _as_seen(info) != entry:
            raise CorruptExport(
                f"the export's central directory disagrees with its entry {shown_name(entry.name)}"
            )


def _declared_count(trailer: bytes) -> int:
    """The entry count the end record gives (zipfile reads entries until the directory ends,
    but another reader may trust the count)."""
    end = trailer.rfind(END_SIGNATURE)
    (count,) = struct.unpack_from("<H", trailer, end + 10)
    zip64_end = trailer.rfind(ZIP64_END_SIGNATURE, 0, end)
    if count == 0xFFFF and zip64_end >= 0:
        (count,) = struct.unpack_from("<Q", trailer, zip64_end + 32)
    return count


def _as_seen(info: zipfile.ZipInfo) -> Entry:
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    return Entry(
        info.orig_filename.encode(encoding),
        info.header_offset,
        info.CRC,
        info.compress_size,
        info.file_size,
    )


class _Tail(io.RawIOBase):
    """The end of a stream of `start + len(tail)` bytes, seekable as the whole for `zipfile`;
    bytes before the tail read as zeros (zipfile only looks there for a long comment)."""

    def __init__(self, tail: bytes, start: int):
        self._tail, self._start, self._position = tail, start, 0
        self._size = start + len(tail)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        end = min(self._position + len(buffer), self._size)
        data = bytes(max(0, min(end, self._start) - self._position))
        data += self._tail[max(self._position - self._start, 0) : max(end - self._start, 0)]
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
