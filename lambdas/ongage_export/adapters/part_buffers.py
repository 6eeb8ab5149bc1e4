"""Parts of a multipart upload cut from a stream of chunks, in a bounded set of reused
buffers."""

from __future__ import annotations

import queue
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future
from typing import Any

from ongage_export.adapters.s3_object_reader import SeekableReader


class PartBuffers:
    """At most `count` part-sized buffers, reused: a fresh part-sized allocation costs a page
    fault per 4 KiB, and reuse keeps the process's memory flat however long the body."""

    def __init__(self, part_size: int, count: int):
        self.part_size = part_size
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._unmade = count

    def take(self) -> bytearray:
        """A free buffer; waits for an upload to give one back once `count` exist."""
        if self._unmade and self._free.empty():
            self._unmade -= 1
            return bytearray(self.part_size)
        return self._free.get()

    def give_back(self, part: Part) -> None:
        self._free.put(part.buffer)

    def give_back_when_done(self, part: Part) -> Callable[[Future[None]], None]:
        return lambda _: self.give_back(part)


class Part(SeekableReader):
    """The first `size` bytes of a reused buffer, read in place: botocore takes a file-like
    body, which it can rewind to retry (it takes no memoryview, and a bytes copy would cost
    the fresh allocation the buffers avoid)."""

    def __init__(self, buffer: bytearray, size: int):
        self.buffer = buffer
        self.view = memoryview(buffer)[:size]
        self.size, self.position = size, 0

    def __len__(self) -> int:
        return self.size

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else self.position + size
        data = self.view[self.position : end].tobytes()
        self.position += len(data)
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)


def cut_parts(chunks: Iterable[bytes], buffers: PartBuffers) -> Generator[Part, None, None]:
    """Regroup a stream of chunks into parts of exactly `part_size` bytes (the last shorter),
    each in a buffer from `buffers`, copied into once. The consumer gives every part back
    (`buffers.give_back`) when it is done with it; closing this generator closes `chunks`."""
    source = iter(chunks)
    try:
        buffer, filled = buffers.take(), 0
        for chunk in source:
            view = memoryview(chunk).cast("B")
            while view:
                count = min(len(view), buffers.part_size - filled)
                buffer[filled : filled + count] = view[:count]
                filled += count
                view = view[count:]
                if filled == buffers.part_size:
                    yield Part(buffer, filled)
                    buffer, filled = buffers.take(), 0
        if filled:
            yield Part(buffer, filled)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
