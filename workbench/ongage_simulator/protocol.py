"""Ongage's wire format as the simulator speaks it: the JSON envelope, routes, byte ranges."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ongage_simulator.faults import Endpoint

_ROUTE = re.compile(r"^/(?:(?P<list>\d+)/)?api/export(?:/(?P<export>[^/]+)/retrieve)?/?$")
# Where a same-origin REDIRECT sends a retrieve: still Ongage's origin, so still authenticated.
_FILE_ROUTE = re.compile(r"^/files/(?P<export>[^/]+)\.zip$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def envelope_error(code: int, message: str, errors: Iterable[str] = ()) -> dict[str, Any]:
    return {
        "metadata": {"error": True},
        "payload": {"code": code, "errors": list(errors), "message": message},
    }


def envelope_ok(payload: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"error": False}, "payload": payload}


@dataclass(frozen=True)
class Route:
    endpoint: Endpoint
    list_prefix: int | None
    query_list_id: str | None
    export_id: str | None
    file: bool = False  # /files/<id>.zip: the target of a same-origin redirect

    @property
    def method(self) -> str:
        return "POST" if self.endpoint == "create" else "GET"


def parse_route(path: str) -> Route | None:
    parts = urlsplit(path)
    file = _FILE_ROUTE.match(parts.path)
    if file is not None:
        return Route("retrieve", None, None, file.group("export"), file=True)
    match = _ROUTE.match(parts.path)
    if match is None:
        return None
    query = parse_qs(parts.query).get("list_id")
    export_id = match.group("export")
    return Route(
        endpoint="retrieve" if export_id else "create",
        list_prefix=int(match.group("list")) if match.group("list") else None,
        query_list_id=query[-1] if query else None,
        export_id=export_id,
    )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The half-open byte range a single-range `Range` header asks for, or None for all.

    Raises ValueError when the range starts beyond the body (HTTP 416).
    """
    match = _RANGE.match(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None  # absent, multi-range or malformed: serve the full body
    first, last = match.groups()
    if not first:  # "bytes=-N": the last N bytes
        return (max(size - int(last), 0), size) if int(last) else None
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size:
        raise ValueError("range not satisfiable")
    return (start, end) if start < end else None
