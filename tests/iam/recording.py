"""A recording of the authorisation decisions the test suite's deployments of the templates made, and what
each of them becomes when a template's statement changes.

``tests/iam/data/decisions.jsonl`` (made by ``python -m tests.iam.record_decisions``) holds, one JSON object
a line: ``{"kind": "document", "name", "digest", "document"}`` for every policy document the decisions were
evaluated against, and ``{"kind": "decision", "label", "principal", "role", "service_principal", "action",
"resource", "context", "allowed", "documents"}`` for every distinct decision about a template's role or a
template's function policy (``label``: the test that caused it).

Re-evaluating a decision uses the very documents it was made against (``documents``), with one statement
changed: how the local endpoint would have decided had the template said so. ``tests/iam/test_iam_recording``
checks that the recorded documents are the current templates' (else the recording is stale).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localaws.iam.policy import IDENTITY, RESOURCE, TRUST, Policy, Principal, evaluate
from tests.iam.templates import STACKS, Statement, as_list, expression_pattern, template

DATA = Path(__file__).resolve().parent / "data" / "decisions.jsonl"
NOTHING = "arn:aws:iam::000000000000:nothing-matches-this"


@dataclass
class Recording:
    documents: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)


def load(path: Path = DATA) -> Recording:
    recording = Recording()
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["kind"] == "document":
            recording.documents[(record["name"], record["digest"])] = record["document"]
        elif record["kind"] == "decision":
            recording.decisions.append(record)
    return recording


def kind_of(document_name: str) -> str:
    if document_name.startswith("trust:"):
        return TRUST
    if document_name.startswith(("bucket-policy:", "function-policy:")):
        return RESOURCE
    return IDENTITY


def principal_of(decision: dict[str, Any]) -> Principal:
    account = "123456789012"
    if decision.get("service_principal"):
        service = decision["service_principal"]
        return Principal(service, account, service=service)
    return Principal(decision["principal"], account, role_arn=decision.get("role"))


Mutator = Callable[[str, dict[str, Any]], dict[str, Any] | None]


def evaluate_again(recording: Recording, decision: dict[str, Any], mutate: Mutator | None = None) -> bool:
    """Is the recorded request allowed against its documents, ``mutate(name, document)`` applied to each
    (returning a changed copy, or None to leave it)?"""
    identity: list[Policy] = []
    resource: Policy | None = None
    for name, digest in decision["documents"]:
        document = recording.documents[(name, digest)]
        if mutate is not None:
            document = mutate(name, document) or document
        policy = Policy(name, kind_of(name), document)
        if policy.kind == RESOURCE:
            resource = policy
        else:
            identity.append(policy)
    result = evaluate(
        principal_of(decision),
        decision["action"],
        decision["resource"],
        identity,
        resource,
        decision["context"],
    )
    return result.allowed


# -- mutations of a template statement, applied to its deployed documents -----------------------------------
def _function_name(stack: str, function_ref: Any) -> str | None:
    """The deployed name of the function a Permission names (``!GetAtt Fn.Arn`` of this stack)."""
    logical = None
    if isinstance(function_ref, dict) and "Fn::GetAtt" in function_ref:
        logical = as_list(function_ref["Fn::GetAtt"])[0].split(".")[0]
    if logical is None:
        return None
    resources = template(stack)["Resources"]
    name = resources[logical]["Properties"].get("FunctionName")
    if isinstance(name, dict) and "Ref" in name:
        return str(template(stack)["Parameters"][name["Ref"]].get("Default"))
    return str(name) if name else None


def _source_pattern(stack: str, source_arn: Any) -> str:
    """What a Permission's SourceArn resolves to: a rule of this stack by its logical id, or a pattern."""
    if isinstance(source_arn, dict) and "Fn::GetAtt" in source_arn:
        logical = as_list(source_arn["Fn::GetAtt"])[0].split(".")[0]
        if template(stack)["Resources"][logical]["Type"] == "AWS::Events::Rule":
            return rf"arn:.+:events:.+:rule/{re.escape(stack)}-{re.escape(logical)}-.+"
    return expression_pattern(source_arn)


def permission_index(statement: Statement, name: str, document: dict[str, Any]) -> int | None:
    """The position, in a recorded function policy, of the statement a template Permission made."""
    function = _function_name(statement.stack, statement.body.get("FunctionName"))
    if function is None or name != f"function-policy:{function}":
        return None
    pattern = _source_pattern(statement.stack, statement.body.get("SourceArn"))
    service = statement.body.get("Principal")
    for index, deployed in enumerate(as_list(document.get("Statement", []))):
        conditions = deployed.get("Condition") or {}
        arns = [v for block in conditions.values() for k, v in block.items() if k.lower() == "aws:sourcearn"]
        if (deployed.get("Principal") or {}).get("Service") == service and any(
            re.fullmatch(pattern, a) for a in arns
        ):
            return index
    return None


def statement_index(statement: Statement, name: str, document: dict[str, Any]) -> int | None:
    """Where the template statement sits in a recorded document, or None when the document is not its."""
    if statement.policy == "permission":
        return permission_index(statement, name, document)
    return statement.index if statement.owns(name) else None


def mutation(statement: Statement, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Mutator:
    """A Mutator changing the statement's deployed copy: ``change(statement)`` returns the new statement,
    or None to drop it."""

    def mutate(name: str, document: dict[str, Any]) -> dict[str, Any] | None:
        index = statement_index(statement, name, document)
        if index is None:
            return None
        changed = copy.deepcopy(document)
        statements = as_list(changed["Statement"])
        replacement = change(statements[index])
        if replacement is None:
            del statements[index]
        else:
            statements[index] = replacement
        changed["Statement"] = statements
        return changed

    return mutate


def without_action(statement: Statement, action: str) -> Mutator:
    """The statement without ``action`` (and gone when it was its only one)."""

    def change(deployed: dict[str, Any]) -> dict[str, Any] | None:
        actions = [a for a in as_list(deployed["Action"]) if a != action]
        return {**deployed, "Action": actions} if actions else None

    return mutation(statement, change)


def narrowed(statement: Statement) -> Mutator:
    """The statement matching nothing: its resources (a trust statement: its principal; a permission: its
    source) replaced by what no request names."""

    def change(deployed: dict[str, Any]) -> dict[str, Any]:
        if statement.policy == "trust":
            return {**deployed, "Principal": {"Service": "nothing.amazonaws.com"}}
        if statement.policy == "permission":
            return {**deployed, "Condition": {"ArnLike": {"AWS:SourceArn": NOTHING}}}
        return {**deployed, "Resource": NOTHING}

    return mutation(statement, change)


def flipped(
    recording: Recording, mutate: Mutator, decisions: Iterable[dict[str, Any]] | None = None
) -> list[dict]:
    """The recorded decisions that were allowed and are denied under the mutation."""
    return [
        d
        for d in (recording.decisions if decisions is None else decisions)
        if d["allowed"] and not evaluate_again(recording, d, mutate)
    ]


def touching(recording: Recording, statement: Statement) -> list[dict[str, Any]]:
    """The recorded decisions made against a document holding this statement."""
    return [
        d
        for d in recording.decisions
        if any(
            statement_index(statement, name, recording.documents[(name, digest)]) is not None
            for name, digest in d["documents"]
        )
    ]


def stacks() -> tuple[str, ...]:
    return STACKS
