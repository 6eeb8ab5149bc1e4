"""Origins (scheme, host, port) and which of them may be trusted with Ongage's credentials
(ongage_session.py sends them to those only). Apart from the session, so that what validates a
setting (settings.py, infra/config.py) does not load an HTTP library."""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]


def origin_of(url: str) -> Origin:
    """(scheme, host, port) with the scheme's default port filled in, case-insensitive."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: no origin matches it
        port = -1
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def trusted_origin(text: str) -> str:
    """`text` as a trusted origin (scheme://host[:port], nothing after it), or ValueError
    saying why not: https only, except plain http on loopback (127.x.x.x, localhost)."""
    parts = urlsplit(text.strip())
    problem = _not_an_origin(parts)
    if problem:
        raise ValueError(f"{text!r} {problem}")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _not_an_origin(parts: SplitResult) -> str | None:
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "has a port that is not a number"
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        return (
            "is plain http: credentials go to https origins only (http only on 127.x.x.x or "
            "localhost)"
        )
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return "is not an origin such as https://connect.ongage.net"
    if any((parts.path not in ("", "/"), parts.query, parts.fragment, parts.username)):
        return "is more than an origin: give scheme://host[:port] only, such as https://connect.ongage.net"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
