"""S3 at constant memory: large objects are read and assembled in blocks, as S3 serves them.

Stock moto 5.2.5 handles large objects in ways S3 does not, which makes a local run's memory
grow with the export (and would make the benchmarks measure moto: at 4 GiB, 18 GiB of RAM):
- every ranged GET and every UploadPartCopy loads the object's whole body, so verifying a 4 GiB
  export through 8 MiB ranged reads costs 512 reads of 4 GiB;
- CompleteMultipartUpload concatenates all parts in memory (and copies them twice more).
- an object (and each uploaded part) stays in memory up to just under 5 MiB before moto's
  spooled file rolls over to disk, so every 8 MiB part of an upload in progress is held in RAM;
- in process (the embedded runtime), each request moto answers is a werkzeug Request that
  refers to itself through its environ (`werkzeug.request`), with the body twice (its stream
  and its cached data): freed only by a full garbage collection, rare in a big heap, so a
  local run held every part it had uploaded since the last one (+220 MB at 256 MiB).
The fixes: a ranged read reads only its range; a completed upload's body is its parts' files,
adopted with no byte copied (each part's checksum is taken as it is uploaded); a request's body
is read once, and its reference to itself dropped once built (moto never reads it), so that it
is freed as soon as it is answered; every body beyond 1 MiB (`MOTO_S3_DEFAULT_KEY_BUFFER_SIZE`)
is written straight to disk, its MD5 taken on the way. Validation (ETags, part sizes) and
checksums are computed as moto computes them (with its CRC32 fallback, as neither awscrt nor
crc32c is installed). Nothing else changes.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSPreparedRequest
from moto.core import botocore_stubber
from moto.core.request import Request, normalize_request
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
from moto.s3.models import FakeKey, FakeMultipart, S3Backend
from moto.s3.responses import S3Response
from moto.settings import S3_UPLOAD_PART_MIN_SIZE

from local_aws.s3_bodies import AssembledBody, JoinedFiles, RangeView, digest_of, empty_body

# A plain `bytes=FIRST-LAST` range: the only form our client and boto3 send.
_PLAIN_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")
_serving_range = threading.local()


def complete(
    self: FakeMultipart, body: Iterator[tuple[int, str]]
) -> tuple[AssembledBody, str, tuple[str, str, int]]:
    """FakeMultipart.complete without concatenating the parts in memory."""
    parts: list[FakeKey] = []
    md5s = bytearray()
    for number, etag in body:
        part = self.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if parts and parts[-1].contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
        parts.append(part)
    if not parts:
        raise MalformedXML
    assembled = AssembledBody(parts, *checksum_of(self))
    etag = f"{hashlib.md5(bytes(md5s)).hexdigest()}-{len(parts)}"
    return assembled, etag, assembled.checksum


def checksum_of(upload: FakeMultipart) -> tuple[str, str]:
    """The algorithm and kind (COMPOSITE, FULL_OBJECT) of the upload's checksum, as moto's."""
    algorithm = upload.metadata.get("x-amz-checksum-algorithm") or "CRC64NVME"
    kind = upload.metadata.get("x-amz-checksum-type") or (
        "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
    )
    return algorithm, kind


_original_set_part = FakeMultipart.set_part


def set_part(self: FakeMultipart, part_id: int, value: bytes) -> FakeKey:
    """FakeMultipart.set_part, keeping the part's checksum taken while its bytes are at hand
    (so that completing the upload reads none of them back)."""
    part = _original_set_part(self, part_id, value)
    algorithm, kind = checksum_of(self)
    if kind == "COMPOSITE":
        part.composite_digest = digest_of([value], algorithm)  # type: ignore[attr-defined]
    return part


_value_property: Any = FakeKey.value
_original_get_object = S3Response.get_object


def get_value(self: FakeKey) -> Any:
    # Only inside a plain ranged GET: moto then slices what we return (see key_response).
    if getattr(_serving_range, "active", False):
        return RangeView(self)
    return _value_property.fget(self)


def set_value(self: FakeKey, new_value: Any) -> None:
    if isinstance(self._value_buffer, JoinedFiles):  # a completed upload's, read only
        self._value_buffer.close()
        self._value_buffer = empty_body()
    if not isinstance(new_value, AssembledBody):
        if isinstance(new_value, bytes) and len(new_value) > KEY_BUFFER_BYTES:
            # Straight to disk (not first into memory, then copied over); the ETag (MD5) from
            # the bytes in hand, rather than read back from the file.
            self._value_buffer.rollover()
            if self._etag is None:
                self._etag = hashlib.md5(new_value).hexdigest()
        return _value_property.fset(self, new_value)  # type: ignore[no-any-return]
    self._value_buffer.close()
    self._value_buffer = new_value.files  # type: ignore[assignment]
    self.contentsize = new_value.size
    return None


def get_object(self: S3Response) -> Any:
    _serving_range.active = _is_plain_range(self.headers.get("range")) and not (
        self.querystring.get("partNumber")
    )
    try:
        return _original_get_object(self)
    finally:
        _serving_range.active = False


# What install() replaces, by (owner, attribute): `extensions.applied` patches the same pairs
# for a while only.
PATCHES: tuple[tuple[Any, str, Any], ...] = ()


# Bodies beyond this live in a temporary file, not in memory.
KEY_BUFFER_BYTES = 1024 * 1024


ENVIRONMENT = {"MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(KEY_BUFFER_BYTES)}


def install() -> None:
    os.environ.update(ENVIRONMENT)
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)


def upload_part_copy(
    self: S3Backend,
    dest_bucket_name: str,
    multipart_id: str,
    part_id: int,
    src_bucket_name: str,
    src_key_name: str,
    src_version_id: str | None,
    start_byte: int | None,
    end_byte: int | None,
) -> FakeKey:
    """S3Backend.upload_part_copy reading only the source range."""
    source = self.get_object(src_bucket_name, src_key_name, version_id=src_version_id)
    assert source is not None
    view = RangeView(source)
    data = view[:] if start_byte is None or end_byte is None else view[start_byte : end_byte + 1]
    multipart = self.get_bucket(dest_bucket_name).multiparts[multipart_id]
    return multipart.set_part(part_id, data)


def normalized_request(request: Any) -> Request:
    """moto's normalize_request, with a botocore body read once and handed over as it is (not
    re-read 64 KiB at a time and copied twice more), and without the environ's reference back
    to the request."""
    read = getattr(getattr(request, "body", None), "read", None)
    if isinstance(request, AWSPreparedRequest) and read is not None:
        request.body = read()
    normalized = normalize_request(request)
    normalized.environ.pop("werkzeug.request", None)
    if isinstance(request, AWSPreparedRequest) and isinstance(request.body, bytes):
        normalized._cached_data = request.body  # what werkzeug's get_data returns, if set
    return normalized


def _is_plain_range(header: str | None) -> bool:
    match = _PLAIN_RANGE.match(header or "")
    return match is not None and int(match.group(1)) <= int(match.group(2))


PATCHES = (
    (FakeKey, "value", property(get_value, set_value)),
    (FakeMultipart, "complete", complete),
    (FakeMultipart, "set_part", set_part),
    (S3Response, "get_object", get_object),
    (S3Backend, "upload_part_copy", upload_part_copy),
    (botocore_stubber, "normalize_request", normalized_request),
)
