"""The functions' environment is written from the settings models that read it: a variable's
name is spelled once, in its field's alias, and what the template sets reads back as given."""

from __future__ import annotations

import pytest

from ongage_export.domain.polling import PollingPolicy
from ongage_export.settings import (
    POWERTOOLS_ENVIRONMENT,
    AnnounceSettings,
    Settings,
    StatusSettings,
)


def test_what_the_template_sets_reads_back_as_given():
    policy = PollingPolicy(initial_seconds=30, max_seconds=300, deadline_seconds=3600)
    environment = Settings.environment(
        export_bucket="exports",
        idempotency_table="jobs",
        ongage_secret_id="ongage/credentials",
        ongage_base_url="https://api.ongage.net",
        ongage_trusted_origins="https://connect.ongage.net",
        part_size_mib=16,
        stop_margin_seconds=120,
        default_polling=policy,
    )
    settings = Settings.from_env(environment)
    assert (settings.export_bucket, settings.idempotency_table) == ("exports", "jobs")
    assert settings.ongage_trusted_origins == "https://connect.ongage.net"
    assert (settings.part_size_mib, settings.stop_margin_seconds) == (16, 120.0)
    assert settings.default_polling == policy


def test_every_function_gets_the_powertools_settings():
    environment = AnnounceSettings.environment(topic_arn="arn:aws:sns:us-east-1:1:t")
    assert environment.items() >= POWERTOOLS_ENVIRONMENT.items()
    assert environment["TOPIC_ARN"] == "arn:aws:sns:us-east-1:1:t"


def test_the_variable_names_are_the_fields_aliases():
    environment = StatusSettings.environment(download_link_seconds=600)
    assert environment["DOWNLOAD_LINK_SECONDS"] == "600"


def test_a_setting_the_model_does_not_have_is_refused_at_synth():
    with pytest.raises(TypeError, match="StatusSettings has no setting named link_seconds"):
        StatusSettings.environment(link_seconds=600)
