"""The CloudFormation templates as data, for drawing: YAML short tags read as their long forms, references
between resources, and display values of intrinsics (a parameter's default, else a placeholder).

PyYAML (a dependency of moto, so always installed) reads the files; cfn-lint, which the tests use, is a dev
tool and `pynt pictures` should not need it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Creation order (docs/DESIGN.md "Names"), which is also the order the diagram lists resources in.
STACKS = ("step-functions-resources", "glue-resources", "gluerunner-lambda", "athenarunner-lambda")

_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref x` into {"Ref": "x"}, `!GetAtt a.b` into {"Fn::GetAtt": ["a", "b"]} and
    `!Other …` into {"Fn::Other": …}, as CloudFormation reads the short forms."""


def _short_form(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_form)


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    condition: str | None

    @property
    def key(self) -> str:
        """How resources/architecture.toml names it: `<stack>/<logical id>`."""
        return f"{self.stack}/{self.logical_id}"


@dataclass(frozen=True)
class Template:
    stack: str
    body: Mapping[str, Any]

    @property
    def resources(self) -> dict[str, Resource]:
        return {
            logical_id: Resource(
                self.stack, logical_id, spec["Type"], spec.get("Properties") or {}, spec.get("Condition")
            )
            for logical_id, spec in (self.body.get("Resources") or {}).items()
        }

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.body.get("Parameters") or {})


def read_template(path: Path) -> Template:
    return Template(path.stem, yaml.load(path.read_text(), Loader=_CfnLoader))  # noqa: S506 - SafeLoader


def read_templates(folder: Path, stacks: tuple[str, ...] = STACKS) -> dict[str, Template]:
    """The stacks' templates, and any other template in `folder` (it must be drawn too)."""
    names = list(stacks) + sorted(p.stem for p in folder.glob("*.yaml") if p.stem not in stacks)
    return {
        name: read_template(folder / f"{name}.yaml") for name in names if (folder / f"{name}.yaml").exists()
    }


def all_resources(templates: Mapping[str, Template]) -> Iterator[Resource]:
    for template in templates.values():
        yield from template.resources.values()


def references(value: Any) -> Iterator[str]:
    """The logical ids (or parameter names) that `value` refers to: Ref, GetAtt and the names in a Sub."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                yield arg
                return
            if key == "Fn::GetAtt":
                yield arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                return
            if key == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                for name in _SUB_NAME.findall(text):
                    base = name.split(".", 1)[0]
                    if base not in local:
                        yield base
                for inner in local.values():
                    yield from references(inner)
                return
        for inner in value.values():
            yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def at_path(value: Any, path: str) -> Iterator[Any]:
    """The values at a dotted path; `*` walks every item of a list or every value of a mapping."""
    found = [value]
    for part in path.split("."):
        following: list[Any] = []
        for item in found:
            if part == "*":
                if isinstance(item, list):
                    following += item
                elif isinstance(item, dict):
                    following += list(item.values())
            elif isinstance(item, dict) and part in item:
                following.append(item[part])
        found = following
    yield from found


class Display:
    """Intrinsics of one template as text for a label: a parameter is its default (else `placeholders`'s
    name for it, else `<Name>`), a resource its name property, a pseudo parameter `<region>` and the like."""

    # The property that names each type's resource, where the template may set it.
    NAME_PROPERTIES = {
        "AWS::StepFunctions::Activity": "Name",
        "AWS::StepFunctions::StateMachine": "StateMachineName",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::DynamoDB::Table": "TableName",
        "AWS::S3::Bucket": "BucketName",
        "AWS::SQS::Queue": "QueueName",
        "AWS::Glue::Job": "Name",
        "AWS::Glue::Database": "DatabaseInput.Name",
        "AWS::Glue::Table": "TableInput.Name",
        "AWS::Logs::LogGroup": "LogGroupName",
        "AWS::Events::Rule": "Name",
    }

    def __init__(self, template: Template, placeholders: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.placeholders = dict(placeholders or {})

    def name_of(self, resource: Resource) -> str:
        """The resource's name as deployed with default parameters (its logical id when it sets none)."""
        prop = self.NAME_PROPERTIES.get(resource.type)
        values = list(at_path(resource.properties, prop)) if prop else []
        return self.text(values[0]) if values else resource.logical_id

    def _name(self, name: str) -> str:
        if name in self.placeholders:
            return self.placeholders[name]
        spec = self.template.parameters.get(name)
        if spec is not None:
            return str(spec["Default"]) if "Default" in spec else f"<{name}>"
        if name.startswith("AWS::"):
            return f"<{name[5:].lower()}>"
        resource = self.template.resources.get(name.split(".", 1)[0])
        if resource is not None:
            return self.name_of(resource)
        return f"<{name}>"

    def text(self, value: Any) -> str:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._name(arg)
            if key == "Fn::GetAtt":
                return self._name(arg[0] if isinstance(arg, list) else str(arg))
            if key == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return _SUB_NAME.sub(
                    lambda m: self.text(local[m.group(1)]) if m.group(1) in local else self._name(m.group(1)),
                    text,
                ).replace("${!", "${")
            if key == "Fn::Join":
                sep, items = arg
                parts = (
                    self.text(items).split(",") if isinstance(items, dict) else [self.text(v) for v in items]
                )
                return sep.join(parts)
            if key == "Fn::Split":
                return self.text(arg[1])
        if isinstance(value, list):
            return ", ".join(self.text(v) for v in value)
        return str(value)
