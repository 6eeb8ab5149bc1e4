"""An HTTP session whose Ongage credentials never leave Ongage's origin.

requests keeps custom headers across redirects and strips only `Authorization` when the host
changes, so `X_PASSWORD` on an ordinary session would follow a 302 to any download server, CDN
or signed storage link. This session uses requests' own redirect hooks instead of following
redirects by hand (which would re-implement method rewriting, body dropping, cookies, proxies):

- `prepare_request` adds the credentials only to a request for Ongage's origin (scheme, host
  and port, exactly);
- `rebuild_auth`, called for every hop, removes them when the hop goes to another origin. Once
  removed they stay removed: requests builds each hop from the one before, so a chain that
  leaves Ongage and comes back never gets them again;
- `get_redirect_target` refuses an https -> http downgrade and any scheme but http(s);
- at most MAX_REDIRECTS hops.

Cross-origin redirects are followed (without credentials), not refused: a retrieve that hands
the ZIP over through a signed link is a plausible Ongage set-up, and the link needs no
credentials of ours; the ZIP is verified whatever origin served it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import requests

from ongage_export.errors import OngageRedirectRefused

MAX_REDIRECTS = 5
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


class OngageSession(requests.Session):
    """A `requests.Session` for one Ongage base URL and its credential headers."""

    def __init__(self, base_url: str, credentials: Mapping[str, str]):
        super().__init__()
        self.max_redirects = MAX_REDIRECTS
        self.trusted_origin = origin_of(base_url)
        self._credentials = dict(credentials)

    def __repr__(self) -> str:
        return f"OngageSession({self.trusted_origin!r})"  # never the credentials

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        if origin_of(prepared.url or "") == self.trusted_origin:
            prepared.headers.update(self._credentials)
        return prepared

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)  # Authorization, as requests does
        if origin_of(prepared_request.url or "") != self.trusted_origin:
            for name in self._credentials:
                prepared_request.headers.pop(name, None)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        scheme = urlsplit(urljoin(resp.url, target)).scheme.lower()
        refusal = _refusal(urlsplit(resp.url).scheme.lower(), scheme)
        if refusal:
            resp.close()
            raise OngageRedirectRefused(
                f"Ongage answered {resp.status_code} with a redirect {refusal}; the client "
                "does not follow it. Check ongage_base_url (use Ongage's https URL) and report "
                "the redirect to Ongage",
                status=resp.status_code,
            )
        return target


def _refusal(from_scheme: str, to_scheme: str) -> str:
    """Why a redirect from `from_scheme` to `to_scheme` is not followed ('' if it is)."""
    if to_scheme not in DEFAULT_PORTS:
        return f"to a {to_scheme or 'scheme-less'}: URL (only http and https are followed)"
    if from_scheme == "https" and to_scheme == "http":
        return "from https to plain http (a downgrade would expose the download)"
    return ""
