"""An entry's data as it streams: the chunks as one byte stream, and the data read to its end
(decompressed, or STORED up to its size or its data descriptor) with its CRC-32 and sizes."""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

from ongage_export.adapters.zip_format import (
    BZIP2,
    CENTRAL_SIGNATURE,
    DESCRIPTOR_SIGNATURE,
    LOCAL_SIGNATURE,
    LZMA,
    LZMA_END_MARKER,
    MAX_LZMA_DICTIONARY,
    NOT_RETRIED,
    REPORT_IT,
    crc32,
    method_name,
    shown_name,
)
from ongage_export.domain.errors import CorruptExport, UnsupportedExport

INFLATE_OUTPUT = 1024 * 1024  # at most this much inflated at a time: a ZIP bomb stays small


class Truncated(Exception):
    pass


class ByteStream:
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
                raise Truncated

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


class _Decompressor(Protocol):
    """What `decompressed` needs: bz2's and lzma's decompressor objects, or `_Inflater`."""

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


def decompressed(stream: ByteStream, name: bytes, flags: int, method: int) -> tuple[int, int, int]:
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
    stream: ByteStream, decompressor: _Decompressor, method: int
) -> tuple[int, int, int]:
    """Feed the entry's data block by block, at most INFLATE_OUTPUT out at a time (a bomb
    stays small), up to its end; (CRC-32, compressed bytes used, decompressed size)."""
    crc = consumed = size = 0
    while not decompressor.eof:
        block = stream.block()
        try:
            data = decompressor.decompress(block, INFLATE_OUTPUT)
            while True:
                crc, size = crc32(data, crc), size + len(data)
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


def _lzma_decompressor(stream: ByteStream, name: bytes, flags: int) -> tuple[_Decompressor, int]:
    """ZIP's LZMA: LZMA SDK version (2 bytes), properties size (2), the LZMA1 properties, then
    raw LZMA1 data; the decompressor and the header's size."""
    if not flags & LZMA_END_MARKER:  # then only a size given before the data would end it
        raise UnsupportedExport(
            f"the export's entry {shown_name(name)} is compressed with LZMA (method 14) without an "
            "end-of-stream marker, which this pipeline cannot verify as it streams. "
            + NOT_RETRIED
            + REPORT_IT
        )
    (properties_size,) = struct.unpack("<2xH", stream.read(4))
    properties = stream.read(properties_size)
    try:
        lzma_filter = _lzma1_filter(properties)
    except ValueError as error:
        raise CorruptExport(f"the export's entry {shown_name(name)}: {error}") from None
    if lzma_filter["dict_size"] > MAX_LZMA_DICTIONARY:  # the decoder would allocate it
        raise UnsupportedExport(
            f"the export's entry {shown_name(name)} asks for a {lzma_filter['dict_size']}-byte "
            f"LZMA dictionary, over the {MAX_LZMA_DICTIONARY} bytes this pipeline allows. "
            + NOT_RETRIED
            + REPORT_IT
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


def stored(stream: ByteStream, size: int) -> tuple[int, int, int]:
    crc, left = 0, size
    while left:
        block = stream.block()[:left]
        crc = crc32(block, crc)
        stream.skip(len(block))
        left -= len(block)
    return crc, size, size


def stored_until_descriptor(stream: ByteStream, wide: bool) -> tuple[int, int, int]:
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
                return crc32(block[:found], crc), size + found, size + found
            used = found + 1
        crc, size = crc32(block[:used], crc), size + used
        stream.skip(used)


def _signature_start_at_end(block: memoryview) -> int:
    """How many of the last bytes of `block` may begin a descriptor signature."""
    return next((k for k in (3, 2, 1) if block[-k:] == DESCRIPTOR_SIGNATURE[:k]), 0)


def read_descriptor(stream: ByteStream, wide: bool) -> tuple[int, int, int]:
    """(CRC-32, compressed size, size) from the data descriptor (its signature is optional)."""
    if stream.read(4) != DESCRIPTOR_SIGNATURE:
        stream.skip(-4)
    return struct.unpack("<IQQ" if wide else "<III", stream.read(20 if wide else 12))
