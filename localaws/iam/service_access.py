"""What AWS services do on a principal's behalf, authorised as on AWS. The bridges call these.

- Lambda: an execution environment gets credentials of the function's execution role (``AssumeRole`` by
  ``lambda.amazonaws.com``, session named after the function); Lambda's own writes for the function (its
  log stream, an asynchronous invocation's destination) are made as that role session.
- S3 notifications and EventBridge targets invoke a function only when its resource-based policy allows the
  service (``s3.amazonaws.com`` with the bucket ARN as ``aws:SourceArn`` and the bucket owner as
  ``aws:SourceAccount``; ``events.amazonaws.com`` with the rule ARN). A target with a ``RoleArn`` acts as
  that role (``AssumeRole`` by ``events.amazonaws.com``).
- Step Functions assumes a state machine's role (``states.amazonaws.com``) when it is created or updated,
  and checks that role may deliver its logs when logging is on (the actions Step Functions documents).

Each function returns quickly when IAM is off (``active()`` is None): nothing is checked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from localaws.iam.authorizer import Authorizer, Outcome, active
from localaws.iam.identities import Session, SessionError
from localaws.iam.policy import Policy, Principal
from localaws.iam.resources import Need, logs

log = logging.getLogger("localaws.iam")

# Lambda: how long an environment's credentials last, and how long before their end a warm environment is
# retired so that the next invocation starts with fresh ones (AWS renews them by recycling environments too).
LAMBDA_CREDENTIALS_S = 12 * 3600.0
LAMBDA_RENEW_BEFORE_S = 15 * 60.0
SERVICE_SESSION_S = 12 * 3600.0  # a Glue run's or a target's session (longer than any local run)

# The actions Step Functions documents for an execution role whose state machine logs to CloudWatch Logs.
STATE_MACHINE_LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)


def role_session_principal(role_arn: str, session_name: str, account: str) -> Principal:
    role_name = role_arn.rsplit("/", 1)[-1]
    return Principal(
        f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}", account, role_arn=role_arn
    )


# -- Lambda ------------------------------------------------------------------------------------------------
def lambda_session(fn: Any, duration_s: float = LAMBDA_CREDENTIALS_S) -> Session | None:
    """Credentials of the function's execution role for a new environment; None when IAM is off.

    Raises SessionError when enforcing and Lambda may not assume the role."""
    authorizer = active()
    if authorizer is None:
        return None
    return authorizer.assume_role(
        fn.role,
        "lambda.amazonaws.com",
        fn.function_name,
        duration_s,
        source_account=authorizer.account,
        source_arn=fn.function_arn,
        detail={"function": fn.function_name},
    )


def _lambda_principal(authorizer: Authorizer, fn: Any) -> Principal:
    return role_session_principal(fn.role, fn.function_name, authorizer.account)


def lambda_may(
    fn: Any, action: str, resource: str, via: str, detail: Mapping[str, Any] | None = None
) -> bool:
    """May Lambda, as the function's role, do ``action`` on ``resource`` for it (its logs, destinations)?"""
    authorizer = active()
    if authorizer is None:
        return True
    outcome = authorizer.authorize(
        _lambda_principal(authorizer, fn),
        [Need(action, resource)],
        via=via,
        service=action.split(":", 1)[0],
        operation=action.split(":", 1)[1],
        detail={"function": fn.function_name, **(detail or {})},
    )
    return outcome.proceed


def lambda_log_may(fn: Any, action: str, group: str, stream: str | None) -> bool:
    """Lambda writing the function's logs with its role (CreateLogGroup, CreateLogStream, PutLogEvents)."""
    authorizer = active()
    if authorizer is None:
        return True
    from localaws.iam.resources import Where

    where = Where(authorizer.account, authorizer.region)
    resource = logs.stream_arn(where, group, stream) if stream is not None else logs.group_arn(where, group)
    return lambda_may(fn, action, resource, via="lambda-logs")


def destination_need(destination_arn: str) -> Need | None:
    """What sending an invocation record to a destination needs of the function's role."""
    service = destination_arn.split(":")[2] if destination_arn.count(":") >= 5 else ""
    action = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "lambda": "lambda:InvokeFunction"}.get(service)
    if service == "events":
        action = "events:PutEvents"
    return Need(action, destination_arn) if action else None


def destination_may(fn: Any, destination_arn: str) -> bool:
    need = destination_need(destination_arn)
    if need is None:
        return True
    return lambda_may(
        fn, need.action, need.resource, via="lambda-destination", detail={"destination": destination_arn}
    )


# -- services invoking a function through its resource-based policy ----------------------------------------
def service_may_invoke(
    function_arn: str,
    service: str,
    *,
    source_arn: str,
    source_account: str,
    via: str,
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """May ``service`` invoke the function for ``source_arn``? Its resource-based policy decides."""
    authorizer = active()
    if authorizer is None:
        return True
    principal = Principal(service, authorizer.account, service=service)
    outcome = authorizer.authorize(
        principal,
        [Need("lambda:InvokeFunction", function_arn)],
        via=via,
        service="lambda",
        operation="InvokeFunction",
        context={"aws:SourceArn": source_arn, "aws:SourceAccount": source_account},
        identity_policies=[],
        detail={"source": source_arn, **(detail or {})},
    )
    if not outcome.proceed:
        log.warning(
            "%s did not invoke %s for %s: no permission of the function allows it (add an "
            "AWS::Lambda::Permission for %s with that SourceArn)",
            service,
            function_arn,
            source_arn,
            service,
        )
    return outcome.proceed


# -- EventBridge targets with a role --------------------------------------------------------------------
def target_may(rule_arn: str, target: Mapping[str, Any], action: str) -> bool:
    """May EventBridge deliver to a non-Lambda target (a state machine's ``StartExecution``)? With the
    target's ``RoleArn``, assumed by ``events.amazonaws.com``; without one, EventBridge cannot (AWS refuses
    such a target)."""
    authorizer = active()
    if authorizer is None:
        return True
    target_arn = str(target.get("Arn", ""))
    role_arn = target.get("RoleArn")
    service_principal = Principal("events.amazonaws.com", authorizer.account, service="events.amazonaws.com")
    if not role_arn:
        outcome = authorizer.deny_gap(
            service_principal,
            f"target {target_arn} of {rule_arn} has no RoleArn: EventBridge needs one to call {action}",
            via="events-target",
            service=action.split(":")[0],
            operation=action.split(":")[1],
        )
        return outcome.proceed
    try:
        session = authorizer.assume_role(
            role_arn,
            "events.amazonaws.com",
            f"events-{rule_arn.rsplit('/', 1)[-1]}"[:64],
            SERVICE_SESSION_S,
            source_account=authorizer.account,
            source_arn=rule_arn,
            detail={"rule": rule_arn, "target": target_arn},
        )
    except SessionError as exc:
        log.warning("EventBridge did not deliver %s's event to %s: %s", rule_arn, target_arn, exc)
        return False
    outcome = authorizer.authorize(
        session.principal,
        [Need(action, target_arn)],
        via="events-target",
        service=action.split(":")[0],
        operation=action.split(":")[1],
        detail={"rule": rule_arn},
    )
    if not outcome.proceed:
        log.warning("EventBridge did not deliver %s's event to %s: %s", rule_arn, target_arn, outcome.message)
    return outcome.proceed


# -- Step Functions -------------------------------------------------------------------------------------
def state_machine_role_outcome(
    role_arn: str, state_machine_arn: str, logging_configuration: Mapping[str, Any] | None
) -> Outcome | None:
    """Step Functions assumes the role (``states.amazonaws.com``) and, when the machine logs, checks the log
    delivery actions. None when IAM is off; raises SessionError when the role cannot be assumed."""
    authorizer = active()
    if authorizer is None:
        return None
    session = authorizer.assume_role(
        role_arn,
        "states.amazonaws.com",
        "StepFunctions-validation",
        900,
        source_account=authorizer.account,
        source_arn=state_machine_arn,
        detail={"state_machine": state_machine_arn},
    )
    level = str(
        (logging_configuration or {}).get("level") or (logging_configuration or {}).get("Level") or "OFF"
    )
    needs = (
        [Need(action, "*") for action in STATE_MACHINE_LOG_DELIVERY_ACTIONS] if level.upper() != "OFF" else []
    )
    return authorizer.authorize(
        session.principal,
        needs,
        via="states-role",
        service="logs",
        operation="LogDelivery",
        detail={"state_machine": state_machine_arn},
    )


# -- Glue -----------------------------------------------------------------------------------------------
def glue_job_session(role_arn: str, job_name: str, run_id: str) -> Session | None:
    """Credentials of a job's ``Role`` for one run (``glue.amazonaws.com``; no ``aws:SourceAccount``: Glue is
    not documented to set it). None when IAM is off; raises SessionError when enforcing and refused."""
    authorizer = active()
    if authorizer is None:
        return None
    return authorizer.assume_role(
        role_arn,
        "glue.amazonaws.com",
        "GlueJobRunnerSession",
        SERVICE_SESSION_S,
        detail={"job": job_name, "run_id": run_id},
    )


def policies_of(session: Session) -> list[Policy]:
    from localaws.iam import store

    return store.role_policies(session.role_arn, session.account)


_service_sessions: dict[tuple[str, str], Session] = {}


def glue_job_credentials(role_arn: str, job_name: str, run_id: str) -> dict[str, str] | None:
    """boto3 client keys of the job's role for a run; one session per role is reused while it lasts (so its
    clients are too). None when IAM is off; raises SessionError when enforcing and Glue may not assume it."""
    authorizer = active()
    if authorizer is None:
        return None
    key = (role_arn, authorizer.run)
    session = _service_sessions.get(key)
    if session is None or session.expiration - time.time() < LAMBDA_RENEW_BEFORE_S:
        session = glue_job_session(role_arn, job_name, run_id)
        if session is None:
            return None
        _service_sessions[key] = session
    return session.client_keys()


# -- Athena -----------------------------------------------------------------------------------------------
def athena_denied_reason(exc: BaseException) -> str | None:
    """The StateChangeReason Athena gives a query whose caller may not do one of the query's calls (a
    ClientError AccessDenied from the endpoint); None for any other error."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    if error.get("Code") not in ("AccessDenied", "AccessDeniedException"):
        return None
    message = str(error.get("Message") or "")
    action = message.split("perform: ", 1)[1].split(" ", 1)[0] if "perform: " in message else ""
    arn = (
        message.split("on resource: ", 1)[1].split(" ", 1)[0].strip('"') if "on resource: " in message else ""
    )
    path = "s3://" + arn[len("arn:aws:s3:::") :] if arn.startswith("arn:aws:s3:::") else arn
    if action.startswith("glue:"):
        return (
            f"Insufficient permissions to execute the query. {message} "
            "(Service: AmazonDataCatalog; Status Code: 400; Error Code: AccessDeniedException)"
        )
    if action in ("s3:PutObject", "s3:GetBucketLocation"):
        return (
            f"Access denied when writing output to url: {path} . Please ensure you are allowed to access the "
            f"S3 bucket. ({message})"
        )
    return f"Permission denied on S3 path: {path} ({message})"
