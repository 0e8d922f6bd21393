"""Lambda: functions (``function:<name>``, ``function:<name>:<qualifier>`` for a version or alias), from the
REST path. ``Invoke`` is authorised as ``lambda:InvokeFunction`` (its IAM action), with the function's
resource-based policy besides the caller's own policies."""

from __future__ import annotations

import re

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap

_FUNCTION_PATH = re.compile(r"^/(?P<version>[\d-]+)/functions/(?P<name>[^/]+)(?P<rest>/.*)?$")
# (method, path tail) -> operation (the IAM action's name)
_OPERATIONS = {
    ("POST", "/invocations"): "InvokeFunction",
    ("POST", "/invoke-async"): "InvokeFunction",
    ("GET", ""): "GetFunction",
    ("DELETE", ""): "DeleteFunction",
    ("GET", "/configuration"): "GetFunctionConfiguration",
    ("PUT", "/configuration"): "UpdateFunctionConfiguration",
    ("PUT", "/code"): "UpdateFunctionCode",
    ("GET", "/policy"): "GetPolicy",
    ("POST", "/policy"): "AddPermission",
    ("DELETE", "/policy"): "RemovePermission",
    ("GET", "/concurrency"): "GetFunctionConcurrency",
    ("PUT", "/concurrency"): "PutFunctionConcurrency",
    ("DELETE", "/concurrency"): "DeleteFunctionConcurrency",
    ("GET", "/event-invoke-config"): "GetFunctionEventInvokeConfig",
    ("PUT", "/event-invoke-config"): "PutFunctionEventInvokeConfig",
    ("POST", "/event-invoke-config"): "UpdateFunctionEventInvokeConfig",
    ("DELETE", "/event-invoke-config"): "DeleteFunctionEventInvokeConfig",
    ("GET", "/event-invoke-config/list"): "ListFunctionEventInvokeConfigs",
    ("GET", "/versions"): "ListVersionsByFunction",
    ("POST", "/versions"): "PublishVersion",
    ("GET", "/aliases"): "ListAliases",
    ("POST", "/aliases"): "CreateAlias",
}


def function_arn(where: Where, name: str, qualifier: str | None = None) -> str:
    """The function's ARN from a name, a ``name:qualifier`` or an ARN (full or partial)."""
    if name.startswith("arn:"):
        base = name
    elif name.count(":") == 2:  # partial ARN: <account>:function:<name>
        base = f"arn:{where.partition}:lambda:{where.region}:{name}"
    else:
        fn, _, embedded = name.partition(":")
        base = where.arn("lambda", f"function:{fn}")
        qualifier = qualifier or embedded or None
    if qualifier and base.count(":") == 6:
        base = f"{base}:{qualifier}"
    return base


def _tail(rest: str) -> str:
    tail = (rest or "").rstrip("/")
    if tail.startswith("/policy/"):
        return "/policy"
    if tail.startswith("/aliases/"):
        return "/aliases"
    return tail


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    path = request.path
    if re.match(r"^/[\d-]+/functions/?$", path):
        if request.method == "GET":
            request.operation = "ListFunctions"
            return [Need("lambda:ListFunctions", "*")]
        if request.method == "POST":
            request.operation = "CreateFunction"
            name = request.param("FunctionName")
            if not name:
                raise gap("lambda", "CreateFunction without FunctionName")
            return [Need("lambda:CreateFunction", function_arn(where, name))]
    match = _FUNCTION_PATH.match(path)
    if not match:
        raise gap("lambda", f"{request.method} {path}")
    operation = _OPERATIONS.get((request.method, _tail(match["rest"] or "")))
    if operation is None:
        raise gap("lambda", f"{request.method} {path}")
    request.operation = operation
    qualifier = (request.query.get("Qualifier") or [None])[0]
    return [Need(f"lambda:{operation}", function_arn(where, match["name"], qualifier))]
