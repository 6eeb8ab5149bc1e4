"""The simulator's own reading of Ongage's documented create-export rules.

Written from the documentation page (`export-api-methods.txt`) alone, on purpose apart from the
project's validator (`ongage_export.domain.request`): if both came from one source, a misreading
would pass every test. A test (tests/unit/test_simulator_rules.py) checks that whatever the project
accepts, this reading accepts too, and that what the documentation forbids both refuse.

Only what the page says is checked. Where it says nothing (how long a name may be, whether
both id lists may be given), Ongage is taken to be lenient.
"""

from __future__ import annotations

from typing import Any

# As the page lists them, in its order.
DOCUMENTED_DATE_FORMATS = ("mm/dd/yyyy", "mm/dd/yy", "mm-dd-yyyy", "mm-dd-yy",
                           "dd/mm/yyyy", "dd/mm/yy", "dd-mm-yyyy", "dd-mm-yy")  # fmt: skip
DOCUMENTED_STATUSES = ("active", "unjoin-member", "clicked", "opened", "inactive",
                       "bounced", "complaint")  # fmt: skip
SEGMENT_BASED_ONLY = frozenset({"bounced", "complaint"})


def documented_problems(body: Any, list_id_given: bool) -> list[str]:
    """What Ongage's documentation says is wrong with a create body ([] when nothing is).

    `list_id_given`: a list id came with the call (body, query or route prefix), which a
    suppression-list export (no segment or mailing ids) requires.
    """
    if not isinstance(body, dict):
        return ["Request body must be a JSON object"]
    problems = []
    if not isinstance(body.get("name"), str):
        problems.append("name: required string")
    if "list_id" in body and not _is_number(body["list_id"]):
        problems.append("list_id: must be a number")
    problems += _id_list_problems(body, list_id_given)
    if body.get("date_format") not in DOCUMENTED_DATE_FORMATS:
        problems.append("date_format: required, one of " + ", ".join(DOCUMENTED_DATE_FORMATS))
    if body.get("file_format") != "csv":
        problems.append("file_format: required, available: csv")
    if "fields_selected" in body and not _is_list_of(body["fields_selected"], str):
        problems.append("fields_selected: must be an array of strings")
    problems += _status_problems(body)
    return problems


def _id_list_problems(body: dict[str, Any], list_id_given: bool) -> list[str]:
    given = [key for key in ("segment_id", "mailing_id") if key in body]
    if not given and not list_id_given:
        return ["segment_id or mailing_id is required (a suppression list export needs list_id)"]
    return [f"{key}: must be an array of integers" for key in given if not _is_id_list(body[key])]


def _status_problems(body: dict[str, Any]) -> list[str]:
    status = body.get("status")
    if not _is_list_of(status, str) or not status:
        return ["status: required array"]
    unknown = sorted(set(status) - set(DOCUMENTED_STATUSES))
    if unknown:
        return [f"status: unavailable values {unknown}"]
    if SEGMENT_BASED_ONLY & set(status) and "segment_id" not in body:
        return ["status: bounced and complaint are available for export based on segment only"]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


def _is_id_list(value: Any) -> bool:
    return _is_list_of(value, int) and bool(value) and not any(isinstance(i, bool) for i in value)
