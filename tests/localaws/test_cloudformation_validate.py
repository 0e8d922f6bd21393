"""CloudFormation ValidateTemplate as AWS answers it (localaws/bridges/cloudformation/validate.py), with
plain boto3 calls to the endpoint, as `aws cloudformation validate-template` makes them.

moto refused a valid template at cfn-lint's first warning (an unused parameter) and described none
(empty Parameters and Capabilities).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

TEMPLATES = Path(__file__).resolve().parents[2] / "cloudformation"

BUCKET_ONLY = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}
ASSUME = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture
def cfn(aws_client):
    return aws_client("cloudformation")


def validate(cfn, template: dict | str) -> dict:
    body = template if isinstance(template, str) else json.dumps(template)
    answer = cfn.validate_template(TemplateBody=body)
    answer.pop("ResponseMetadata")
    return answer


def refusal(cfn, template: dict | str) -> str:
    with pytest.raises(ClientError) as refused:
        validate(cfn, template)
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError", error
    return error["Message"]


def test_a_valid_template_with_an_unused_parameter_is_valid_and_its_parameters_are_described(cfn):
    """AWS checks structure, not use (moto refused it: cfn-lint's W2001 warning). Parameters keep template
    order; DefaultValue and Description only when given; NoEcho always."""
    template = {
        "Description": "one bucket",
        "Parameters": {
            "Unused": {"Type": "String", "Default": "x", "Description": "never referenced"},
            "Secret": {"Type": "String", "NoEcho": True},
            "Size": {"Type": "Number", "Default": 3},
        },
        **BUCKET_ONLY,
    }
    assert validate(cfn, template) == {
        "Parameters": [
            {
                "ParameterKey": "Unused",
                "DefaultValue": "x",
                "NoEcho": False,
                "Description": "never referenced",
            },
            {"ParameterKey": "Secret", "NoEcho": True},
            {"ParameterKey": "Size", "DefaultValue": "3", "NoEcho": False},
        ],
        "Description": "one bucket",
    }


def test_iam_resources_ask_for_capabilities_named_ones_for_named_iam(cfn):
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ASSUME}}
    unnamed = validate(cfn, {"Resources": {"Role": role}})
    assert unnamed["Capabilities"] == ["CAPABILITY_IAM"]
    assert unnamed["CapabilitiesReason"] == "The following resource(s) require capabilities: [AWS::IAM::Role]"
    named_role = {**role, "Properties": {**role["Properties"], "RoleName": "fixed"}}
    named = validate(cfn, {"Resources": {"Role": named_role, **BUCKET_ONLY["Resources"]}})
    assert named["Capabilities"] == ["CAPABILITY_NAMED_IAM"]


def test_a_template_with_nothing_to_describe_answers_parameters_only(cfn):
    """As AWS's answer recorded in localstack's test_validate_template snapshot: no empty Capabilities,
    no Description member when the template has none."""
    assert validate(cfn, BUCKET_ONLY) == {"Parameters": []}


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.yaml")))
def test_the_project_templates_are_valid_and_ask_for_capability_iam(cfn, name):
    """The YAML short forms (!Ref, !GetAtt, !Sub) are read, and every reference resolves."""
    text = (TEMPLATES / name).read_text()
    answer = validate(cfn, text)
    assert answer["Capabilities"] == ["CAPABILITY_IAM"]
    assert [p["ParameterKey"] for p in answer["Parameters"]]
    assert answer["Description"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            '{"this is invalid JSON"="bobbins"}',
            "Template format error: JSON not well-formed. (line 1, column 25)",
        ),
        ("Resources: [unclosed", "Template format error: YAML not well-formed."),
        ({"Parameters": {}}, "Template format error: At least one Resources member must be defined."),
        (
            {"Resources": {"Foo": {"Properties": {}}}},
            "Template format error: [/Resources/Foo] Every Resources object must contain a Type member.",
        ),
        (
            {**BUCKET_ONLY, "Resource": {}},
            "Template format error: Invalid template property or properties [Resource]",
        ),
        (
            {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Ref": "Nope"}}}}},
            "Template format error: Unresolved resource dependencies [Nope] in the Resources block",
        ),
        (
            {**BUCKET_ONLY, "Outputs": {"A": {"Value": {"Fn::GetAtt": ["Missing", "Arn"]}}}},
            "Template format error: Unresolved resource dependencies [Missing] in the Outputs block",
        ),
        (
            {"Parameters": {"P": {"Type": "Text"}}, **BUCKET_ONLY},
            "Template format error: Unrecognized parameter type: Text",
        ),
    ],
    ids=["json", "yaml", "no-resources", "no-type", "unknown-section", "ref", "getatt", "parameter-type"],
)
def test_what_cloudformation_refuses_is_a_template_format_error(cfn, template, message):
    assert refusal(cfn, template).startswith(message)


def test_sub_variables_and_pseudo_parameters_resolve_and_a_missing_one_does_not(cfn):
    good = {
        "Parameters": {"Env": {"Type": "String"}},
        "Resources": {
            "B": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": {"Fn::Sub": "${Env}-${AWS::Region}-${Q}-${!Literal}"}},
            },
            "Q": {"Type": "AWS::SQS::Queue"},
        },
        "Outputs": {"Arn": {"Value": {"Fn::Sub": ["${Q.Arn}/${X}", {"X": "x"}]}}},
    }
    assert validate(cfn, good)["Parameters"] == [{"ParameterKey": "Env", "NoEcho": False}]
    bad = json.loads(json.dumps(good).replace("${Env}", "${Missing}"))
    assert "[Missing]" in refusal(cfn, bad)
