"""Exports packed as other ZIP writers pack them (SimulatorConfig.archive), in memory.

The default body (`export_body.ExportBody`) is one STORED entry, generated as it streams. These
hold the same CSV, packed otherwise: Deflate, BZip2 and LZMA (written by `zipfile`), Deflate64
(Deflate stored blocks, which are valid Deflate64, under method 9), a ZipCrypto-encrypted entry
(password "ongage"), or a body that is not a ZIP at all. Small exports only: built in memory.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import Literal

from ongage_simulator.export_body import ExportBody

Archive = Literal["stored", "deflate", "bzip2", "lzma", "deflate64", "zipcrypto", "not_zip"]
ARCHIVES: tuple[Archive, ...] = (
    "stored", "deflate", "bzip2", "lzma", "deflate64", "zipcrypto", "not_zip",
)  # fmt: skip
PASSWORD = b"ongage"
_METHODS = {"stored": zipfile.ZIP_STORED, "deflate": zipfile.ZIP_DEFLATED,
            "bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA}  # fmt: skip


class PackedBody:
    """The same interface as ExportBody for what the server and tests use."""

    def __init__(self, source: ExportBody, archive: Archive):
        self.member_name, self.download_name = source.member_name, source.download_name
        self.csv = b"".join(source.iter_csv())
        self.csv_size, self.rows = len(self.csv), source.rows
        self._data = _pack(self.member_name, self.csv, archive)
        self.size = len(self._data)
        self.corrupt_offset = self.size // 3

    def sha256(self) -> str:
        return hashlib.sha256(self._data).hexdigest()

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        return self._data[start:end]

    def iter_range(
        self, start: int = 0, end: int | None = None, corrupt: bool = False
    ) -> Iterator[bytes]:
        data = bytearray(self._data[: self.size if end is None else end])
        if corrupt:
            data[self.corrupt_offset] ^= 0xFF
        view = bytes(data[start:])
        for offset in range(0, len(view), 1024 * 1024):
            yield view[offset : offset + 1024 * 1024]


def _pack(name: str, csv: bytes, archive: Archive) -> bytes:
    if archive == "not_zip":  # what a misconfigured server might hand over: the bare CSV
        return csv
    if archive == "zipcrypto":
        return _encrypted(name, csv)
    method = zipfile.ZIP_DEFLATED if archive == "deflate64" else _METHODS[archive]
    buffer = io.BytesIO()
    level = 0 if archive == "deflate64" else None  # level 0: stored blocks only
    with zipfile.ZipFile(buffer, "w", method, compresslevel=level) as packed:
        packed.writestr(name, csv)
    data = buffer.getvalue()
    return _relabelled(data, 9) if archive == "deflate64" else data


def _relabelled(data: bytes, method: int) -> bytes:
    """The one-entry archive with its method set to `method` (local and central header)."""
    changed = bytearray(data)
    struct.pack_into("<H", changed, 8, method)
    struct.pack_into("<H", changed, changed.index(b"PK\x01\x02") + 10, method)
    return bytes(changed)


def _encrypted(name: str, csv: bytes) -> bytes:
    """One STORED entry encrypted with traditional PKWARE encryption (ZipCrypto)."""
    crc = zlib.crc32(csv)
    keys = [0x12345678, 0x23456789, 0x34567890]
    for byte in PASSWORD:
        _update(keys, byte)
    header = bytes(11) + bytes([crc >> 24])  # the last byte checks the password
    sealed = bytes(_seal(keys, header + csv))
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.flag_bits, info.CRC = 0x1, crc
    info.compress_size, info.file_size = len(sealed), len(csv)
    local = info.FileHeader() + sealed
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x1, 0, 0, (44 << 9) | 33, crc, len(sealed),
        len(csv), len(name), 0, 0, 0, 0, 0, 0,
    ) + name.encode()  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def _seal(keys: list[int], plain: bytes) -> Iterator[int]:
    for byte in plain:
        temp = (keys[2] | 2) & 0xFFFF
        yield byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF)
        _update(keys, byte)


def _update(keys: list[int], byte: int) -> None:
    keys[0] = zlib.crc32(bytes([byte]), keys[0] ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
    keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
    keys[2] = zlib.crc32(bytes([keys[1] >> 24]), keys[2] ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
