"""The conformance check (localaws/conformance) catches what it must, so that it cannot silently pass.

Unit tests feed it answers made by hand for real operations (one per problem kind and protocol); the WSGI
tests run its middleware around a fake app; the live tests make the session endpoint give bad answers (a
monkeypatched moto handler: the endpoint runs in-process) and find them recorded, tagged with the
``X-Localaws-Conformance-Expect`` header so that the conftest leaves them to the test.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from moto.stepfunctions.responses import StepFunctionResponse

import tests.conftest as session_conftest
from localaws import conformance
from localaws.conformance import ConformanceCheck, Recorder, check_answer, read_violations
from localaws.conformance.operations import Operation, Unidentified, identify, service_model
from localaws.conformance.shapes import conform_json
from tests.child_env import child_environment

AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0"
)


def op(service: str, name: str) -> Operation:
    model = service_model(service)
    return Operation(model, model.operation_model(name))


def kinds(problems) -> set[tuple[str, str]]:
    return {(p.kind, p.path) for p in problems}


# --- JSON answers -----------------------------------------------------------------------------------------

START = op("stepfunctions", "StartExecution")
ARN = "arn:aws:states:us-east-1:123456789012:execution:M:e"


def test_a_json_answer_as_the_model_says_has_no_problem():
    assert check_answer(START, 200, {}, json.dumps({"executionArn": ARN, "startDate": 1.5}).encode()) == []


def test_json_extra_key_missing_required_member_and_null_are_each_caught():
    body = {"executionArn": None, "bogus": 1}  # startDate missing, executionArn null, bogus not a member
    found = kinds(check_answer(START, 200, {}, json.dumps(body).encode()))
    assert found == {
        ("null", "$.executionArn"),
        ("extra key", "$.bogus"),
        ("missing required member", "$.startDate"),
    }


def test_json_types_are_checked_as_the_wire_carries_them():
    """A timestamp as an ISO string (moto's json.dumps(default=str) style) is not epoch seconds; a bool is
    not a number; an enum value must be one the model lists."""
    described = op("stepfunctions", "DescribeExecution")
    body = {
        "executionArn": ARN,
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:M",
        "status": "DONE",
        "startDate": "2026-01-01T00:00:00Z",
        "inputDetails": {"included": "yes"},
    }
    found = kinds(check_answer(described, 200, {}, json.dumps(body).encode()))
    assert found == {
        ("value not in enum", "$.status"),
        ("wrong type", "$.startDate"),
        ("wrong type", "$.inputDetails.included"),
    }


def test_nested_lists_and_maps_are_checked_to_the_leaves():
    history = op("stepfunctions", "GetExecutionHistory")
    body = {"events": [{"timestamp": 1, "type": "PassStateEntered", "id": 1, "stateEnteredEventDetails": {}}]}
    found = kinds(check_answer(history, 200, {}, json.dumps(body).encode()))
    assert ("missing required member", "$.events[0].stateEnteredEventDetails.name") in found
    tags = op("lambda", "ListTags")
    assert kinds(check_answer(tags, 200, {}, b'{"Tags": {"a": null, "b": "x"}}')) == {("null", "$.Tags['a']")}


def test_an_answer_that_is_not_json_is_caught():
    problems = check_answer(START, 200, {}, b"<html>oops</html>")
    assert [p.kind for p in problems] == ["unreadable body"]


# --- error codes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "documented"),
    [
        ("InvalidExecutionInput", True),  # in StartExecution's errors
        ("ThrottlingException", True),  # common to all services
        ("AccessDeniedException", True),
        ("ExecutionDoesNotExist", False),  # a Step Functions error, but not one StartExecution documents
        ("NotFound", False),  # werkzeug's reason phrase is no AWS code
    ],
)
def test_an_error_code_must_be_documented_for_the_operation_or_common(code, documented):
    body = json.dumps({"__type": f"com.amazonaws.states#{code}", "message": "m"}).encode()
    problems = check_answer(START, 400, {}, body)
    assert (problems == []) is documented, problems


def test_error_codes_are_read_as_each_protocol_carries_them():
    # JSON: x-amzn-ErrorType header (SQS, query-compatible: the shape name; its legacy code is a header)
    get_url = op("sqs", "GetQueueUrl")
    headers = {
        "x-amzn-errortype": "com.amazonaws.sqs#QueueDoesNotExist",
        "x-amzn-query-error": "AWS.X;Sender",
    }
    assert check_answer(get_url, 400, headers, b"{}") == []
    # query: <ErrorResponse><Error><Code>; IAM's error shapes carry their own code (NoSuchEntity)
    get_role = op("iam", "GetRole")
    xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>m</Message></Error>"
    xml += b"</ErrorResponse>"
    assert check_answer(get_role, 404, {}, xml.replace(b"{}", b"NoSuchEntity")) == []
    assert [p.kind for p in check_answer(get_role, 404, {}, xml.replace(b"{}", b"Bogus"))] == [
        "undocumented error code"
    ]
    # S3: <Error><Code>, with S3's documented list; a HEAD answers with the status alone
    get_object = op("s3", "GetObject")
    assert check_answer(get_object, 404, {}, b"<Error><Code>NoSuchBucket</Code></Error>") == []
    assert check_answer(op("s3", "HeadObject"), 404, {}, b"") == []
    # no code at all is a problem in a JSON protocol
    assert [p.kind for p in check_answer(START, 400, {}, b"{}")] == ["undocumented error code"]


# --- XML answers ------------------------------------------------------------------------------------------

DESCRIBE_STACKS = op("cloudformation", "DescribeStacks")
STACK_XML = """<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
<DescribeStacksResult><Stacks><member>
  <StackName>s</StackName><StackId>id</StackId><CreationTime>2026-01-01T00:00:00.000Z</CreationTime>
  <StackStatus>CREATE_COMPLETE</StackStatus>{extra}
  <Outputs><member><OutputKey>k</OutputKey><OutputValue>v</OutputValue></member></Outputs>
</member></Stacks></DescribeStacksResult>
<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>"""


def test_a_query_answer_as_the_model_says_has_no_problem():
    assert check_answer(DESCRIBE_STACKS, 200, {}, STACK_XML.format(extra="").encode()) == []


def test_query_extra_element_missing_required_python_none_and_types_are_caught():
    extra = "<Bogus>1</Bogus><StackStatusReason>None</StackStatusReason><DisableRollback>no</DisableRollback>"
    body = STACK_XML.format(extra=extra).replace("<StackName>s</StackName>", "").encode()
    found = kinds(check_answer(DESCRIBE_STACKS, 200, {}, body))
    assert found == {
        ("extra key", "$.Stacks[0].Bogus"),
        ("null", "$.Stacks[0].StackStatusReason"),
        ("wrong type", "$.Stacks[0].DisableRollback"),
        ("missing required member", "$.Stacks[0].StackName"),
    }


def test_query_list_items_must_be_named_as_the_model_serializes_them():
    body = (
        STACK_XML.format(extra="")
        .replace("<Outputs><member>", "<Outputs><Output>")
        .replace("</member></Outputs>", "</Output></Outputs>")
    )
    assert kinds(check_answer(DESCRIBE_STACKS, 200, {}, body.encode())) == {
        ("extra key", "$.Stacks[0].Outputs[0]")
    }


def test_rest_xml_flattened_lists_and_types():
    listed = op("s3", "ListObjectsV2")
    good = (
        b"<ListBucketResult><Name>b</Name><KeyCount>2</KeyCount>"
        b"<Contents><Key>a</Key><Size>1</Size></Contents><Contents><Key>b</Key><Size>2</Size></Contents>"
        b"</ListBucketResult>"
    )
    assert check_answer(listed, 200, {}, good) == []
    bad = good.replace(b"<Size>2</Size>", b"<Size>two</Size>")
    assert kinds(check_answer(listed, 200, {}, bad)) == {("wrong type", "$.Contents.Size")}


def test_an_object_body_is_never_read():
    assert check_answer(op("s3", "GetObject"), 200, {}, b"\x00 not xml at all") == []


# --- which operation a request calls ----------------------------------------------------------------------


def environ(service: str, method: str = "POST", path: str = "/", query: str = "", **extra: str) -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": AUTH.format(service),
        **extra,
    }


@pytest.mark.parametrize(
    ("request_environ", "expected"),
    [
        (
            environ("states", HTTP_X_AMZ_TARGET="AWSStepFunctions.StartExecution"),
            "stepfunctions.StartExecution",
        ),
        (environ("dynamodb", HTTP_X_AMZ_TARGET="DynamoDB_20120810.Query"), "dynamodb.Query"),
        (environ("s3", "GET", "/bucket/a/b.csv"), "s3.GetObject"),
        (environ("s3", "PUT", "/bucket/a/b.csv"), "s3.PutObject"),
        (environ("s3", "PUT", "/bucket/a/b.csv", HTTP_X_AMZ_COPY_SOURCE="/x/y"), "s3.CopyObject"),
        (environ("s3", "GET", "/bucket", "list-type=2&prefix=a"), "s3.ListObjectsV2"),
        (environ("s3", "GET", "/bucket", "notification="), "s3.GetBucketNotificationConfiguration"),
        (environ("s3", "PUT", "/bucket"), "s3.CreateBucket"),
        (environ("s3", "GET", "/"), "s3.ListBuckets"),
        (environ("lambda", "POST", "/2015-03-31/functions/f/invocations"), "lambda.Invoke"),
        (environ("lambda", "GET", "/2015-03-31/functions/f"), "lambda.GetFunction"),
        (
            environ("cloudformation", query="Action=DescribeStacks&Version=2010-05-15"),
            "cloudformation.DescribeStacks",
        ),
    ],
)
def test_identify_names_the_operation_of_a_signed_request(request_environ, expected):
    found = identify(request_environ)
    assert isinstance(found, Operation), found
    assert found.name == expected


def test_identify_reads_a_query_action_from_the_form_body_and_puts_the_body_back():
    body = b"Action=ListStacks&Version=2010-05-15"
    request = environ(
        "cloudformation",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(len(body)),
    )
    request["wsgi.input"] = io.BytesIO(body)
    assert identify(request).name == "cloudformation.ListStacks"
    assert request["wsgi.input"].read() == body


def test_unsigned_requests_are_not_aws_calls_and_unknown_operations_are_said_so():
    assert identify({"REQUEST_METHOD": "GET", "PATH_INFO": "/_console/"}) is None
    unknown = identify(environ("states", HTTP_X_AMZ_TARGET="AWSStepFunctions.NoSuchThing"))
    assert isinstance(unknown, Unidentified) and "NoSuchThing" in unknown.reason


# --- the middleware, the records and the hook -------------------------------------------------------------


def run_wsgi(app, request: dict) -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(app(request, lambda s, h, e=None: status.append(s)))
    return status[0], body


def fake_app(status: str, body: bytes):
    def app(request, start_response):
        start_response(status, [("Content-Type", "application/x-amz-json-1.0")])
        return [body]

    return app


def test_the_middleware_records_violations_and_passes_the_answer_unchanged(tmp_path: Path):
    bad = json.dumps({"executionArn": ARN, "bogus": None}).encode()
    app = ConformanceCheck(fake_app("200 OK", bad), Recorder(tmp_path))
    status, body = run_wsgi(app, environ("states", HTTP_X_AMZ_TARGET="AWSStepFunctions.StartExecution"))
    assert (status, body) == ("200 OK", bad)
    offsets: dict[str, int] = {}
    recorded = read_violations(tmp_path, offsets)
    assert {(v["operation"], v["kind"], v["path"]) for v in recorded} == {
        ("stepfunctions.StartExecution", "extra key", "$.bogus"),
        ("stepfunctions.StartExecution", "missing required member", "$.startDate"),
    }
    assert read_violations(tmp_path, offsets) == []  # each is read once

    errors = ConformanceCheck(fake_app("400 Bad Request", b'{"__type": "Bogus"}'), Recorder(tmp_path))
    run_wsgi(errors, environ("states", HTTP_X_AMZ_TARGET="AWSStepFunctions.StartExecution"))
    assert [v["kind"] for v in read_violations(tmp_path, offsets)] == ["undocumented error code"]


def test_the_hook_fails_a_passing_test_that_received_a_bad_answer(tmp_path: Path):
    """tests/conftest.py's makereport wrapper: a violation written during a test turns its passing report
    into a failure that lists it; an expected one (tagged by a test of the check) does not."""
    watch = session_conftest.ConformanceWatch(tmp_path)
    stash = {session_conftest._CONFORMANCE: watch}
    item = type("Item", (), {"config": type("Config", (), {"stash": stash})()})()

    def report_after(violations: list[dict]):
        Recorder(tmp_path).record(violations)
        report = pytest.TestReport("t", ("f", 1, "t"), {}, "passed", None, "call", [])
        hook = session_conftest.pytest_runtest_makereport(item, None)
        next(hook)
        with pytest.raises(StopIteration) as ended:
            hook.send(report)
        return ended.value.value

    record = {"operation": "s.Op", "status": 200, "kind": "null", "path": "$.a", "detail": "d"}
    failed = report_after([record])
    assert failed.outcome == "failed" and "s.Op (HTTP 200): null at $.a" in str(failed.longrepr)
    assert report_after([{**record, "expected": "tag"}]).outcome == "passed"
    assert report_after([]).outcome == "passed"


# The live tests need the check this session runs; LOCALAWS_CONFORMANCE=off (a user's choice) turns it off.
needs_the_check = pytest.mark.skipif(
    conformance.folder_from_environment() is None,
    reason="the conformance check is off (LOCALAWS_CONFORMANCE)",
)


# --- live: the session endpoint checks what it answers ------------------------------------------------------


@pytest.fixture
def expect_tag(aws_client):
    """A Step Functions client whose requests carry a fresh expect tag; yields (client, tag, folder)."""
    tag = uuid.uuid4().hex
    client = aws_client("stepfunctions")

    def add_tag(request, **_):
        request.headers[conformance.EXPECT_HEADER] = tag

    client.meta.events.register("before-send", add_tag)
    folder = conformance.folder_from_environment()
    assert folder is not None, "the tests' conftest turns the conformance check on for the session"
    return client, tag, folder


def recorded_with(folder: Path, tag: str) -> list[dict]:
    return [v for v in read_violations(folder, {}) if v.get("expected") == tag]


@needs_the_check
def test_the_session_endpoint_checks_its_answers(expect_tag, monkeypatch):
    """moto's handler made to answer DescribeActivity without its required creationDate, and ListActivities
    with an error code no model documents: both reach the records of this test session."""
    sfn, tag, folder = expect_tag
    arn = sfn.create_activity(name=f"conformance-{tag[:8]}")["activityArn"]
    original = StepFunctionResponse.describe_activity

    def without_creation_date(self):
        return json.dumps({"activityArn": self._get_param("activityArn"), "name": "x"})

    monkeypatch.setattr(StepFunctionResponse, "describe_activity", without_creation_date)
    sfn.describe_activity(activityArn=arn)
    monkeypatch.setattr(StepFunctionResponse, "describe_activity", original)
    monkeypatch.setattr(
        StepFunctionResponse,
        "list_activities",
        lambda self: (json.dumps({"__type": "Bogus"}), {"status": 400}),
    )
    with pytest.raises(Exception, match="Bogus"):
        sfn.list_activities()

    found = {(v["operation"], v["kind"], v["path"]) for v in recorded_with(folder, tag)}
    assert found == {
        ("stepfunctions.DescribeActivity", "missing required member", "$.creationDate"),
        ("stepfunctions.ListActivities", "undocumented error code", "$"),
    }


# --- the JSON answers the endpoint reshapes ---------------------------------------------------------------


def test_conform_json_drops_nulls_and_unknown_keys_and_keeps_documents():
    shape = START.operation.output_shape
    cleaned, changed = conform_json(shape, {"executionArn": ARN, "startDate": 1, "bogus": 2, "x": None})
    assert changed and cleaned == {"executionArn": ARN, "startDate": 1}
    same, changed = conform_json(shape, {"executionArn": ARN, "startDate": 1})
    assert not changed and same == {"executionArn": ARN, "startDate": 1}


def test_json_answers_reach_clients_without_nulls_or_keys_outside_the_model(aws_client, unique_name):
    """moto wrote EventBridge's ListRules with each rule's CreatedBy (DescribeRule's field, not ListRules's)
    and "NextToken": null, labelled text/html; AWS sends neither, as application/x-amz-json-1.1."""
    events = aws_client("events")
    raw: dict = {}
    events.meta.events.register("after-call", lambda http_response, **_: raw.update(r=http_response))
    name = unique_name("conformance")
    events.put_rule(Name=name, ScheduleExpression="rate(1 hour)", State="DISABLED")
    try:
        events.list_rules(NamePrefix=name)
        answer = raw["r"]
        assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
        body = json.loads(answer.content)
        assert "NextToken" not in body and set(body["Rules"][0]) == {
            "Arn",
            "EventBusName",
            "Name",
            "ScheduleExpression",
            "State",
        }
        assert int(answer.headers["Content-Length"]) == len(answer.content)
    finally:
        events.delete_rule(Name=name)


CHILD = """
import json, sys
import boto3
from moto.stepfunctions.responses import StepFunctionResponse
from localaws import conformance
from localaws.server import LocalAws

StepFunctionResponse.list_activities = lambda self: (json.dumps({"__type": "Bogus"}), {"status": 400})
with LocalAws() as ctx:
    client = boto3.client("stepfunctions", endpoint_url=ctx.endpoint_url, region_name=ctx.region)
    def tag(request, **_):
        request.headers[conformance.EXPECT_HEADER] = sys.argv[1]
    client.meta.events.register("before-send", tag)
    try:
        client.list_activities()
    except client.exceptions.ClientError:
        pass
"""


@needs_the_check
def test_an_endpoint_in_a_child_process_reports_to_this_session(tmp_path):
    """What the e2e tests and pynt children do: start their own endpoint, which inherits the session's
    LOCALAWS_CONFORMANCE and writes its violations where this process's conftest reads them."""
    folder = conformance.folder_from_environment()
    tag = uuid.uuid4().hex
    env = child_environment()
    assert env[conformance.ENV_VAR] == str(folder)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    repo = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, str(script), tag],
        cwd=repo,
        env={**env, "PYTHONPATH": str(repo)},
        check=True,
        timeout=120,
    )
    assert [(v["operation"], v["kind"]) for v in recorded_with(folder, tag)] == [
        ("stepfunctions.ListActivities", "undocumented error code")
    ]


def test_a_reshaped_answer_keeps_its_length_and_dynamodb_checksum_right():
    """botocore retries a DynamoDB answer whose body does not match its x-amz-crc32."""
    import binascii

    from localaws.aws_json import reshape

    body = b'{"Item": {"k": {"S": "v"}}, "ConsumedCapacity": null}'
    headers = [("Content-Type", "text/html"), ("Content-Length", str(len(body))), ("x-amz-crc32", "1")]
    request = environ("dynamodb", HTTP_X_AMZ_TARGET="DynamoDB_20120810.GetItem")
    new_headers, new_body = reshape(request, headers, body)
    assert json.loads(new_body) == {"Item": {"k": {"S": "v"}}}
    found = dict(new_headers)
    assert found["Content-Type"] == "application/x-amz-json-1.0"
    assert found["Content-Length"] == str(len(new_body))
    assert found["x-amz-crc32"] == str(binascii.crc32(new_body) & 0xFFFFFFFF)
    assert reshape(request, [("Content-Type", "application/x-amz-json-1.0")], b'{"Item": {}}') is None
