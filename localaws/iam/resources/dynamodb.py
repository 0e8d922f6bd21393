"""DynamoDB: tables (``table/<name>``) and indexes (``table/<name>/index/<index>``).

Transactions and batches are authorised per item, as DynamoDB documents: ``TransactWriteItems`` needs
``PutItem``, ``UpdateItem``, ``DeleteItem`` or ``ConditionCheckItem`` for each of its items' tables,
``TransactGetItems`` ``GetItem``; ``BatchWriteItem`` and ``BatchGetItem`` are actions of their own, on each
table they name.
"""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap, required

# Operations on one table named by TableName (or its ARN).
_TABLE_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "DescribeTable",
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "DescribeTimeToLive",
        "UpdateTimeToLive",
        "DescribeContinuousBackups",
        "UpdateContinuousBackups",
    }
)
_ACCOUNT_OPERATIONS = frozenset({"ListTables", "DescribeLimits", "DescribeEndpoints"})
_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def table_arn(where: Where, name: str) -> str:
    return name if name.startswith("arn:") else where.arn("dynamodb", f"table/{name}")


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    action = f"dynamodb:{operation}"
    if operation in _TABLE_OPERATIONS:
        return [Need(action, table_arn(where, required(request, "TableName")))]
    if operation in ("Query", "Scan"):
        table = table_arn(where, required(request, "TableName"))
        index = request.param("IndexName")
        return [Need(action, f"{table}/index/{index}" if index else table)]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        tables = request.param("RequestItems") or {}
        return [Need(action, table_arn(where, name)) for name in tables]
    if operation == "TransactWriteItems":
        found = []
        for item in request.param("TransactItems") or []:
            for kind, body in item.items():
                item_action = _TRANSACT_WRITE.get(kind)
                if item_action is None or not isinstance(body, dict) or not body.get("TableName"):
                    raise gap("dynamodb", f"TransactWriteItems item {kind}")
                found.append(Need(f"dynamodb:{item_action}", table_arn(where, body["TableName"])))
        return _unique(found)
    if operation == "TransactGetItems":
        found = [
            Need("dynamodb:GetItem", table_arn(where, item["Get"]["TableName"]))
            for item in request.param("TransactItems") or []
            if isinstance(item.get("Get"), dict) and item["Get"].get("TableName")
        ]
        return _unique(found)
    if operation in ("TagResource", "UntagResource", "ListTagsOfResource"):
        return [Need(action, required(request, "ResourceArn"))]
    if operation in _ACCOUNT_OPERATIONS:
        return [Need(action, "*")]
    raise gap("dynamodb", operation)


def _unique(found: list[Need]) -> list[Need]:
    return list(dict.fromkeys(found))
