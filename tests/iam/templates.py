"""The IAM statements of the four templates: each role's trust and inline policies' statements, and each
``AWS::Lambda::Permission``, with what identifies their deployed copy in an audit recording.

A deployed role is named ``<stack>-<LogicalId>-<suffix>`` by CloudFormation, so a recorded document
``inline:<role name>/<PolicyName>`` or ``trust:<role name>`` is the template's by that prefix and name.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("step-functions-resources", "glue-resources", "gluerunner-lambda", "athenarunner-lambda")


@functools.cache
def template(stack: str) -> dict[str, Any]:
    return cfn_yaml.load(str(ROOT / "cloudformation" / f"{stack}.yaml"))


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    """One Allow statement of a template: a role's policy or trust statement, or a Lambda permission."""

    stack: str
    logical_id: str  # the role's (or the permission's) logical id
    policy: str  # the inline policy's name, "trust", or "permission"
    index: int  # the statement's position in its document (0 for a permission)
    body: Any  # the statement as the template writes it (intrinsics unresolved)

    @property
    def key(self) -> str:
        return f"{self.stack}/{self.logical_id}/{self.policy}#{self.index}"

    @property
    def actions(self) -> list[str]:
        if self.policy == "permission":
            return [str(self.body["Action"])]
        return [str(a) for a in as_list(self.body.get("Action", []))]

    @property
    def sid(self) -> str | None:
        return self.body.get("Sid") if self.policy != "permission" else None

    def owns(self, document_name: str) -> bool:
        """Is a recorded document (``inline:<role>/<policy>``, ``trust:<role>``) this statement's document?"""
        prefix = f"{self.stack}-{self.logical_id}-"
        if self.policy == "trust":
            return document_name.startswith(f"trust:{prefix}")
        if self.policy == "permission":
            return False
        kind, _, rest = document_name.partition(":")
        role, _, policy = rest.partition("/")
        return kind == "inline" and role.startswith(prefix) and policy == self.policy


def role_statements(stack: str) -> list[Statement]:
    found = []
    for logical_id, resource in template(stack)["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        properties = resource["Properties"]
        for index, statement in enumerate(as_list(properties["AssumeRolePolicyDocument"]["Statement"])):
            if statement["Effect"] == "Allow":
                found.append(Statement(stack, logical_id, "trust", index, statement))
        for policy in properties.get("Policies", []):
            for index, statement in enumerate(as_list(policy["PolicyDocument"]["Statement"])):
                if statement["Effect"] == "Allow":
                    found.append(Statement(stack, logical_id, policy["PolicyName"], index, statement))
    return found


def permission_statements(stack: str) -> list[Statement]:
    return [
        Statement(stack, logical_id, "permission", 0, resource["Properties"])
        for logical_id, resource in template(stack)["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Permission"
    ]


def all_statements() -> list[Statement]:
    return [s for stack in STACKS for s in role_statements(stack) + permission_statements(stack)]


def role_of(document_or_role_name: str) -> tuple[str, str] | None:
    """(stack, logical id) of a deployed role's name (or of a document name holding it)."""
    name = document_or_role_name.split(":", 1)[-1].split("/", 1)[0].rsplit("/", 1)[-1]
    for stack in STACKS:
        for logical_id, resource in template(stack)["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role" and name.startswith(f"{stack}-{logical_id}-"):
                return stack, logical_id
    return None


def expression_pattern(value: Any) -> str:
    """A regex matching what a template value (a string or an intrinsic) resolves to."""
    if isinstance(value, str):
        return re.escape(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Sub":
            text = argument[0] if isinstance(argument, list) else argument
            parts = re.split(r"\$\{[^}]+\}", text)
            return ".+".join(re.escape(part) for part in parts)
    return ".+"  # Ref, GetAtt, Join, Split, Select: anything


def resource_patterns(statement: Statement) -> list[str] | None:
    """One regex per Resource of a role statement; None when the template builds the list itself
    (``Fn::Split``: any number of resources, each checked loosely)."""
    raw = statement.body.get("Resource")
    if isinstance(raw, dict) and "Fn::Split" in raw:
        return None
    return [expression_pattern(value) for value in as_list(raw)]


def matches_template(statement: Statement, deployed: dict[str, Any]) -> str | None:
    """Why a deployed statement is not the template's (None when it is): effect, actions, resources."""
    if deployed.get("Effect") != statement.body.get("Effect"):
        return f"{statement.key}: Effect {deployed.get('Effect')} is not the template's"
    if [str(a) for a in as_list(deployed.get("Action", []))] != statement.actions:
        return f"{statement.key}: Action {deployed.get('Action')} is not the template's {statement.actions}"
    if statement.policy == "trust":
        return (
            None
            if deployed.get("Principal") == statement.body.get("Principal")
            else f"{statement.key}: Principal"
        )
    patterns = resource_patterns(statement)
    resources = [str(r) for r in as_list(deployed.get("Resource", []))]
    if patterns is None:
        return None if all(re.fullmatch(".+", r) for r in resources) else f"{statement.key}: Resource"
    if len(patterns) != len(resources) or not all(
        re.fullmatch(p, r) for p, r in zip(patterns, resources, strict=True)
    ):
        return f"{statement.key}: Resource {resources} does not match the template's {patterns}"
    return None
