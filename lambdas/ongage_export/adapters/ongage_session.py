"""An HTTP session whose Ongage credentials never leave Ongage's trusted origins.

The trusted origins are the base URL's and those the deployment lists (`ongage_trusted_origins`
in cdk.json, `--ongage-trusted-origin` for `ongage-export run`): Ongage serves its API from more
than one host (a public client retrieves from connect.ongage.net), and a retrieve redirected to
such a host may need the credentials there. Every other origin gets none.

requests keeps custom headers across redirects and strips only `Authorization` when the host
changes, so `X_PASSWORD` on an ordinary session would follow a 302 to any download server, CDN
or signed storage link. This session uses requests' own redirect hooks instead of following
redirects by hand (which would re-implement method rewriting, body dropping, cookies, proxies):

- `prepare_request` adds the credentials only to a request for a trusted origin (scheme, host
  and port, exactly);
- `rebuild_auth`, called for every hop, removes them when the hop goes to an untrusted origin. Once
  removed they stay removed: requests builds each hop from the one before, so a chain that
  leaves Ongage and comes back never gets them again;
- `get_redirect_target` refuses an https -> http downgrade and any scheme but http(s);
- at most MAX_REDIRECTS hops.

Cross-origin redirects are followed (without credentials), not refused: a retrieve that hands
the ZIP over through a signed link is a plausible Ongage set-up, and the link needs no
credentials of ours; the ZIP is verified whatever origin served it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import requests

from ongage_export.adapters.origins import DEFAULT_PORTS, origin_of, trusted_origin
from ongage_export.domain.errors import OngageRedirectRefused

MAX_REDIRECTS = 5


class OngageSession(requests.Session):
    """A `requests.Session` for one Ongage base URL and its credential headers, which also go
    to `trusted_origins` (checked by `trusted_origin`). `before_redirected_call` runs before a
    redirect is followed with the credentials: that hop is one more call of the account."""

    def __init__(
        self,
        base_url: str,
        credentials: Mapping[str, str],
        trusted_origins: Iterable[str] = (),
        before_redirected_call: Callable[[], None] = lambda: None,
    ):
        super().__init__()
        self.before_redirected_call = before_redirected_call
        self.max_redirects = MAX_REDIRECTS
        self.trusted_origins = frozenset(
            {origin_of(base_url), *(origin_of(trusted_origin(o)) for o in trusted_origins)}
        )
        self._credentials = dict(credentials)

    def trusts(self, url: str) -> bool:
        """Whether a request to `url` carries the credentials."""
        return origin_of(url) in self.trusted_origins

    def __repr__(self) -> str:
        return f"OngageSession({sorted(self.trusted_origins)!r})"  # never the credentials

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        if self.trusts(prepared.url or ""):
            prepared.headers.update(self._credentials)
        return prepared

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)  # Authorization, as requests does
        if self.trusts(prepared_request.url or ""):
            self.before_redirected_call()
        else:
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
