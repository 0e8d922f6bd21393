"""Errors the endpoint does not map reach AWS clients in the service's protocol (localaws/error_shapes.py).

Each test forces an internal error in one moto handler (the endpoint runs in-process, so a monkeypatched
handler is the one the request reaches) and checks that botocore parses the answer into a ClientError with
the service's own code and HTTP 500 (before: werkzeug's HTML page, a ResponseParserError for the XML services
and a code "500" with an HTML message for the others).
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from moto.awslambda.responses import LambdaResponse
from moto.cloudformation.responses import CloudFormationResponse
from moto.dynamodb.responses import DynamoHandler
from moto.iam.responses import IamResponse
from moto.logs.responses import LogsResponse
from moto.s3.responses import S3Response
from moto.sqs.responses import SQSResponse
from moto.stepfunctions.responses import StepFunctionResponse

from localaws.error_shapes import service_protocol


def _forced_failure(*args: object, **kwargs: object) -> None:
    raise RuntimeError("forced internal error (test)")


def call_with_forced_failure(monkeypatch, handler_class: type, method: str, call) -> ClientError:
    monkeypatch.setattr(handler_class, method, _forced_failure)
    with pytest.raises(ClientError) as failed:  # a ResponseParserError here is the bug this guards
        call()
    return failed.value


def assert_internal(error: ClientError, code: str) -> None:
    assert error.response["Error"]["Code"] == code, error.response
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "<html" not in error.response["Error"].get("Message", "").lower(), error.response


@pytest.mark.parametrize(
    ("service", "handler_class", "method", "operation", "code"),
    [
        ("stepfunctions", StepFunctionResponse, "list_activities", "list_activities", "InternalFailure"),
        ("logs", LogsResponse, "describe_log_groups", "describe_log_groups", "InternalFailure"),
        ("dynamodb", DynamoHandler, "list_tables", "list_tables", "InternalServerError"),
        ("sqs", SQSResponse, "list_queues", "list_queues", "InternalFailure"),
    ],
)
def test_json_protocol_internal_error_is_typed_json(
    aws_client, monkeypatch, service, handler_class, method, operation, code
):
    client = aws_client(service)
    error = call_with_forced_failure(monkeypatch, handler_class, method, getattr(client, operation))
    assert_internal(error, code)
    content_type = error.response["ResponseMetadata"]["HTTPHeaders"]["content-type"]
    assert content_type.startswith("application/x-amz-json"), content_type


def test_rest_json_lambda_internal_error_is_service_exception(aws_client, monkeypatch):
    client = aws_client("lambda")
    error = call_with_forced_failure(monkeypatch, LambdaResponse, "list_functions", client.list_functions)
    assert_internal(error, "ServiceException")


@pytest.mark.parametrize(
    ("service", "handler_class", "method", "operation"),
    [
        ("cloudformation", CloudFormationResponse, "list_stacks", "list_stacks"),
        ("iam", IamResponse, "list_roles", "list_roles"),
    ],
)
def test_query_protocol_internal_error_is_error_response_xml(
    aws_client, monkeypatch, service, handler_class, method, operation
):
    client = aws_client(service)
    error = call_with_forced_failure(monkeypatch, handler_class, method, getattr(client, operation))
    assert_internal(error, "InternalFailure")
    assert error.response["Error"]["Type"] == "Receiver"


def test_s3_internal_error_is_s3_error_xml(aws_client, monkeypatch, unique_name):
    client = aws_client("s3")
    bucket = unique_name("shapes").lower()
    client.create_bucket(Bucket=bucket)
    try:
        error = call_with_forced_failure(
            monkeypatch, S3Response, "list_objects_v2", lambda: client.list_objects_v2(Bucket=bucket)
        )
        assert_internal(error, "InternalError")
    finally:
        monkeypatch.undo()
        with contextlib.suppress(ClientError):
            client.delete_bucket(Bucket=bucket)


def test_unknown_json_target_route_is_not_an_html_page(local_aws):
    """A signed JSON call moto has no route for (werkzeug's HTML 404 before) answers JSON with that status."""
    request = urllib.request.Request(
        f"{local_aws.endpoint_url}/no/such/route",
        data=b"{}",
        method="POST",
        headers={
            "X-Amz-Target": "AWSStepFunctions.ListActivities",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/states/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code >= 400
    assert "html" not in answer.value.headers.get("Content-Type", ""), answer.value.headers
    # AWS's front end answers a call it cannot route UnknownOperationException (a common error); werkzeug's
    # reason phrase ("NotFound") is no AWS error code.
    assert json.loads(answer.value.read())["__type"] == "UnknownOperationException"


def test_service_protocol_reads_target_credential_scope_and_lambda_path():
    scope = (
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=x"
    )
    assert service_protocol(
        {"HTTP_X_AMZ_TARGET": "AWSStepFunctions.X", "HTTP_AUTHORIZATION": scope.format("states")}
    ) == (
        "states",
        "json",
    )
    assert service_protocol({"HTTP_AUTHORIZATION": scope.format("cloudformation")}) == (
        "cloudformation",
        "query",
    )
    assert service_protocol({"HTTP_AUTHORIZATION": scope.format("s3")}) == ("s3", "s3")
    assert service_protocol({"HTTP_AUTHORIZATION": scope.format("lambda")}) == ("lambda", "rest-json")
    assert service_protocol({"PATH_INFO": "/2015-03-31/functions/f/invocations"}) == ("lambda", "rest-json")
    presigned = "X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x"
    assert service_protocol({"QUERY_STRING": presigned}) == ("s3", "s3")
    assert service_protocol({"PATH_INFO": "/_console/"}) is None  # not an AWS client: left alone


def test_a_json_error_moto_labels_text_html_passes_unchanged():
    """moto answers some errors as `(json_body, {"status": 400})`, which werkzeug labels text/html: only a
    real HTML page is rewritten, so such an error keeps its code (e.g. Athena's InvalidRequestException)."""
    from localaws.error_shapes import ServiceShapedErrors

    error = json.dumps({"__type": "InvalidRequestException", "Message": "different parameters"}).encode()

    def app(environ, start_response):
        start_response("400 BAD REQUEST", [("Content-Type", "text/html; charset=utf-8")])
        return [error]

    seen: dict = {}
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_X_AMZ_TARGET": "AmazonAthena.StartQueryExecution",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=testing/20261130/us-east-1/athena/aws4_request",
    }

    def start_response(status, headers, exc_info=None):
        seen.update(status=status)

    body = ServiceShapedErrors(app)(environ, start_response)
    assert (seen["status"], b"".join(body)) == ("400 BAD REQUEST", error)
