"""The AWS clients the handlers use, one of each per process (Lambda reuses the process).

Apart from `clients.py` (Ongage, the landing, the call slots): the status and announcing
functions need only these, and importing the landing and the Ongage client would only slow
their cold starts.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from ongage_export.adapters.s3_storage import S3_CONFIG
from ongage_export.adapters.step_functions import StepFunctionsRuns

if TYPE_CHECKING:  # the stubs are a development dependency, not in the Lambda bundle
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient


@cache
def s3_client() -> S3Client:
    return boto3.client("s3", config=S3_CONFIG)


@cache
def sns_client() -> SNSClient:
    return boto3.client("sns")


@cache
def stepfunctions_client() -> SFNClient:
    return boto3.client("stepfunctions")


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb")


@cache
def link_signer() -> S3Client:
    """S3 for presigning download links (SigV4: what a link of more than an hour needs)."""
    return boto3.client("s3", config=Config(signature_version="s3v4"))


def runs() -> StepFunctionsRuns:
    return StepFunctionsRuns(stepfunctions_client())
