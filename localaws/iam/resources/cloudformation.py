"""CloudFormation: stacks (``stack/<name>/*``, the stack id's form with any id). The project's roles never
call it; a role that does gets the read and change operations on its named stack, anything else is a gap."""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap

_BY_STACK = frozenset(
    {
        "DescribeStacks",
        "DescribeStackEvents",
        "DescribeStackResource",
        "DescribeStackResources",
        "ListStackResources",
        "GetTemplate",
        "CreateStack",
        "UpdateStack",
        "DeleteStack",
    }
)


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    action = f"cloudformation:{operation}"
    name = request.param("StackName")
    if operation in _BY_STACK and name:
        if name.startswith("arn:"):
            return [Need(action, name)]
        return [Need(action, where.arn("cloudformation", f"stack/{name}/*"))]
    if operation in ("DescribeStacks", "ListStacks", "ValidateTemplate"):
        return [Need(action, "*")]
    raise gap("cloudformation", operation)
