"""Bridge for S3: bucket notifications to Lambda as AWS delivers them, and S3's answers where moto's differ.

Moto gaps bridged here (moto 5.2.5):

- ``moto.s3.notifications._invoke_awslambda`` invokes synchronously, so PutObject would wait for the
  function; on AWS the notification is asynchronous. It is replaced by an ``Event`` invocation (run by the
  awslambda bridge); the event gets the record fields moto leaves out, and its object key keeps "/"
  unencoded as AWS's does. S3 invokes the function only if the function's resource-based policy lets
  ``s3.amazonaws.com`` do so for the bucket (``service_access.service_may_invoke``).
- PutBucketPolicy answers HTTP 200 with the body ``True``; S3 answers HTTP 204 with no body (S3 API
  reference, PutBucketPolicy: "HTTP/1.1 204"). ``S3Response._bucket_response_put`` is wrapped so that a
  policy PUT answers as S3 does.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from localaws.bridges import patching
from localaws.context import LocalAwsContext
from localaws.iam import service_access

log = logging.getLogger(__name__)


def _bridged_s3_invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """Replaces ``moto.s3.notifications._invoke_awslambda``: asynchronous, as S3 delivers on AWS."""
    try:
        from moto.awslambda.utils import get_backend

        for record in event_body.get("Records", []):
            # Fields of AWS's record that moto leaves out.
            record.setdefault("userIdentity", {"principalId": f"AWS:{account_id}"})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault(
                "responseElements",
                {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
            )
            obj = record.get("s3", {}).get("object", {})
            obj.setdefault("sequencer", f"{time.time_ns():016X}")
            if "key" in obj:  # moto's quote_plus also encodes "/"; AWS leaves it: "sales/My+Sales.csv"
                obj["key"] = quote_plus(unquote_plus(obj["key"]), safe="/")
        fn = get_backend(account_id, region_name).get_function(fn_arn)
        buckets = {r.get("s3", {}).get("bucket", {}).get("name") for r in event_body.get("Records", [])}
        for bucket in sorted(b for b in buckets if b):
            if not service_access.service_may_invoke(
                fn.function_arn,
                "s3.amazonaws.com",
                source_arn=f"arn:aws:s3:::{bucket}",
                source_account=account_id,
                via="s3-notification",
            ):
                return  # the log says which permission is missing
        fn.invoke(json.dumps(event_body), {"x-amz-invocation-type": "Event"}, {})
    except Exception:  # as moto's: the notification is asynchronous, PutObject must not fail for it
        log.warning("S3 notification to %s not delivered", fn_arn, exc_info=True)


def _put_bucket_policy_answers_204(original: Callable[..., Any]) -> Callable[..., Any]:
    def _bucket_response_put(self: Any, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        answer = original(self, request, bucket_name, querystring)
        if "policy" in (querystring or {}) and answer == "True":  # moto's answer to a stored policy
            return 204, {}, ""
        return answer

    return _bucket_response_put


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's S3 notifications and answers (idempotent)."""
    from moto.s3 import notifications as s3_notifications
    from moto.s3.responses import S3Response

    patching.replace(s3_notifications, "_invoke_awslambda", _bridged_s3_invoke_awslambda)
    patching.wrap(S3Response, "_bucket_response_put", _put_bucket_policy_answers_204)
