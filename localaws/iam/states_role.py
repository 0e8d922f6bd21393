"""Step Functions and a state machine's role: checked when the machine is created or updated, as AWS does.

``CreateStateMachine`` / ``UpdateStateMachine`` (the API and CloudFormation alike) assume the machine's role
as ``states.amazonaws.com`` (its trust policy must allow it; ``aws:SourceAccount`` and ``aws:SourceArn`` are
set), and for a machine that logs (``LoggingConfiguration`` level other than OFF) the role must allow the
CloudWatch Logs log-delivery actions Step Functions documents. AWS answers ``AccessDeniedException`` with
its own messages. The states of this project's machines call no service themselves (activity workers use
their own roles), so nothing else is authorised as the machine's role at run time.
"""

from __future__ import annotations

from typing import Any

from localaws.bridges import patching
from localaws.iam import service_access
from localaws.iam.identities import SessionError

CANNOT_ASSUME = (
    "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume "
    "the provided role."
)
CANNOT_LOG = "The state machine IAM Role is not authorized to access the Log Destination"


def _access_denied(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("AccessDeniedException", message)


def check(role_arn: str, state_machine_arn: str, logging_configuration: Any) -> None:
    """Raise Step Functions' AccessDeniedException when enforcing and the role does not do."""
    from localaws.iam.middleware import serving

    if not serving():  # not a request to the endpoint (a test's in-process moto): nothing to authorise
        return
    try:
        outcome = service_access.state_machine_role_outcome(
            role_arn, state_machine_arn, logging_configuration
        )
    except SessionError as exc:
        raise _access_denied(CANNOT_ASSUME) from exc
    if outcome is not None and not outcome.proceed:
        raise _access_denied(CANNOT_LOG)


def install() -> None:
    """Wrap the executing backend's create and update (idempotent)."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    patching.wrap(StepFunctionsParserBackend, "create_state_machine", _create_checking_the_role)
    patching.wrap(StepFunctionsParserBackend, "update_state_machine", _update_checking_the_role)


def _create_checking_the_role(create: Any) -> Any:
    def create_state_machine(
        self: Any, name: str, definition: str, roleArn: str, *args: Any, **kwargs: Any
    ) -> Any:  # noqa: N803
        arn = f"arn:aws:states:{self.region_name}:{self.account_id}:stateMachine:{name}"
        check(roleArn, arn, kwargs.get("loggingConfiguration"))
        return create(self, name, definition, roleArn, *args, **kwargs)

    return create_state_machine


def _update_checking_the_role(update: Any) -> Any:
    def update_state_machine(self: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
        role_arn = kwargs.get("role_arn")
        logging_configuration = kwargs.get("logging_configuration")
        if role_arn or logging_configuration:
            machine = self.describe_state_machine(arn)
            check(role_arn or machine.roleArn, arn, logging_configuration or machine.loggingConfiguration)
        return update(self, arn, *args, **kwargs)

    return update_state_machine
