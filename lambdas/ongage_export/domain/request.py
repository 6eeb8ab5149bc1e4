"""The Ongage create-export request: its rules, in one place.

Everything that accepts a request (the CLI's `validate`, the workflow's first step, the API's
JSON Schema) goes through `validate_request` or `request_json_schema` (request_schema.py), both
built from the constants below. Problems are collected, never raised one at a time, so a user
fixes them all in one go.

Three kinds of export, as Ongage documents them: by segment (`segment_id`), by mailing
(`mailing_id`), and a list's suppression list (`list_id` and neither id list: "In case of
Suppression list, Segment ID is not required"; "For Suppression List Export, List ID is
Required"). `bounced` and `complaint` are "available for export based on segment only".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ongage_export.domain.accounts import ACCOUNT_KEY, DEFAULT_ACCOUNT, account_problem
from ongage_export.domain.errors import InvalidExportRequest

DATE_FORMATS = (
    "mm/dd/yyyy",
    "mm/dd/yy",
    "mm-dd-yyyy",
    "mm-dd-yy",
    "dd/mm/yyyy",
    "dd/mm/yy",
    "dd-mm-yyyy",
    "dd-mm-yy",
)
FILE_FORMATS = ("csv",)
STATUSES = ("active", "unjoin-member", "clicked", "opened", "inactive", "bounced", "complaint")
SEGMENT_ONLY_STATUSES = ("bounced", "complaint")
SYSTEM_FIELDS = ("ocx_contact_id", "ocx_created_date", "ocx_unsubscribe_date")

# Bounds that keep a request small enough for workflow state and safe for an S3 key.
MAX_NAME_LENGTH = 200
MAX_IDS = 1000
MAX_FIELDS = 500
MAX_FIELD_NAME_LENGTH = 100
MAX_ID = 2**63 - 1
FIELD_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"

KNOWN_KEYS = (
    "list_id",
    "name",
    "segment_id",
    "mailing_id",
    "date_format",
    "file_format",
    "fields_selected",
    "status",
    ACCOUNT_KEY,  # ours, not Ongage's: which account's credentials and limits (accounts.py)
)


@dataclass(frozen=True)
class ExportRequest:
    """A request that passed `validate_request`; `body` is what is sent to Ongage (the
    request without `account`, which says whose credentials send it)."""

    body: Mapping[str, Any]
    account: str = DEFAULT_ACCOUNT

    @property
    def name(self) -> str:
        return str(self.body["name"])

    @property
    def kind(self) -> str:
        """'segment', 'mailing' or 'suppression' (the list's suppression list)."""
        if "segment_id" in self.body:
            return "segment"
        return "mailing" if "mailing_id" in self.body else "suppression"

    @property
    def list_id(self) -> int | None:
        value = self.body.get("list_id")
        return int(value) if value is not None else None

    def work_shape(self) -> dict[str, Any]:
        """What decides how long Ongage works on the export: the list and what is exported, in
        a stable order; never the name, which a schedule dates (readiness_history.py)."""
        keys = ("list_id", "segment_id", "mailing_id", "status", "fields_selected", "file_format")
        return {
            key: sorted(value) if isinstance(value, list) else value
            for key, value in self.body.items()
            if key in keys
        }

    def summary(self) -> dict[str, Any]:
        """What a notification says about the request (no secrets are ever in a request)."""
        keys = ("name", "list_id", "segment_id", "mailing_id", "status", "file_format")
        return {key: self.body[key] for key in keys if key in self.body}


def parse_request(data: Any) -> ExportRequest:
    """Return the validated request or raise `InvalidExportRequest` listing every problem."""
    problems = validate_request(data)
    if problems:
        raise InvalidExportRequest(problems)
    body = {key: value for key, value in data.items() if key != ACCOUNT_KEY}
    return ExportRequest(body=body, account=data.get(ACCOUNT_KEY, DEFAULT_ACCOUNT))


def validate_request(data: Any) -> list[str]:
    """Every rule the request breaks, as sentences; an empty list means it is valid."""
    if not isinstance(data, Mapping):
        return [f"the request must be a JSON object, not {_kind(data)}"]
    problems: list[str] = []
    for key in data:
        if key not in KNOWN_KEYS:
            problems.append(f"unknown field '{key}': allowed fields are {', '.join(KNOWN_KEYS)}")
    problems += _check_name(data)
    problems += _check_list_id(data)
    problems += _check_source(data)
    problems += _check_choice(data, "date_format", DATE_FORMATS)
    problems += _check_choice(data, "file_format", FILE_FORMATS)
    problems += _check_status(data)
    problems += _check_fields_selected(data)
    if ACCOUNT_KEY in data and (problem := account_problem(data[ACCOUNT_KEY])):
        problems.append(f"'{ACCOUNT_KEY}' {problem}")
    return problems


def _kind(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        type(None): "null",
    }
    return names.get(type(value), "an object")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_name(data: Mapping[str, Any]) -> list[str]:
    name = data.get("name")
    if name is None:
        return ['\'name\' is required: give the export a name, e.g. "name": "daily-actives"']
    if not isinstance(name, str):
        return [f"'name' must be a string, not {_kind(name)}"]
    if not name.strip():
        return ["'name' must not be empty or blank: give the export a name"]
    if len(name) > MAX_NAME_LENGTH:
        return [f"'name' is {len(name)} characters long; keep it to {MAX_NAME_LENGTH} at most"]
    if any(ord(ch) < 32 for ch in name):
        return ["'name' must not contain control characters (newlines, tabs, ...)"]
    return []


def _check_list_id(data: Mapping[str, Any]) -> list[str]:
    if "list_id" not in data:
        return []
    value = data["list_id"]
    if not _is_int(value) or not 0 < value <= MAX_ID:
        return [f"'list_id' must be a positive integer (the Ongage list id), not {value!r}"]
    return []


def _check_source(data: Mapping[str, Any]) -> list[str]:
    given = [key for key in ("segment_id", "mailing_id") if key in data]
    if len(given) == 1:
        return _check_ids(given[0], data[given[0]])
    if given:
        return ["give either 'segment_id' or 'mailing_id', not both"]
    if "list_id" in data:
        return []  # a suppression-list export: the list's suppressed contacts
    return [
        "say what to export: exactly one of 'segment_id' or 'mailing_id' (an array of "
        "Ongage ids), or, for the list's suppression list, 'list_id' alone"
    ]


def _check_ids(key: str, ids: Any) -> list[str]:
    if not isinstance(ids, list) or not ids:
        return [f"'{key}' must be a non-empty array of positive integers, e.g. [77197]"]
    if len(ids) > MAX_IDS:
        return [f"'{key}' has {len(ids)} ids; at most {MAX_IDS} are accepted"]
    bad = [item for item in ids if not _is_int(item) or not 0 < item <= MAX_ID]
    if bad:
        return [f"'{key}' must hold positive integers only; these are not: {bad[:5]!r}"]
    return []


def _check_choice(data: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> list[str]:
    if key not in data:
        return [f"'{key}' is required: one of {', '.join(allowed)}"]
    if data[key] not in allowed:
        return [f"'{key}' is {data[key]!r}; it must be one of {', '.join(allowed)}"]
    return []


def _check_status(data: Mapping[str, Any]) -> list[str]:
    statuses: Any = data.get("status")
    shape = _status_values_problem(statuses)
    if shape:
        return [shape]
    segment_only = [s for s in statuses if s in SEGMENT_ONLY_STATUSES]
    if segment_only and "segment_id" not in data:
        return [f"'status' {segment_only!r} is only available for segment exports (segment_id)"]
    return _listed_twice("status", statuses, "value", "status")


def _status_values_problem(statuses: Any) -> str | None:
    if statuses is None:
        return f"'status' is required: an array of {', '.join(STATUSES)}"
    if not isinstance(statuses, list) or not statuses:
        return f"'status' must be a non-empty array of {', '.join(STATUSES)}"
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        return f"'status' has unknown values {unknown!r}; allowed: {', '.join(STATUSES)}"
    return None


def _listed_twice(key: str, values: list[Any], item: str, each: str) -> list[str]:
    if len(set(values)) != len(values):
        return [f"'{key}' lists a {item} twice; list each {each} once"]
    return []


def _check_fields_selected(data: Mapping[str, Any]) -> list[str]:
    if "fields_selected" not in data:
        return []
    fields = data["fields_selected"]
    if not isinstance(fields, list) or not fields:
        return ["'fields_selected' must be a non-empty array of list field names, or be left out"]
    if len(fields) > MAX_FIELDS:
        return [f"'fields_selected' has {len(fields)} names; at most {MAX_FIELDS} are accepted"]
    bad = [name for name in fields if not _is_field_name(name)]
    if bad:
        return [
            "'fields_selected' must hold field names (letters, digits, '_' or '-', "
            f"{MAX_FIELD_NAME_LENGTH} characters at most); these are not: {bad[:5]!r}"
        ]
    return _listed_twice("fields_selected", fields, "field", "field")


def _is_field_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and len(name) <= MAX_FIELD_NAME_LENGTH
        and re.match(FIELD_NAME_PATTERN, name) is not None
    )
