"""A key created by CloudFormation with a key policy object answers KMS calls (moto 5.2.5 kept
the object and failed every call that reads the policy), and a bucket's SSE-KMS default keeps its
S3 Bucket Key (moto dropped it)."""

from __future__ import annotations

import json

import boto3

from local_aws import extensions, kms_keys

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def test_a_key_from_a_template_keeps_its_policy_and_encrypts(aws):
    template = {
        "Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": POLICY}}},
        "Outputs": {"KeyId": {"Value": {"Ref": "Key"}}},
    }
    with extensions.applied(kms_keys):
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName="keys", TemplateBody=json.dumps(template))
        (output,) = cloudformation.describe_stacks(StackName="keys")["Stacks"][0]["Outputs"]
        kms = boto3.client("kms")

        key_id = kms.describe_key(KeyId=output["OutputValue"])["KeyMetadata"]["KeyId"]
        policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        encrypted = kms.encrypt(KeyId=key_id, Plaintext=b"contact")["CiphertextBlob"]

    assert json.loads(policy) == POLICY
    assert kms.decrypt(CiphertextBlob=encrypted)["Plaintext"] == b"contact"


def test_a_bucket_from_a_template_keeps_its_bucket_key(aws):
    template = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": POLICY}},
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "exports-under-a-key",
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {
                                "BucketKeyEnabled": True,
                                "ServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]},
                                },
                            }
                        ]
                    },
                },
            },
        },
    }
    with extensions.applied(kms_keys):
        boto3.client("cloudformation").create_stack(
            StackName="bucket", TemplateBody=json.dumps(template)
        )
        s3 = boto3.client("s3")
        s3.put_object(Bucket="exports-under-a-key", Key="export.zip", Body=b"PK")

        head = s3.head_object(Bucket="exports-under-a-key", Key="export.zip")
        (rule,) = s3.get_bucket_encryption(Bucket="exports-under-a-key")[
            "ServerSideEncryptionConfiguration"
        ]["Rules"]

    assert rule["BucketKeyEnabled"] is True
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["BucketKeyEnabled"] is True
    assert head["SSEKMSKeyId"] == rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
