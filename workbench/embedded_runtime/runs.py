"""What the embedded runtime runs with and answers: the Ongage account it calls, and a finished
execution's status, landed object or failure, as `run --json` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OngageAccount:
    """Where Ongage is and who we are there (the simulator's demo account by default)."""

    url: str
    username: str
    password: str = field(repr=False)
    account_code: str = field(repr=False)
    # Origins besides `url`'s that get the credentials on a redirect (added to the stack's).
    trusted_origins: tuple[str, ...] = ()


@dataclass
class RunResult:
    """What a finished execution tells: its status, the landed object or the failure."""

    execution_arn: str
    status: str
    output: dict[str, Any]  # the execution's output; empty when it has none
    error: str | None
    cause: str  # empty when it has none
    notices: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        landed = self.output
        failure = next((n for n in self.notices if n["message"].get("status") == "FAILED"), None)
        notice = failure["message"] if failure else {}
        return {
            "status": self.status,
            "execution_arn": self.execution_arn,
            "export_id": landed.get("export_id", notice.get("export_id")),
            "bucket": landed.get("bucket"),
            "key": landed.get("key"),
            "bytes": landed.get("bytes"),
            "sha256": landed.get("sha256"),
            "error": self.error,
            "cause": self.cause,
        }


def is_about(notice: dict[str, Any], execution_arn: str) -> bool:
    message = notice["message"]
    return execution_arn in (message.get("execution_arn"), message.get("execution_id"))
