"""Reading an S3 object back as a seekable file (for `zipfile`), through ranged GETs."""

from __future__ import annotations

import io
from typing import Any


class SeekableReader(io.RawIOBase):
    """Read-only and seekable over `size` bytes; a subclass reads from `position`."""

    size: int
    position: int

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position


class S3ObjectReader(SeekableReader):
    """A seekable, read-only view of an S3 object through ranged GETs (for `zipfile`)."""

    def __init__(self, s3: Any, bucket: str, key: str, size: int):
        self.s3, self.bucket, self.key, self.size = s3, bucket, key, size
        self.position = 0

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.size or not len(buffer):
            return 0
        last = min(self.position + len(buffer), self.size) - 1
        body = self.s3.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{last}"
        )["Body"]
        view = memoryview(buffer).cast("B")
        count = 0
        for chunk in body.iter_chunks(1024 * 1024):
            view[count : count + len(chunk)] = chunk
            count += len(chunk)
        self.position += count
        return count
