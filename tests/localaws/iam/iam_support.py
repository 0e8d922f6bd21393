"""Roles and sessions for the IAM tests, made through the endpoint's own APIs (as a user would)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config


def trust(service: str = "lambda.amazonaws.com", account: str | None = None) -> dict[str, Any]:
    """A trust policy for a service principal, or for the account's own principals (``account``)."""
    principal = {"AWS": f"arn:aws:iam::{account}:root"} if account else {"Service": service}
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }


def make_role(
    aws_client: Callable[..., Any], statements: list[dict[str, Any]], trusted: dict[str, Any]
) -> str:
    """A new role with one inline policy of ``statements``; returns its ARN."""
    iam = aws_client("iam")
    name = f"iam-test-{uuid.uuid4().hex[:10]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trusted))["Role"]["Arn"]
    if statements:
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=name, PolicyName="test-policy", PolicyDocument=json.dumps(document))
    return arn


def session_client(aws_client: Callable[..., Any], local_aws: Any, role_arn: str) -> Callable[..., Any]:
    """``client(service)`` acting as a session of ``role_arn`` (assumed through the endpoint's STS API)."""
    credentials = aws_client("sts").assume_role(RoleArn=role_arn, RoleSessionName="tester")["Credentials"]

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=local_aws.endpoint_url,
            region_name=local_aws.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    client.credentials = credentials  # type: ignore[attr-defined]
    return client


class Events:
    """Collects the endpoint's ``iam.*`` events (``ctx.subscribe``)."""

    def __init__(self, ctx: Any) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        ctx.subscribe(
            lambda kind, fields: self.seen.append((kind, fields)) if kind.startswith("iam.") else None
        )

    def denied(self, action: str) -> list[dict[str, Any]]:
        return [f for k, f in self.seen if k == "iam.denied" and f.get("action") == action]

    def allowed(self, action: str) -> list[dict[str, Any]]:
        return [f for k, f in self.seen if k == "iam.decision" and f.get("action") == action]
