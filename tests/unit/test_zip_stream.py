"""The ZIP check that runs while the body streams (zip_stream): every kind of entry the exports
may hold checks out under any chunking, and every kind of damage is caught."""

from __future__ import annotations

import io
import itertools
import struct
import zipfile
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ongage_export.adapters import zip_format, zip_stream
from ongage_export.adapters.ongage_answers import check_zip_start
from ongage_export.adapters.zip_stream import StreamingZipCheck, check_zip_stream
from ongage_export.domain.errors import CorruptExport, OngageUnexpectedResponse, UnsupportedExport
from ongage_simulator.export_body import ExportBody

CSV = b"email,first_name\n" + b"".join(b"user%d@example.com,Zo\xc3\xab\n" % i for i in range(3000))


class Unseekable(io.RawIOBase):
    """What a streaming writer sees: zipfile then writes data descriptors after the data."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.data += data
        return len(data)


def make_zip(method: int, *, streamed: bool = False, zip64: bool = False) -> bytes:
    """Several members: a CSV, a directory, a UTF-8 name, an empty file."""
    target: io.BytesIO | Unseekable = Unseekable() if streamed else io.BytesIO()
    with zipfile.ZipFile(target, "w", method) as archive:
        for name, body in (("export.csv", CSV), ("zoë/données.csv", CSV[:999]), ("empty.csv", b"")):
            with archive.open(name, "w", force_zip64=zip64) as member:
                member.write(body)
        archive.writestr(zipfile.ZipInfo("reports/"), b"")
    return bytes(target.data) if isinstance(target, Unseekable) else target.getvalue()


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
           zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}  # fmt: skip


def kind_name(method: int, streamed: bool, zip64: bool) -> str:
    name = METHODS[method]
    return name + ("-descriptor" if streamed else "") + ("-zip64" if zip64 else "")


KINDS = {
    kind_name(method, streamed, z): make_zip(method, streamed=streamed, zip64=z)
    for method, streamed, z in itertools.product(METHODS, (False, True), (False, True))
}
SIMULATED = {
    "simulator": ExportBody("7000001", "daily.zip", target_bytes=300_000).read(),
    "simulator-zip64": ExportBody(
        "7000001", "d.zip", target_bytes=300_000, force_zip64=True
    ).read(),
}


def flags_of(data: bytes) -> set[int]:
    return {info.flag_bits for info in zipfile.ZipFile(io.BytesIO(data)).infolist()}


def test_the_fixtures_hold_what_they_claim() -> None:
    assert all(flags & 0x8 for flags in flags_of(KINDS["stored-descriptor"]) - {0})
    assert any(flags & 0x800 for flags in flags_of(KINDS["deflate"]))  # a UTF-8 name
    assert b"PK\x06\x06" not in KINDS["deflate"][-200:]
    assert struct.pack("<HH", 1, 16) in KINDS["deflate-zip64"]  # ZIP64 extra fields
    assert flags_of(SIMULATED["simulator"]) == {0x8}


@pytest.mark.parametrize("kind", [*KINDS, *SIMULATED])
@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_every_kind_of_zip_checks_out_in_any_chunking(kind: str, chunk: int) -> None:
    data = {**KINDS, **SIMULATED}[kind]
    entries = check_zip_stream(chunked(data, chunk))
    listed = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert [(e.name.decode(), e.crc, e.file_size, e.offset) for e in entries] == [
        (i.filename, i.CRC, i.file_size, i.header_offset) for i in listed
    ]


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 9000), max_size=6), kind=st.sampled_from(sorted(KINDS)))
def test_chunk_boundaries_anywhere(cuts: list[int], kind: str) -> None:
    data = KINDS[kind]
    points = sorted({0, len(data), *(c % len(data) for c in cuts)})
    assert len(check_zip_stream(data[a:b] for a, b in itertools.pairwise(points))) == 4


def test_a_data_descriptor_without_its_signature_is_read() -> None:
    data = KINDS["deflate-descriptor"]
    first = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    descriptor = data.index(b"PK\x07\x08", 30 + len(first.filename) + first.compress_size - 1)
    unsigned = data[:descriptor] + data[descriptor + 4 :]
    rebuilt = rebuild_central_directory(unsigned, shift_after=descriptor, by=-4)
    assert check_zip_stream([rebuilt])[0].crc == first.CRC


def rebuild_central_directory(data: bytes, shift_after: int, by: int) -> bytes:
    """`data` with the offsets the central directory and end record hold moved by `by` past
    `shift_after` (ZIP32 only)."""
    end = data.rindex(b"PK\x05\x06")
    size, offset = struct.unpack_from("<II", data, end + 12)
    directory = bytearray(data[offset + by : offset + by + size])
    position = 0
    while position < len(directory):
        (header_offset,) = struct.unpack_from("<I", directory, position + 42)
        if header_offset > shift_after:
            struct.pack_into("<I", directory, position + 42, header_offset + by)
        lengths = struct.unpack_from("<HHH", directory, position + 28)
        position += 46 + sum(lengths)
    record = bytearray(data[end:])
    struct.pack_into("<I", record, 16, offset + by if offset > shift_after else offset)
    return data[: offset + by] + bytes(directory) + bytes(record)


@pytest.mark.parametrize("kind", ["stored", "deflate", "stored-descriptor", "simulator"])
def test_a_flipped_data_byte_fails_the_crc32_check(kind: str) -> None:
    data = bytearray({**KINDS, **SIMULATED}[kind])
    data[200] ^= 0x01  # inside the first member's data
    with pytest.raises(CorruptExport, match=r"CRC-32|DEFLATE"):
        check_zip_stream([bytes(data)])


@pytest.mark.parametrize("kind", ["deflate-zip64", "stored-descriptor", "simulator-zip64"])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.999])
def test_a_truncated_body_is_caught(kind: str, keep: float) -> None:
    data = {**KINDS, **SIMULATED}[kind]
    with pytest.raises(CorruptExport):
        check_zip_stream(chunked(data[: int(len(data) * keep)], 4096))


@pytest.mark.parametrize("kind", ["stored", "deflate-descriptor"])
def test_a_body_cut_right_after_its_last_entry_is_caught(kind: str) -> None:
    data = KINDS[kind]
    start = data.rindex(b"PK\x05\x06")
    (directory,) = struct.unpack_from("<I", data, start + 16)
    with pytest.raises(CorruptExport, match="ends early"):
        check_zip_stream([data[:directory]])


def central_entry(data: bytes | bytearray, index: int) -> int:
    """Where the `index`th central directory entry starts."""
    start = data.rindex(b"PK\x05\x06")
    (position,) = struct.unpack_from("<I", data, start + 16)
    for _ in range(index):
        position += 46 + sum(struct.unpack_from("<HHH", data, position + 28))
    return position


@pytest.mark.parametrize(
    "field, offset",
    [("CRC-32", 16), ("compressed size", 20), ("size", 24), ("local header offset", 42)],
)
def test_a_central_directory_that_disagrees_with_an_entry_is_caught(
    field: str, offset: int
) -> None:
    data = bytearray(KINDS["deflate"])
    struct.pack_into("<I", data, central_entry(data, 1) + offset, 12345)
    with pytest.raises(CorruptExport, match="disagrees"):
        check_zip_stream([bytes(data)])


def test_a_central_directory_with_another_name_is_caught() -> None:
    data = bytearray(KINDS["stored"])
    name = central_entry(data, 0) + 46
    data[name : name + 6] = b"EXPORT"
    with pytest.raises(CorruptExport, match=r"disagrees with its entry 'export\.csv'"):
        check_zip_stream([bytes(data)])


def test_an_end_record_with_another_entry_count_is_caught() -> None:
    data = bytearray(KINDS["stored"])
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 3, 3)  # four entries in the stream and directory
    with pytest.raises(CorruptExport, match="its end record says 3"):
        check_zip_stream([bytes(data)])


def test_a_central_directory_missing_an_entry_is_caught() -> None:
    data = KINDS["stored"]
    last, end = central_entry(data, 3), data.rindex(b"PK\x05\x06")
    record = bytearray(data[end:])
    struct.pack_into("<HHI", record, 8, 3, 3, last - central_entry(data, 0))
    with pytest.raises(CorruptExport, match="lists 3 entries"):
        check_zip_stream([data[:last] + bytes(record)])


def test_an_end_record_pointing_elsewhere_is_caught() -> None:
    data = bytearray(KINDS["stored"])
    end = data.rindex(b"PK\x05\x06")
    (size,) = struct.unpack_from("<I", data, end + 12)
    struct.pack_into("<I", data, end + 12, size - 10)  # the directory would start 10 bytes late
    with pytest.raises(CorruptExport):
        check_zip_stream([bytes(data)])


def test_an_encrypted_entry_is_refused_as_unsupported_not_corrupt() -> None:
    data = bytearray(KINDS["stored"])
    data[6] |= 0x1
    with pytest.raises(UnsupportedExport, match=r"'export\.csv' is encrypted \(ZipCrypto\)"):
        check_zip_stream([bytes(data)])


def with_method(data: bytes, method: int) -> bytes:
    """The archive with its first entry's method field (local and central) set to `method`."""
    changed = bytearray(data)
    struct.pack_into("<H", changed, 8, method)
    struct.pack_into("<H", changed, changed.index(b"PK\x01\x02") + 10, method)
    return bytes(changed)


@pytest.mark.parametrize(
    ("method", "named"),
    [(9, r"Deflate64 \(method 9\)"), (93, r"Zstandard \(method 93\)"),
     (98, r"PPMd \(method 98\)"), (77, r"an unknown method \(method 77\)")],
)  # fmt: skip
def test_an_unverifiable_method_is_named_in_a_final_refusal(method: int, named: str) -> None:
    # Deflate64 over stored blocks: a valid Deflate64 stream, refused at its header all the same.
    data = with_method(make_zip(zipfile.ZIP_DEFLATED), method)
    with pytest.raises(UnsupportedExport, match=named + ".*cannot verify.*What to do"):
        check_zip_stream(chunked(data, 7))


def test_a_refusal_quotes_a_long_entry_name_shortened() -> None:
    # A header may declare 64 KiB of name: the message travels in notices and workflow state.
    header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 9, 0, 0, 0, 0, 0, 60_000, 0)
    with pytest.raises(UnsupportedExport) as refused:
        check_zip_start(header + b"x" * 60_000)
    assert "'" + "x" * zip_format.SHOWN_NAME_CHARS + "…'" in str(refused.value)
    assert len(str(refused.value)) < 1_000


def test_aes_is_named_as_encryption() -> None:
    data = bytearray(with_method(KINDS["stored"], 99))
    data[6] |= 0x1
    with pytest.raises(UnsupportedExport, match=r"encrypted \(AES, WinZip AE-x\)"):
        check_zip_stream([bytes(data)])


def test_lzma_without_its_end_marker_is_refused_by_name() -> None:
    data = bytearray(KINDS["lzma"])
    data[6] &= ~0x2
    with pytest.raises(UnsupportedExport, match="LZMA \\(method 14\\) without an end-of-stream"):
        check_zip_stream([bytes(data)])


@pytest.mark.parametrize("kind", ["bzip2", "lzma", "bzip2-descriptor", "lzma-descriptor"])
def test_broken_bzip2_and_lzma_data_is_corrupt_and_so_retried(kind: str) -> None:
    data = bytearray(KINDS[kind])
    data[len(data) // 4] ^= 0xFF  # inside the first entry's compressed data
    with pytest.raises(CorruptExport):
        check_zip_stream(chunked(bytes(data), 1000))


def test_bzip2_and_lzma_bombs_come_out_in_bounded_pieces() -> None:
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", method) as archive:
            archive.writestr("zeros.csv", bytes(32 * 1024 * 1024))
        (entry,) = check_zip_stream([buffer.getvalue()])
        assert entry.file_size == 32 * 1024 * 1024


def test_the_first_chunk_refuses_a_foreign_body_and_an_unverifiable_first_entry() -> None:
    with pytest.raises(UnsupportedExport, match="not a ZIP"):
        check_zip_start(b"%PDF-1.7 not an archive")
    with pytest.raises(UnsupportedExport, match=r"Deflate64 \(method 9\)"):
        check_zip_start(with_method(KINDS["deflate"], 9))
    with pytest.raises(OngageUnexpectedResponse, match="empty"):
        check_zip_start(b"")
    check_zip_start(KINDS["bzip2"])  # BZip2 is checked, not refused


def test_a_zip_bomb_is_inflated_in_bounded_pieces() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.csv", bytes(64 * 1024 * 1024))  # 64 MiB from ~64 KiB
    (entry,) = check_zip_stream([buffer.getvalue()])
    assert entry.file_size == 64 * 1024 * 1024 and entry.crc == zlib.crc32(bytes(entry.file_size))


def test_the_threaded_check_passes_every_chunk_on_and_gives_the_verdict() -> None:
    data = KINDS["deflate-descriptor"]
    check = StreamingZipCheck()
    assert b"".join(check.passing(chunked(data, 1000))) == data
    assert len(check.result()) == 4


def test_the_threaded_check_stops_the_stream_once_it_knows_the_body_is_bad() -> None:
    data = bytearray(KINDS["stored"])
    data[200] ^= 0x01
    filler = itertools.repeat(b"\0" * 4096, 100_000)  # far more than the check lets through
    check = StreamingZipCheck()
    passed = 0
    with pytest.raises(CorruptExport, match="CRC-32"):
        for _ in check.passing(itertools.chain([bytes(data)], filler)):
            passed += 1
    assert passed < 100_000
    with pytest.raises(CorruptExport):
        check.result()


def test_the_threaded_check_ends_when_the_download_breaks() -> None:
    def breaks() -> Iterator[bytes]:
        yield KINDS["stored"][:100]
        raise ConnectionError("reset")

    check = StreamingZipCheck()
    with pytest.raises(ConnectionError):
        list(check.passing(breaks()))
    with pytest.raises(CorruptExport, match="ends early"):
        check.result()


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 4])
def test_a_descriptor_signature_split_between_chunks_is_found(cut: int) -> None:
    data = SIMULATED["simulator"]
    split = data.rindex(b"PK\x07\x08") + cut
    (entry,) = check_zip_stream([data[:split], data[split:]])
    assert entry.file_size == zipfile.ZipFile(io.BytesIO(data)).infolist()[0].file_size


def test_the_threaded_check_ends_when_no_chunk_was_ever_passed() -> None:
    check = StreamingZipCheck()
    check.close()
    with pytest.raises(CorruptExport, match="ends early"):
        check.result()


def test_a_body_with_too_much_after_its_last_entry_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(zip_stream, "MAX_TRAILER", 100)
    data = KINDS["stored"]  # its central directory holds four entries: over 100 bytes
    with pytest.raises(CorruptExport, match="over 100 bytes after its last entry"):
        check_zip_stream(chunked(data, 7))
