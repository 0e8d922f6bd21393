"""CloudFormation bridge: create the project's four stacks with moto as CloudFormation would on AWS.

moto 5.2.5 gaps (each patch or model below names its gap):

- ``AWS::StepFunctions::Activity``, ``AWS::Glue::Database``, ``AWS::Glue::Table``, ``AWS::Glue::Job``,
  ``AWS::S3::BucketPolicy`` and ``AWS::Lambda::EventInvokeConfig`` have no moto model: skipped with a
  warning, and a ``Ref`` to them is unusable.
  Added as small ``CloudFormationModel`` classes that call the service backends (so other bridges' patches of
  those backends apply), with Ref/GetAtt as on AWS, deleted with the stack.
- ``AWS::StepFunctions::StateMachine`` always lands in moto's non-executing backend (invisible to the API when
  ``execute_state_machine`` is on) and only reads ``DefinitionString``: now created in the backend the API
  uses, from ``Definition`` (object) or ``DefinitionString``, with ``DefinitionSubstitutions`` applied.
- ``AWS::S3::Bucket`` ignores ``NotificationConfiguration`` (so a PutObject never reaches the Lambda),
  ``PublicAccessBlockConfiguration`` and ``OwnershipControls``: applied to moto's bucket after creation.
- moto's bucket-policy check evaluates ``aws:SecureTransport`` conditions without a value and so denies every
  object request under the usual "deny insecure transport" policy; the local endpoint is plain HTTP on
  loopback, which stands in for AWS's TLS endpoint, so requests are evaluated as secure transport.
- ValidateTemplate refused a valid template at cfn-lint's first warning (an unused parameter) and described
  none (empty ``Parameters``/``Capabilities``): ``cloudformation_validate.py``.
- Stack resources: moto lists a resource whose ``Condition`` is false as a blank entry (ListStackResources),
  and DescribeStackResource then fails on it with a 500 for any logical id it lacks (AWS: ValidationError
  "Resource <id> does not exist for stack <name>"); DescribeStackResources dates every resource 2010-07-27
  and gives it the stack's status; DescribeStackEvents holds the stack's own events only. Each resource now
  records its status and time as moto creates, updates or deletes it, with the per-resource events AWS
  writes (``*_IN_PROGRESS`` then ``*_COMPLETE``, ``CREATE_FAILED``, ``DELETE_SKIPPED``), newest first.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError
from moto.cloudformation.models import Event, Stack
from moto.core.common_models import CloudFormationModel
from moto.core.responses import ActionResult
from moto.glue.models import glue_backends
from moto.s3.models import FakeBucket, s3_backends
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend as get_sfn_backend
from moto.utilities.utils import get_partition

from localaws.bridges import cloudformation_validate, patching
from localaws.context import LocalAwsContext

log = logging.getLogger(__name__)


def install(ctx: LocalAwsContext) -> None:
    """Register the missing resource types and patch moto's; safe to call again."""
    _import_models_used_by_templates()
    _refresh_model_registry()
    _patch_state_machine_backend_and_definition()
    _patch_keep_nulls_in_state_machine_definition()
    _patch_bucket_properties()
    _patch_bucket_policy_secure_transport()
    _patch_resource_status_and_events()
    _patch_stack_resource_answers()
    _patch_function_environment_as_strings()
    cloudformation_validate.install()  # ValidateTemplate checks structure and describes the template
    _patch_log_group_arn_attribute()
    _patch_role_managed_policy_arns()


def _import_models_used_by_templates() -> None:
    # moto's CFN finds resource types among the *imported* CloudFormationModel subclasses; logs and glue are
    # not among the modules moto.cloudformation.parsing imports itself.
    import moto.glue.models  # noqa: F401
    import moto.logs.models  # noqa: F401


def _refresh_model_registry() -> None:
    # moto caches the type -> model map on first use (lru_cache); rebuild it so our classes are seen.
    for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        cached.cache_clear()


def _tags_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t["Key"]: t["Value"] for t in tags or []}


class _BridgeModel:
    """Shared plumbing of the models added here (moto's abstract CloudFormationModel needs all of these).

    A mixin, not a base: moto's CFN only sees *direct* subclasses of CloudFormationModel.
    """

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    ATTRIBUTES: tuple[str, ...] = ()

    def is_created(self) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.ATTRIBUTES:
            return getattr(self, attribute_name.lower())
        raise UnformattedGetAttTemplateException()

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        # Replacement: simple and correct for these resource types (no data of their own to keep).
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        # moto calls instance.delete() first; this is only its fallback.
        log.debug("no instance to delete for %s %s", cls.cloudformation_type(), resource_name)


# --- AWS::StepFunctions::Activity (Ref -> ARN, GetAtt Name) --------------------------------------------


class StepFunctionsActivity(_BridgeModel, CloudFormationModel):
    ATTRIBUTES = ("Name",)

    def __init__(self, arn: str, name: str) -> None:
        self.arn = arn
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::StepFunctions::Activity"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> StepFunctionsActivity:
        properties = cloudformation_json.get("Properties", {})
        tags = [{"key": k, "value": v} for k, v in _tags_dict(properties.get("Tags")).items()]
        # The backend the API uses, so that executions (stepfunctions bridge) see the activity.
        activity = get_sfn_backend(account_id, region_name).create_activity(
            name=resource_name, tags=tags or None
        )
        return cls(activity.arn, activity.name)

    def delete(self, account_id: str, region_name: str) -> None:
        get_sfn_backend(account_id, region_name).delete_activity(self.arn)


# --- AWS::Glue::Database / Table / Job (Ref -> name) ---------------------------------------------------


class GlueDatabase(_BridgeModel, CloudFormationModel):
    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Database"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> GlueDatabase:
        database_input = dict(cloudformation_json.get("Properties", {}).get("DatabaseInput", {}))
        name = database_input.setdefault("Name", resource_name.lower())
        glue_backends[account_id][region_name].create_database(name, database_input)
        return cls(name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = glue_backends[account_id][region_name]
        if self.name in backend.databases:
            backend.delete_database(self.name)


class GlueTable(_BridgeModel, CloudFormationModel):
    def __init__(self, database_name: str, name: str) -> None:
        self.database_name = database_name
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Table"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> GlueTable:
        properties = cloudformation_json.get("Properties", {})
        table_input = dict(properties.get("TableInput", {}))
        name = table_input.setdefault("Name", resource_name.lower())
        database_name = properties["DatabaseName"]
        glue_backends[account_id][region_name].create_table(
            database_name, name, table_input, properties.get("OpenTableFormatInput")
        )
        return cls(database_name, name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = glue_backends[account_id][region_name]
        database = backend.databases.get(self.database_name)
        if database is not None and self.name in database.tables:
            backend.delete_table(self.database_name, self.name)


class GlueJob(_BridgeModel, CloudFormationModel):
    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Job"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> GlueJob:
        p = cloudformation_json.get("Properties", {})

        def number(key: str) -> int | None:
            return int(p[key]) if p.get(key) is not None else None

        glue_backends[account_id][region_name].create_job(
            name=resource_name,
            role=p.get("Role"),
            command=p.get("Command"),
            description=p.get("Description"),
            log_uri=p.get("LogUri"),
            execution_property=p.get("ExecutionProperty"),
            default_arguments={k: str(v) for k, v in (p.get("DefaultArguments") or {}).items()},
            non_overridable_arguments=p.get("NonOverridableArguments"),
            connections=p.get("Connections"),
            max_retries=number("MaxRetries"),
            allocated_capacity=number("AllocatedCapacity"),
            timeout=number("Timeout"),
            max_capacity=float(p["MaxCapacity"]) if p.get("MaxCapacity") is not None else None,
            security_configuration=p.get("SecurityConfiguration"),
            tags=_tags_dict(p.get("Tags")),
            notification_property=p.get("NotificationProperty"),
            glue_version=p.get("GlueVersion"),
            number_of_workers=number("NumberOfWorkers"),
            worker_type=p.get("WorkerType"),
            code_gen_configuration_nodes=None,
            execution_class=p.get("ExecutionClass"),
            source_control_details=None,
        )
        return cls(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        glue_backends[account_id][region_name].delete_job(self.name)


# --- AWS::S3::BucketPolicy -----------------------------------------------------------------------------


class S3BucketPolicy(_BridgeModel, CloudFormationModel):
    def __init__(self, bucket_name: str) -> None:
        self.bucket_name = bucket_name

    @property
    def physical_resource_id(self) -> str:
        return self.bucket_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> S3BucketPolicy:
        properties = cloudformation_json["Properties"]
        document = properties["PolicyDocument"]
        if not isinstance(document, str):
            document = json.dumps(document)
        bucket_name = properties["Bucket"]
        s3_backends[account_id][get_partition(region_name)].put_bucket_policy(bucket_name, document.encode())
        return cls(bucket_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = s3_backends[account_id][get_partition(region_name)]
        if self.bucket_name in backend.buckets:
            backend.delete_bucket_policy(self.bucket_name)


# --- AWS::Lambda::EventInvokeConfig (Ref -> "<FunctionName>|<Qualifier>", its identifying properties) ----


class LambdaEventInvokeConfig(_BridgeModel, CloudFormationModel):
    """Created through the Lambda bridge's PutFunctionEventInvokeConfig, so that its async invocations apply
    it (retries, event age, destinations)."""

    def __init__(self, function_name: str, qualifier: str) -> None:
        self.function_name = function_name
        self.qualifier = qualifier

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_name}|{self.qualifier}"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LambdaEventInvokeConfig:
        from localaws.bridges import awslambda

        properties = cloudformation_json.get("Properties", {})
        config: dict[str, Any] = {}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if properties.get(key) is not None:
                config[key] = int(properties[key])  # a template may give numbers as strings
        if properties.get("DestinationConfig"):
            config["DestinationConfig"] = properties["DestinationConfig"]
        function_name, qualifier = str(properties["FunctionName"]), str(properties["Qualifier"])
        awslambda.put_event_invoke_config(account_id, region_name, function_name, qualifier, config)
        return cls(function_name, qualifier)

    def delete(self, account_id: str, region_name: str) -> None:
        from localaws.bridges import awslambda

        with contextlib.suppress(Exception):  # the function (or the configuration) already gone
            awslambda.delete_event_invoke_config(account_id, region_name, self.function_name, self.qualifier)


# --- AWS::StepFunctions::StateMachine in the executing backend -----------------------------------------


def state_machine_definition(properties: dict[str, Any]) -> str:
    """The ASL text of a StateMachine resource: Definition (object) or DefinitionString, substituted."""
    definition = properties.get("Definition")
    text = (
        json.dumps(definition, default=lambda o: None if o is JSON_NULL else str(o))
        if definition is not None
        else properties.get("DefinitionString", "")
    )
    if not isinstance(text, str):  # DefinitionString given as an object by a hand-written template
        text = json.dumps(text)
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        replacement = value if isinstance(value, str) else json.dumps(value)
        if definition is not None:
            # Inside the JSON text a substituted string must stay a valid JSON string fragment.
            replacement = json.dumps(replacement)[1:-1]
        text = text.replace("${" + key + "}", replacement)
    return text


def _create_state_machine(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", resource_name)
    tags = [{"key": k, "value": v} for k, v in _tags_dict(properties.get("Tags")).items()]
    return get_sfn_backend(account_id, region_name).create_state_machine(
        name=name,
        definition=state_machine_definition(properties),
        roleArn=properties.get("RoleArn", ""),
        tags=tags or None,
        loggingConfiguration=properties.get("LoggingConfiguration"),
        tracingConfiguration=properties.get("TracingConfiguration"),
        sm_type=properties.get("StateMachineType"),
    )


def _delete_state_machine(cls, resource_name, cloudformation_json, account_id, region_name):
    get_sfn_backend(account_id, region_name).delete_state_machine(resource_name)


def _update_state_machine(
    cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
):
    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", original_resource.name)
    backend = get_sfn_backend(account_id, region_name)
    if name != original_resource.name:
        new_resource = _create_state_machine(cls, name, cloudformation_json, account_id, region_name)
        backend.delete_state_machine(original_resource.arn)
        return new_resource
    return backend.update_state_machine(
        original_resource.arn,
        definition=state_machine_definition(properties),
        role_arn=properties.get("RoleArn"),
    )


def _patch_state_machine_backend_and_definition() -> None:
    # moto gap: StateMachine.*_from_cloudformation_json use stepfunctions_backends (never the executing parser
    # backend the API serves with execute_state_machine on) and ignore Definition/DefinitionSubstitutions.
    for attribute, func in (
        ("create_from_cloudformation_json", _create_state_machine),
        ("delete_from_cloudformation_json", _delete_state_machine),
        ("update_from_cloudformation_json", _update_state_machine),
    ):
        patching.replace(StateMachine, attribute, classmethod(func))


class _JsonNull:
    """Stands for a JSON null inside a Definition object while moto resolves intrinsic functions."""

    def __repr__(self) -> str:
        return "null"


JSON_NULL = _JsonNull()


def _protect_nulls(value: Any) -> Any:
    if value is None:
        return JSON_NULL
    if isinstance(value, dict):
        return {k: _protect_nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_protect_nulls(v) for v in value]
    return value


def _patch_keep_nulls_in_state_machine_definition() -> None:
    # moto gap: clean_json drops every None while resolving Refs, so "ResultPath: null" (discard the result)
    # in a Definition object silently became the default "$". Nulls are wrapped before clean_json and
    # written back as null by state_machine_definition().
    patching.wrap(cfn_parsing, "parse_resource", _definition_nulls_protected)


def _definition_nulls_protected(current):
    def parse_resource(resource_json: dict[str, Any], resources_map: Any):
        properties = resource_json.get("Properties") or {}
        if resource_json.get("Type") == StateMachine.cloudformation_type() and "Definition" in properties:
            properties = {**properties, "Definition": _protect_nulls(properties["Definition"])}
            resource_json = {**resource_json, "Properties": properties}
        return current(resource_json, resources_map)

    return parse_resource


# --- AWS::S3::Bucket properties moto ignores -----------------------------------------------------------


def _cfn_filter_to_s3(cfn_filter: dict[str, Any] | None) -> dict[str, Any] | None:
    rules = ((cfn_filter or {}).get("S3Key") or {}).get("Rules") or []
    if not rules:
        return None
    return {"S3Key": {"FilterRule": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}}


def bucket_notification_from_cfn(cfn_config: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation NotificationConfiguration -> moto's PutBucketNotificationConfiguration structure."""
    kinds = (
        ("LambdaConfigurations", "CloudFunctionConfiguration", "Function", "CloudFunction"),
        ("QueueConfigurations", "QueueConfiguration", "Queue", "Queue"),
        ("TopicConfigurations", "TopicConfiguration", "Topic", "Topic"),
    )
    config: dict[str, Any] = {}
    for cfn_key, s3_key, cfn_target, s3_target in kinds:
        entries = []
        for entry in cfn_config.get(cfn_key) or []:
            s3_entry: dict[str, Any] = {s3_target: entry[cfn_target], "Event": [entry["Event"]]}
            s3_filter = _cfn_filter_to_s3(entry.get("Filter"))
            if s3_filter:
                s3_entry["Filter"] = s3_filter
            entries.append(s3_entry)
        if entries:
            config[s3_key] = entries
    if (cfn_config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled") in (True, "true"):
        config["EventBridgeConfiguration"] = {}
    return config


def _apply_bucket_properties(
    bucket: FakeBucket, properties: dict[str, Any], account_id: str, region_name: str
):
    backend = s3_backends[account_id][get_partition(region_name)]
    block = properties.get("PublicAccessBlockConfiguration")
    if block:
        backend.put_public_access_block(bucket.name, {k: str(v).lower() for k, v in block.items()})
    rules = (properties.get("OwnershipControls") or {}).get("Rules")
    if rules:
        backend.put_bucket_ownership_controls(bucket.name, rules[0].get("ObjectOwnership"))
    notification = properties.get("NotificationConfiguration")
    if notification:
        backend.put_bucket_notification_configuration(bucket.name, bucket_notification_from_cfn(notification))


def _patch_bucket_properties() -> None:
    # moto gap: FakeBucket.create_from_cloudformation_json applies BucketEncryption and Tags only.
    patching.wrap(FakeBucket, "create_from_cloudformation_json", _bucket_with_its_properties)


def _bucket_with_its_properties(current):
    original_create = current.__func__

    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        bucket = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}), account_id, region_name)
        return bucket

    return classmethod(create_from_cloudformation_json)


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


def _applies_over_secure_transport(statement: dict[str, Any]) -> bool:
    """False for a statement conditioned on aws:SecureTransport not being true (it never matches here)."""
    for operator, values in (statement.get("Condition") or {}).items():
        if operator in ("Bool", "BoolIfExists") and "aws:SecureTransport" in values:
            expected = values["aws:SecureTransport"]
            expected = expected if isinstance(expected, list) else [expected]
            if "true" not in [str(v).lower() for v in expected]:
                return False
    return True


def _patch_bucket_policy_secure_transport() -> None:
    # moto gap: FakeBucket.get_permission evaluates only StringEquals conditions and treats every other
    # condition as met, so the usual TLS-only statement ({"Effect": "Deny", "Principal": "*", "Condition":
    # {"Bool": {"aws:SecureTransport": "false"}}}) denies every object request. Requests to the local endpoint
    # stand in for AWS's HTTPS ones: statements that only apply to insecure transport are left out.
    patching.replace(FakeBucket, "get_permission", _bucket_permission_over_secure_transport)


def _bucket_permission_over_secure_transport(self, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy.decode())
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    document["Statement"] = [s for s in statements if _applies_over_secure_transport(s)]
    if not document["Statement"]:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)


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


# --- stack resources: their own status, time and events -------------------------------------------------

_STACK_REF = "_localaws_stack"  # ResourceMap -> its Stack (moto keeps no such link)
_STATUS = "_localaws_resource_status"  # resource -> (status, time) of its last operation


def _stack_of(resources_map: Any) -> Stack | None:
    return getattr(resources_map, _STACK_REF, None)


def _resource_event(
    stack: Stack, logical_id: str, physical_id: str, resource_type: str, status: str, reason=None
):
    return Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id,
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )


def _record(stack: Stack | None, resource: Any, *events: Event) -> None:
    """Keep the resource's last status and time; add its events to the stack's, in time order."""
    if resource is not None and events:
        # A model without a __dict__ keeps the stack's status and time.
        with contextlib.suppress(AttributeError):
            setattr(resource, _STATUS, (events[-1].resource_status, events[-1].timestamp))
    if stack is not None and events:
        stack.events.extend(events)
        # A resource created while another resolves its Ref finishes first; sorted() is stable for ties.
        stack.events.sort(key=lambda event: event.timestamp)


def _physical_id(resource: Any) -> str:
    try:
        return str(getattr(resource, "physical_resource_id", "") or "")
    except Exception:  # some models compute it from state that may be gone
        return ""


def _patch_resource_status_and_events() -> None:
    patching.wrap(Stack, "_create_resource_map", _resource_map_knowing_its_stack)
    patching.wrap(cfn_parsing, "parse_and_create_resource", _create_recording_events)
    patching.wrap(cfn_parsing, "parse_and_update_resource", _update_recording_events)
    patching.wrap(cfn_parsing.ResourceMap, "_delete_resource", _delete_recording_events)
    patching.wrap(cfn_parsing.ResourceMap, "delete", _delete_recording_skipped)


def _resource_map_knowing_its_stack(original_create_map):
    def _create_resource_map(self: Stack):
        resource_map = original_create_map(self)
        setattr(resource_map, _STACK_REF, self)
        return resource_map

    return _create_resource_map


def _create_recording_events(original_create):
    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        stack = _stack_of(resources_map)
        resource_type = resource_json.get("Type", "")
        started = (
            _resource_event(stack, logical_id, "", resource_type, "CREATE_IN_PROGRESS") if stack else None
        )
        try:
            resource = original_create(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            if stack is not None:
                failed = _resource_event(stack, logical_id, "", resource_type, "CREATE_FAILED", str(error))
                _record(stack, None, started, failed)
            raise
        if resource is not None and stack is not None:  # None: a false Condition, nothing is created
            done = _resource_event(
                stack, logical_id, _physical_id(resource), resource_type, "CREATE_COMPLETE"
            )
            _record(stack, resource, started, done)
        return resource

    return parse_and_create_resource


def _update_recording_events(original_update):
    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        stack = _stack_of(resources_map)
        resource_type = resource_json.get("Type", "")
        before = _physical_id(resources_map._parsed_resources.get(logical_id))
        started = (
            _resource_event(stack, logical_id, before, resource_type, "UPDATE_IN_PROGRESS") if stack else None
        )
        # A failure here is retried by moto's update loop (dependency order): no event until it succeeds.
        resource = original_update(logical_id, resource_json, resources_map, account_id, region_name)
        if resource is not None and stack is not None:
            done = _resource_event(
                stack, logical_id, _physical_id(resource), resource_type, "UPDATE_COMPLETE"
            )
            _record(stack, resource, started, done)
        return resource

    return parse_and_update_resource


def _delete_recording_events(original_delete_resource):
    def _delete_resource(self, parsed_resource, resource_json):
        stack = _stack_of(self)
        logical_id = getattr(parsed_resource, "logical_resource_id", "")
        physical_id = _physical_id(parsed_resource)
        resource_type = resource_json.get("Type", "")
        started = (
            _resource_event(stack, logical_id, physical_id, resource_type, "DELETE_IN_PROGRESS")
            if stack
            else None
        )
        # A failure is retried by moto's delete loop (dependency order): no event until it succeeds.
        original_delete_resource(self, parsed_resource, resource_json)
        if stack is not None:
            done = _resource_event(stack, logical_id, physical_id, resource_type, "DELETE_COMPLETE")
            _record(stack, parsed_resource, started, done)

    return _delete_resource


def _delete_recording_skipped(original_delete):
    def delete(self) -> None:
        stack = _stack_of(self)
        if stack is not None:
            for logical_id, resource_json in self._resource_json_map.items():
                resource = self._parsed_resources.get(logical_id)
                if resource_json.get("DeletionPolicy") == "Retain" and hasattr(
                    resource, "logical_resource_id"
                ):
                    skipped = _resource_event(
                        stack,
                        logical_id,
                        _physical_id(resource),
                        resource_json.get("Type", ""),
                        "DELETE_SKIPPED",
                    )
                    _record(stack, resource, skipped)
        original_delete(self)

    return delete


class StackResourceView:
    """One resource as the Describe/List calls show it: its own status and time (moto's DTO: the stack's
    status, a fixed 2010 date), and its drift status (never checked here)."""

    def __init__(self, stack: Stack, resource: Any) -> None:
        status, moment = getattr(resource, _STATUS, None) or ("CREATE_COMPLETE", stack.creation_time)
        self.stack_id = stack.stack_id
        self.stack_name = stack.name
        self.logical_resource_id = resource.logical_resource_id
        self.physical_resource_id = _physical_id(resource)
        self.resource_type = getattr(resource, "cf_resource_type", "")
        self.resource_status = status
        self.timestamp = moment
        self.last_updated_timestamp = moment
        self.drift_information = {"StackResourceDriftStatus": "NOT_CHECKED"}


def _existing_resources(stack: Stack) -> list[Any]:
    """The stack's resources that exist (a false Condition or unsupported type leaves None in moto's map)."""
    return [r for r in stack.stack_resources if r is not None and hasattr(r, "logical_resource_id")]


def _describe_stack_resource_action(self: Any) -> ActionResult:
    stack_name = self._get_param("StackName")
    logical_id = self._get_param("LogicalResourceId")
    stack = self.cloudformation_backend.get_stack(stack_name)
    for resource in _existing_resources(stack):
        if resource.logical_resource_id == logical_id:
            return ActionResult({"StackResourceDetail": StackResourceView(stack, resource)})
    raise ValidationError(stack_name, f"Resource {logical_id} does not exist for stack {stack_name}")


def _describe_stack_resources_action(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    logical_id = self._get_param("LogicalResourceId")
    resources = [
        StackResourceView(stack, r)
        for r in _existing_resources(stack)
        if logical_id is None or r.logical_resource_id == logical_id
    ]
    return ActionResult({"StackResources": resources})


def _list_stack_resources_action(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    summaries = []
    for resource in _existing_resources(stack):
        view = StackResourceView(stack, resource)
        summaries.append(
            {
                "LogicalResourceId": view.logical_resource_id,
                "PhysicalResourceId": view.physical_resource_id,
                "ResourceType": view.resource_type,
                "LastUpdatedTimestamp": view.last_updated_timestamp,
                "ResourceStatus": view.resource_status,
                "DriftInformation": view.drift_information,
            }
        )
    return ActionResult({"StackResourceSummaries": summaries})


def _patch_stack_resource_answers() -> None:
    # moto gaps: see the module docstring (blank entries, 500 on an unknown logical id, fixed 2010 dates).
    response_cls = cfn_responses.CloudFormationResponse
    for name, action in (
        ("describe_stack_resource", _describe_stack_resource_action),
        ("describe_stack_resources", _describe_stack_resources_action),
        ("list_stack_resources", _list_stack_resources_action),
    ):
        patching.replace(response_cls, name, action)
