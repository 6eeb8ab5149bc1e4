"""One Logger, Tracer and Metrics for every handler (Powertools reads its settings from env)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="ongage-export")
tracer = Tracer(service="ongage-export")
metrics = Metrics(namespace="OngageExport", service="ongage-export")
