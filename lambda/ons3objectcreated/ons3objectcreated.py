"""On S3 Object Created: releases the wait-for-data activity task waiting for an uploaded file.

For every record of an S3 ObjectCreated notification, the activity ``<bucket>-<last key segment>`` (in this
function's own partition, region and account) is polled once; a waiting task is answered with
``{"S3BucketName", "S3Key", "SFNActivityArn"}``. Nothing waiting, no such activity, or a file name that cannot
be part of an activity name are normal (an unrelated upload) and are only logged: raising would make S3 retry
the event for nothing. Other errors are raised after every record has been tried, so Lambda reports them.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

WORKER_NAME = "ons3objectcreated"
MAX_ACTIVITY_NAME = 80
# Characters Step Functions refuses in names: whitespace, brackets, wildcards, punctuation and controls.
INVALID_NAME_CHARS = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
# GetActivityTask long-polls for up to 60 s; the read timeout must outlast it.
SFN_READ_TIMEOUT_S = 70
POLL_RESERVE_MS = SFN_READ_TIMEOUT_S * 1000 + 5_000
# A local endpoint with a shortened long poll (and Lambda timeout) sets a smaller reserve through this.
POLL_RESERVE_ENV = "SFN_POLL_RESERVE_MS"
TOKEN_GONE_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})

logger = logging.getLogger(__name__)
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())


def sfn_client() -> Any:
    return boto3.client(
        "stepfunctions",
        config=Config(read_timeout=SFN_READ_TIMEOUT_S, connect_timeout=10, retries={"mode": "standard"}),
    )


def activity_name(bucket: str, key: str) -> str:
    """`<bucket>-<file name>`: the naming rule shared with the step-functions-resources template."""
    return f"{bucket}-{key.rsplit('/', 1)[-1]}"


def activity_name_problem(name: str) -> str | None:
    """Why `name` cannot be a Step Functions activity name, or None when it can."""
    if len(name) > MAX_ACTIVITY_NAME:
        return f"is {len(name)} characters long (at most {MAX_ACTIVITY_NAME})"
    bad = sorted(set(INVALID_NAME_CHARS.findall(name)))
    if bad:
        return f"contains characters not allowed in activity names: {json.dumps(''.join(bad))}"
    return None


def activity_arn(function_arn: str, name: str) -> str:
    """The activity ARN in the same partition, region and account as this function."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn":
        raise ValueError(f"cannot read partition/region/account from function ARN {function_arn!r}")
    partition, region, account = parts[1], parts[3], parts[4]
    return f"arn:{partition}:states:{region}:{account}:activity:{name}"


def release_task(sfn: Any, bucket: str, key: str, arn: str) -> tuple[str, str]:
    """Claim the task waiting on `arn` and answer it; returns (status, detail) for the summary."""
    try:
        response = sfn.get_activity_task(activityArn=arn, workerName=WORKER_NAME)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ActivityDoesNotExist":
            return "no-such-activity", f"no activity {arn}: the upload is not one a workflow waits for"
        raise
    token = response.get("taskToken")
    if not token:
        return "no-waiting-task", f"no task waiting on {arn}: no execution is waiting for this file now"
    output = {"S3BucketName": bucket, "S3Key": key, "SFNActivityArn": arn}
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in TOKEN_GONE_ERRORS:
            return "task-gone", f"claimed a task on {arn} but Step Functions says {code}"
        raise
    return "released", f"released the task waiting on {arn}"


def handle_record(sfn: Any, record: Mapping[str, Any], function_arn: str, context: Any) -> dict[str, Any]:
    """Process one S3 record; returns its summary (errors included, never raised)."""
    s3 = record.get("s3", {})
    bucket = s3.get("bucket", {}).get("name", "")
    # S3 URL-encodes keys in notifications ("+" for a space): decode to the real key.
    key = unquote_plus(s3.get("object", {}).get("key", ""))
    summary: dict[str, Any] = {"bucket": bucket, "key": key}
    if not bucket or not key:
        summary.update(status="not-an-s3-object-record", detail="record has no s3.bucket.name/s3.object.key")
        logger.warning("skipping record without bucket/key: %s", json.dumps(record)[:500])
        return summary
    name = activity_name(bucket, key)
    summary["activity"] = name
    problem = activity_name_problem(name)
    if problem:
        summary.update(status="invalid-activity-name", detail=f"activity name {name!r} {problem}")
        logger.info("s3://%s/%s: %s; nothing to release", bucket, key, summary["detail"])
        return summary
    getter = getattr(context, "get_remaining_time_in_millis", None)
    reserve = os.environ.get(POLL_RESERVE_ENV, "").strip()
    if getter is not None and getter() < (int(reserve) if reserve.isdigit() else POLL_RESERVE_MS):
        summary.update(status="out-of-time", detail="too little time left for a long poll")
        logger.error("s3://%s/%s: %s", bucket, key, summary["detail"])
        return summary
    try:
        status, detail = release_task(sfn, bucket, key, activity_arn(function_arn, name))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status, detail = "error", f"{error.get('Code')}: {error.get('Message')}"
    summary.update(status=status, detail=detail)
    log = logger.error if status == "error" else logger.info
    log("s3://%s/%s: %s", bucket, key, detail)
    return summary


def handler(event: Mapping[str, Any], context: Any, sfn: Any | None = None) -> dict[str, Any]:
    """S3 notification entry point: every record is handled, not only the first."""
    client = sfn if sfn is not None else sfn_client()
    function_arn = context.invoked_function_arn
    results = [handle_record(client, record, function_arn, context) for record in event.get("Records", [])]
    unhandled = [r for r in results if r["status"] in ("error", "out-of-time")]
    if unhandled:
        # Let Lambda retry and alarm: the file may be one a workflow is waiting for.
        raise RuntimeError(f"{len(unhandled)} of {len(results)} records not handled: {json.dumps(unhandled)}")
    return {"records": results}
