"""S3 keys: readable, partitioned, and impossible to steer with the export name."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ongage_export.domain.object_keys import export_key, slug, staging_key

WHEN = datetime(2026, 11, 26, 23, 59, tzinfo=UTC)


def test_layout() -> None:
    key = export_key("exports/", 1111, WHEN, "Daily actives", "98765")
    assert key == "exports/list=1111/date=2026-11-26/Daily-actives-98765.zip"
    assert export_key("exports/", None, WHEN, "x", "1").startswith("exports/list=default/")


def test_traversal_and_odd_names_are_neutralised() -> None:
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("Zoë's  export") == "Zoe-s-export"
    assert slug("...") == "export"
    key = staging_key("incoming/", "exports/a/b/c.zip", "arn:x:execution:m:../run-1")
    assert re.fullmatch(r"incoming/run-1-[0-9a-f]{16}/c\.zip", key)


# What a deployed machine's executions look like: 130+ characters, all but the name shared.
REAL_MACHINE = (
    "arn:aws:states:eu-west-1:123456789012:execution:"
    "OngageExport-WorkflowStateMachine8F1B1C15-AbCdEfGhIjKl"
)


def test_every_execution_of_a_deployed_machine_stages_in_its_own_folder() -> None:
    names = ["daily-actives-2026-12-01T03-00-00Z", "daily-actives-2026-12-02T03-00-00Z", "x"]
    keys = [staging_key("incoming/", "exports/a/c.zip", f"{REAL_MACHINE}:{n}") for n in names]
    folders = {key.rsplit("/", 1)[0] for key in keys}
    assert len(folders) == len(names)
    assert keys[0].startswith("incoming/daily-actives-2026-12-01T03-00-00Z-")


def test_the_same_name_on_two_machines_stages_apart() -> None:
    one = staging_key("incoming/", "exports/c.zip", f"{REAL_MACHINE}:run")
    other = staging_key("incoming/", "exports/c.zip", f"{REAL_MACHINE}X:run")
    assert one != other


@given(
    name=st.text(max_size=300), export_id=st.from_regex(r"^[A-Za-z0-9_-]{1,64}$", fullmatch=True)
)
def test_any_name_stays_inside_its_partition(name: str, export_id: str) -> None:
    key = export_key("exports/", 7, WHEN, name, export_id)
    assert key.startswith("exports/list=7/date=2026-11-26/")
    leaf = key.rsplit("/", 1)[1]
    assert key.count("/") == 3 and ".." not in key
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}-[A-Za-z0-9_-]+\.zip", leaf)
