"""The export request's rules (request.py) as JSON Schema draft 4: the API's model."""

from __future__ import annotations

from typing import Any

from ongage_export.domain.accounts import ACCOUNT_KEY, ACCOUNT_NAME_PATTERN
from ongage_export.domain.request import (
    DATE_FORMATS,
    FIELD_NAME_PATTERN,
    FILE_FORMATS,
    MAX_FIELD_NAME_LENGTH,
    MAX_FIELDS,
    MAX_ID,
    MAX_IDS,
    MAX_NAME_LENGTH,
    SEGMENT_ONLY_STATUSES,
    STATUSES,
)


def request_json_schema() -> dict[str, Any]:
    """The same rules as `validate_request`, as JSON Schema draft 4 (what API Gateway accepts).

    A property test keeps the two in agreement; the Python validator is the one that explains.
    """
    ids = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_IDS,
        "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }
    not_segment_only = [s for s in STATUSES if s not in SEGMENT_ONLY_STATUSES]
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "OngageExportRequest",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "date_format", "file_format", "status"],
        "properties": {
            "name": {
                "type": "string",
                "maxLength": MAX_NAME_LENGTH,
                # at least one visible character, no control characters
                "pattern": r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$",
            },
            "list_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            ACCOUNT_KEY: {"type": "string", "pattern": ACCOUNT_NAME_PATTERN},
            "segment_id": ids,
            "mailing_id": ids,
            "date_format": {"type": "string", "enum": list(DATE_FORMATS)},
            "file_format": {"type": "string", "enum": list(FILE_FORMATS)},
            "status": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "enum": list(STATUSES)},
            },
            "fields_selected": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_FIELDS,
                "uniqueItems": True,
                "items": {
                    "type": "string",
                    "maxLength": MAX_FIELD_NAME_LENGTH,
                    "pattern": FIELD_NAME_PATTERN,
                },
            },
        },
        "oneOf": [
            {"required": ["segment_id"]},
            {"required": ["mailing_id"]},
            {  # a suppression-list export: list_id and neither id list
                "required": ["list_id"],
                "not": {"anyOf": [{"required": ["segment_id"]}, {"required": ["mailing_id"]}]},
            },
        ],
        "anyOf": [
            {"required": ["segment_id"]},
            {"properties": {"status": {"items": {"enum": not_segment_only}}}},
        ],
    }
