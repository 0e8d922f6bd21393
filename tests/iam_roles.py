"""Roles the tests' own resources run as, made in the endpoint's IAM as they would be made on AWS.

The endpoint enforces IAM (localaws/iam): a state machine's role must exist and trust Step Functions, a
function's Lambda, a job's Glue, and a workload may do only what its role allows. Tests of a bridge (not of
IAM) give their resources a role that trusts the service and may do anything in the account; the tests of
IAM itself (tests/localaws/iam) use narrow roles.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

ACCOUNT = "123456789012"

EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def service_role(iam: Any, name: str, service: str, policy: dict[str, Any] | None = EVERYTHING) -> str:
    """The ARN of role ``name`` trusting ``service`` (``states.amazonaws.com``, ...), created if missing, with
    ``policy`` inline (None: none). ``iam``: an IAM client of the endpoint (the user's own keys)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="test-role-policy", PolicyDocument=json.dumps(policy))
    return arn


# The roles the bridge and runner tests name by fixed ARN (role name -> the service that assumes it).
NAMED_ROLES = {
    "sfn-role": "states.amazonaws.com",  # tests/localaws/sfn_support.py ROLE_ARN and kin
    "cfn-test": "states.amazonaws.com",  # tests/localaws/test_cloudformation_bridge.py
    "sfn": "states.amazonaws.com",
    "glue": "glue.amazonaws.com",  # the Glue jobs' role of the bridge and runner tests
    "local-runner-tests": "states.amazonaws.com",  # tests/lambda/test_runners_on_local_sfn.py
}


@pytest.fixture(scope="session")
def service_roles(aws_client: Any) -> dict[str, str]:
    """Make the roles of NAMED_ROLES exist (trusting their service, allowed everything): name -> ARN."""
    iam = aws_client("iam")
    return {name: service_role(iam, name, service) for name, service in NAMED_ROLES.items()}


def authorized_targets(aws_client: Any, rule_arn: str, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``targets`` as EventBridge may call them, as a user must set them up on AWS: each Lambda target's
    function lets ``events.amazonaws.com`` invoke it for this rule; a state machine target without a
    ``RoleArn`` gets one trusting EventBridge (allowed everything)."""
    events_role = None
    ready = []
    for target in targets:
        arn = str(target.get("Arn", ""))
        if ":lambda:" in arn:
            lam = aws_client("lambda")
            # A target that does not exist (a test of failing targets) has nothing to permit.
            with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
                lam.add_permission(
                    FunctionName=arn,
                    StatementId=f"events-{abs(hash((rule_arn, target.get('Id')))) % 10**12}",
                    Action="lambda:InvokeFunction",
                    Principal="events.amazonaws.com",
                    SourceArn=rule_arn,
                )
        elif ":states:" in arn and "RoleArn" not in target:
            events_role = events_role or service_role(
                aws_client("iam"), "events-targets", "events.amazonaws.com"
            )
            target = {**target, "RoleArn": events_role}
        ready.append(target)
    return ready
