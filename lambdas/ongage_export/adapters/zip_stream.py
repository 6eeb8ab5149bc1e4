"""Checking a ZIP as its bytes go by, so that nothing has to be read back.

Every local entry is followed in order: its header (ZIP64 extra, UTF-8 or CP437 name), its data
decompressed (DEFLATE, BZip2, LZMA: all in the standard library, each ending itself) or counted
(STORED) with its CRC-32, then its sizes and CRC-32 checked against the header or the data
descriptor that follows the data. An entry that cannot be checked (another method, such as
Deflate64, or an encrypted entry) is refused at its header with `UnsupportedExport`, which says
which method: the same bytes would come again, so it is not retried like `CorruptExport`.

Why not Deflate64 through `inflate64` (the maintained streaming library, used by stream-unzip):
its `Inflater` has no output limit (a bomb would not stay small) and no unused data (the end of
an entry whose sizes come after it cannot be found), and it is a native wheel in the bundle,
for a method no Ongage export is known to use. What comes after the last entry is the
central directory: it is parsed with `zipfile` and must list exactly the entries seen, at the
offsets they were seen at, with the same names, CRC-32 and sizes.

Why not stream-unzip: it refuses a STORED entry whose sizes come only in a data descriptor
(`NotStreamUnzippable`), which is how any writer that streams a ZIP out must write a STORED
entry, and how our Ongage simulator writes every export. Here that entry's end is the data
descriptor signature followed by the size of the bytes before it and by the next record.

The check runs in a thread of its own (`StreamingZipCheck`): inflating and CRC-32 release the
GIL, so it uses a second core while the caller streams the same bytes to S3. At most
`PENDING_CHUNKS` chunks wait between the two: memory stays flat whatever the size.
"""

from __future__ import annotations

import bz2
import io
import lzma
import queue
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ongage_export.domain.errors import CorruptExport, UnsupportedExport

PENDING_CHUNKS = 4  # of 1 MiB: enough to smooth the hand-over, small beside the parts
INFLATE_OUTPUT = 1024 * 1024  # at most this much inflated at a time: a ZIP bomb stays small
MAX_TRAILER = 16 * 1024 * 1024  # central directory and end records (~130,000 entries)
LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
LOCAL_SIGNATURE = b"PK\x03\x04"
CENTRAL_SIGNATURE = b"PK\x01\x02"
ZIP64_END_SIGNATURE = b"PK\x06\x06"
END_SIGNATURE = b"PK\x05\x06"
DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
ZIP64_EXTRA = 0x0001
ZIP32_MAX = 0xFFFFFFFF
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
VERIFIED_METHODS = {STORED: "STORED", DEFLATED: "Deflate", BZIP2: "BZip2", LZMA: "LZMA"}
# APPNOTE 4.4.5's names for the methods this check cannot verify.
OTHER_METHODS = {
    1: "Shrink", 2: "Reduce", 3: "Reduce", 4: "Reduce", 5: "Reduce", 6: "Implode",
    9: "Deflate64", 10: "PKWARE DCL Implode", 16: "IBM z/OS CMPSC", 18: "IBM TERSE",
    19: "IBM LZ77 z", 20: "Zstandard", 93: "Zstandard", 94: "MP3", 95: "XZ", 96: "JPEG",
    97: "WavPack", 98: "PPMd", 99: "AES encryption (WinZip AE-x)",
}  # fmt: skip
AES = 99
ENCRYPTED, LZMA_END_MARKER, HAS_DESCRIPTOR, STRONG_ENCRYPTION = 0x1, 0x2, 0x8, 0x40
MAX_LZMA_DICTIONARY = 256 * 1024 * 1024  # what the decoder allocates: kept inside the Lambda
_END = object()  # no more chunks


@dataclass(frozen=True)
class Entry:
    """A local entry as it was seen in the stream."""

    name: bytes
    offset: int
    crc: int
    compress_size: int
    file_size: int


class _Truncated(Exception):
    pass


class _Stream:
    """The chunks as a byte stream with its offset, read exactly or block by block."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""
        self._position = 0  # in _buffer
        self.offset = 0  # in the whole stream

    def _more(self) -> bool:
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        # Usually nothing is left of the last chunk: the new one is then taken without a copy.
        left = self._buffer[self._position :]
        self._buffer = left + chunk if left else chunk
        self._position = 0
        return True

    def ensure(self, count: int) -> None:
        while len(self._buffer) - self._position < count:
            if not self._more():
                raise _Truncated

    def block(self) -> memoryview:
        """What is buffered (at least one byte); `skip` says how much of it was used."""
        self.ensure(1)
        return memoryview(self._buffer)[self._position :]

    def find(self, pattern: bytes) -> int:
        """Where `pattern` starts in what is buffered (-1: not there), without a copy.

        Looks for its last byte first: a one-byte search is memchr, ten times faster than
        `bytes.find` of the whole pattern when the byte is rare (a control character in CSV)."""
        last, before = pattern[-1:], len(pattern) - 1
        position = self._position + before
        while (hit := self._buffer.find(last, position)) >= 0:
            if self._buffer.startswith(pattern, hit - before):
                return hit - before - self._position
            position = hit + 1
        return -1

    def read(self, count: int) -> bytes:
        self.ensure(count)
        data = self._buffer[self._position : self._position + count]
        self.skip(count)
        return data

    def skip(self, count: int) -> None:
        self._position += count
        self.offset += count

    def rest(self, limit: int) -> bytes:
        """Everything up to the end of the stream (at most `limit` bytes)."""
        pieces = [self._buffer[self._position :]]
        size = len(pieces[0])
        while size <= limit and (chunk := next(self._chunks, None)) is not None:
            pieces.append(chunk)
            size += len(chunk)
        if size > limit:
            raise CorruptExport(f"the export has over {limit} bytes after its last entry")
        self._buffer, self._position = b"", 0
        self.offset += size
        return b"".join(pieces)


def check_zip_stream(chunks: Iterable[bytes]) -> list[Entry]:
    """Raise CorruptExport unless `chunks` make a ZIP whose every entry and central directory
    check out; the entries as seen."""
    stream = _Stream(iter(chunks))
    entries: list[Entry] = []
    try:
        while stream.read(4) == LOCAL_SIGNATURE:
            entries.append(_check_entry(stream, stream.offset - 4))
        stream.skip(-4)  # the central directory (or an end record) starts here
        start = stream.offset
        trailer = stream.rest(MAX_TRAILER)
    except _Truncated:
        raise CorruptExport("the export is not a readable ZIP: it ends early") from None
    _check_central_directory(trailer, start, entries)
    return entries


def _check_entry(stream: _Stream, offset: int) -> Entry:
    fields = LOCAL_HEADER.unpack(LOCAL_SIGNATURE + stream.read(LOCAL_HEADER.size - 4))
    _, _, flags, method, _, _, crc, compress_size, file_size, name_length, extra_length = fields
    name = stream.read(name_length)
    zip64 = _zip64_sizes(stream.read(extra_length))
    refusal = unsupported_entry(name, flags, method)
    if refusal is not None:
        raise refusal
    if zip64 and (compress_size, file_size) == (ZIP32_MAX, ZIP32_MAX):
        file_size, compress_size = zip64
    has_descriptor = bool(flags & HAS_DESCRIPTOR)
    if method != STORED:
        seen = _decompressed(stream, name, flags, method)
    elif has_descriptor:
        seen = _stored_until_descriptor(stream, wide=bool(zip64))
    else:
        seen = _stored(stream, compress_size)
    if has_descriptor:
        crc, compress_size, file_size = _read_descriptor(stream, wide=bool(zip64))
    entry = Entry(name, offset, *seen)
    if (entry.crc, entry.compress_size, entry.file_size) != (crc, compress_size, file_size):
        raise CorruptExport(
            f"the export's entry {_shown(name)} fails its CRC-32 or size check "
            f"(read CRC-32 {entry.crc:08x}, {entry.file_size} bytes; "
            f"declared {crc:08x}, {file_size} bytes)"
        )
    return entry


def unsupported_entry(name: bytes, flags: int, method: int) -> UnsupportedExport | None:
    """Why an entry cannot be verified (encrypted, or a method other than STORED, Deflate,
    BZip2, LZMA), as the error that ends the run; None when it can be."""
    if flags & ENCRYPTED or method == AES:
        kind = "AES, WinZip AE-x" if method == AES else "ZipCrypto"
        kind = "PKWARE strong encryption" if flags & STRONG_ENCRYPTION else kind
        return UnsupportedExport(
            f"the export's entry {_shown(name)} is encrypted ({kind}), which this pipeline "
            "cannot verify: it holds no password for it. " + _NOT_RETRIED + "What to do: check "
            "whether the Ongage account protects exports with a password and have that turned "
            "off for API exports (ask Ongage), then start a new run"
        )
    if method not in VERIFIED_METHODS:
        return UnsupportedExport(
            f"the export's entry {_shown(name)} is compressed with {method_name(method)}, "
            "which this pipeline cannot verify (it verifies STORED, Deflate, BZip2 and LZMA). "
            + _NOT_RETRIED
            + _REPORT_IT
        )
    return None


_NOT_RETRIED = "The same bytes would come again: not retried, and nothing was landed. "
_REPORT_IT = (
    "What to do: report it to Ongage with the export id (the notice's export_id), asking for "
    "the export as a Deflate or uncompressed ZIP, then start a new run"
)


def method_name(method: int) -> str:
    """'Deflate64 (method 9)': APPNOTE's name and the number, as a message shows it."""
    name = VERIFIED_METHODS.get(method) or OTHER_METHODS.get(method, "an unknown method")
    return f"{name} (method {method})"


def _zip64_sizes(extra: bytes) -> tuple[int, int] | None:
    """(uncompressed, compressed) from a local header's ZIP64 extra field, if it has one."""
    position = 0
    while position + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, position)
        if kind == ZIP64_EXTRA and size >= 16:
            return struct.unpack_from("<QQ", extra, position + 4)
        position += 4 + size
    return None


class _Decompressor(Protocol):
    """What `_decompressed` needs: bz2's and lzma's decompressor objects, or `_Inflater`."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: Any, max_length: int = -1) -> bytes: ...


class _Inflater:
    """zlib's raw DEFLATE decompressor, seen as bz2's and lzma's are (`needs_input`)."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)

    @property
    def eof(self) -> bool:
        return self._zlib.eof

    @property
    def needs_input(self) -> bool:
        return not self._zlib.unconsumed_tail

    @property
    def unused_data(self) -> bytes:
        return self._zlib.unused_data

    def decompress(self, data: Any, max_length: int = -1) -> bytes:
        return self._zlib.decompress(data or self._zlib.unconsumed_tail, max_length)


def _decompressed(stream: _Stream, name: bytes, flags: int, method: int) -> tuple[int, int, int]:
    """(CRC-32, compressed size, size) of a DEFLATE, BZip2 or LZMA entry: each ends itself."""
    header = 0
    if method == LZMA:
        decompressor, header = _lzma_decompressor(stream, name, flags)
    elif method == BZIP2:
        decompressor = bz2.BZ2Decompressor()
    else:
        decompressor = _Inflater()
    crc, consumed, size = _run_decompressor(stream, decompressor, method)
    return crc, header + consumed, size


def _run_decompressor(
    stream: _Stream, decompressor: _Decompressor, method: int
) -> tuple[int, int, int]:
    """Feed the entry's data block by block, at most INFLATE_OUTPUT out at a time (a bomb
    stays small), up to its end; (CRC-32, compressed bytes used, decompressed size)."""
    crc = consumed = size = 0
    while not decompressor.eof:
        block = stream.block()
        try:
            data = decompressor.decompress(block, INFLATE_OUTPUT)
            while True:
                crc, size = zlib.crc32(data, crc), size + len(data)
                if decompressor.eof or decompressor.needs_input:
                    break
                data = decompressor.decompress(b"", INFLATE_OUTPUT)
        except (zlib.error, OSError, EOFError, lzma.LZMAError) as error:
            raise CorruptExport(
                f"the export's {method_name(method)} data is broken: {error}"
            ) from None
        used = len(block) - len(decompressor.unused_data)
        consumed += used
        stream.skip(used)
    return crc, consumed, size


def _lzma_decompressor(stream: _Stream, name: bytes, flags: int) -> tuple[_Decompressor, int]:
    """ZIP's LZMA: LZMA SDK version (2 bytes), properties size (2), the LZMA1 properties, then
    raw LZMA1 data; the decompressor and the header's size."""
    if not flags & LZMA_END_MARKER:  # then only a size given before the data would end it
        raise UnsupportedExport(
            f"the export's entry {_shown(name)} is compressed with LZMA (method 14) without an "
            "end-of-stream marker, which this pipeline cannot verify as it streams. "
            + _NOT_RETRIED
            + _REPORT_IT
        )
    (properties_size,) = struct.unpack("<2xH", stream.read(4))
    properties = stream.read(properties_size)
    try:
        lzma_filter = _lzma1_filter(properties)
    except ValueError as error:
        raise CorruptExport(f"the export's entry {_shown(name)}: {error}") from None
    if lzma_filter["dict_size"] > MAX_LZMA_DICTIONARY:  # the decoder would allocate it
        raise UnsupportedExport(
            f"the export's entry {_shown(name)} asks for a {lzma_filter['dict_size']}-byte LZMA "
            f"dictionary, over the {MAX_LZMA_DICTIONARY} bytes this pipeline allows. "
            + _NOT_RETRIED
            + _REPORT_IT
        )
    decompressor = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma_filter])
    return decompressor, 4 + properties_size


def _lzma1_filter(properties: bytes) -> dict[str, int]:
    """The LZMA1 filter its 5 properties bytes describe: (pb * 5 + lp) * 9 + lc, dictionary."""
    if len(properties) != 5 or properties[0] >= 9 * 5 * 5:
        raise ValueError(f"{properties.hex()} are not LZMA1 properties")
    lc, rest = properties[0] % 9, properties[0] // 9
    dictionary = int.from_bytes(properties[1:], "little")
    return {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": rest % 5, "pb": rest // 5,
            "dict_size": dictionary}  # fmt: skip


def _stored(stream: _Stream, size: int) -> tuple[int, int, int]:
    crc, left = 0, size
    while left:
        block = stream.block()[:left]
        crc = zlib.crc32(block, crc)
        stream.skip(len(block))
        left -= len(block)
    return crc, size, size


def _stored_until_descriptor(stream: _Stream, wide: bool) -> tuple[int, int, int]:
    """A STORED entry whose size is only in the data descriptor after it: its end is the first
    descriptor signature followed by the size of the bytes before it and by a next record."""
    layout = struct.Struct("<4sIQQ4s" if wide else "<4sIII4s")
    crc = size = 0
    while True:
        block = stream.block()
        found = stream.find(DESCRIPTOR_SIGNATURE)
        if found < 0:
            used = len(block) - _signature_start_at_end(block)  # it may straddle two chunks
            if not used:
                stream.ensure(len(block) + 1)
                continue
        else:
            stream.ensure(found + layout.size)
            _, _, declared_size, _, after = layout.unpack_from(stream.block(), found)
            # The size and the next record's signature place the end; the CRC-32 is then
            # checked against the descriptor like any other entry's.
            if declared_size == size + found and after in (LOCAL_SIGNATURE, CENTRAL_SIGNATURE):
                stream.skip(found)
                return zlib.crc32(block[:found], crc), size + found, size + found
            used = found + 1
        crc, size = zlib.crc32(block[:used], crc), size + used
        stream.skip(used)


def _signature_start_at_end(block: memoryview) -> int:
    """How many of the last bytes of `block` may begin a descriptor signature."""
    return next((k for k in (3, 2, 1) if block[-k:] == DESCRIPTOR_SIGNATURE[:k]), 0)


def _read_descriptor(stream: _Stream, wide: bool) -> tuple[int, int, int]:
    """(CRC-32, compressed size, size) from the data descriptor (its signature is optional)."""
    if stream.read(4) != DESCRIPTOR_SIGNATURE:
        stream.skip(-4)
    return struct.unpack("<IQQ" if wide else "<III", stream.read(20 if wide else 12))


def _check_central_directory(trailer: bytes, start: int, entries: list[Entry]) -> None:
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
                f"the export's central directory disagrees with its entry {_shown(entry.name)}"
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


SHOWN_NAME_CHARS = 100


def _shown(name: bytes) -> str:
    """An entry name as a message quotes it: at most SHOWN_NAME_CHARS characters, since a
    header may declare 64 KiB of name and the message travels in notices and workflow state."""
    text = name.decode("utf-8", "replace")
    if len(text) > SHOWN_NAME_CHARS:
        text = text[:SHOWN_NAME_CHARS] + "…"
    return repr(text)


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


class StreamingZipCheck:
    """`check_zip_stream` in a thread of its own, fed by `passing(chunks)`, which hands every
    chunk on unchanged; `result()` waits for the verdict once the chunks are through."""

    def __init__(self) -> None:
        self._queue: queue.Queue[object] = queue.Queue(PENDING_CHUNKS)
        self._failure: BaseException | None = None
        self._entries: list[Entry] = []
        self._ended = False
        self._drained = False  # the check has taken the end marker off the queue
        self._thread = threading.Thread(target=self._run, name="zip-check", daemon=True)
        self._thread.start()

    def passing(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        try:
            for chunk in chunks:
                if self._failure is not None:
                    raise self._failure  # stop streaming a body already known to be bad
                self._queue.put(chunk)
                yield chunk
        finally:
            self.close()

    def result(self) -> list[Entry]:
        """The entries, once the check has seen the whole body; raises CorruptExport."""
        self.close()
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self._entries

    def close(self) -> None:
        """No more chunks (also when `passing` was never iterated): the thread ends."""
        if not self._ended:
            self._ended = True
            self._queue.put(_END)

    def _chunks(self) -> Iterator[bytes]:
        while (chunk := self._queue.get()) is not _END:
            yield chunk  # type: ignore[misc]
        self._drained = True

    def _run(self) -> None:
        try:
            self._entries = check_zip_stream(self._chunks())
        except BaseException as error:
            self._failure = error
            if not self._drained:
                while self._queue.get() is not _END:  # the feeder must never block for good
                    pass
