"""CloudWatch Logs: log groups and streams.

The ARN an action is authorised on, as CloudWatch Logs builds it: a stream's actions (``CreateLogStream``,
``PutLogEvents``, ``GetLogEvents``) on ``log-group:<group>:log-stream:<stream>``, a group's on
``log-group:<group>:log-stream:`` (so a policy's ``log-group:<group>:*``, which is what a log group's
``Arn`` attribute is, covers both), the vended-log-delivery actions and the account's resource policies on
``*``.
"""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap, required

_STREAM_OPERATIONS = frozenset({"CreateLogStream", "PutLogEvents", "GetLogEvents", "DeleteLogStream"})
_GROUP_OPERATIONS = frozenset(
    {
        "CreateLogGroup",
        "DeleteLogGroup",
        "PutRetentionPolicy",
        "DeleteRetentionPolicy",
        "DescribeLogStreams",
        "FilterLogEvents",
        "TagLogGroup",
        "UntagLogGroup",
        "ListTagsLogGroup",
        "PutSubscriptionFilter",
        "DescribeSubscriptionFilters",
        "DeleteSubscriptionFilter",
        "PutMetricFilter",
        "DescribeMetricFilters",
    }
)
_NO_RESOURCE = frozenset(
    {
        "CreateLogDelivery",
        "GetLogDelivery",
        "UpdateLogDelivery",
        "DeleteLogDelivery",
        "ListLogDeliveries",
        "PutResourcePolicy",
        "DescribeResourcePolicies",
        "DeleteResourcePolicy",
    }
)


def group_arn(where: Where, group: str) -> str:
    return where.arn("logs", f"log-group:{group}:log-stream:")


def stream_arn(where: Where, group: str, stream: str) -> str:
    return where.arn("logs", f"log-group:{group}:log-stream:{stream}")


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    action = f"logs:{operation}"
    if operation in _STREAM_OPERATIONS:
        group = request.param("logGroupName") or _group_of(request.param("logGroupIdentifier"))
        if not group:
            group = required(request, "logGroupName")
        return [Need(action, stream_arn(where, group, required(request, "logStreamName")))]
    if operation in _GROUP_OPERATIONS:
        group = request.param("logGroupName") or _group_of(request.param("logGroupIdentifier"))
        if not group:
            group = required(request, "logGroupName")
        return [Need(action, group_arn(where, group))]
    if operation == "DescribeLogGroups":
        return [Need(action, where.arn("logs", "log-group:*"))]
    if operation in _NO_RESOURCE:
        return [Need(action, "*")]
    raise gap("logs", operation)


def _group_of(identifier: str | None) -> str | None:
    """A log group name from a ``logGroupIdentifier`` (its name or its ARN)."""
    if not identifier:
        return None
    if identifier.startswith("arn:"):
        return identifier.split(":log-group:", 1)[1].removesuffix(":*")
    return identifier
