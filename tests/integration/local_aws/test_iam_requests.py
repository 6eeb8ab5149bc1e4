from __future__ import annotations

from types import SimpleNamespace

import pytest

from local_aws import iam_requests


def response(path: str = "", **params: str) -> SimpleNamespace:
    return SimpleNamespace(
        path=path, region="us-east-1", current_account="123456789012",
        _get_param=lambda name: params.get(name),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations",
         "arn:aws:lambda:us-east-1:123456789012:function:f"),
        ("/2015-03-31/functions/f/invocations", "arn:aws:lambda:us-east-1:123456789012:function:f"),
        ("/2015-03-31/functions", "*"),
    ],
)  # fmt: skip
def test_a_lambda_call_names_its_function(path, expected):
    assert iam_requests.function_arn(response(path)) == expected


def test_other_calls_name_their_table_topic_and_execution():
    assert iam_requests.table_arn(response(TableName="t")).endswith(":table/t")
    assert (
        iam_requests.topic_arn(response(TopicArn="arn:aws:sns:us-east-1:1:t"))
        == "arn:aws:sns:us-east-1:1:t"
    )
    assert iam_requests.state_machine_arn(response(executionArn="arn:e")) == "arn:e"
    assert iam_requests.table_arn(response()) == "*"


def test_invoke_is_checked_as_invoke_function():
    assert iam_requests.IAM_ACTIONS["lambda:Invoke"] == "lambda:InvokeFunction"
