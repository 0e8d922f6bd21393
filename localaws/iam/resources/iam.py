"""IAM (the few operations a role might call): roles (``arn:aws:iam::<account>:role/<name>``) and policies;
the listing operations on ``*``."""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap, required

_ROLE_OPERATIONS = frozenset(
    {
        "GetRole",
        "GetRolePolicy",
        "ListRolePolicies",
        "ListAttachedRolePolicies",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "UpdateAssumeRolePolicy",
        "DeleteRole",
        "CreateRole",
        "PassRole",
    }
)


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    action = f"iam:{operation}"
    if operation in _ROLE_OPERATIONS:
        return [
            Need(action, f"arn:{where.partition}:iam::{where.account}:role/{required(request, 'RoleName')}")
        ]
    if operation in ("GetPolicy", "GetPolicyVersion", "ListPolicyVersions"):
        return [Need(action, required(request, "PolicyArn"))]
    if operation.startswith("List"):
        return [Need(action, "*")]
    raise gap("iam", operation)
