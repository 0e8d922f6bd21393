"""CloudFormation ValidateTemplate as AWS answers it (installed by the cloudformation bridge).

moto 5.2.5 runs cfn-lint over the template and refuses it at cfn-lint's first finding, warnings included: a
valid template with an unused parameter (W2001) was a ValidationError. It also answers empty
``Parameters`` and ``Capabilities`` whatever the template holds. AWS checks the template's structure, not
its properties, and describes it:

- refused (``ValidationError``, "Template format error: ..."): text that is not JSON or YAML ("JSON not
  well-formed. (line L, column C)", as AWS words it), a top-level key CloudFormation does not know, no
  ``Resources``, a resource or parameter without ``Type``, an unknown parameter type, a logical id that is
  not alphanumeric, an output without ``Value``, and a ``Ref``/``Fn::GetAtt``/``Fn::Sub``/``DependsOn`` to
  something the template does not declare, or a ``Condition`` it does not define. A ``TemplateBody`` over
  51,200 bytes is the model's length constraint. A template with a ``Transform`` is checked for its
  structure only (its macros may add what it references).
- described: ``Parameters`` (each ``ParameterKey``, ``DefaultValue`` when it has one, ``NoEcho``,
  ``Description`` when it has one), ``Description``; ``Capabilities`` ``CAPABILITY_IAM``, or
  ``CAPABILITY_NAMED_IAM`` when an IAM resource has a custom name, with ``CapabilitiesReason`` "The
  following resource(s) require capabilities: [AWS::IAM::Role]"; ``DeclaredTransforms``. Members with
  nothing to say are left out, as in AWS's answers recorded by localstack's ``test_validate_template``
  snapshot (a template without description or IAM resources: only ``Parameters``).
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import yaml
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult

from localaws.bridges import patching

MAX_TEMPLATE_BODY_BYTES = 51200
TOP_LEVEL_KEYS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
        "Hooks",
    }
)
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
_PLAIN_PARAMETER_TYPES = frozenset({"String", "Number", "List<Number>", "CommaDelimitedList"})
_AWS_PARAMETER_TYPE = re.compile(r"^(List<)?AWS::[A-Za-z0-9]+::[A-Za-z0-9:]+(>)?$")
_SSM_PARAMETER_TYPE = re.compile(r"^AWS::SSM::Parameter::(Name|Value<.+>)$")
_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")
# The resource types CloudFormation's capabilities documentation lists as IAM resources, and the property
# that gives one a custom name (which asks for CAPABILITY_NAMED_IAM).
IAM_RESOURCE_TYPES = frozenset(
    {
        "AWS::IAM::AccessKey",
        "AWS::IAM::Group",
        "AWS::IAM::GroupPolicy",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::User",
        "AWS::IAM::UserPolicy",
        "AWS::IAM::UserToGroupAddition",
    }
)
IAM_NAME_PROPERTIES = {
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
}
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def install() -> None:
    """Patch moto's ValidateTemplate answer; idempotent."""
    patching.replace(cfn_responses.CloudFormationResponse, "validate_template", _validate_template_action)


def _validate_template_action(self: Any) -> ActionResult:
    body = self._get_param("TemplateBody")
    url = self._get_param("TemplateURL")
    if url:
        body = self._get_stack_from_s3_url(url)
    elif body is None:
        raise ValidationError(message="Either Template URL or Template Body must be specified.")
    elif len(body.encode("utf-8")) > MAX_TEMPLATE_BODY_BYTES:
        raise ValidationError(
            message=f"1 validation error detected: Value '{body}' at 'templateBody' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_TEMPLATE_BODY_BYTES}"
        )
    return ActionResult(template_summary(body))


def _format_error(detail: str) -> ValidationError:
    return ValidationError(message=f"Template format error: {detail}")


# --- reading the template --------------------------------------------------------------------------------


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (``!Ref X``, ``!GetAtt A.B``, ``!Sub ...``) as their long
    forms, so that one walk reads both."""


def _short_form(loader: _TemplateLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_TemplateLoader.add_multi_constructor("!", _short_form)


def parse_template(body: str) -> dict[str, Any]:
    """The template as a dict; ValidationError worded as AWS's for text that is not JSON or YAML."""
    if body.lstrip().startswith("{"):
        try:
            template = json.loads(body)
        except json.JSONDecodeError as exc:
            # AWS's parser counts the column one further than Python's (its answer to the text
            # '{"this is invalid JSON"="bobbins"}' is "line 1, column 25": localstack's recorded snapshot).
            raise _format_error(
                f"JSON not well-formed. (line {exc.lineno}, column {exc.colno + 1})"
            ) from None
    else:
        try:
            template = yaml.load(body, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise _format_error(f"YAML not well-formed.{where}") from None
    if not isinstance(template, dict):
        raise _format_error("unsupported structure.")
    return template


# --- checking its structure ------------------------------------------------------------------------------


def _references(value: Any, refs: set[str], attrs: set[str], conditions: set[str]) -> None:
    """Collect what ``value`` names: Ref targets, Fn::GetAtt resources (and ${X.Attr} in Fn::Sub), and
    conditions (Fn::If's first argument, {"Condition": X})."""
    if isinstance(value, list):
        for item in value:
            _references(item, refs, attrs, conditions)
        return
    if not isinstance(value, dict):
        return
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and isinstance(argument, str):
            refs.add(argument)
            return
        if key == "Fn::GetAtt":
            target = argument[0] if isinstance(argument, list) and argument else argument
            if isinstance(target, str):
                attrs.add(target.split(".", 1)[0])
            return
        if key == "Condition" and isinstance(argument, str):
            conditions.add(argument)
            return
        if key == "Fn::If" and isinstance(argument, list) and argument and isinstance(argument[0], str):
            conditions.add(argument[0])
            _references(argument[1:], refs, attrs, conditions)
            return
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else (argument + [{}])[:2]
            if isinstance(text, str) and isinstance(variables, dict):
                for name in _SUB_VARIABLE.findall(text):
                    name = name.strip()
                    if name in variables:
                        continue
                    if "." in name and not name.startswith("AWS::"):
                        attrs.add(name.split(".", 1)[0])
                    else:
                        refs.add(name)
                _references(list(variables.values()), refs, attrs, conditions)
            return
    for item in value.values():
        _references(item, refs, attrs, conditions)


def _check_parameters(parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise _format_error("Parameters must be an object.")
    for name, parameter in parameters.items():
        if not _LOGICAL_ID.match(str(name)):
            raise _format_error(f"Parameter name {name} is non alphanumeric.")
        if not isinstance(parameter, dict) or "Type" not in parameter:
            raise _format_error("Every Parameters object must contain a Type member.")
        kind = parameter["Type"]
        known = kind in _PLAIN_PARAMETER_TYPES or (
            isinstance(kind, str) and (_AWS_PARAMETER_TYPE.match(kind) or _SSM_PARAMETER_TYPE.match(kind))
        )
        if not known:
            raise _format_error(f"Unrecognized parameter type: {kind}")
    return parameters


def _check_resources(resources: Any) -> dict[str, Any]:
    if not isinstance(resources, dict) or not resources:
        raise _format_error("At least one Resources member must be defined.")
    for name, resource in resources.items():
        if not _LOGICAL_ID.match(str(name)):
            raise _format_error(f"Resource name {name} is non alphanumeric.")
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise _format_error(f"[/Resources/{name}] Every Resources object must contain a Type member.")
    return resources


def _check_block_references(
    block: str, values: dict[str, Any], declared: set[str], resources: set[str], conditions: set[str]
) -> None:
    refs: set[str] = set()
    attrs: set[str] = set()
    named_conditions: set[str] = set()
    for value in values.values():
        _references(value, refs, attrs, named_conditions)
        if block == "Resources" and isinstance(value, dict):
            depends = value.get("DependsOn", [])
            refs.update([depends] if isinstance(depends, str) else [d for d in depends if isinstance(d, str)])
            if isinstance(value.get("Condition"), str):
                named_conditions.add(value["Condition"])
        if block == "Outputs" and isinstance(value, dict) and isinstance(value.get("Condition"), str):
            named_conditions.add(value["Condition"])
    unresolved = sorted((refs - declared - PSEUDO_PARAMETERS) | (attrs - resources))
    if unresolved:
        raise _format_error(
            f"Unresolved resource dependencies [{', '.join(unresolved)}] in the {block} block of the template"
        )
    undefined = sorted(named_conditions - conditions)
    if undefined:
        raise _format_error(
            f"Unresolved condition dependencies [{', '.join(undefined)}] in the {block} block of the template"
        )


def check_template(template: dict[str, Any]) -> None:
    """Raise ValidationError, worded as AWS's, for what CloudFormation refuses in a template's structure."""
    unknown = sorted(str(key) for key in template if key not in TOP_LEVEL_KEYS)
    if unknown:
        raise _format_error(f"Invalid template property or properties [{', '.join(unknown)}]")
    parameters = _check_parameters(template.get("Parameters"))
    resources = _check_resources(template.get("Resources"))
    outputs = template.get("Outputs") or {}
    if not isinstance(outputs, dict) or any(
        not isinstance(o, dict) or "Value" not in o for o in outputs.values()
    ):
        raise _format_error("Every Outputs member must contain a Value object")
    if "Transform" in template:
        return  # macros may declare what the template references: AWS checks after processing them
    conditions = set(template.get("Conditions") or {})
    declared = set(parameters) | set(resources)
    _check_block_references("Resources", resources, declared, set(resources), conditions)
    _check_block_references("Outputs", outputs, declared, set(resources), conditions)


# --- describing it ---------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def template_summary(body: str) -> dict[str, Any]:
    """ValidateTemplate's answer for ``body``; ValidationError for a template CloudFormation refuses."""
    template = parse_template(body)
    check_template(template)
    described: list[dict[str, Any]] = []
    for key, parameter in (template.get("Parameters") or {}).items():
        item: dict[str, Any] = {"ParameterKey": key}
        if "Default" in parameter:
            item["DefaultValue"] = _text(parameter["Default"])
        item["NoEcho"] = _text(parameter.get("NoEcho", False)).lower() == "true"
        if "Description" in parameter:
            item["Description"] = _text(parameter["Description"])
        described.append(item)
    answer: dict[str, Any] = {"Parameters": described}
    if "Description" in template:
        answer["Description"] = _text(template["Description"])
    iam_types: list[str] = []
    named = False
    for resource in template["Resources"].values():
        kind = resource["Type"]
        if kind in IAM_RESOURCE_TYPES:
            if kind not in iam_types:
                iam_types.append(kind)
            name_property = IAM_NAME_PROPERTIES.get(kind)
            named = named or bool(name_property and name_property in (resource.get("Properties") or {}))
    if iam_types:
        answer["Capabilities"] = ["CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"]
        answer["CapabilitiesReason"] = (
            f"The following resource(s) require capabilities: [{', '.join(iam_types)}]"
        )
    transforms = template.get("Transform")
    if transforms:
        answer["DeclaredTransforms"] = [transforms] if isinstance(transforms, str) else list(transforms)
    return answer
