"""Landing in S3 (moto): streamed in parts, verified, published once, never left half-done;
in one pass when the body arrives in one invocation, staged when it is resumed."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongage_export.adapters import server_copy
from ongage_export.adapters.landing import MIN_PART_SIZE, S3Landing, UploadProgress
from ongage_export.adapters.part_buffers import PartBuffers, cut_parts
from ongage_export.domain.errors import (
    CorruptExport,
    DownloadInterrupted,
    OngageUnexpectedResponse,
    UnsupportedExport,
)
from tests.integration.conftest import BUCKET

META = {"export-id": "42", "list-id": "7"}


def make_zip(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("export.csv", b"email\n" + b"a@example.com\n" * (size // 14))
    return buffer.getvalue()


def chunked(data: bytes, size: int = 1_000_003) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def landing(s3: Any) -> S3Landing:
    return S3Landing(s3, BUCKET, part_size=MIN_PART_SIZE, upload_concurrency=2)


def land_staged(landing: S3Landing, data: bytes, final_key: str = "exports/x.zip") -> Any:
    """The staged path, as a resumed download takes it: staged, then checked and published."""
    staged = landing.upload_stream(chunked(data), "incoming/r/x.zip")
    assert not isinstance(staged, UploadProgress)
    progress = UploadProgress(staged.key, "", 0, staged.size, staged.size, staged=True)
    return landing.land(
        iter(()), staging_key=staged.key, final_key=final_key, metadata=META, resume=progress
    )


def state(s3: Any) -> tuple[list[str], list[Any]]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return keys, s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_lands_a_multi_part_zip_in_one_pass_with_its_metadata(s3: Any) -> None:
    data = make_zip(12 * 1024 * 1024)  # three parts
    operations = record_operations(s3)
    landed = landing(s3).land(
        chunked(data), staging_key="incoming/run/x.zip", final_key="exports/x.zip", metadata=META
    )
    assert (landed.size, landed.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert landed.landing == "single-pass" and not landed.already_landed
    assert not {"GetObject", "UploadPartCopy", "CopyObject", "DeleteObject"} & set(operations)
    assert operations.count("UploadPart") == 3
    stored = s3.get_object(Bucket=BUCKET, Key="exports/x.zip")
    assert stored["Body"].read() == data
    assert stored["Metadata"] == {**META, "landing": "single-pass"}
    assert stored["ContentType"] == "application/zip"
    assert state(s3) == (["exports/x.zip"], [])  # nothing staged, no upload left open


def record_operations(s3: Any) -> list[str]:
    """The names of the S3 operations `s3` sends from now on (HeadObject aside)."""
    names: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        if model.name != "HeadObject":
            names.append(model.name)

    s3.meta.events.register("before-call.s3", lambda **kwargs: record(**kwargs))
    return names


def test_lands_a_resumed_download_staged_with_its_sha256(s3: Any) -> None:
    data = make_zip(12 * 1024 * 1024)
    landed = land_staged(landing(s3), data)
    assert (landed.size, landed.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert landed.landing == "staged"
    stored = s3.get_object(Bucket=BUCKET, Key="exports/x.zip")
    assert stored["Body"].read() == data
    assert stored["Metadata"] == {**META, "sha256": landed.sha256, "landing": "staged"}
    assert state(s3) == (["exports/x.zip"], [])  # staging removed, no upload left open


def test_a_body_too_long_for_one_invocation_is_staged(s3: Any) -> None:
    data = make_zip(12 * 1024 * 1024)
    outcome = landing(s3).land(
        chunked(data),
        staging_key="incoming/r/x.zip",
        final_key="exports/x.zip",
        metadata=META,
        total=len(data),
        time_to_verify=lambda size: size < len(data),
    )
    assert isinstance(outcome, UploadProgress) and outcome.staged
    assert state(s3)[0] == ["incoming/r/x.zip"]


def test_a_single_pass_out_of_time_aborts_and_restarts_staged_from_byte_zero(s3: Any) -> None:
    data = make_zip(12 * 1024 * 1024)
    parts = iter([False, True])  # time runs out after the first part
    outcome = landing(s3).land(
        chunked(data),
        staging_key="incoming/r/x.zip",
        final_key="exports/x.zip",
        metadata=META,
        total=len(data),
        should_stop=lambda: next(parts, True),
    )
    assert isinstance(outcome, UploadProgress)
    assert (outcome.key, outcome.size, outcome.parts, outcome.staged) == (
        "incoming/r/x.zip", 0, 0, False,
    )  # fmt: skip
    keys, uploads = state(s3)
    assert keys == [] and [u["Key"] for u in uploads] == ["incoming/r/x.zip"]


def test_no_time_to_stream_at_all_hands_over_zero_bytes_instead_of_an_empty_body(
    s3: Any,
) -> None:
    data = make_zip(6 * 1024 * 1024)
    outcome = landing(s3).land(
        chunked(data),
        staging_key="incoming/r/x.zip",
        final_key="exports/x.zip",
        metadata=META,
        total=len(data),
        should_stop=lambda: True,  # the invocation's time is short before the first part
    )
    assert isinstance(outcome, UploadProgress)
    assert (outcome.key, outcome.size, outcome.parts) == ("incoming/r/x.zip", 0, 0)
    again = landing(s3).land(
        chunked(data), staging_key="incoming/r/x.zip", final_key="exports/x.zip",
        metadata=META, resume=outcome, should_stop=lambda: True,
    )  # fmt: skip
    assert isinstance(again, UploadProgress) and again.size == 0  # a hand-over again
    landed = landing(s3).land(
        chunked(data), staging_key="incoming/r/x.zip", final_key="exports/x.zip",
        metadata=META, resume=again,
    )  # fmt: skip
    assert s3.get_object(Bucket=BUCKET, Key=landed.key)["Body"].read() == data
    assert state(s3) == (["exports/x.zip"], [])


@pytest.mark.parametrize("staged", [False, True])
def test_an_upload_left_open_by_an_invocation_that_died_is_aborted_by_the_next(
    s3: Any, staged: bool
) -> None:
    """A SIGKILLed or out-of-memory invocation cannot abort its own upload at the final key
    (single pass, or the staged object's copy); its retry does, before its own."""
    s3.create_multipart_upload(Bucket=BUCKET, Key="exports/x.zip")  # the dead invocation's
    data = make_zip(6 * 1024 * 1024)
    if staged:
        land_staged(landing(s3), data)
    else:
        landing(s3).land(
            chunked(data), staging_key="incoming/r/x.zip", final_key="exports/x.zip",
            metadata=META,
        )  # fmt: skip
    assert state(s3) == (["exports/x.zip"], [])


def test_an_upload_completed_by_an_invocation_that_died_is_checked_and_published(
    s3: Any,
) -> None:
    """The invocation that completed the staged upload died checking it: its retry, handed the
    progress of the upload before, finds the staged object and lands it without the body."""
    data = make_zip(12 * 1024 * 1024)
    stops = iter([False, True])  # the invocation before streamed one part
    before = landing(s3).upload_stream(
        chunked(data), "incoming/r/x.zip", total=len(data), should_stop=lambda: next(stops)
    )
    assert isinstance(before, UploadProgress) and before.size < len(data)
    landing(s3).upload_stream(chunked(data[before.size :]), before.key, resume=before)

    found = landing(s3).completed_upload(before)

    assert found is not None and (found.staged, found.size, found.total) == (
        True, len(data), len(data),
    )  # fmt: skip
    assert landing(s3).completed_upload(replace(before, total=len(data) + 1)) is None
    assert landing(s3).completed_upload(replace(before, key="incoming/r/y.zip")) is None
    landed = landing(s3).land(
        iter(()), staging_key=before.key, final_key="exports/x.zip", metadata=META, resume=found
    )
    assert (landed.size, landed.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert state(s3) == (["exports/x.zip"], [])


def test_discarding_a_staged_object_deletes_it_and_a_missing_one_is_fine(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="incoming/r/x.zip", Body=b"zip")
    landing(s3).discard("incoming/r/x.zip")
    landing(s3).discard("incoming/r/x.zip")
    assert state(s3) == ([], [])


def test_a_broken_stream_leaves_nothing_behind(s3: Any) -> None:
    def breaks() -> Iterator[bytes]:
        yield from chunked(make_zip(11 * 1024 * 1024)[: 9 * 1024 * 1024])
        raise DownloadInterrupted("connection reset")

    with pytest.raises(DownloadInterrupted):
        landing(s3).land(
            breaks(), staging_key="incoming/r/x.zip", final_key="exports/x.zip", metadata=META
        )
    assert state(s3) == ([], [])


DEFLATE64 = bytearray(make_zip(1000))
DEFLATE64[8:10] = b"\x09\x00"  # the first entry's method: Deflate64


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"", OngageUnexpectedResponse), (b'{"metadata": {"error": true}}', UnsupportedExport),
     (b"<html>oops</html>", UnsupportedExport), (bytes(DEFLATE64), UnsupportedExport)],
)  # fmt: skip
def test_a_body_that_is_not_a_zip_is_refused_before_upload(
    s3: Any, body: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        landing(s3).land(
            iter([body]), staging_key="incoming/r/x.zip", final_key="exports/x.zip", metadata=META
        )
    assert state(s3) == ([], [])


def test_a_corrupt_zip_is_never_published_and_its_upload_is_aborted(s3: Any) -> None:
    data = bytearray(make_zip(12 * 1024 * 1024))
    data[5000] ^= 0xFF  # inside the member's data: its CRC-32 no longer matches
    operations = record_operations(s3)
    with pytest.raises(CorruptExport, match="CRC-32"):
        landing(s3).land(
            chunked(bytes(data)),
            staging_key="incoming/r/x.zip",
            final_key="exports/x.zip",
            metadata=META,
        )
    assert "AbortMultipartUpload" in operations and "CompleteMultipartUpload" not in operations
    assert state(s3) == ([], [])


def test_a_corrupt_zip_is_never_published_when_staged(s3: Any) -> None:
    data = bytearray(make_zip(100_000))
    data[5000] ^= 0xFF
    with pytest.raises(CorruptExport, match="CRC-32"):
        land_staged(landing(s3), bytes(data))
    assert state(s3) == ([], [])


@pytest.mark.parametrize("staged", [False, True])
def test_a_truncated_zip_is_never_published(s3: Any, staged: bool) -> None:
    data = make_zip(100_000)[:-30]
    with pytest.raises(CorruptExport, match="not a readable ZIP"):
        if staged:
            land_staged(landing(s3), data)
        else:
            landing(s3).land(
                iter([data]),
                staging_key="incoming/r/x.zip",
                final_key="exports/x.zip",
                metadata=META,
            )
    assert state(s3) == ([], [])


def test_an_existing_object_is_reported_not_overwritten(s3: Any) -> None:
    first = make_zip(1000)
    s3.put_object(Bucket=BUCKET, Key="exports/x.zip", Body=first, Metadata={"sha256": "abc"})
    landed = landing(s3).land(
        iter([make_zip(2000)]),
        staging_key="incoming/r/x.zip",
        final_key="exports/x.zip",
        metadata=META,
    )
    assert landed.already_landed and landed.sha256 == "abc"
    assert s3.get_object(Bucket=BUCKET, Key="exports/x.zip")["Body"].read() == first
    assert state(s3) == (["exports/x.zip"], [])
    assert landing(s3).find_landed("exports/x.zip") == landed
    assert landing(s3).find_landed("exports/none.zip") is None


def test_an_object_landed_meanwhile_is_reported_not_overwritten_by_the_single_pass(
    s3: Any,
) -> None:
    other = make_zip(1000)

    def lands_meanwhile() -> Iterator[bytes]:
        yield from chunked(make_zip(12 * 1024 * 1024))
        s3.put_object(Bucket=BUCKET, Key="exports/x.zip", Body=other, Metadata={"sha256": "abc"})

    landed = landing(s3).land(
        lands_meanwhile(), staging_key="incoming/r/x.zip", final_key="exports/x.zip", metadata=META
    )
    assert landed.already_landed and landed.sha256 == "abc"
    assert s3.get_object(Bucket=BUCKET, Key="exports/x.zip")["Body"].read() == other
    assert state(s3) == (["exports/x.zip"], [])  # the single pass's upload aborted


def test_an_object_landed_in_one_pass_is_found_with_its_sha256(s3: Any) -> None:
    data = make_zip(1000)
    landed = landing(s3).land(
        iter([data]), staging_key="incoming/r/x.zip", final_key="exports/x.zip", metadata=META
    )
    found = landing(s3).find_landed("exports/x.zip")
    assert found == replace(landed, already_landed=True)  # hashed again: not in the metadata


def test_part_size_below_the_s3_minimum_is_refused(s3: Any) -> None:
    with pytest.raises(ValueError, match="at least"):
        S3Landing(s3, BUCKET, part_size=1024)


@given(sizes=st.lists(st.integers(0, 50), max_size=20), part=st.integers(1, 17))
def test_parts_regroup_any_chunking_exactly(sizes: list[int], part: int) -> None:
    data = bytes(range(256)) * 4
    chunks, start = [], 0
    for size in sizes:
        chunks.append(data[start : start + size])
        start += size
    buffers, parts = PartBuffers(part, 1), []
    for part_body in cut_parts(iter(chunks), buffers):
        parts.append(part_body.read())
        buffers.give_back(part_body)  # one buffer only: the next part must reuse it
    assert b"".join(parts) == b"".join(chunks)
    assert all(len(p) == part for p in parts[:-1]) and all(parts)


def test_parts_reuse_a_bounded_set_of_buffers_and_carry_a_crc32(s3: Any) -> None:
    sent: list[tuple[int, bytearray, str]] = []  # buffers kept alive: their ids stay unique
    upload_part = s3.upload_part

    def recording(**kwargs: Any) -> Any:
        sent.append((kwargs["PartNumber"], kwargs["Body"].buffer, kwargs["ChecksumCRC32"]))
        return upload_part(**kwargs)

    s3.upload_part = recording
    data = make_zip(40 * 1024 * 1024)  # nine 5 MiB parts through 2 uploads in flight
    landing(s3).land(chunked(data), staging_key="incoming/x.zip", final_key="x.zip", metadata=META)
    assert len(sent) == 9 and len({id(buffer) for _, buffer, _ in sent}) <= 3
    expected = [
        base64.b64encode(zlib.crc32(data[i : i + MIN_PART_SIZE]).to_bytes(4, "big")).decode()
        for i in range(0, len(data), MIN_PART_SIZE)
    ]
    assert [checksum for _, _, checksum in sorted(sent, key=lambda s: s[0])] == expected


def test_a_part_rewinds_for_a_retry() -> None:
    buffers = PartBuffers(8, 1)
    (part,) = cut_parts(iter([b"abc", b"de"]), buffers)
    assert len(part) == 5 and part.read(2) == b"ab" and part.read() == b"cde"
    part.seek(0)
    assert part.read(None) == b"abcde" and part.read() == b""


def test_publishing_copies_parts_in_parallel_and_in_order(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_copy, "COPY_PART_SIZE", MIN_PART_SIZE)
    copied: list[int] = []
    upload_part_copy = s3.upload_part_copy
    both_in_flight = threading.Barrier(2, timeout=10)  # breaks if parts 1 and 2 run one by one

    def recording(**kwargs: Any) -> Any:
        copied.append(kwargs["PartNumber"])
        if kwargs["PartNumber"] in (1, 2):
            both_in_flight.wait()
        return upload_part_copy(**kwargs)

    s3.upload_part_copy = recording
    data = make_zip(12 * 1024 * 1024)  # three copy parts
    land_staged(landing(s3), data, final_key="x.zip")
    assert sorted(copied) == [1, 2, 3]
    assert s3.get_object(Bucket=BUCKET, Key="x.zip")["Body"].read() == data
