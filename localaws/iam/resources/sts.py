"""STS: ``GetCallerIdentity`` needs no permission (AWS answers it even under an explicit Deny);
``AssumeRole`` is authorised on the role's ARN (and its trust policy must name the caller: the authorizer
checks that with the role's trust policy as the resource-based policy)."""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap, required

ALWAYS_ALLOWED = frozenset({"GetCallerIdentity"})


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    if operation in ALWAYS_ALLOWED:
        return []
    if operation == "AssumeRole":
        return [Need("sts:AssumeRole", required(request, "RoleArn"))]
    if operation in ("GetSessionToken", "GetFederationToken", "GetAccessKeyInfo"):
        return [Need(f"sts:{operation}", "*")]
    raise gap("sts", operation)
