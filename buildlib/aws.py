"""boto3 clients for the build tasks, and the translation of AWS failures into one-line BuildErrors.

Nothing here names an endpoint: boto3 itself honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>),
so the same code talks to real AWS or to the local endpoint.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    WaiterError,
)
from botocore.parsers import ResponseParserError

from buildlib.errors import BuildError

REGION_HINT = (
    "no AWS region configured: set AWS_REGION (e.g. `export AWS_REGION=us-east-1`) "
    "or the region of your profile in ~/.aws/config (`aws configure set region us-east-1`)"
)
CREDENTIALS_HINT = (
    "no AWS credentials found: run `aws configure`, or set AWS_PROFILE, "
    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


# Attempts per call, the first included, unless the user set their own (AWS_MAX_ATTEMPTS, or max_attempts in
# the config file). The build tasks poll (DescribeStacks, DescribeExecution, GetExecutionHistory), and polls
# are what a busy account throttles first: with botocore's standard mode alone (3 attempts) a poll answered
# ThrottlingException three times in a row failed the whole task (one call in 125 when a fifth of all calls
# are throttled, as the demo's fault mode does). Standard mode backs off exponentially with jitter.
DEFAULT_MAX_ATTEMPTS = 10


def retry_config(session: boto3.session.Session) -> Config:
    """Standard retries with the user's max_attempts, else DEFAULT_MAX_ATTEMPTS."""
    configured = session._session.get_config_variable("max_attempts")
    attempts = int(configured) if configured else DEFAULT_MAX_ATTEMPTS
    return Config(retries={"mode": "standard", "total_max_attempts": attempts})


class Aws:
    """Lazily created, cached boto3 clients sharing one session (the usual credential/region chain)."""

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session
        self._clients: dict[str, object] = {}

    @property
    def session(self) -> boto3.session.Session:
        if self._session is None:
            self._session = boto3.session.Session()
        return self._session

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise BuildError(REGION_HINT)
        return region

    @property
    def endpoint_url(self) -> str | None:
        return os.environ.get("AWS_ENDPOINT_URL") or None

    @property
    def endpoint_is_tls(self) -> bool:
        """True for AWS itself and https endpoints; False for a plain-http local endpoint."""
        return not (self.endpoint_url or "https://").lower().startswith("http://")

    def client(self, service: str):
        if service not in self._clients:
            region = self.region  # fail with the hint before boto3's NoRegionError
            self._clients[service] = self.session.client(
                service, region_name=region, config=retry_config(self.session)
            )
        return self._clients[service]


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)


def unreadable_answer(exc: ResponseParserError) -> tuple[str, str]:
    """(code, message) of an error answer botocore could not parse.

    moto's CloudFormation lets an error of another service (Lambda's JSON InvalidParameterValueException, when
    a stack's function code is missing from S3) through as the answer to an XML API; botocore then raises
    ResponseParserError with the raw body on its last line.
    """
    raw = str(exc).rstrip().rsplit("\n", 1)[-1]
    try:
        body = ast.literal_eval(raw)
        answer = json.loads(body.decode() if isinstance(body, bytes) else body)
        return str(answer.get("__type", "")).rsplit("#", 1)[-1], str(answer.get("message", ""))
    except (ValueError, SyntaxError, AttributeError, UnicodeDecodeError):
        return "", raw[:300]


def describe(exc: Exception, action: str) -> str:
    """One line for an AWS failure: what we tried, the API's code and message, and a hint when we have one."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        text = f"{action} failed: {code}: {error_message(exc)}"
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            text += " (give your AWS credentials the permission, or use another profile via AWS_PROFILE)"
        elif code in {
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
        }:
            text += " (refresh your AWS credentials: `aws configure` or AWS_PROFILE)"
        return text
    if isinstance(exc, ResponseParserError):
        code, message = unreadable_answer(exc)
        return f"{action} failed: {code or 'unreadable answer'}: {message}"
    if isinstance(exc, NoRegionError):
        return REGION_HINT
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CREDENTIALS_HINT
    if isinstance(exc, EndpointConnectionError):
        hint = " (check AWS_ENDPOINT_URL)" if os.environ.get("AWS_ENDPOINT_URL") else ""
        return f"{action} failed: cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}{hint}"
    return f"{action} failed: {exc}"


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn botocore failures inside the block into a BuildError naming `action`."""
    try:
        yield
    except BuildError:
        raise
    except WaiterError:
        raise  # callers that wait decide how to report a failed wait
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise BuildError(describe(exc, action)) from exc
