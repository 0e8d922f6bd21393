"""Step Functions requests refused, accepted and recorded as AWS does (installed by the stepfunctions bridge).

Plain boto3 calls, as the AWS CLI makes them, found these moto 5.2.5 differences:

1. ``_patch_execution_input``: StartExecution with an ``input`` that is not JSON raised an
   InvalidExecutionInput built without its code, answered as ``{"__type": null}``. AWS answers
   ``InvalidExecutionInput`` ("Invalid State Machine Execution Input: '<why>'").
2. ``_patch_name_rules``: the executing backend's StartExecution never checked the execution's name, and the
   name check of CreateActivity/CreateStateMachine missed whitespace other than a space. The API reference
   (CreateActivity, CreateStateMachine, StartExecution ``name``): 1-80 characters, and none of whitespace,
   brackets ``< > { } [ ]``, wildcards ``? *``, the special characters ``" # % \\ ^ | ~ ` $ & , ; : /``, or
   control characters (U+0000-001F, U+007F-009F). A character rule broken is ``InvalidName``
   ("Invalid Name: '<name>'"); a length outside 1-80 is the model's constraint, which AWS checks first and
   answers as ``ValidationException`` ("1 validation error detected: Value '<name>' at 'name' failed to
   satisfy constraint: Member must have length less than or equal to 80", as AWS's own answers quoted in
   getmoto/moto#6438 and gchq/sleeper#1869 read). CloudFormation's activities and state machines go through
   the same backend calls, so a template naming one badly fails that resource as on AWS.
3. ``_patch_activity_idempotency``: CreateActivity with an existing name failed (ActivityAlreadyExists, an
   error AWS's API does not even list for it). The API reference: "CreateActivity is an idempotent API ...
   based on the activity name. If a following request has different tags values, Step Functions will ignore
   these differences": the same ARN and creation date, the tags left as they were.
"""

from __future__ import annotations

import json
import unicodedata

from moto.stepfunctions.exceptions import InvalidExecutionInput, InvalidName, ValidationException
from moto.stepfunctions.models import Activity, StepFunctionBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from localaws.bridges import patching

MAX_NAME_LENGTH = 80
# The API reference's list: brackets, wildcards and special characters (whitespace and control characters
# are told by their Unicode category below).
FORBIDDEN_NAME_CHARACTERS = frozenset('<>{}[]?*"#%\\^|~`$&,;:/')


def install() -> None:
    """Patch moto's Step Functions backends in-process; idempotent."""
    _patch_execution_input()
    _patch_name_rules()
    _patch_activity_idempotency()


# --- names ---------------------------------------------------------------------------------------------


def _is_control(character: str) -> bool:
    code = ord(character)
    return code <= 0x1F or 0x7F <= code <= 0x9F


def _is_forbidden(character: str) -> bool:
    return (
        character in FORBIDDEN_NAME_CHARACTERS
        or character.isspace()
        or unicodedata.category(character) == "Zs"  # any space separator (no-break space, ...)
        or _is_control(character)
    )


def check_name(name: str, member: str = "name") -> None:
    """Raise what AWS answers for a bad activity, state machine or execution name."""
    if len(name) > MAX_NAME_LENGTH or not name:
        bound = f"less than or equal to {MAX_NAME_LENGTH}" if name else "greater than or equal to 1"
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: "
            f"Member must have length {bound}"
        )
    if any(_is_forbidden(character) for character in name):
        raise InvalidName(f"Invalid Name: '{name}'")


def _validate_name(self: StepFunctionBackend, name: str) -> None:
    check_name(name)


def _patch_name_rules() -> None:
    # moto gap: StepFunctionBackend._validate_name (CreateActivity, CreateStateMachine) lists a space but no
    # other whitespace, and checks the length last; StepFunctionsParserBackend.start_execution checks nothing.
    patching.replace(StepFunctionBackend, "_validate_name", _validate_name)


# --- StartExecution ------------------------------------------------------------------------------------


def check_execution_input(execution_input: str | None) -> None:
    """Raise InvalidExecutionInput, as AWS does, for an input that is not JSON text."""
    if execution_input is None:
        return
    try:
        json.loads(execution_input)
    except ValueError as exc:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc}'") from None


def _patch_execution_input() -> None:
    # moto gap: the parser backend raises its own InvalidExecutionInput(str(ex)), which has no code, so the
    # answer was {"__type": null}; and it never validates the execution's name ("TODO: validate name").
    patching.wrap(StepFunctionsParserBackend, "start_execution", _checked_start_execution)


def _checked_start_execution(original):
    def start_execution(self, state_machine_arn, name=None, execution_input=None, *args, **kwargs):
        if name is not None:
            check_name(name)
        check_execution_input(execution_input)
        return original(self, state_machine_arn, name, execution_input, *args, **kwargs)

    return start_execution


# --- CreateActivity ------------------------------------------------------------------------------------


def _patch_activity_idempotency() -> None:
    # moto gap: StepFunctionBackend.create_activity raises ActivityAlreadyExists for a known name.
    patching.wrap(StepFunctionBackend, "create_activity", _idempotent_create_activity)


def _idempotent_create_activity(original):
    def create_activity(self, name: str, tags=None, encryption_configuration=None) -> Activity:
        self._validate_name(name)
        existing = next((a for a in self.activities.values() if a.name == name), None)
        if existing is not None:
            return existing  # same ARN and creation date; differing tags are ignored, as on AWS
        return original(self, name, tags=tags, encryption_configuration=encryption_configuration)

    return create_activity
