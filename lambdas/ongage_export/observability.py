"""One Logger, Tracer and Metrics for every handler (Powertools reads its settings from env)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from ongage_export.contract import METRICS_NAMESPACE, SERVICE_NAME

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
