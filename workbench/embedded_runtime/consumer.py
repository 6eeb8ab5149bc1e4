"""The optional consumer (`curated.enabled`) in the embedded runtime, reached as on AWS.

When cdk.out holds the consumer, its function, rule and permission are deployed with the rest;
a landed export's "Object Created" event reaches the function through the template's own rule
(`local_aws.s3_events`, `local_aws.eventbridge_delivery`), and the dispatcher runs the curate
handler in this process. The handlers all read `os.environ`, so the consumer's own variables
(CURATED_PREFIX, STATE_MACHINE_ARN, TOPIC_ARN...) join the Ongage functions' environment; a
variable both set keeps the Ongage functions' value (only PART_SIZE_MIB can differ, when a run
overrides their part size, and it changes only the size of the curated upload's parts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote_plus

from embedded_runtime.stack_functions import every_function
from local_aws.eventbridge_delivery import Delivery, deliveries

CURATE_HANDLER = "curate_export.handler"
# The function's own timeout is 15 minutes; a run waits that long for its curation at most.
CURATION_TIMEOUT_SECONDS = 15 * 60


class Runtime(Protocol):
    stack_name: str
    bucket: str

    def client(self, service: str) -> Any: ...

    def download(self, key: str, destination: Path) -> Path: ...


@dataclass(frozen=True)
class Consumer:
    function_name: str
    function_arn: str

    def curations(self) -> list[Delivery]:
        """Every event delivered to the consumer so far, with what it answered."""
        return deliveries.to(self.function_arn)

    def curation_of(self, key: str, timeout: float = CURATION_TIMEOUT_SECONDS) -> Delivery | None:
        """The delivery of `key`'s "Object Created" event, once its curation has finished."""
        deliveries.wait(timeout)
        found = [d for d in self.curations() if _key_of(d.event) == key]
        return found[-1] if found else None


def _key_of(event: dict[str, Any]) -> str:
    return unquote_plus(event["detail"]["object"]["key"])  # S3 events URL-encode keys


def attach(runtime: Runtime) -> Consumer | None:
    """The deployed stack's consumer, if it has one (its environment is the runtime's)."""
    lam = runtime.client("lambda")
    for function in every_function(runtime.client("cloudformation"), runtime.stack_name):
        config = lam.get_function_configuration(FunctionName=function)
        if config["Handler"].endswith(CURATE_HANDLER):
            return Consumer(config["FunctionName"], config["FunctionArn"])
    return None


def curated_output(runtime: Runtime, key: str | None, out_dir: Path | None) -> dict[str, Any]:
    """For a run's summary: how the landed `key` was curated (nothing without a consumer), and
    with `out_dir`, the curated Parquet and manifest copied under `out_dir` at their keys
    (`out_dir/curated/...`, where the README's DuckDB query reads them)."""
    consumer: Consumer | None = getattr(runtime, "consumer", None)
    if consumer is None or key is None:
        return {}
    delivery = consumer.curation_of(key)
    if delivery is None or delivery.outcome != "DELIVERED":
        answer = delivery.answer if delivery else "the export's event reached no consumer"
        return {"curated": {"status": "FAILED", "error": answer}}
    answer = delivery.answer
    curated: dict[str, Any] = {"status": answer["status"], "rows": answer.get("rows")}
    if answer["status"] == "CURATED":
        keys = [answer["manifest_key"], *answer["files"]]
        curated["s3_uris"] = [f"s3://{runtime.bucket}/{k}" for k in keys]
        if out_dir is not None:
            curated["local_paths"] = [str(runtime.download(k, out_dir / k)) for k in keys]
    return {"curated": curated}


def describe(curated: dict[str, Any]) -> list[str]:
    """What a run prints about its curation."""
    if curated["status"] != "CURATED":
        return [f"  curated: {curated['status']} {curated.get('error') or ''}".rstrip()]
    files = curated.get("local_paths") or curated["s3_uris"]
    where = str(Path(files[0]).parent) if curated.get("local_paths") else files[0].rsplit("/", 1)[0]
    lines = [f"  curated: {curated['rows']} rows as Parquet + manifest in {where}"]
    if not curated.get("local_paths"):
        lines.append("  (in the embedded S3, gone when the run ends: --out DIR keeps a copy)")
    return lines
