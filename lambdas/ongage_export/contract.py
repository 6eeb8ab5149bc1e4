"""The facts the stack, the Lambdas, the embedded runtime, the benchmarks and the CLI share.

Each is defined here once; infra/ imports them to build the template, the Lambdas to read what
the template gave them. (The polling defaults live with the policy, in polling.py.)
"""

from __future__ import annotations

import re

# The stack's name unless cdk.json's stack_name says otherwise (the CLI reads cdk.json too).
DEFAULT_STACK_NAME = "OngageExport"

# How long a download link (the API's GET /exports/{id}, the CLI's status) stays valid by default.
DOWNLOAD_LINK_SECONDS = 900

# Powertools' service name (logs, traces, the metrics dimension) and the metrics namespace.
SERVICE_NAME = "ongage-export"
METRICS_NAMESPACE = "OngageExport"

# Where objects live in the export bucket: landed exports (consumers react to this prefix),
# multipart uploads of downloads resumed across invocations, the optional curated copies.
EXPORT_PREFIX = "exports/"
STAGING_PREFIX = "incoming/"
CURATED_PREFIX = "curated/"

# 8 MiB parts, two in flight: as fast as larger parts, and memory stays flat
# (docs/benchmarks.md); the uploader grows the part size for bodies over 70 GiB (9,000 parts).
PART_SIZE_MIB = 8
UPLOAD_CONCURRENCY = 2

# A Step Functions execution name as this project makes and accepts them: it is also the
# idempotency key of POST /exports.
EXECUTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
EXECUTION_NAME = re.compile(EXECUTION_NAME_PATTERN)
