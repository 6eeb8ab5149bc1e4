from __future__ import annotations

import json

from local_aws.event_patterns import pattern_matches

PATTERN = json.dumps(
    {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "exports/"}]}}}
)


def event(key: str) -> str:
    return json.dumps({"source": "aws.s3", "detail": {"object": {"key": key}}})


def test_prefix_patterns_match_as_eventbridge_does():
    assert pattern_matches(PATTERN, event("exports/list=1/x.zip"))
    assert not pattern_matches(PATTERN, event("incoming/x.zip"))
