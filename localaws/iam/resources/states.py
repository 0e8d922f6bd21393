"""Step Functions: activities, state machines and executions (``activity:``, ``stateMachine:``,
``execution:<machine>:<name>``, each the ARN the API uses). The task-token calls (``SendTaskSuccess``,
``SendTaskFailure``, ``SendTaskHeartbeat``) and the account-wide lists have no resource type: ``*``."""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap, required

_BY_PARAMETER = {
    "GetActivityTask": "activityArn",
    "DescribeActivity": "activityArn",
    "DeleteActivity": "activityArn",
    "StartExecution": "stateMachineArn",
    "StartSyncExecution": "stateMachineArn",
    "DescribeStateMachine": "stateMachineArn",
    "UpdateStateMachine": "stateMachineArn",
    "DeleteStateMachine": "stateMachineArn",
    "ListExecutions": "stateMachineArn",
    "DescribeExecution": "executionArn",
    "StopExecution": "executionArn",
    "GetExecutionHistory": "executionArn",
    "DescribeStateMachineForExecution": "executionArn",
    "RedriveExecution": "executionArn",
    "TagResource": "resourceArn",
    "UntagResource": "resourceArn",
    "ListTagsForResource": "resourceArn",
}
_NO_RESOURCE = frozenset(
    {
        "SendTaskSuccess",
        "SendTaskFailure",
        "SendTaskHeartbeat",
        "ListActivities",
        "ListStateMachines",
        "ValidateStateMachineDefinition",
    }
)


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    action = f"states:{operation}"
    if operation in _NO_RESOURCE:
        return [Need(action, "*")]
    if operation in _BY_PARAMETER:
        return [Need(action, required(request, _BY_PARAMETER[operation]))]
    if operation == "CreateActivity":
        return [Need(action, where.arn("states", f"activity:{required(request, 'name')}"))]
    if operation == "CreateStateMachine":
        return [Need(action, where.arn("states", f"stateMachine:{required(request, 'name')}"))]
    raise gap("states", operation)
