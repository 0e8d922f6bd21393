"""SQS: queues (``arn:aws:sqs:<region>:<account>:<name>``), from ``QueueUrl`` (or ``QueueName``), in the
query protocol and in the JSON one (``AmazonSQS.<Operation>``). A batch is authorised as its single action
(``SendMessageBatch`` as ``sqs:SendMessage``), as SQS documents."""

from __future__ import annotations

from urllib.parse import urlparse

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap, required

_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_BY_URL = frozenset(
    {
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "SetQueueAttributes",
        "DeleteQueue",
        "PurgeQueue",
        "ListQueueTags",
        "TagQueue",
        "UntagQueue",
        "AddPermission",
        "RemovePermission",
        "ListDeadLetterSourceQueues",
    }
)


def queue_arn_from_url(where: Where, url: str) -> str:
    parts = [p for p in urlparse(url).path.split("/") if p]
    if len(parts) < 2:
        raise gap("sqs", f"QueueUrl {url}")
    account, name = parts[-2], parts[-1]
    return f"arn:{where.partition}:sqs:{where.region}:{account}:{name}"


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    base = _BATCH_ACTIONS.get(operation, operation)
    action = f"sqs:{base}"
    if base in _BY_URL:
        return [Need(action, queue_arn_from_url(where, required(request, "QueueUrl")))]
    if operation in ("GetQueueUrl", "CreateQueue"):
        return [Need(action, where.arn("sqs", required(request, "QueueName")))]
    if operation == "ListQueues":
        return [Need(action, "*")]
    raise gap("sqs", operation)
