"""The ZIP format as the streaming check reads it: the records' layouts and signatures, the
compression methods it verifies and those it refuses (APPNOTE's names, for the messages), an
entry as seen, and how a message shows an entry's name."""

from __future__ import annotations

import struct
from dataclasses import dataclass

# zlib-ng's CRC-32 (the same function as zlib's) uses the CPU's carry-less multiply or CRC
# instructions: ~6x zlib's speed here. Every byte of a single pass goes through it twice: for
# its entry's CRC-32 and for its part's S3 checksum (multipart.py).
from zlib_ng.zlib_ng import crc32 as crc32

from ongage_export.domain.errors import UnsupportedExport

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


@dataclass(frozen=True)
class Entry:
    """A local entry as it was seen in the stream."""

    name: bytes
    offset: int
    crc: int
    compress_size: int
    file_size: int


def unsupported_entry(name: bytes, flags: int, method: int) -> UnsupportedExport | None:
    """Why an entry cannot be verified (encrypted, or a method other than STORED, Deflate,
    BZip2, LZMA), as the error that ends the run; None when it can be."""
    if flags & ENCRYPTED or method == AES:
        kind = "AES, WinZip AE-x" if method == AES else "ZipCrypto"
        kind = "PKWARE strong encryption" if flags & STRONG_ENCRYPTION else kind
        return UnsupportedExport(
            f"the export's entry {shown_name(name)} is encrypted ({kind}), which this pipeline "
            "cannot verify: it holds no password for it. " + NOT_RETRIED + "What to do: check "
            "whether the Ongage account protects exports with a password and have that turned "
            "off for API exports (ask Ongage), then start a new run"
        )
    if method not in VERIFIED_METHODS:
        return UnsupportedExport(
            f"the export's entry {shown_name(name)} is compressed with {method_name(method)}, "
            "which this pipeline cannot verify (it verifies STORED, Deflate, BZip2 and LZMA). "
            + NOT_RETRIED
            + REPORT_IT
        )
    return None


NOT_RETRIED = "The same bytes would come again: not retried, and nothing was landed. "
REPORT_IT = (
    "What to do: report it to Ongage with the export id (the notice's export_id), asking for "
    "the export as a Deflate or uncompressed ZIP, then start a new run"
)


def method_name(method: int) -> str:
    """'Deflate64 (method 9)': APPNOTE's name and the number, as a message shows it."""
    name = VERIFIED_METHODS.get(method) or OTHER_METHODS.get(method, "an unknown method")
    return f"{name} (method {method})"


def zip64_sizes(extra: bytes) -> tuple[int, int] | None:
    """(uncompressed, compressed) from a local header's ZIP64 extra field, if it has one."""
    position = 0
    while position + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, position)
        if kind == ZIP64_EXTRA and size >= 16:
            return struct.unpack_from("<QQ", extra, position + 4)
        position += 4 + size
    return None


SHOWN_NAME_CHARS = 100


def shown_name(name: bytes) -> str:
    """An entry name as a message quotes it: at most SHOWN_NAME_CHARS characters, since a
    header may declare 64 KiB of name and the message travels in notices and workflow state."""
    text = name.decode("utf-8", "replace")
    if len(text) > SHOWN_NAME_CHARS:
        text = text[:SHOWN_NAME_CHARS] + "…"
    return repr(text)
