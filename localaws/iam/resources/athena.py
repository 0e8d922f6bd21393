"""Athena: workgroups (``workgroup/<name>``). A query execution or a named query is authorised on the
workgroup it belongs to (looked up in the endpoint's state); a start names its own (``primary`` when none).

What a query then reads and writes (the catalog, the table data, the result location) is authorised as the
caller by the Athena bridge, not here (``localaws.iam.service_access``)."""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, ResourceGap, Where, gap, required

_BY_EXECUTION = frozenset(
    {"GetQueryExecution", "GetQueryResults", "StopQueryExecution", "GetQueryRuntimeStatistics"}
)
_BY_WORKGROUP_PARAMETER = frozenset(
    {"StartQueryExecution", "ListQueryExecutions", "ListNamedQueries", "CreateNamedQuery"}
)


def _workgroup(where: Where, name: str) -> str:
    return where.arn("athena", f"workgroup/{name}")


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    action = f"athena:{operation}"
    if operation in _BY_WORKGROUP_PARAMETER:
        return [Need(action, _workgroup(where, request.param("WorkGroup") or "primary"))]
    if operation in _BY_EXECUTION:
        execution_id = required(request, "QueryExecutionId")
        lookup = where.athena_workgroup_of_execution
        name = lookup(execution_id) if lookup else None
        if name is None:  # unknown id: the service answers InvalidRequestException; authorise as primary's
            name = "primary"
        return [Need(action, _workgroup(where, name))]
    if operation in ("GetNamedQuery", "DeleteNamedQuery"):
        query_id = required(request, "NamedQueryId")
        lookup = where.athena_workgroup_of_named_query
        name = lookup(query_id) if lookup else None
        return [Need(action, _workgroup(where, name or "primary"))]
    if operation in ("GetWorkGroup", "UpdateWorkGroup", "DeleteWorkGroup"):
        return [Need(action, _workgroup(where, required(request, "WorkGroup")))]
    if operation == "CreateWorkGroup":
        return [Need(action, _workgroup(where, required(request, "Name")))]
    if operation in ("ListWorkGroups", "ListDataCatalogs", "ListEngineVersions"):
        return [Need(action, "*")]
    if operation == "BatchGetQueryExecution":
        raise ResourceGap("athena:BatchGetQueryExecution spans workgroups; not mapped locally")
    raise gap("athena", operation)
