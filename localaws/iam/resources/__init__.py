"""What a request is authorised for: the IAM action(s) and the resource ARN(s), per service and operation.

Each service module exposes ``needs(request, where) -> list[Need]`` for the operations it maps and raises
:class:`ResourceGap` for one it does not: an operation whose resource this endpoint cannot build is denied
with a message naming the gap, never allowed unchecked. ``where`` gives the account and region of the
request and answers the look-ups some operations need (an Athena query's workgroup, a table's location).

An operation needing several resources (Glue's ``GetTable``: the catalog, the database and the table) or
several actions (DynamoDB's ``TransactWriteItems``: one per item) is allowed only when every need is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from localaws.iam.requests import ServiceRequest


@dataclass(frozen=True)
class Need:
    """One action on one resource a request needs, with its request-specific condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()  # (key, value) pairs, e.g. (("s3:prefix", "sales/"),)

    @classmethod
    def with_context(cls, action: str, resource: str, context: Mapping[str, Any]) -> Need:
        return cls(action, resource, tuple(sorted((k, str(v)) for k, v in context.items() if v is not None)))

    def context_dict(self) -> dict[str, str]:
        return dict(self.context)


class ResourceGap(Exception):
    """The endpoint cannot say what this operation is authorised for; the message names the gap."""


@dataclass
class Where:
    """The account and region a request is made in, and look-ups into the endpoint's state."""

    account: str
    region: str
    partition: str = "aws"
    # Optional look-ups (set by the authorizer): each returns None when it does not know.
    athena_workgroup_of_execution: Callable[[str], str | None] | None = None
    athena_workgroup_of_named_query: Callable[[str], str | None] | None = None

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"


# signing name -> module of this package
_MODULES = {
    "athena": "athena",
    "cloudformation": "cloudformation",
    "dynamodb": "dynamodb",
    "events": "events",
    "glue": "glue",
    "iam": "iam",
    "lambda": "awslambda",
    "logs": "logs",
    "s3": "s3",
    "sqs": "sqs",
    "states": "states",
    "sts": "sts",
}


def needs_of(request: ServiceRequest, where: Where) -> list[Need]:
    """The needs of a request; raises ResourceGap for a service or operation this endpoint cannot map."""
    module_name = _MODULES.get(request.service)
    if module_name is None:
        raise ResourceGap(f"the local endpoint builds no resource ARNs for the service {request.service!r}")
    module = importlib.import_module(f"localaws.iam.resources.{module_name}")
    if not request.operation and request.protocol in ("json", "query"):  # S3's and Lambda's: from the path
        raise ResourceGap(f"the local endpoint cannot tell which {request.service} operation this is")
    return module.needs(request, where)


def gap(service: str, operation: str) -> ResourceGap:
    return ResourceGap(
        f"the local endpoint does not map {service}:{operation} to its resource ARN "
        f"(localaws/iam/resources/); it denies it rather than allow it unchecked"
    )


def required(request: ServiceRequest, name: str) -> str:
    """A parameter the resource is built from; a missing one is a gap (the service would refuse it too)."""
    value = request.param(name)
    if not isinstance(value, str) or not value:
        raise ResourceGap(f"{request.service}:{request.operation} names no {name}: no resource to authorise")
    return value
