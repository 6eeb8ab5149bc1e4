"""EventBridge's TestEventPattern answers, with moto's own pattern matcher.

moto matches rule patterns against events it delivers but leaves the TestEventPattern API
unimplemented (it answers nothing). Consumers of this stack subscribe with the pattern in the
`ExportCreatedEventPattern` output; here it can be tested against the event S3 would send.
"""

from __future__ import annotations

import json
from typing import Any

from moto.events.models import EventPattern, EventPatternParser
from moto.events.responses import EventsHandler


def pattern_matches(pattern: str, event: str) -> bool:
    return EventPattern(pattern, EventPatternParser(pattern).parse()).matches_event(
        json.loads(event)
    )


def test_event_pattern(self: EventsHandler) -> Any:
    result = pattern_matches(self._get_param("EventPattern"), self._get_param("Event"))
    return json.dumps({"Result": result}), self.response_headers


def install() -> None:
    EventsHandler.test_event_pattern = test_event_pattern  # type: ignore[method-assign,assignment]
