"""The policies that apply to a request, read from moto's backends (what CloudFormation and the API wrote).

- a role's identity-based policies: its inline policies (``inline:<role>/<policy name>``) and the default
  version of each attached managed policy (``managed:<policy ARN>``); its trust policy (``trust:<role>``);
- S3 bucket policies (``bucket-policy:<bucket>``) and Lambda function policies (``function-policy:<name>``),
  the resource-based policies this endpoint evaluates.

Documents are parsed once per text: moto keeps each policy's JSON as it was written.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from localaws.iam.policy import IDENTITY, RESOURCE, TRUST, Policy


class RoleNotFound(LookupError):
    pass


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> dict[str, Any]:
    return json.loads(text)


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if isinstance(raw, str):
        return _parsed(raw)
    return raw


def _iam(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account]["aws"]


def role(role_arn: str, account: str) -> Any:
    """moto's Role for an ARN; RoleNotFound when there is none."""
    try:
        return _iam(account).get_role_by_arn(role_arn)
    except Exception as exc:  # moto's NotFoundException
        raise RoleNotFound(f"role {role_arn} does not exist") from exc


def role_policies(role_arn: str, account: str) -> list[Policy]:
    """The role's inline and attached managed policies, named for reports."""
    found = role(role_arn, account)
    policies = [
        Policy(f"inline:{found.name}/{name}", IDENTITY, _document(document))
        for name, document in found.policies.items()
    ]
    for arn, managed in found.managed_policies.items():
        default = next((v for v in managed.versions if v.is_default), None)
        if default is not None:
            policies.append(Policy(f"managed:{arn}", IDENTITY, _document(default.document)))
    return policies


def trust_policy(role_arn: str, account: str) -> Policy:
    found = role(role_arn, account)
    return Policy(f"trust:{found.name}", TRUST, _document(found.assume_role_policy_document))


def bucket_policy(bucket: str, account: str) -> Policy | None:
    from moto.s3.models import s3_backends

    try:
        found = s3_backends[account]["aws"].buckets.get(bucket)
    except Exception:
        return None
    if found is None or not getattr(found, "policy", None):
        return None
    return Policy(f"bucket-policy:{bucket}", RESOURCE, _document(found.policy))


def function_policy(function_arn: str) -> Policy | None:
    """The function's resource-based policy (AddPermission, ``AWS::Lambda::Permission``); None when empty."""
    from moto.awslambda.utils import get_backend

    parts = function_arn.split(":")
    if len(parts) < 7:
        return None
    try:
        fn = get_backend(parts[4], parts[3]).get_function(function_arn)
    except Exception:
        return None
    statements = list(getattr(getattr(fn, "policy", None), "statements", []) or [])
    if not statements:
        return None
    return Policy(
        f"function-policy:{fn.function_name}", RESOURCE, {"Version": "2012-10-17", "Statement": statements}
    )


def role_documents(role_arn: str, account: str) -> dict[str, Any]:
    """The role's policies as documents (for the audit file: what the decisions were made against)."""
    return {
        "policies": {p.name: p.document for p in role_policies(role_arn, account)},
        "trust": trust_policy(role_arn, account).document,
    }
