"""Glue: jobs (``job/<name>``) and the Data Catalog (``catalog``, ``database/<db>``, ``table/<db>/<table>``).

As Glue documents for the catalog, an operation on a table needs its action on the catalog, the database and
the table ARNs; one on a database, on the catalog and the database. Names are lower-cased as the catalog
stores them.
"""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, ResourceGap, Where, gap, required

_JOB_OPERATIONS = frozenset(
    {
        "StartJobRun",
        "GetJobRun",
        "GetJobRuns",
        "BatchStopJobRun",
        "GetJob",
        "UpdateJob",
        "DeleteJob",
        "ResetJobBookmark",
        "GetJobBookmark",
    }
)
_TABLE_OPERATIONS = frozenset(
    {
        "GetTable",
        "UpdateTable",
        "DeleteTable",
        "GetPartition",
        "GetPartitions",
        "BatchGetPartition",
        "CreatePartition",
        "BatchCreatePartition",
        "DeletePartition",
        "BatchDeletePartition",
        "UpdatePartition",
        "GetTableVersions",
    }
)
_DATABASE_OPERATIONS = frozenset({"GetDatabase", "UpdateDatabase", "DeleteDatabase"})


def catalog_needs(
    action: str, where: Where, database: str | None = None, table: str | None = None
) -> list[Need]:
    """The catalog, database and table ARNs an action on a catalog object needs (Glue's documented set)."""
    found = [Need(action, where.arn("glue", "catalog"))]
    if database is not None:
        found.append(Need(action, where.arn("glue", f"database/{database.lower()}")))
    if table is not None:
        found.append(Need(action, where.arn("glue", f"table/{(database or '').lower()}/{table.lower()}")))
    return found


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    action = f"glue:{operation}"
    catalog_id = request.param("CatalogId")
    if catalog_id and catalog_id != where.account:
        raise ResourceGap(
            f"glue:{operation} on another account's catalog ({catalog_id}) is not mapped locally"
        )
    if operation in _JOB_OPERATIONS:
        return [Need(action, where.arn("glue", f"job/{required(request, 'JobName')}"))]
    if operation == "CreateJob":
        return [Need(action, where.arn("glue", f"job/{required(request, 'Name')}"))]
    if operation in ("GetJobs", "ListJobs"):
        return [Need(action, "*")]
    if operation in _TABLE_OPERATIONS:
        table = request.param("TableName") or request.param("Name")
        if not table:
            raise ResourceGap(f"glue:{operation} names no table")
        return catalog_needs(action, where, required(request, "DatabaseName"), table)
    if operation == "GetTables":
        return catalog_needs(action, where, required(request, "DatabaseName"), "*")
    if operation == "CreateTable":
        name = (request.param("TableInput") or {}).get("Name")
        if not name:
            raise ResourceGap("glue:CreateTable names no TableInput.Name")
        return catalog_needs(action, where, required(request, "DatabaseName"), name)
    if operation in _DATABASE_OPERATIONS:
        return catalog_needs(action, where, required(request, "Name"))
    if operation == "GetDatabases":
        return catalog_needs(action, where, "*")
    if operation == "CreateDatabase":
        name = (request.param("DatabaseInput") or {}).get("Name")
        if not name:
            raise ResourceGap("glue:CreateDatabase names no DatabaseInput.Name")
        return catalog_needs(action, where, name)
    raise gap("glue", operation)
