"""The S3 bridge (localaws/bridges/s3.py), over HTTP with boto3.

Gaps guarded: moto's ``LambdaFunction.invoke`` needs Docker, and ``moto.s3.notifications._invoke_awslambda``
invokes synchronously (PutObject would wait for the function); on AWS the delivery is asynchronous. moto
answers PutBucketPolicy with HTTP 200 and the body ``True``; S3 answers HTTP 204 with no body.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile

import pytest

GAP_ASYNC = "moto gap 'S3 notifications invoke Lambda synchronously' is no longer bridged"
GAP_POLICY = "moto gap 'PutBucketPolicy answers 200 with the body True' is no longer bridged"
GAP_DOCKER = "moto gap 'LambdaFunction.invoke runs handlers only in Docker' is no longer bridged"

HANDLER = """
import json, time

def handler(event, context):
    time.sleep(0.6)
    print("EVENT " + json.dumps(event))
    return "ok"
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def __call__(self, kind: str, fields: dict) -> None:
        with self._lock:
            self.events.append((kind, fields))

    def of(self, kind: str, **match: object) -> list[dict]:
        with self._lock:
            return [f for k, f in self.events if k == kind and all(f.get(n) == v for n, v in match.items())]


@pytest.fixture(scope="module")
def recorder(local_aws) -> Recorder:
    rec = Recorder()
    local_aws.subscribe(rec)
    return rec


@pytest.fixture(scope="module")
def notified_function(aws_client) -> str:
    iam, lam = aws_client("iam"), aws_client("lambda")
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    suffix = time.time_ns()
    role = iam.create_role(RoleName=f"s3-bridge-test-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("onobject.py", HANDLER)
    return lam.create_function(
        FunctionName=f"s3-notified-{suffix}",
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="onobject.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
    )["FunctionArn"]


def test_csv_upload_invokes_the_function_asynchronously_with_an_s3_event(
    aws_client, local_aws, notified_function, recorder, unique_name
):
    s3 = aws_client("s3")
    bucket = unique_name("s3-bridge-data")
    s3.create_bucket(Bucket=bucket)
    # S3 invokes the function only if its resource-based policy lets S3 do so for this bucket.
    aws_client("lambda").add_permission(
        FunctionName=notified_function,
        StatementId=f"s3-{bucket}",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
        SourceAccount=local_aws.account_id,
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "csv-arrived",
                    "LambdaFunctionArn": notified_function,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}},
                }
            ]
        },
    )
    function_name = notified_function.rsplit(":", 1)[-1]

    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"not for the function")
    started = time.monotonic()
    s3.put_object(Bucket=bucket, Key="sales/My Sales.csv", Body=b"a,b\n1,2\n")
    put_took = time.monotonic() - started
    assert put_took < 0.5, f"{GAP_ASYNC}: PutObject waited {put_took:.2f} s for the function"

    deadline = time.monotonic() + 10
    while not recorder.of("lambda.invoke.end", function=function_name) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # a wrongly delivered .txt notification would have started by now
    ends = recorder.of("lambda.invoke.end", function=function_name)
    assert len(ends) == 1, f"{GAP_DOCKER}, or the suffix filter was not honoured: {ends}"
    assert ends[0]["error"] is None

    lines = [f["line"] for f in recorder.of("lambda.log", function=function_name)]
    event = json.loads(next(line for line in lines if line.startswith("EVENT "))[len("EVENT ") :])
    record = event["Records"][0]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == local_aws.region
    assert record["s3"]["configurationId"] == "csv-arrived"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert record["s3"]["object"]["key"] == "sales/My+Sales.csv"  # URL-encoded, as AWS sends it
    assert record["s3"]["object"]["size"] == 8
    assert "principalId" in record["userIdentity"] and "sequencer" in record["s3"]["object"]


def test_put_bucket_policy_answers_204_with_no_body_as_s3_does(aws_client, local_aws, unique_name):
    s3 = aws_client("s3")
    bucket = unique_name("s3-bridge-policy")
    s3.create_bucket(Bucket=bucket)
    bodies: list[bytes] = []
    s3.meta.events.register(
        "after-call.s3.PutBucketPolicy", lambda http_response, **_: bodies.append(http_response.content)
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{local_aws.account_id}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }

    answer = s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204, GAP_POLICY
    assert bodies == [b""], GAP_POLICY
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
