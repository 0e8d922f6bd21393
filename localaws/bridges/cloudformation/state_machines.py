"""``AWS::StepFunctions::StateMachine`` in the backend the API serves, from its Definition as written.

moto gap: the resource always landed in moto's non-executing backend (invisible to the API when
``execute_state_machine`` is on) and only read ``DefinitionString``: now created in the backend the API uses,
from ``Definition`` (object) or ``DefinitionString``, with ``DefinitionSubstitutions`` applied, and a
``null`` in a Definition object kept (moto's template parsing dropped it).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import parsing as cfn_parsing
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend as get_sfn_backend

from localaws.bridges import patching
from localaws.bridges.cloudformation.models import tags_dict


def install() -> None:
    """Patch moto's StateMachine model and template parsing in-process; idempotent."""
    _patch_state_machine_backend_and_definition()
    _patch_keep_nulls_in_state_machine_definition()


# --- AWS::StepFunctions::StateMachine in the executing backend -----------------------------------------


def state_machine_definition(properties: dict[str, Any]) -> str:
    """The ASL text of a StateMachine resource: Definition (object) or DefinitionString, substituted."""
    definition = properties.get("Definition")
    text = (
        json.dumps(definition, default=lambda o: None if o is JSON_NULL else str(o))
        if definition is not None
        else properties.get("DefinitionString", "")
    )
    if not isinstance(text, str):  # DefinitionString given as an object by a hand-written template
        text = json.dumps(text)
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        replacement = value if isinstance(value, str) else json.dumps(value)
        if definition is not None:
            # Inside the JSON text a substituted string must stay a valid JSON string fragment.
            replacement = json.dumps(replacement)[1:-1]
        text = text.replace("${" + key + "}", replacement)
    return text


def _create_state_machine(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", resource_name)
    tags = [{"key": k, "value": v} for k, v in tags_dict(properties.get("Tags")).items()]
    return get_sfn_backend(account_id, region_name).create_state_machine(
        name=name,
        definition=state_machine_definition(properties),
        roleArn=properties.get("RoleArn", ""),
        tags=tags or None,
        loggingConfiguration=properties.get("LoggingConfiguration"),
        tracingConfiguration=properties.get("TracingConfiguration"),
        sm_type=properties.get("StateMachineType"),
    )


def _delete_state_machine(cls, resource_name, cloudformation_json, account_id, region_name):
    get_sfn_backend(account_id, region_name).delete_state_machine(resource_name)


def _update_state_machine(
    cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
):
    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", original_resource.name)
    backend = get_sfn_backend(account_id, region_name)
    if name != original_resource.name:
        new_resource = _create_state_machine(cls, name, cloudformation_json, account_id, region_name)
        backend.delete_state_machine(original_resource.arn)
        return new_resource
    return backend.update_state_machine(
        original_resource.arn,
        definition=state_machine_definition(properties),
        role_arn=properties.get("RoleArn"),
    )


def _patch_state_machine_backend_and_definition() -> None:
    # moto gap: StateMachine.*_from_cloudformation_json use stepfunctions_backends (never the executing parser
    # backend the API serves with execute_state_machine on) and ignore Definition/DefinitionSubstitutions.
    for attribute, func in (
        ("create_from_cloudformation_json", _create_state_machine),
        ("delete_from_cloudformation_json", _delete_state_machine),
        ("update_from_cloudformation_json", _update_state_machine),
    ):
        patching.replace(StateMachine, attribute, classmethod(func))


class _JsonNull:
    """Stands for a JSON null inside a Definition object while moto resolves intrinsic functions."""

    def __repr__(self) -> str:
        return "null"


JSON_NULL = _JsonNull()


def _protect_nulls(value: Any) -> Any:
    if value is None:
        return JSON_NULL
    if isinstance(value, dict):
        return {k: _protect_nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_protect_nulls(v) for v in value]
    return value


def _patch_keep_nulls_in_state_machine_definition() -> None:
    # moto gap: clean_json drops every None while resolving Refs, so "ResultPath: null" (discard the result)
    # in a Definition object silently became the default "$". Nulls are wrapped before clean_json and
    # written back as null by state_machine_definition().
    patching.wrap(cfn_parsing, "parse_resource", _definition_nulls_protected)


def _definition_nulls_protected(current):
    def parse_resource(resource_json: dict[str, Any], resources_map: Any):
        properties = resource_json.get("Properties") or {}
        if resource_json.get("Type") == StateMachine.cloudformation_type() and "Definition" in properties:
            properties = {**properties, "Definition": _protect_nulls(properties["Definition"])}
            resource_json = {**resource_json, "Properties": properties}
        return current(resource_json, resources_map)

    return parse_resource
