"""A batch: `{"exports": [REQUEST, ...]}`, one run per element, each a full request (with its
optional `account`). Accepted wherever a single request is; validated as a whole, so every
element's every problem is listed at once, prefixed with its index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ongage_export.domain.request import validate_request

BATCH_KEY = "exports"
# A Map state runs the batch: its input, all requests, stays far inside the 256 KiB of state.
MAX_BATCH_EXPORTS = 200


def is_batch(document: Any) -> bool:
    """True when `document` is shaped as a batch (an object with `exports`), valid or not."""
    return isinstance(document, Mapping) and BATCH_KEY in document


def validate_batch(document: Any) -> list[str]:
    """Every problem of the batch, as sentences; an empty list means it is valid."""
    if not isinstance(document, Mapping):
        return ['a batch must be a JSON object {"exports": [REQUEST, ...]}']
    problems = [
        f"unknown field '{key}' in the batch: it holds only '{BATCH_KEY}'"
        for key in document
        if key != BATCH_KEY
    ]
    exports = document.get(BATCH_KEY)
    if not isinstance(exports, list) or not exports:
        return [*problems, f"'{BATCH_KEY}' must be a non-empty array of export requests"]
    if len(exports) > MAX_BATCH_EXPORTS:
        problems.append(
            f"'{BATCH_KEY}' has {len(exports)} requests; at most {MAX_BATCH_EXPORTS} per batch: "
            "split it into several batches"
        )
    for index, request in enumerate(exports):
        problems += [f"{BATCH_KEY}[{index}]: {problem}" for problem in validate_request(request)]
    return problems
