"""EventInvokeConfig on the local endpoint: the Lambda API, the CloudFormation resource, and what async
invocations do with it (retries, event age, on-failure / on-success destinations).

moto 5.2.5 gaps (localaws/bridges/awslambda/, cloudformation.py): one configuration per function whatever
the qualifier, Put appends, Update is a Put, nothing is applied, and CloudFormation skips the resource type.
Retries run on the session's scaled clock (60 s and 120 s of AWS's last 3 s and 6 s at scale 0.05).
"""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

HANDLERS = """
def fail(event, context):
    raise ValueError("no good: " + str(event.get("why")))


def succeed(event, context):
    return {"ok": event.get("why")}


def slow_fail(event, context):
    import time

    time.sleep(3)
    raise ValueError("no good: " + str(event.get("why")))
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers.py", HANDLERS)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lam(aws_client):
    return aws_client("lambda")


@pytest.fixture(scope="module")
def sqs(aws_client):
    return aws_client("sqs")


@pytest.fixture(scope="module")
def recorder(local_aws):
    events: list[tuple[str, dict]] = []
    local_aws.subscribe(lambda kind, fields: events.append((kind, fields)))
    return events


@pytest.fixture(scope="module")
def role_arn(aws_client) -> str:
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    # Lambda sends an invocation record with the function's role: it may send to any destination kind here.
    permissions = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sns:Publish", "lambda:InvokeFunction", "events:PutEvents"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*",
            },
        ],
    }
    name = f"destinations-test-{time.time_ns()}"
    iam = aws_client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="destinations", PolicyDocument=json.dumps(permissions))
    return arn


@pytest.fixture
def make_function(lam, unique_name, role_arn):
    def make(handler: str) -> str:
        name = unique_name(f"dest-{handler}")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role_arn,
            Handler=f"handlers.{handler}",
            Code={"ZipFile": _zip()},
            Timeout=10,
        )
        return name

    return make


@pytest.fixture
def make_queue(sqs, unique_name):
    def make() -> tuple[str, str]:
        url = sqs.create_queue(QueueName=unique_name("dest-queue"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    return make


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def async_ends(recorder, name: str) -> list[dict]:
    return [f for k, f in list(recorder) if k == "lambda.async.end" and f["function"] == name]


def attempts_of(recorder, name: str) -> list[dict]:
    return [f for k, f in list(recorder) if k == "lambda.invoke.end" and f["function"] == name]


def drain(sqs, url: str) -> list[dict]:
    """Every message in the queue now (short polls until one comes back empty)."""
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(json.loads(m["Body"]) for m in messages)


def invoke_event(lam, name: str, event: dict) -> None:
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    assert response["StatusCode"] == 202


def assert_failure_record(record: dict, lam, name: str, event: dict, condition: str, count: int) -> None:
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert set(record) == {
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    }
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z") and "T" in record["timestamp"]
    context = record["requestContext"]
    assert set(context) == {"requestId", "functionArn", "condition", "approximateInvokeCount"}
    assert context["functionArn"] == f"{arn}:$LATEST"
    assert context["condition"] == condition
    assert context["approximateInvokeCount"] == count
    assert record["requestPayload"] == event
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == f"no good: {event['why']}"


# -- the API ------------------------------------------------------------------------------------------------
def test_put_get_update_list_delete_per_qualifier(lam, make_function, make_queue):
    name = make_function("succeed")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    _, queue_arn = make_queue()
    with pytest.raises(ClientError) as missing:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["Error"]["Message"] == (
        f"The function {arn}:$LATEST doesn't have an EventInvokeConfig"
    )

    put = lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    assert put["FunctionArn"] == f"{arn}:$LATEST" and put["MaximumRetryAttempts"] == 1
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": queue_arn}}
    assert "MaximumEventAgeInSeconds" not in put and put["LastModified"]

    # Update changes what it is given and keeps the rest.
    updated = lam.update_function_event_invoke_config(FunctionName=arn, MaximumEventAgeInSeconds=120)
    assert updated["MaximumRetryAttempts"] == 1 and updated["MaximumEventAgeInSeconds"] == 120
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": queue_arn}

    # Put replaces the whole configuration (settings left out are removed), and it is one, not appended.
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="$LATEST", MaximumRetryAttempts=0)
    got = lam.get_function_event_invoke_config(FunctionName=f"{name}:$LATEST")
    assert got["MaximumRetryAttempts"] == 0 and "MaximumEventAgeInSeconds" not in got
    assert got["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    # A published version has its own configuration.
    version = lam.publish_version(FunctionName=name)["Version"]
    with pytest.raises(ClientError) as none_yet:
        lam.update_function_event_invoke_config(FunctionName=name, Qualifier=version, MaximumRetryAttempts=2)
    assert none_yet.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier=version, MaximumRetryAttempts=2)
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert {c["FunctionArn"]: c["MaximumRetryAttempts"] for c in listed} == {
        f"{arn}:$LATEST": 0,
        f"{arn}:{version}": 2,
    }
    page = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=1)
    assert len(page["FunctionEventInvokeConfigs"]) == 1 and page["NextMarker"]
    rest = lam.list_function_event_invoke_configs(FunctionName=name, Marker=page["NextMarker"])
    assert len(rest["FunctionEventInvokeConfigs"]) == 1 and "NextMarker" not in rest

    lam.delete_function_event_invoke_config(FunctionName=name, Qualifier=version)
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{arn}:$LATEST"]
    with pytest.raises(ClientError) as gone:
        lam.delete_function_event_invoke_config(FunctionName=name, Qualifier=version)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_validation_errors_as_lambda_gives_them(aws_client, lam, make_function):
    name = make_function("succeed")
    raw = aws_client("lambda", parameter_validation=False)  # what botocore would refuse before sending

    def error_of(client, **kwargs) -> dict:
        with pytest.raises(ClientError) as error:
            client.put_function_event_invoke_config(FunctionName=name, **kwargs)
        return error.value.response["Error"]

    too_many = error_of(lam, MaximumRetryAttempts=3)
    assert too_many["Code"] == "ValidationException"
    assert too_many["Message"] == (
        "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 2"
    )
    both = error_of(raw, MaximumRetryAttempts=-1, MaximumEventAgeInSeconds=30)
    assert both["Code"] == "ValidationException" and both["Message"].startswith(
        "2 validation errors detected"
    )
    assert (
        "'maximumEventAgeInSeconds'" in both["Message"] and "greater than or equal to 60" in both["Message"]
    )
    bad_arn = error_of(lam, DestinationConfig={"OnFailure": {"Destination": "not-an-arn"}})
    assert bad_arn["Code"] == "ValidationException"
    assert "'destinationConfig.onFailure.destination'" in bad_arn["Message"]
    s3_on_success = error_of(lam, DestinationConfig={"OnSuccess": {"Destination": "arn:aws:s3:::a-bucket"}})
    assert s3_on_success["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as no_function:
        lam.put_function_event_invoke_config(FunctionName=f"{name}-absent", MaximumRetryAttempts=1)
    assert no_function.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as no_version:
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier="42", MaximumRetryAttempts=1)
    assert no_version.value.response["Error"]["Code"] == "ResourceNotFoundException"


# -- async invocations --------------------------------------------------------------------------------------
def test_failed_event_goes_to_the_on_failure_queue_after_the_retries(
    lam, sqs, make_function, make_queue, recorder
):
    name = make_function("fail")
    url, queue_arn = make_queue()
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    event = {"why": "always"}
    invoke_event(lam, name, event)
    end = wait_for(lambda: async_ends(recorder, name))[0]
    assert end["condition"] == "RetriesExhausted" and end["attempts"] == 3 and end["destination"] == queue_arn
    assert len(attempts_of(recorder, name)) == 3
    records = drain(sqs, url)
    assert len(records) == 1, records
    assert_failure_record(records[0], lam, name, event, "RetriesExhausted", 3)
    # Every attempt ran under the request id the record names, as Lambda retries the same event.
    assert {a["request_id"] for a in attempts_of(recorder, name)} == {
        records[0]["requestContext"]["requestId"]
    }


def test_maximum_retry_attempts_zero_is_one_attempt(lam, sqs, make_function, make_queue, recorder):
    name = make_function("fail")
    url, queue_arn = make_queue()
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    invoke_event(lam, name, {"why": "once"})
    end = wait_for(lambda: async_ends(recorder, name))[0]
    assert end["attempts"] == 1 and len(attempts_of(recorder, name)) == 1
    records = drain(sqs, url)
    assert len(records) == 1
    assert_failure_record(records[0], lam, name, {"why": "once"}, "RetriesExhausted", 1)


@pytest.mark.parametrize(
    ("handler", "max_age_s", "condition", "attempts"),
    [
        # The first retry comes after 60 s, when the event is too old.
        ("fail", 60, "EventAgeExceeded", 1),
        # 240 s covers both retries (60 s + 120 s) and three 3 s attempts: retried to the end. Scaling the
        # age alone (240 s = 12 s at 0.05) made 9 s of scaled waits plus 9 s of attempts too old, as the
        # untuned ons3objectcreated's event at 0.002 in the IAM-paths scenario.
        ("slow_fail", 240, "RetriesExhausted", 3),
    ],
)
def test_the_event_age_counts_invocations_in_real_time_and_waits_on_the_scaled_clock(
    lam, sqs, make_function, make_queue, recorder, handler, max_age_s, condition, attempts
):
    name = make_function(handler)
    url, queue_arn = make_queue()
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=max_age_s,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    invoke_event(lam, name, {"why": handler})
    end = wait_for(lambda: async_ends(recorder, name), timeout=120)[0]
    assert end["condition"] == condition and end["attempts"] == attempts, end
    (record,) = drain(sqs, url)
    assert_failure_record(record, lam, name, {"why": handler}, condition, attempts)


def test_success_sends_nothing_on_failure_and_a_record_on_success(
    lam, sqs, make_function, make_queue, recorder
):
    name = make_function("succeed")
    failure_url, failure_arn = make_queue()
    success_url, success_arn = make_queue()
    lam.put_function_event_invoke_config(
        FunctionName=name,
        DestinationConfig={
            "OnFailure": {"Destination": failure_arn},
            "OnSuccess": {"Destination": success_arn},
        },
    )
    invoke_event(lam, name, {"why": "fine"})
    end = wait_for(lambda: async_ends(recorder, name))[0]
    assert end["condition"] == "Success" and end["destination"] == success_arn
    assert drain(sqs, failure_url) == []
    [record] = drain(sqs, success_url)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["requestPayload"] == {"why": "fine"} and record["responsePayload"] == {"ok": "fine"}


def test_without_destination_a_failed_event_is_dropped_after_the_default_retries(
    lam, make_function, recorder
):
    name = make_function("fail")
    invoke_event(lam, name, {"why": "nowhere"})
    end = wait_for(lambda: async_ends(recorder, name))[0]
    assert end["condition"] == "RetriesExhausted" and end["attempts"] == 3 and end["destination"] is None


# -- CloudFormation -----------------------------------------------------------------------------------------
def test_cloudformation_event_invoke_config_wires_the_failure_queue(
    aws_client, lam, sqs, unique_name, role_arn, recorder
):
    bucket = unique_name("dest-code")
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=_zip())
    name = unique_name("dest-cfn")

    def template(retries: int) -> str:
        return json.dumps(
            {
                "Resources": {
                    "Fn": {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {
                            "FunctionName": name,
                            "Runtime": "python3.13",
                            "Handler": "handlers.fail",
                            "Role": role_arn,
                            "Code": {"S3Bucket": bucket, "S3Key": "fn.zip"},
                        },
                    },
                    "FailureQueue": {"Type": "AWS::SQS::Queue"},
                    "InvokeConfig": {
                        "Type": "AWS::Lambda::EventInvokeConfig",
                        "Properties": {
                            "FunctionName": {"Ref": "Fn"},
                            "Qualifier": "$LATEST",
                            "MaximumRetryAttempts": retries,
                            "DestinationConfig": {
                                "OnFailure": {"Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}
                            },
                        },
                    },
                },
                "Outputs": {
                    "QueueUrl": {"Value": {"Ref": "FailureQueue"}},
                    "ConfigId": {"Value": {"Ref": "InvokeConfig"}},
                },
            }
        )

    cfn = aws_client("cloudformation")
    stack = unique_name("dest-stack")
    cfn.create_stack(StackName=stack, TemplateBody=template(0))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    }
    assert outputs["ConfigId"] == f"{name}|$LATEST"
    config = lam.get_function_event_invoke_config(FunctionName=name)
    queue_arn = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    assert config["MaximumRetryAttempts"] == 0
    assert config["DestinationConfig"]["OnFailure"] == {"Destination": queue_arn}

    invoke_event(lam, name, {"why": "from-cfn"})
    wait_for(lambda: async_ends(recorder, name))
    [record] = drain(sqs, outputs["QueueUrl"])
    assert_failure_record(record, lam, name, {"why": "from-cfn"}, "RetriesExhausted", 1)

    cfn.update_stack(StackName=stack, TemplateBody=template(1))
    cfn.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 1

    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError):
        lam.get_function_event_invoke_config(FunctionName=name)


def test_sns_eventbridge_and_lambda_destinations(aws_client, lam, sqs, make_function, make_queue, recorder):
    """The other destination types: an SNS topic (here with a queue subscribed, raw delivery), an EventBridge
    bus (a rule sends the event to a queue) and a Lambda function (invoked asynchronously with the record)."""
    sns, events = aws_client("sns"), aws_client("events")
    topic_url, topic_queue_arn = make_queue()
    topic_arn = sns.create_topic(Name=f"dest-topic-{time.time_ns()}")["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=topic_queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    bus_url, bus_queue_arn = make_queue()
    bus_name = f"dest-bus-{time.time_ns()}"
    bus_arn = events.create_event_bus(Name=bus_name)["EventBusArn"]
    events.put_rule(
        Name="lambda-results", EventBusName=bus_name, EventPattern=json.dumps({"source": ["lambda"]})
    )
    events.put_targets(
        Rule="lambda-results", EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": bus_queue_arn}]
    )
    receiver = make_function("succeed")

    for destination in (
        topic_arn,
        bus_arn,
        lam.get_function(FunctionName=receiver)["Configuration"]["FunctionArn"],
    ):
        name = make_function("fail")
        lam.put_function_event_invoke_config(
            FunctionName=name,
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": destination}},
        )
        invoke_event(lam, name, {"why": name})
        end = wait_for(lambda: async_ends(recorder, name))[0]  # noqa: B023 (waited on at once)
        assert end["destination"] == destination

    [via_sns] = wait_for(lambda: drain(sqs, topic_url))
    assert via_sns["requestContext"]["condition"] == "RetriesExhausted"
    [via_bus] = wait_for(lambda: drain(sqs, bus_url))
    assert via_bus["source"] == "lambda"
    assert via_bus["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert via_bus["detail"]["requestContext"]["condition"] == "RetriesExhausted"
    # The receiving function ran once, asynchronously, with the record as its event.
    [received] = wait_for(lambda: async_ends(recorder, receiver))
    assert received["condition"] == "Success" and received["attempts"] == 1
