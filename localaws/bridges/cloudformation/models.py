"""Resource types moto 5.2.5 has no model for, added as small ``CloudFormationModel`` classes.

``AWS::StepFunctions::Activity``, ``AWS::Glue::Database``, ``AWS::Glue::Table``, ``AWS::Glue::Job``,
``AWS::S3::BucketPolicy`` and ``AWS::Lambda::EventInvokeConfig`` were skipped with a warning, and a ``Ref`` to
them was unusable. Each model here calls the service's backend (so other bridges' patches of those backends
apply), answers Ref/GetAtt as AWS does, and is deleted with its stack. moto's CloudFormation finds them among
the imported subclasses of ``CloudFormationModel``: importing this module registers them.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends
from moto.stepfunctions.responses import get_backend as get_sfn_backend
from moto.utilities.utils import get_partition

log = logging.getLogger(__name__)


def tags_dict(tags: Any) -> dict[str, str]:
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
        tags = [{"key": k, "value": v} for k, v in tags_dict(properties.get("Tags")).items()]
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
            tags=tags_dict(p.get("Tags")),
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
