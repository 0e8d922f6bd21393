"""Least privilege and bucket hygiene across all templates."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import cfnlint
import pytest
from cfn_test_helpers import (
    LOG_DELIVERY_ACTIONS,
    STACKS,
    Resolver,
    allow_statements,
    as_list,
    iam_policy_documents,
    load_template,
    resources_of_type,
)

# The only actions granted on Resource "*": Step Functions defines no resource type for them (they act on a
# task token), so IAM accepts nothing narrower. test_star_exceptions_really_have_no_resource_type proves it.
STAR_ALLOWED_ACTIONS = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
# The state machines' log delivery to CloudWatch Logs (vended logs): no resource types either.
STAR_ALLOWED_ACTIONS |= LOG_DELIVERY_ACTIONS


@cache
def iam_reference() -> dict:
    """The Service Authorization Reference data shipped with cfn-lint (service -> Actions -> resources)."""
    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    return json.loads(path.read_text())


def resource_types_of(action: str) -> list[str]:
    service, name = action.split(":", 1)
    actions = iam_reference()[service.lower()]["Actions"]
    assert name.lower() in actions, f"unknown IAM action {action}"
    return actions[name.lower()].get("Resources", [])


@pytest.mark.parametrize("stack", STACKS)
def test_no_managed_policies(stack):
    """Inline, scoped policies only: in particular no *FullAccess managed policy."""
    text = json.dumps(load_template(stack))
    assert "FullAccess" not in text
    for role in resources_of_type(load_template(stack), "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


@pytest.mark.parametrize("stack", STACKS)
def test_star_resource_only_for_actions_without_resource_types(stack):
    for where, statement in allow_statements(load_template(stack)):
        if "*" in as_list(statement["Resource"]):
            assert as_list(statement["Resource"]) == ["*"], where
            assert set(as_list(statement["Action"])) <= STAR_ALLOWED_ACTIONS, where


def test_star_exceptions_really_have_no_resource_type():
    for action in STAR_ALLOWED_ACTIONS:
        assert resource_types_of(action) == [], action


@pytest.mark.parametrize("stack", STACKS)
def test_actions_are_explicit_and_scoped_ones_support_resource_arns(stack):
    """No wildcard actions; an action granted on ARNs must support resource-level permissions at all."""
    for where, statement in allow_statements(load_template(stack)):
        assert "NotAction" not in statement and "NotResource" not in statement, where
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{where}: wildcard action {action}"
            if as_list(statement["Resource"]) != ["*"]:
                assert resource_types_of(action), f"{where}: {action} only works with Resource '*'"


@pytest.mark.parametrize("stack", STACKS)
def test_resolved_resources_are_arns_scoped_to_this_account(stack):
    template = load_template(stack)
    resolver = Resolver(template)
    for where, statement in allow_statements(template):
        for resource in as_list(resolver.resolve(statement["Resource"])):
            if resource == "*":
                continue
            if resource.startswith("<"):  # Ref/GetAtt of a resource of this template
                continue
            if stack == "gluerunner-lambda" and resource.startswith("arn:*:glue:*:*:job/"):
                # The allowed jobs by name: CloudFormation cannot prefix each listed name with this account's
                # ARN, and a Glue job (no resource policy) can only be run by its own account anyway.
                assert "*" not in resource.rsplit("/", 1)[1], (where, resource)
                continue
            assert resource.startswith("arn:aws:"), (where, resource)
            service = resource.split(":")[2]
            if service != "s3":  # S3 ARNs carry no region/account
                assert ":us-east-1:123456789012:" in resource, (where, resource)


@pytest.mark.parametrize("stack", STACKS)
def test_service_roles_trust_one_service_principal(stack):
    for name, role in resources_of_type(load_template(stack), "AWS::IAM::Role").items():
        statements = as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
        assert len(statements) == 1, name
        principal = statements[0]["Principal"]
        assert set(principal) == {"Service"}, name
        service = principal["Service"]
        assert isinstance(service, str) and service.endswith(".amazonaws.com"), name
        # Global service principals work in every region (the seed pinned states.us-east-1.amazonaws.com).
        assert service.count(".") == 2, name


@pytest.mark.parametrize("stack", STACKS)
def test_buckets_are_encrypted_private_and_tls_only(stack):
    template = load_template(stack)
    policies = resources_of_type(template, "AWS::S3::BucketPolicy").values()
    for name, bucket in resources_of_type(template, "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", name
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        mine = [p for p in policies if p["Properties"]["Bucket"] == {"Ref": name}]
        assert len(mine) == 1, f"{name} needs exactly one bucket policy"
        statements = as_list(mine[0]["Properties"]["PolicyDocument"]["Statement"])
        deny_tls = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            and s["Principal"] == "*"
            and as_list(s["Action"]) == ["s3:*"]
        ]
        assert deny_tls, f"{name} must deny non-TLS requests"
        resources = as_list(deny_tls[0]["Resource"])
        assert {"Fn::GetAtt": [name, "Arn"]} in resources
        assert {"Fn::Sub": "${" + name + ".Arn}/*"} in resources


def test_only_the_data_bucket_is_created():
    buckets = {stack: list(resources_of_type(load_template(stack), "AWS::S3::Bucket")) for stack in STACKS}
    assert buckets == {
        "step-functions-resources": ["SourceDataBucket"],
        "glue-resources": [],
        "gluerunner-lambda": [],
        "athenarunner-lambda": [],
    }


@pytest.mark.parametrize("stack", STACKS)
def test_dynamodb_tables_are_encrypted(stack):
    for name, table in resources_of_type(load_template(stack), "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}, name


@pytest.mark.parametrize("stack", STACKS)
def test_every_lambda_has_its_own_log_group_and_only_writes_there(stack):
    template = load_template(stack)
    resolver = Resolver(template)
    log_groups = {
        name: group
        for name, group in resources_of_type(template, "AWS::Logs::LogGroup").items()
        if str(resolver.resolve(group["Properties"]["LogGroupName"])).startswith("/aws/lambda/")
    }
    functions = resources_of_type(template, "AWS::Lambda::Function")
    assert len(log_groups) == len(functions)
    for name, function in functions.items():
        props = function["Properties"]
        function_name = resolver.resolve(props["FunctionName"])
        group_id = next(
            g
            for g, group in log_groups.items()
            if resolver.resolve(group["Properties"]["LogGroupName"]) == f"/aws/lambda/{function_name}"
        )
        assert log_groups[group_id]["Properties"]["RetentionInDays"] > 0
        assert group_id in as_list(function.get("DependsOn", [])), "create the group before Lambda does"
        role_id = props["Role"]["Fn::GetAtt"][0]
        log_statements = [
            s
            for where, s in allow_statements(template)
            if where.startswith(f"{role_id}/") and any(a.startswith("logs:") for a in as_list(s["Action"]))
        ]
        assert log_statements, name
        for statement in log_statements:
            assert set(as_list(statement["Action"])) <= {"logs:CreateLogStream", "logs:PutLogEvents"}
            assert as_list(statement["Resource"]) == [{"Fn::GetAtt": [group_id, "Arn"]}]


def test_glue_job_logs_limited_to_glue_log_groups():
    template = load_template("glue-resources")
    resolver = Resolver(template)
    for _, statement in allow_statements(template):
        if any(a.startswith("logs:") for a in as_list(statement["Action"])):
            for resource in resolver.resolve(statement["Resource"]):
                assert resource.startswith("arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/")


@pytest.mark.parametrize("stack", STACKS)
def test_every_policy_has_a_version(stack):
    for where, document in iam_policy_documents(load_template(stack)):
        assert document["Version"] == "2012-10-17", where
