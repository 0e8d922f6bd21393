"""The evaluator (localaws/iam: policy, conditions, patterns): pure functions, AWS's documented logic."""

from __future__ import annotations

import pytest

from localaws.iam.conditions import evaluate_conditions, normalized_context
from localaws.iam.patterns import action_matches, resource_matches
from localaws.iam.policy import IDENTITY, RESOURCE, TRUST, Policy, Principal, evaluate

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/runner"
SESSION = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/runner/fn", ACCOUNT, role_arn=ROLE)
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Jobs"


def identity(*statements: dict) -> Policy:
    return Policy("inline:runner/p", IDENTITY, {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# --- wildcards ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("dynamodb:GetItem", "dynamodb:GetItem", True),
        ("DynamoDB:getitem", "dynamodb:GetItem", True),  # actions are case-insensitive
        ("dynamodb:Get*", "dynamodb:GetItem", True),
        ("dynamodb:*Item", "dynamodb:PutItem", True),
        ("dynamodb:?etItem", "dynamodb:GetItem", True),
        ("dynamodb:?etItem", "dynamodb:GGetItem", False),
        ("*", "s3:GetObject", True),
        ("s3:Get*", "s3:PutObject", False),
        ("dynamodb:GetItem", "dynamodb:GetItems", False),  # whole name, not a prefix
    ],
)
def test_action_wildcards_and_case(pattern: str, action: str, expected: bool) -> None:
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b.csv", True),  # * crosses '/'
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
        ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/a", False),  # ARNs are case-sensitive
        (
            "arn:*:glue:*:*:job/Process*",
            "arn:aws:glue:us-east-1:1:job/ProcessSalesData",
            True,
        ),  # * crosses ':'
        ("arn:aws:s3:::b?cket", "arn:aws:s3:::bucket", True),
        ("arn:aws:s3:::b.cket", "arn:aws:s3:::bucket", False),  # '.' is no wildcard
        ("arn:aws:s3:::a${*}b", "arn:aws:s3:::a*b", True),  # the escape is a literal '*'
        ("arn:aws:s3:::a${*}b", "arn:aws:s3:::axxb", False),
        ("*", "anything", True),
    ],
)
def test_resource_wildcards_and_case(pattern: str, arn: str, expected: bool) -> None:
    assert resource_matches(pattern, arn) is expected


# --- allow, deny, implicit deny ----------------------------------------------------------------------------


def test_an_allow_allows_and_names_its_statement() -> None:
    decision = evaluate(SESSION, "dynamodb:GetItem", TABLE, [identity(allow("dynamodb:GetItem", TABLE))])
    assert decision.allowed and decision.reason == "allowed"
    assert [str(ref) for ref in decision.allowed_by] == ["inline:runner/p statement 0"]


def test_nothing_allows_is_an_implicit_deny_with_awss_message() -> None:
    decision = evaluate(SESSION, "dynamodb:PutItem", TABLE, [identity(allow("dynamodb:GetItem", TABLE))])
    assert not decision.allowed and decision.reason == "implicit-deny"
    assert decision.message(SESSION.arn) == (
        f"User: {SESSION.arn} is not authorized to perform: dynamodb:PutItem on resource: {TABLE} "
        "because no identity-based policy allows the dynamodb:PutItem action"
    )


def test_an_explicit_deny_wins_over_any_allow() -> None:
    policies = [identity(allow("dynamodb:*", "*"), deny("dynamodb:DeleteItem", TABLE))]
    decision = evaluate(SESSION, "dynamodb:DeleteItem", TABLE, policies)
    assert not decision.allowed and decision.reason == "explicit-deny"
    assert decision.message(SESSION.arn).endswith("with an explicit deny in an identity-based policy")
    assert evaluate(SESSION, "dynamodb:GetItem", TABLE, policies).allowed


def test_a_deny_in_a_second_policy_wins_too() -> None:
    policies = [identity(allow("dynamodb:*")), Policy("managed:x", IDENTITY, {"Statement": deny("*")})]
    assert evaluate(SESSION, "dynamodb:GetItem", TABLE, policies).reason == "explicit-deny"


def test_the_allowing_resource_must_match() -> None:
    other = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Other"
    assert not evaluate(
        SESSION, "dynamodb:GetItem", other, [identity(allow("dynamodb:GetItem", TABLE))]
    ).allowed


def test_not_action_allows_every_other_action() -> None:
    policy = identity({"Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": "*"})
    assert evaluate(SESSION, "dynamodb:GetItem", TABLE, [policy]).allowed
    assert not evaluate(SESSION, "dynamodb:DeleteItem", TABLE, [policy]).allowed


def test_not_action_deny_denies_every_other_action() -> None:
    policies = [identity(allow("*"), {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"})]
    assert evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", policies).allowed
    assert evaluate(SESSION, "s3:PutObject", "arn:aws:s3:::b/k", policies).reason == "explicit-deny"


def test_not_resource_matches_every_other_resource() -> None:
    policy = identity({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"})
    assert evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::data/k", [policy]).allowed
    assert not evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::secret/k", [policy]).allowed


def test_a_single_statement_object_and_string_lists_are_both_read() -> None:
    policy = Policy(
        "p", IDENTITY, {"Statement": {"Effect": "Allow", "Action": ["a:X", "a:Y"], "Resource": [TABLE]}}
    )
    assert evaluate(SESSION, "a:Y", TABLE, [policy]).allowed


def test_a_statement_without_resource_allows_nothing_in_an_identity_policy() -> None:
    policy = identity({"Effect": "Allow", "Action": "*"})
    assert not evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", [policy]).allowed


def test_policy_variables_are_replaced_from_the_context() -> None:
    policy = identity(allow("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalAccount}/*"))
    context = {"aws:PrincipalAccount": ACCOUNT}
    assert evaluate(SESSION, "s3:GetObject", f"arn:aws:s3:::b/{ACCOUNT}/k", [policy], context=context).allowed
    # A variable without a value leaves the element matching nothing.
    assert not evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::b//k", [policy]).allowed


# --- resource-based policies -------------------------------------------------------------------------------


def bucket_policy(*statements: dict) -> Policy:
    return Policy("bucket-policy:data", RESOURCE, {"Statement": list(statements)})


def test_same_account_a_resource_policy_naming_the_role_allows_alone() -> None:
    policy = bucket_policy(
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "*"}
    )
    decision = evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::data/k", [], policy)
    assert decision.allowed and decision.allowed_by[0].kind == RESOURCE


def test_a_resource_policy_naming_only_the_account_delegates_to_identity_policies() -> None:
    policy = bucket_policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "s3:*",
            "Resource": "*",
        }
    )
    assert not evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::data/k", [], policy).allowed


def test_an_explicit_deny_in_a_resource_policy_wins_and_is_named_so() -> None:
    policy = bucket_policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    decision = evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::data/k", [identity(allow("s3:*"))], policy)
    assert decision.reason == "explicit-deny" and decision.deny_in == RESOURCE
    assert decision.message(SESSION.arn).endswith("with an explicit deny in a resource-based policy")


def test_the_tls_only_deny_does_not_apply_over_secure_transport() -> None:
    policy = bucket_policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    identities = [identity(allow("s3:GetObject", "arn:aws:s3:::data/*"))]
    secure = evaluate(
        SESSION, "s3:GetObject", "arn:aws:s3:::data/k", identities, policy, {"aws:SecureTransport": True}
    )
    assert secure.allowed
    insecure = evaluate(
        SESSION, "s3:GetObject", "arn:aws:s3:::data/k", identities, policy, {"aws:SecureTransport": False}
    )
    assert insecure.reason == "explicit-deny"


def test_a_service_principal_is_allowed_by_a_function_policy_with_its_source() -> None:
    s3 = Principal("s3.amazonaws.com", ACCOUNT, service="s3.amazonaws.com")
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ons3objectcreated"
    policy = Policy(
        "function-policy:ons3objectcreated",
        RESOURCE,
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": fn,
                    "Condition": {
                        "StringEquals": {"AWS:SourceAccount": ACCOUNT},
                        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::data"},
                    },
                }
            ]
        },
    )
    good = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": "arn:aws:s3:::data"}
    assert evaluate(s3, "lambda:InvokeFunction", fn, [], policy, good).allowed
    wrong_bucket = {**good, "aws:SourceArn": "arn:aws:s3:::other"}
    assert not evaluate(s3, "lambda:InvokeFunction", fn, [], policy, wrong_bucket).allowed
    events = Principal("events.amazonaws.com", ACCOUNT, service="events.amazonaws.com")
    assert not evaluate(events, "lambda:InvokeFunction", fn, [], policy, good).allowed


def test_a_trust_policy_names_its_service_and_checks_its_condition() -> None:
    trust = Policy(
        "trust:sm-role",
        TRUST,
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "states.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                }
            ]
        },
    )
    states = Principal("states.amazonaws.com", ACCOUNT, service="states.amazonaws.com")
    assert evaluate(states, "sts:AssumeRole", ROLE, [trust], context={"aws:SourceAccount": ACCOUNT}).allowed
    assert not evaluate(states, "sts:AssumeRole", ROLE, [trust], context={"aws:SourceAccount": "999"}).allowed
    lam = Principal("lambda.amazonaws.com", ACCOUNT, service="lambda.amazonaws.com")
    assert not evaluate(lam, "sts:AssumeRole", ROLE, [trust], context={"aws:SourceAccount": ACCOUNT}).allowed


# --- conditions --------------------------------------------------------------------------------------------


def holds(condition: dict, context: dict) -> tuple[bool, list[str]]:
    result = evaluate_conditions(condition, normalized_context(context))
    return result.holds, result.undecidable


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {"aws:SourceAccount": "1"}, True),
        ({"StringEquals": {"aws:SourceAccount": ["2", "1"]}}, {"aws:SourceAccount": "1"}, True),  # any value
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {"aws:SourceAccount": "2"}, False),
        (
            {"StringEquals": {"AWS:SOURCEACCOUNT": "1"}},
            {"aws:SourceAccount": "1"},
            True,
        ),  # key names: any case
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {}, False),  # absent key
        ({"StringNotEquals": {"aws:SourceAccount": "1"}}, {}, True),  # negated, absent: holds
        ({"StringNotEquals": {"aws:SourceAccount": ["1", "2"]}}, {"aws:SourceAccount": "2"}, False),
        ({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, {}, True),
        ({"StringEqualsIgnoreCase": {"aws:username": "BOB"}}, {"aws:username": "bob"}, True),
        ({"StringLike": {"s3:prefix": "sales/*"}}, {"s3:prefix": "sales/2024"}, True),
        ({"StringNotLike": {"s3:prefix": "sales/*"}}, {"s3:prefix": "sales/2024"}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:1:rule/*"}},
            {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/R"},
            True,
        ),
        # An ARN operator's wildcard stays within its field: '*' in the region does not eat the account.
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:rule/R"}},
            {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/R"},
            False,
        ),
        ({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::b"}}, {"aws:SourceArn": "arn:aws:s3:::b"}, True),
        ({"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::b"}}, {"aws:SourceArn": "arn:aws:s3:::c"}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": True}, False),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"Null": {"aws:SourceArn": "false"}}, {}, False),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
        ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, False),
        (
            {"ForAllValues:StringEquals": {"aws:CalledVia": ["athena.amazonaws.com"]}},
            {"aws:CalledVia": ["athena.amazonaws.com"]},
            True,
        ),
        (
            {"ForAllValues:StringEquals": {"aws:CalledVia": ["athena.amazonaws.com"]}},
            {"aws:CalledVia": ["athena.amazonaws.com", "x"]},
            False,
        ),
        ({"ForAllValues:StringEquals": {"aws:CalledVia": ["a"]}}, {}, True),  # vacuously
        ({"ForAnyValue:StringEquals": {"aws:CalledVia": ["x", "y"]}}, {"aws:CalledVia": ["y", "z"]}, True),
        ({"ForAnyValue:StringEquals": {"aws:CalledVia": ["x"]}}, {}, False),
        # Two keys in a block and two blocks: all must hold.
        (
            {"StringEquals": {"aws:SourceAccount": "1", "aws:SourceArn": "a"}},
            {"aws:SourceAccount": "1", "aws:SourceArn": "b"},
            False,
        ),
        (
            {"StringEquals": {"aws:SourceAccount": "1"}, "StringLike": {"aws:SourceArn": "a*"}},
            {"aws:SourceAccount": "1", "aws:SourceArn": "ab"},
            True,
        ),
    ],
)
def test_condition_operators(condition: dict, context: dict, expected: bool) -> None:
    result, undecidable = holds(condition, context)
    assert undecidable == []
    assert result is expected


def test_an_unknown_key_is_undecidable_not_absent() -> None:
    result, undecidable = holds({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, {})
    assert result and undecidable == [
        "condition key aws:PrincipalOrgID has no value known to the local endpoint"
    ]


def test_an_unimplemented_operator_is_undecidable() -> None:
    _, undecidable = holds({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {})
    assert undecidable == ["operator DateGreaterThan is not evaluated by the local endpoint"]


def test_a_known_false_key_decides_even_beside_an_undecidable_one() -> None:
    result, undecidable = holds(
        {"StringEquals": {"aws:SourceAccount": "1"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceAccount": "2"},
    )
    assert result is False and undecidable == []


def test_an_allow_with_an_undecidable_condition_does_not_allow_and_says_why() -> None:
    policy = identity(allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}}))
    decision = evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", [policy])
    assert not decision.allowed and decision.reason == "undecidable"
    assert "aws:PrincipalOrgID" in decision.message(SESSION.arn)


def test_a_deny_with_an_undecidable_condition_applies() -> None:
    policies = [
        identity(
            allow("s3:*"), deny("s3:GetObject", "*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o"}})
        )
    ]
    decision = evaluate(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", policies)
    assert decision.reason == "explicit-deny" and decision.undecidable
