"""The bodies the local S3 serves without holding them in memory: a range of a stored file, an
object assembled from its parts' files, and the digests S3 computes over them, read in blocks.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from moto.s3.models import FakeKey, s3_backends
from moto.settings import get_s3_default_key_buffer_size

BLOCK = 16 * 1024 * 1024
PARTITION = "aws"  # moto keeps S3 per account and partition; the local AWS is in aws's


class RangeView:
    """Stands in for an object's bytes: its length, and slices read from its spooled file."""

    def __init__(self, key: FakeKey):
        self._key = key

    def __len__(self) -> int:
        return int(self._key.size)

    def __bool__(self) -> bool:
        return True

    def __getitem__(self, item: slice) -> bytes:
        start, stop, _ = item.indices(len(self))
        with self._key.lock:
            self._key._value_buffer.seek(start)
            return bytes(self._key._value_buffer.read(max(0, stop - start)))

    def blocks(self, size: int = BLOCK) -> Iterator[bytes]:
        for start in range(0, len(self), size):
            yield self[start : start + size]


def stored_blocks(account_id: str, bucket: str, key: str, size: int = BLOCK) -> Iterator[bytes]:
    """An object's bytes as this process's S3 keeps them, `size` at a time: what GetObject
    serves, read without a request, a response and their copies per block. KeyError if absent."""
    stored = s3_backends[account_id][PARTITION].get_object(bucket, key)
    if stored is None:
        raise KeyError(f"s3://{bucket}/{key}")
    yield from RangeView(stored).blocks(size)


class AssembledBody:
    """A completed upload's body: its parts' files, adopted as they are (no byte copied), with
    the checksum S3 gives the whole. moto disposes of the parts right after `complete`, so each
    part is handed an empty file in exchange for the one the new object keeps."""

    def __init__(self, parts: list[FakeKey], algorithm: str, kind: str):
        # As moto's MultipartChecksumBuilder: COMPOSITE hashes the parts' checksums.
        if kind == "COMPOSITE":
            joined = b"".join(_part_digest(part, algorithm) for part in parts)
            self.checksum = (kind, _b64(digest_of([joined], algorithm)), len(parts))
        else:
            blocks = (block for part in parts for block in RangeView(part).blocks())
            self.checksum = (kind, _b64(digest_of(blocks, algorithm)), 1)
        self.size = sum(int(part.contentsize) for part in parts)
        self.files = JoinedFiles([(_adopt(part), int(part.contentsize)) for part in parts])

    def __len__(self) -> int:
        return self.size


def _part_digest(part: FakeKey, algorithm: str) -> bytes:
    """The part's checksum: taken when it was uploaded (see set_part), or read back now."""
    known = getattr(part, "composite_digest", None)
    return known if known is not None else digest_of(RangeView(part).blocks(), algorithm)


def _adopt(part: FakeKey) -> Any:
    file = part._value_buffer
    part._value_buffer = empty_body()
    return file


def empty_body() -> Any:
    # Not closed here: a key's body lives as long as the key (moto closes it on dispose).
    return tempfile.SpooledTemporaryFile(get_s3_default_key_buffer_size())


class JoinedFiles:
    """Files read one after the other as a single one (seek, tell, read), as a key's body."""

    def __init__(self, files: list[tuple[Any, int]]):
        self._files = files
        self._starts = list(itertools.accumulate((size for _, size in files), initial=0))
        self._position = 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._starts[-1]}
        self._position = max(0, base[whence] + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        total = self._starts[-1]
        end = total if size is None or size < 0 else min(total, self._position + size)
        pieces = []
        while self._position < end:
            index = bisect.bisect_right(self._starts, self._position) - 1
            file, start = self._files[index][0], self._starts[index]
            file.seek(self._position - start)
            piece = file.read(min(end, self._starts[index + 1]) - self._position)
            pieces.append(piece)
            self._position += len(piece)
        return b"".join(pieces)

    def close(self) -> None:
        for file, _ in self._files:
            file.close()


class Digest:
    """moto's `compute_checksum`, fed block by block."""

    def __init__(self, algorithm: str):
        crc = algorithm in ("CRC32", "CRC32C", "CRC64NVME")  # moto's fallback: CRC32
        self._hash = None if crc else hashlib.new("sha1" if algorithm == "SHA1" else "sha256")
        self._crc = 0

    def update(self, data: bytes) -> None:
        if self._hash is None:
            self._crc = binascii.crc32(data, self._crc)
        else:
            self._hash.update(data)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big") if self._hash is None else self._hash.digest()


def digest_of(blocks: Iterable[bytes], algorithm: str) -> bytes:
    digest = Digest(algorithm)
    for block in blocks:
        digest.update(block)
    return digest.digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
