"""Customer-managed keys from a template work as the API would set them up (moto 5.2.5 gaps).

- A key's `KeyPolicy` is a JSON object in CloudFormation; moto stores that dict, and every later
  call that checks the policy (DescribeKey, Encrypt, GenerateDataKey...) fails in `json.loads`
  with a 500. Here the object is serialized first, as CreateKey's `Policy` string would be.
- A bucket's default encryption drops `BucketKeyEnabled`, so objects under an SSE-KMS default
  report `BucketKeyEnabled: false`; here the rule keeps it, as PutBucketEncryption does.
"""

from __future__ import annotations

import json
from typing import Any

from moto.kms.models import Key
from moto.s3 import models as s3_models

_original_key = Key.create_from_cloudformation_json
_original_encryption = s3_models.cfn_to_api_encryption


def create_from_cloudformation_json(
    cls: type[Key],
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Key:
    policy = cloudformation_json.get("Properties", {}).get("KeyPolicy")
    if isinstance(policy, dict):
        properties = {**cloudformation_json["Properties"], "KeyPolicy": json.dumps(policy)}
        cloudformation_json = {**cloudformation_json, "Properties": properties}
    return _original_key(resource_name, cloudformation_json, account_id, region_name, **kwargs)


def cfn_to_api_encryption(properties: dict[str, Any]) -> dict[str, Any]:
    encryption = _original_encryption(properties)
    rule = properties["ServerSideEncryptionConfiguration"][0]
    if "BucketKeyEnabled" in rule:  # as PutBucketEncryption's XML body parses: a string
        encryption["Rule"]["BucketKeyEnabled"] = str(bool(rule["BucketKeyEnabled"])).lower()
    return encryption


PATCHES = (
    (Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)),
    (s3_models, "cfn_to_api_encryption", cfn_to_api_encryption),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
