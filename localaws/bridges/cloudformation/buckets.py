"""``AWS::S3::Bucket`` as CloudFormation creates it: the properties moto ignores, and its TLS-only policy.

- moto gap: ``AWS::S3::Bucket`` ignores ``NotificationConfiguration`` (so a PutObject never reaches the
  Lambda), ``PublicAccessBlockConfiguration`` and ``OwnershipControls``: applied to moto's bucket after
  creation.
- moto's bucket-policy check evaluates ``aws:SecureTransport`` conditions without a value and so denies every
  object request under the usual "deny insecure transport" policy; the local endpoint is plain HTTP on
  loopback, which stands in for AWS's TLS endpoint, so requests are evaluated as secure transport.
"""

from __future__ import annotations

import json
from typing import Any

from moto.s3.models import FakeBucket, s3_backends
from moto.utilities.utils import get_partition

from localaws.bridges import patching


def install() -> None:
    """Patch moto's S3 bucket model in-process; idempotent."""
    _patch_bucket_properties()
    _patch_bucket_policy_secure_transport()


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
