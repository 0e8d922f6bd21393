"""moto's own resource models where they differ from CloudFormation: a function's environment, a log
group's ARN, a role's managed policies (each patch names its gap)."""

from __future__ import annotations

import logging
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.utilities.utils import get_partition

from localaws.bridges import patching

log = logging.getLogger(__name__)


def install() -> None:
    """Patch moto's Lambda, Logs and IAM resource models in-process; idempotent."""
    _patch_function_environment_as_strings()
    _patch_log_group_arn_attribute()
    _patch_role_managed_policy_arns()


def _as_environment_value(value: Any) -> Any:
    """A Lambda environment value as CloudFormation passes it: text (a Number parameter's 240 is "240")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def _patch_function_environment_as_strings() -> None:
    # moto gap: a Ref to a Number parameter reached the function's environment as an int, which
    # GetFunctionConfiguration then answered, and boto3 refused to send back (Variables are strings).
    patching.wrap(LambdaFunction, "create_from_cloudformation_json", _function_environment_as_strings)


def _function_environment_as_strings(current):
    original_create = current.__func__

    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        variables = (cloudformation_json.get("Properties", {}).get("Environment") or {}).get("Variables")
        if isinstance(variables, dict):
            for name, value in variables.items():
                variables[name] = _as_environment_value(value)
        return original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kw)

    return classmethod(create_from_cloudformation_json)


def _patch_log_group_arn_attribute() -> None:
    # moto gap: Fn::GetAtt <AWS::Logs::LogGroup>.Arn gave "...:log-group:<name>"; CloudFormation's is
    # "...:log-group:<name>:*", and the templates' role policies grant CreateLogStream/PutLogEvents on it
    # (the local IAM evaluates them against the stream's ARN, which only the ":*" form matches).
    from moto.logs.models import LogGroup

    patching.wrap(LogGroup, "get_cfn_attribute", _log_group_arn_with_streams)


def _log_group_arn_with_streams(original):
    def get_cfn_attribute(self, attribute_name: str) -> Any:
        value = original(self, attribute_name)
        return f"{value}:*" if attribute_name == "Arn" and not str(value).endswith(":*") else value

    return get_cfn_attribute


def _patch_role_managed_policy_arns() -> None:
    # moto gap: AWS::IAM::Role's ManagedPolicyArns were ignored, so a role had none of their permissions
    # (the local IAM evaluates what is attached). Attached after moto creates the role; a policy moto does
    # not know (an AWS-managed one, unless MOTO_IAM_LOAD_MANAGED_POLICIES is set) is named in the log: the
    # local IAM then denies what only it would allow, it never allows more.
    from moto.iam.models import Role

    patching.wrap(Role, "create_from_cloudformation_json", _role_with_managed_policies)


def _role_with_managed_policies(original):
    from moto.iam.models import iam_backends

    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        role = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        for policy_arn in cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or []:
            try:
                backend.attach_role_policy(policy_arn, role.name)
            except Exception as exc:  # moto's NoSuchEntity
                log.warning(
                    "role %s: managed policy %s not attached locally (%s)", role.name, policy_arn, exc
                )
        return role

    return classmethod(create_from_cloudformation_json)
