"""Checking a ZIP as its bytes go by, so that nothing has to be read back (here: the entries in
order and the thread the check runs in; `zip_format` holds the records and the methods,
`zip_entry_data` reads an entry's data to its end, `zip_directory` checks the central directory).

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

import queue
import threading
from collections.abc import Iterable, Iterator

from ongage_export.adapters.zip_directory import check_central_directory
from ongage_export.adapters.zip_entry_data import (
    ByteStream,
    Truncated,
    decompressed,
    read_descriptor,
    stored,
    stored_until_descriptor,
)
from ongage_export.adapters.zip_format import (
    HAS_DESCRIPTOR,
    LOCAL_HEADER,
    LOCAL_SIGNATURE,
    STORED,
    ZIP32_MAX,
    Entry,
    shown_name,
    unsupported_entry,
    zip64_sizes,
)
from ongage_export.domain.errors import CorruptExport

PENDING_CHUNKS = 4  # of 1 MiB: enough to smooth the hand-over, small beside the parts
MAX_TRAILER = 16 * 1024 * 1024  # central directory and end records (~130,000 entries)
_END = object()  # no more chunks


def check_zip_stream(chunks: Iterable[bytes]) -> list[Entry]:
    """Raise CorruptExport unless `chunks` make a ZIP whose every entry and central directory
    check out; the entries as seen."""
    stream = ByteStream(iter(chunks))
    entries: list[Entry] = []
    try:
        while stream.read(4) == LOCAL_SIGNATURE:
            entries.append(_check_entry(stream, stream.offset - 4))
        stream.skip(-4)  # the central directory (or an end record) starts here
        start = stream.offset
        trailer = stream.rest(MAX_TRAILER)
    except Truncated:
        raise CorruptExport("the export is not a readable ZIP: it ends early") from None
    check_central_directory(trailer, start, entries)
    return entries


def _check_entry(stream: ByteStream, offset: int) -> Entry:
    fields = LOCAL_HEADER.unpack(LOCAL_SIGNATURE + stream.read(LOCAL_HEADER.size - 4))
    _, _, flags, method, _, _, crc, compress_size, file_size, name_length, extra_length = fields
    name = stream.read(name_length)
    zip64 = zip64_sizes(stream.read(extra_length))
    refusal = unsupported_entry(name, flags, method)
    if refusal is not None:
        raise refusal
    if zip64 and (compress_size, file_size) == (ZIP32_MAX, ZIP32_MAX):
        file_size, compress_size = zip64
    has_descriptor = bool(flags & HAS_DESCRIPTOR)
    if method != STORED:
        seen = decompressed(stream, name, flags, method)
    elif has_descriptor:
        seen = stored_until_descriptor(stream, wide=bool(zip64))
    else:
        seen = stored(stream, compress_size)
    if has_descriptor:
        crc, compress_size, file_size = read_descriptor(stream, wide=bool(zip64))
    entry = Entry(name, offset, *seen)
    if (entry.crc, entry.compress_size, entry.file_size) != (crc, compress_size, file_size):
        raise CorruptExport(
            f"the export's entry {shown_name(name)} fails its CRC-32 or size check "
            f"(read CRC-32 {entry.crc:08x}, {entry.file_size} bytes; "
            f"declared {crc:08x}, {file_size} bytes)"
        )
    return entry


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
