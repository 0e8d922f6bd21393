"""What CloudFormation puts in a role is what the local IAM evaluates (localaws/bridges/cloudformation/):
inline policies, and the managed policies of ManagedPolicyArns (moto ignored them)."""

from __future__ import annotations

import json

from localaws.iam import store

TEMPLATE = {
    "Resources": {
        "ReadTables": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}],
                }
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                },
                "ManagedPolicyArns": [{"Ref": "ReadTables"}],
                "Policies": [
                    {
                        "PolicyName": "inline",
                        "PolicyDocument": {
                            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]
                        },
                    }
                ],
            },
        },
    },
    "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}},
}


def test_a_stacks_role_has_its_inline_and_managed_policies(aws_client, local_aws, unique_name) -> None:
    cfn = aws_client("cloudformation")
    stack = unique_name("iam-roles")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(TEMPLATE), Capabilities=["CAPABILITY_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    role_arn = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "RoleArn")
    policies = store.role_policies(role_arn, local_aws.account_id)
    kinds = sorted(p.name.split(":", 1)[0] for p in policies)
    assert kinds == ["inline", "managed"], [p.name for p in policies]
    managed = next(p for p in policies if p.name.startswith("managed:"))
    assert managed.statements()[0]["Action"] == "dynamodb:GetItem"
