"""The simulator's account credentials and knobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from ongage_simulator.archives import Archive
from ongage_simulator.faults import FaultSpec


@dataclass(frozen=True)
class Credentials:
    """The three values Ongage expects in the X_USERNAME, X_PASSWORD, X_ACCOUNT_CODE headers."""

    username: str
    password: str = field(repr=False)  # never printed or logged
    account_code: str

    @classmethod
    def demo(cls) -> Credentials:
        return cls(username="demo", password="demo-secret", account_code="DEMOACCT")

    def headers(self) -> dict[str, str]:
        """The authentication headers of a call made with these credentials."""
        return {
            "X_USERNAME": self.username,
            "X_PASSWORD": self.password,
            "X_ACCOUNT_CODE": self.account_code,
        }

    def env(self) -> dict[str, str]:
        """The environment variables the project's client reads its credentials from."""
        return {
            "ONGAGE_USERNAME": self.username,
            "ONGAGE_PASSWORD": self.password,
            "ONGAGE_ACCOUNT_CODE": self.account_code,
        }


@dataclass(frozen=True)
class ServedAccount:
    """An account the simulator serves, told apart from the others by its account code, and
    Ongage's two limits on it (per account, as Ongage documents them)."""

    credentials: Credentials
    calls_per_minute: int = 300
    parallel_calls: int = 10


@dataclass
class SimulatorConfig:
    """Knobs; the running simulator reads them on every call, so tests may change them live.

    Exports keep the `export_bytes` and `force_zip64` in force when they were created, so
    their bodies (and expected sha256) never change afterwards.
    """

    credentials: Credentials = field(default_factory=Credentials.demo)
    # An export is served once it has been retrieved this many times before and is this old.
    ready_after_retrieves: int = 2
    ready_after_seconds: float = 0.0
    export_bytes: int = 64 * 1024  # CSV size to reach (0: header row only)
    force_zip64: bool = False  # Zip64 records even for a small body (tests of that path)
    # How exports are packed (archives.ARCHIVES): "stored" streams; the others (Deflate,
    # BZip2, LZMA, Deflate64, ZipCrypto, not a ZIP) are built in memory, for small exports.
    archive: Archive = "stored"
    # How a retrieve of an unknown (or purged) export is answered: 412 "Export not found", or
    # 404 as Ongage's Import API answers an unknown import (what retrieve does is unpublished).
    unknown_export_status: int = 412
    # Where the "second_host" redirect goes: another Ongage host, which requires the credentials.
    second_host: str = "127.0.0.2"
    rate_limit_per_minute: int = 300
    rate_window_seconds: float = 60.0  # tests shorten it to see the window slide
    max_parallel: int = 10
    default_list_id: int = 1000
    known_list_ids: frozenset[int] | None = None  # None: any positive list id exists
    no_api_access: tuple[Credentials, ...] = ()  # accounts that authenticate but get 403
    honour_range: bool = True  # False: ignore Range headers and always send the full body
    faults: tuple[FaultSpec, ...] = ()  # injected at start, as `OngageSimulator.inject` does
    # The first export id handed out (then +1 each). Fixed for tests; `ongage-export
    # simulator` starts from the clock, so a restarted simulator never repeats an id an
    # earlier one gave out (its exports may have landed in a local AWS that is still up).
    first_export_id: int = 7_000_001
    # Accounts served besides the default one (`credentials`, `rate_limit_per_minute`,
    # `max_parallel`), each with its own limits; account codes must differ.
    accounts: tuple[ServedAccount, ...] = ()

    def served_accounts(self) -> tuple[ServedAccount, ...]:
        """Every account served, the default one first (read live, as every knob is)."""
        default = ServedAccount(self.credentials, self.rate_limit_per_minute, self.max_parallel)
        return (default, *self.accounts)

    def served_account(self, account_code: str) -> ServedAccount | None:
        return next(
            (a for a in self.served_accounts() if a.credentials.account_code == account_code),
            None,
        )
