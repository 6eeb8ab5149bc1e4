"""What an Ongage export id may be: opaque, but it goes into a URL path as one segment."""

from __future__ import annotations

import re
from typing import Any

# Only RFC 3986 "unreserved" characters, and not the dot segments "." and ".." (which a URL
# resolver removes).
EXPORT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")


def export_id_problem(value: Any) -> str | None:
    """Why `value` cannot be used as an export id in a URL path, or None if it can."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"the id is {_kind(value)}, not a string or a number"
    text = str(value)
    if text in (".", "..") or not EXPORT_ID_PATTERN.match(text):
        return (
            f"the id {text[:80]!r} is not one URL path segment (letters, digits, '-', '_', "
            "'.', '~'; 128 characters at most; not '.' or '..')"
        )
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    names = {bool: "a boolean", float: "a fractional number", list: "an array"}
    return names.get(type(value), "an object")
