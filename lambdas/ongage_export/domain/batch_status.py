"""A batch run as GET /exports/{id} shows it: the batch workflow's status, times and error, and
once every export landed, each export's outcome (the batch notice, its output). A batch that
failed says in its cause which exports failed; each export is a run of its own, shown by
GET /exports/{its execution ARN} (the batch notice names them).
"""

from __future__ import annotations

from typing import Any

from ongage_export.domain.ports import Executions
from ongage_export.domain.run_status import NotAnExecution, execution_arn, status_view


def batch_status(
    executions: Executions, given: str, batch_machine_arn: str | None
) -> dict[str, Any] | None:
    """The batch run `given` names (its run id or execution ARN), or None when it names none."""
    if batch_machine_arn is None:
        return None
    try:
        arn = execution_arn(given, batch_machine_arn)
    except NotAnExecution:
        return None
    execution = executions.describe(arn)
    if execution is None:
        return None
    view = {"kind": "batch", **status_view(execution)}
    notice = view.pop("result", None)
    if isinstance(notice, dict):
        view["exports"] = notice.get("exports", [])
    return view
