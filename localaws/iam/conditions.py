"""The ``Condition`` element of a policy statement, evaluated as IAM does, or reported as undecidable.

A statement's conditions hold when every operator block holds, a block when every key in it holds, and a key
when any of the policy's values matches (for a negated operator: when none does). The request context maps
condition keys (case-insensitive names) to a string or a list of strings.

A key the context does not hold is *absent* only when this endpoint knows that such a request has no value
for it (the keys of ``KNOWN_KEYS``: the ones it sets itself whenever AWS would, such as ``aws:SourceArn``
when a service acts on a resource's behalf). Any other key, and any operator this module does not implement,
makes the condition *undecidable*: the caller must neither allow on it nor skip a Deny over it.

Operators: ``String*`` (``Equals``, ``NotEquals``, ``EqualsIgnoreCase``, ``NotEqualsIgnoreCase``, ``Like``,
``NotLike``), ``Arn*`` (``Equals``, ``Like``, ``NotEquals``, ``NotLike``), ``Bool``, ``Null``, ``Numeric*``,
each with ``IfExists``; the set qualifiers ``ForAnyValue:`` and ``ForAllValues:``. Not implemented (so
undecidable): ``Date*``, ``IpAddress``/``NotIpAddress``, ``Binary*``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from localaws.iam.patterns import matches

# Keys whose absence from a request's context is a fact (this endpoint sets each whenever AWS would).
KNOWN_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:SecureTransport",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalServiceName",
        "aws:PrincipalIsAWSService",
        "aws:username",
        "aws:RequestedRegion",
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:ViaAWSService",
        "aws:MultiFactorAuthPresent",
        "s3:prefix",
        "s3:delimiter",
        "s3:max-keys",
        "s3:VersionId",
        "sts:ExternalId",
        "sts:RoleSessionName",
    )
)

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]


@dataclass
class ConditionResult:
    """``holds`` is meaningful only when ``undecidable`` is empty."""

    holds: bool
    undecidable: list[str] = field(default_factory=list)


def normalized_context(context: Mapping[str, Any]) -> dict[str, list[str]]:
    """Keys lower-cased (IAM's are case-insensitive), each value a list of strings (booleans as IAM spells
    them: ``true``/``false``)."""
    result: dict[str, list[str]] = {}
    for key, value in context.items():
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        result[key.lower()] = [_text(v) for v in values]
    return result


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_list(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [_text(v) for v in values]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _string_equals(policy: str, actual: str) -> bool:
    return policy == actual


def _string_equals_ignore_case(policy: str, actual: str) -> bool:
    return policy.lower() == actual.lower()


def _string_like(policy: str, actual: str) -> bool:
    return matches(policy, actual)


def _arn_like(policy: str, actual: str) -> bool:
    # ARN operators compare the six fields one by one; a wildcard never crosses a ':' of the first five.
    policy_parts = policy.split(":", 5)
    actual_parts = actual.split(":", 5)
    if len(policy_parts) != 6 or len(actual_parts) != 6:
        return False
    return all(matches(p, a) for p, a in zip(policy_parts, actual_parts, strict=True))


def _bool(policy: str, actual: str) -> bool:
    return policy.lower() == actual.lower()


def _numeric(compare: str):  # type: ignore[no-untyped-def]
    def check(policy: str, actual: str) -> bool:
        left, right = _number(actual), _number(policy)
        if left is None or right is None:
            return False
        return {
            "eq": left == right,
            "ne": left != right,
            "lt": left < right,
            "le": left <= right,
            "gt": left > right,
            "ge": left >= right,
        }[compare]

    return check


# operator (lower case) -> (value test, negated). A negated operator holds when no policy value matches.
_OPERATORS = {
    "stringequals": (_string_equals, False),
    "stringnotequals": (_string_equals, True),
    "stringequalsignorecase": (_string_equals_ignore_case, False),
    "stringnotequalsignorecase": (_string_equals_ignore_case, True),
    "stringlike": (_string_like, False),
    "stringnotlike": (_string_like, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
    "bool": (_bool, False),
    "numericequals": (_numeric("eq"), False),
    "numericnotequals": (_numeric("eq"), True),
    "numericlessthan": (_numeric("lt"), False),
    "numericlessthanequals": (_numeric("le"), False),
    "numericgreaterthan": (_numeric("gt"), False),
    "numericgreaterthanequals": (_numeric("ge"), False),
}


def _value_matches(test: Any, policy_values: list[str], actual: str) -> bool:
    return any(test(policy_value, actual) for policy_value in policy_values)


def _key_holds(
    operator: str, qualifier: str, if_exists: bool, policy_values: list[str], actual: list[str] | None
) -> bool:
    """One key of one operator block, its value known (``actual`` None: the key is absent)."""
    if operator == "null":
        wanted_absent = policy_values[0].lower() == "true" if policy_values else True
        return (actual is None or actual == []) == wanted_absent
    test, negated = _OPERATORS[operator]
    if actual is None:
        # Absent key: IfExists holds; a negated operator holds (nothing equals); the rest do not.
        if if_exists or qualifier == "forallvalues":  # ForAllValues of nothing holds vacuously
            return True
        if qualifier == "foranyvalue":
            return False
        return negated
    if qualifier == "forallvalues":  # every value of the request is among the policy's
        found = all(_value_matches(test, policy_values, value) for value in actual)
    else:  # ForAnyValue, and a single-valued key (a multi-valued one without a qualifier compares so too)
        found = any(_value_matches(test, policy_values, value) for value in actual)
    return not found if negated else found


def evaluate_conditions(
    condition: Mapping[str, Any] | None, context: Mapping[str, list[str]]
) -> ConditionResult:
    """Do the statement's conditions hold in ``context`` (from :func:`normalized_context`)?"""
    if not condition:
        return ConditionResult(True)
    undecidable: list[str] = []
    holds = True
    for raw_operator, block in condition.items():
        qualifier, _, operator = raw_operator.rpartition(":")
        qualifier = qualifier.lower()
        operator = operator.lower()
        if_exists = operator.endswith("ifexists") and operator != "null"
        if if_exists:
            operator = operator[: -len("ifexists")]
        if (operator not in _OPERATORS and operator != "null") or qualifier not in (
            "",
            "foranyvalue",
            "forallvalues",
        ):
            undecidable.append(f"operator {raw_operator} is not evaluated by the local endpoint")
            continue
        if not isinstance(block, Mapping):
            undecidable.append(f"operator {raw_operator} has no key block")
            continue
        for key, raw_values in block.items():
            lowered = key.lower()
            actual = context.get(lowered)
            if actual is None and lowered not in KNOWN_KEYS and operator != "null":
                undecidable.append(f"condition key {key} has no value known to the local endpoint")
                continue
            if actual is None and operator == "null" and lowered not in KNOWN_KEYS:
                undecidable.append(f"condition key {key} has no value known to the local endpoint")
                continue
            if not _key_holds(operator, qualifier, if_exists, _as_list(raw_values), actual):
                holds = False
    if not holds:  # one key known to fail fails the whole statement, whatever the undecidable ones say
        return ConditionResult(False)
    return ConditionResult(True, undecidable)
