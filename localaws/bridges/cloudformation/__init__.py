"""CloudFormation bridge: create the project's four stacks with moto as CloudFormation would on AWS.

moto 5.2.5 gaps, by module (each module's docstring, and each patch or model in it, names its gap):

- ``models``: ``AWS::StepFunctions::Activity``, ``AWS::Glue::Database``, ``AWS::Glue::Table``,
  ``AWS::Glue::Job``, ``AWS::S3::BucketPolicy`` and ``AWS::Lambda::EventInvokeConfig`` have no moto model:
  added as small ``CloudFormationModel`` classes that call the service backends, with Ref/GetAtt as on AWS,
  deleted with the stack.
- ``state_machines``: ``AWS::StepFunctions::StateMachine`` lands in the backend the API uses (not moto's
  non-executing one), from ``Definition`` (object) or ``DefinitionString``, with ``DefinitionSubstitutions``.
- ``buckets``: ``AWS::S3::Bucket``'s ``NotificationConfiguration``, ``PublicAccessBlockConfiguration`` and
  ``OwnershipControls`` are applied; a TLS-only bucket policy does not deny the local (plain HTTP) endpoint.
- ``patched_models``: a function's environment values are text, a log group's ``Arn`` ends ``:*``, a role
  gets its ``ManagedPolicyArns``.
- ``validate``: ValidateTemplate checks a template's structure and describes it, as AWS does.
- ``stack_events``: each stack resource has its own status, time and events; the stack resource calls answer
  as AWS does.
"""

from __future__ import annotations

from localaws.bridges.cloudformation import (
    buckets,
    patched_models,
    stack_events,
    state_machines,
    validate,
)
from localaws.bridges.cloudformation.buckets import bucket_notification_from_cfn
from localaws.bridges.cloudformation.models import (
    GlueDatabase,
    GlueJob,
    GlueTable,
    LambdaEventInvokeConfig,
    S3BucketPolicy,
    StepFunctionsActivity,
)
from localaws.bridges.cloudformation.stack_events import StackResourceView
from localaws.bridges.cloudformation.state_machines import JSON_NULL, state_machine_definition
from localaws.context import LocalAwsContext

__all__ = [
    "JSON_NULL",
    "GlueDatabase",
    "GlueJob",
    "GlueTable",
    "LambdaEventInvokeConfig",
    "S3BucketPolicy",
    "StackResourceView",
    "StepFunctionsActivity",
    "bucket_notification_from_cfn",
    "install",
    "state_machine_definition",
]


def install(ctx: LocalAwsContext) -> None:
    """Register the missing resource types and patch moto's; safe to call again."""
    _import_models_used_by_templates()
    _refresh_model_registry()
    state_machines.install()
    buckets.install()
    stack_events.install()
    validate.install()  # ValidateTemplate checks structure and describes the template
    patched_models.install()


def _import_models_used_by_templates() -> None:
    # moto's CFN finds resource types among the *imported* CloudFormationModel subclasses; logs and glue are
    # not among the modules moto.cloudformation.parsing imports itself (ours are imported above).
    import moto.glue.models  # noqa: F401
    import moto.logs.models  # noqa: F401


def _refresh_model_registry() -> None:
    # moto caches the type -> model map on first use (lru_cache); rebuild it so our classes are seen.
    from moto.cloudformation import parsing as cfn_parsing

    for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        cached.cache_clear()
