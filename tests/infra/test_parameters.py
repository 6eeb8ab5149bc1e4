"""The one deploy-time parameter: the Ongage base URL, https anywhere, http on loopback only."""

from __future__ import annotations

import re

import pytest

from infra.parameters import ONGAGE_BASE_URL, ONGAGE_BASE_URL_PATTERN


def test_the_base_url_parameter_defaults_to_cdk_json(synth):
    parameter = synth.json["Parameters"][ONGAGE_BASE_URL]
    assert parameter["Default"] == "https://api.ongage.example"
    assert parameter["AllowedPattern"] == ONGAGE_BASE_URL_PATTERN


@pytest.mark.parametrize(
    "url",
    ["https://api.ongage.net", "https://api.ongage.net/", "http://127.0.0.1:8765",
     "http://localhost:41375/", "https://eu.ongage.example:8443/base"],
)  # fmt: skip
def test_https_and_loopback_http_are_accepted(url):
    assert re.match(ONGAGE_BASE_URL_PATTERN, url)


@pytest.mark.parametrize(
    "url",
    ["http://api.ongage.net", "http://127.0.0.1.evil.example", "http://localhost.evil.example",
     "ftp://api.ongage.net", "https://", "https://api.ongage.net/?x=1", "api.ongage.net"],
)  # fmt: skip
def test_other_urls_are_refused(url):
    assert not re.match(ONGAGE_BASE_URL_PATTERN, url)
