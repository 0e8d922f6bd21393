"""IAM's policy evaluation for one principal, one action and one resource, in one account.

The logic of AWS's documented evaluation, without the parts this project does not use (SCPs, permission
boundaries, session policies; see docs/DESIGN.md):

1. An explicit ``Deny`` in any applicable policy (the principal's identity-based policies, the resource's
   resource-based policy) denies. A Deny whose condition cannot be decided here counts as applying.
2. Otherwise an ``Allow`` in an identity-based policy, or in the resource-based policy naming the principal
   (same account: either is enough), allows. An Allow whose condition cannot be decided does not.
3. Otherwise the request is implicitly denied.

A statement applies to an action through ``Action`` or ``NotAction`` and to a resource through ``Resource``
or ``NotResource`` (wildcards: :mod:`localaws.iam.patterns`); a resource-based statement also needs its
``Principal`` (or ``NotPrincipal``) to name the principal. Policy variables (``${aws:username}``) are
replaced from the request context; one the context has no value for leaves its element matching nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from localaws.iam.conditions import evaluate_conditions, normalized_context
from localaws.iam.patterns import action_matches, resource_matches

IDENTITY = "identity"
RESOURCE = "resource"
TRUST = "trust"

_VARIABLE = re.compile(r"\$\{([^}*?$][^}]*)\}")


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a role session (``arn`` the assumed-role ARN, ``role_arn`` the role's) or an
    AWS service (``service``, e.g. ``s3.amazonaws.com``; ``arn`` is then the service name)."""

    arn: str
    account: str
    role_arn: str | None = None
    service: str | None = None

    @property
    def role_name(self) -> str | None:
        return self.role_arn.rsplit("/", 1)[-1] if self.role_arn else None


@dataclass(frozen=True)
class Policy:
    """One policy document and where it comes from (``name`` shows in decisions and reports)."""

    name: str
    kind: str  # IDENTITY | RESOURCE | TRUST
    document: Mapping[str, Any]

    @classmethod
    def parse(cls, name: str, kind: str, document: str | Mapping[str, Any]) -> Policy:
        parsed = json.loads(document) if isinstance(document, (str, bytes)) else document
        return cls(name, kind, parsed)

    def statements(self) -> list[Mapping[str, Any]]:
        raw = self.document.get("Statement", [])
        return list(raw) if isinstance(raw, list) else [raw]


@dataclass(frozen=True)
class StatementRef:
    """A statement by its policy and position (and Sid), as decisions name it."""

    policy: str
    kind: str
    index: int
    sid: str | None
    effect: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "kind": self.kind,
            "index": self.index,
            "sid": self.sid,
            "effect": self.effect,
        }

    def __str__(self) -> str:
        sid = f" ({self.sid})" if self.sid else ""
        return f"{self.policy} statement {self.index}{sid}"


@dataclass
class Decision:
    """The outcome for one action on one resource."""

    action: str
    resource: str
    allowed: bool
    # "allowed", "explicit-deny", "implicit-deny", or "undecidable" (denied: an Allow had an undecidable
    # condition and nothing else allowed).
    reason: str
    deny_in: str | None = None  # IDENTITY | RESOURCE for an explicit deny
    allowed_by: list[StatementRef] = field(default_factory=list)
    denied_by: list[StatementRef] = field(default_factory=list)
    undecidable: list[str] = field(default_factory=list)
    resource_policy_checked: bool = False

    def message(self, principal_arn: str) -> str:
        """AWS's AccessDenied message for this decision (only meaningful when denied)."""
        head = (
            f"User: {principal_arn} is not authorized to perform: {self.action} on resource: {self.resource}"
        )
        if self.reason == "explicit-deny":
            where = "a resource-based policy" if self.deny_in == RESOURCE else "an identity-based policy"
            return f"{head} with an explicit deny in {where}"
        text = f"{head} because no identity-based policy allows the {self.action} action"
        if self.undecidable:
            text += f" (the local endpoint could not decide: {'; '.join(self.undecidable)})"
        return text


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _substitute(pattern: str, context: Mapping[str, list[str]]) -> str | None:
    """The pattern with its policy variables replaced; None when one has no (single) value."""
    if "${" not in pattern:
        return pattern
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        values = context.get(match[1].lower())
        if not values or len(values) != 1:
            missing = True
            return ""
        return values[0].replace("*", "${*}").replace("?", "${?}")

    replaced = _VARIABLE.sub(replace, pattern)
    return None if missing else replaced


def _matches_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(action_matches(p, action) for p in _as_list(statement["NotAction"]))
    return any(action_matches(p, action) for p in _as_list(statement.get("Action")))


def _matches_resource(statement: Mapping[str, Any], resource: str, context: Mapping[str, list[str]]) -> bool:
    if "NotResource" in statement:
        patterns = [_substitute(p, context) for p in _as_list(statement["NotResource"])]
        return not any(p is not None and resource_matches(p, resource) for p in patterns)
    if "Resource" not in statement:
        return False
    patterns = [_substitute(p, context) for p in _as_list(statement["Resource"])]
    return any(p is not None and resource_matches(p, resource) for p in patterns)


def principal_named(element: Any, principal: Principal) -> bool:
    """Does a ``Principal`` element name the principal? ``*`` names everyone; an account (its id or its
    ``root`` ARN) every principal of that account; a role ARN every session of that role."""
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    for kind, raw in element.items():
        for value in _as_list(raw):
            if kind == "AWS":
                if value == "*" or value in (principal.arn, principal.role_arn):
                    return True
                if (
                    value in (principal.account, f"arn:aws:iam::{principal.account}:root")
                    and not principal.service
                ):
                    return True
            elif kind == "Service" and principal.service and value.lower() == principal.service.lower():
                return True
    return False


def _grants_by_name(element: Any, principal: Principal) -> bool:
    """Does an Allow's ``Principal`` grant to this principal by itself? Naming the principal's own account
    delegates to the account's identity-based policies instead (same account)."""
    if not principal_named(element, principal):
        return False
    if isinstance(element, Mapping):
        values = [v for kind, raw in element.items() for v in _as_list(raw)]
        account_only = all(v in (principal.account, f"arn:aws:iam::{principal.account}:root") for v in values)
        return not account_only or bool(principal.service)
    return True


def _applies_to_principal(statement: Mapping[str, Any], policy: Policy, principal: Principal) -> bool:
    if policy.kind == IDENTITY:
        return True  # an identity-based policy is the principal's own
    if "NotPrincipal" in statement:
        return not principal_named(statement["NotPrincipal"], principal)
    return principal_named(statement.get("Principal"), principal)


def evaluate(
    principal: Principal,
    action: str,
    resource: str,
    identity_policies: Iterable[Policy],
    resource_policy: Policy | None = None,
    context: Mapping[str, Any] | None = None,
) -> Decision:
    """Is ``principal`` allowed ``action`` on ``resource``? See the module docstring for the logic."""
    ctx = normalized_context(context or {})
    decision = Decision(action, resource, allowed=False, reason="implicit-deny")
    identity_allowed = resource_allowed = False
    policies = list(identity_policies)
    if resource_policy is not None:
        policies.append(resource_policy)
        decision.resource_policy_checked = True
    for policy in policies:
        for index, statement in enumerate(policy.statements()):
            effect = str(statement.get("Effect", ""))
            if effect not in ("Allow", "Deny"):
                continue
            if not _matches_action(statement, action):
                continue
            if policy.kind != TRUST and not _matches_resource(statement, resource, ctx):
                continue
            if not _applies_to_principal(statement, policy, principal):
                continue
            conditions = evaluate_conditions(statement.get("Condition"), ctx)
            ref = StatementRef(policy.name, policy.kind, index, statement.get("Sid"), effect)
            if effect == "Deny":
                if conditions.holds:  # undecidable ones included: a Deny that may apply, applies
                    decision.denied_by.append(ref)
                    decision.deny_in = decision.deny_in or (RESOURCE if policy.kind == RESOURCE else IDENTITY)
                    decision.undecidable += conditions.undecidable
                continue
            if not conditions.holds:
                continue
            if conditions.undecidable:
                decision.undecidable += [f"{ref}: {why}" for why in conditions.undecidable]
                continue
            if policy.kind == RESOURCE and not _grants_by_name(statement.get("Principal"), principal):
                continue
            decision.allowed_by.append(ref)
            if policy.kind == RESOURCE:
                resource_allowed = True
            else:
                identity_allowed = True
    if decision.denied_by:
        decision.reason = "explicit-deny"
    elif identity_allowed or resource_allowed:
        decision.allowed = True
        decision.reason = "allowed"
    elif decision.undecidable:
        decision.reason = "undecidable"
    return decision


def evaluate_all(
    principal: Principal,
    needs: Sequence[tuple[str, str]],
    identity_policies: Iterable[Policy],
    resource_policies: Mapping[str, Policy | None] | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[Decision]:
    """One decision per (action, resource) a request needs; the request is allowed when all are."""
    policies = list(identity_policies)
    resource_policies = resource_policies or {}
    return [
        evaluate(principal, action, resource, policies, resource_policies.get(resource), context)
        for action, resource in needs
    ]
