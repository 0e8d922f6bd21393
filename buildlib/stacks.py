"""CloudFormation stacks: create, update, create-or-update, delete, status; waits and failure reports."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator

from botocore.exceptions import ClientError, WaiterError
from botocore.parsers import ResponseParserError

from buildlib.aws import aws_errors, error_code, unreadable_answer
from buildlib.errors import BuildError
from buildlib.project import STACK_FUNCTION, Project, check_stacks
from buildlib.s3 import bucket_has_objects, bucket_state

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
MAX_TEMPLATE_BODY = 51_200
NO_UPDATES = "No updates are to be performed"
# How Lambda says a function's code is not in S3: at once on the local endpoint, in a stack event on AWS.
MISSING_CODE = re.compile(r"S3 Error Code: (NoSuchBucket|NoSuchKey)")


def poll_seconds() -> int:
    """Waiter delay: short against a local endpoint, CloudFormation-friendly against AWS."""
    return 1 if os.environ.get("AWS_ENDPOINT_URL") else 10


def template_body(project: Project, stack: str) -> str:
    path = project.template_path(stack)
    if not path.is_file():
        raise BuildError(f"{project.rel(path)} not found: the {stack} stack has no template")
    body = path.read_text(encoding="utf-8")
    if len(body.encode()) > MAX_TEMPLATE_BODY:
        raise BuildError(
            f"{project.rel(path)} is over CloudFormation's {MAX_TEMPLATE_BODY}-byte TemplateBody limit: "
            "shorten it"
        )
    return body


def describe_stack(project: Project, stack: str) -> dict | None:
    """The stack's description, or None when it does not exist."""
    cfn = project.aws.client("cloudformation")
    with aws_errors(f"describing stack {stack}"):
        try:
            return cfn.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                return None
            raise


def failed_events(project: Project, stack: str) -> list[dict]:
    """The *_FAILED events of the stack's latest operation, oldest first."""
    cfn = project.aws.client("cloudformation")
    events: list[dict] = []
    try:
        for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack):
            for event in page["StackEvents"]:
                is_stack = event.get("ResourceType") == "AWS::CloudFormation::Stack"
                status = event.get("ResourceStatus", "")
                started = status in {"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"}
                if is_stack and started and event.get("ResourceStatusReason") == "User Initiated":
                    return list(reversed(events))
                if status.endswith("_FAILED"):
                    events.append(event)
    except ClientError:
        pass  # the report is best effort; the caller still fails with the stack's status
    return list(reversed(events))


def _root_cause(events: list[dict]) -> str:
    resources = [e for e in events if e.get("ResourceType") != "AWS::CloudFormation::Stack"]
    for event in resources:
        reason = event.get("ResourceStatusReason", "")
        if reason and "cancelled" not in reason.lower():
            return f"{event.get('LogicalResourceId')}: {reason}"
    if events:
        return f"{events[0].get('LogicalResourceId')}: {events[0].get('ResourceStatusReason', '')}"
    return "no failed resource events"


def _missing_package(project: Project, stack: str, why: str) -> BuildError:
    function = STACK_FUNCTION[stack]
    params = project.params(stack)
    where = f"s3://{params.get('SourceS3BucketName', '?')}/{params.get('SourceS3Key', '?')}"
    return BuildError(
        f"the {stack} stack needs the Lambda package of {function} at {where}, which is not there "
        f"({why}): upload it with `pynt packagelambda[{function}] deploylambda[{function}]` "
        "(or run `pynt deployall`)"
    )


def missing_code(project: Project, stack: str, text: str) -> BuildError | None:
    """The one line for a stack whose Lambda package is not in S3 (`deploylambda` not run), if that is
    what `text` (the API's or a stack event's message) says."""
    found = MISSING_CODE.search(text)
    if stack not in STACK_FUNCTION or found is None:
        return None
    return _missing_package(project, stack, found.group(1))


def require_package(project: Project, stack: str) -> None:
    """Refuse to create or update a stack whose Lambda package is not in S3 yet. CloudFormation would fail
    only after making part of the stack: AWS rolls it back, the local endpoint leaves it half made."""
    if stack not in STACK_FUNCTION:
        return
    bucket = project.param(stack, "SourceS3BucketName")
    key = project.param(stack, "SourceS3Key")
    with aws_errors(f"looking for the Lambda package s3://{bucket}/{key}"):
        try:
            project.aws.client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = error_code(exc)
            if code in {"404", "NoSuchKey", "NoSuchBucket"}:
                raise _missing_package(project, stack, "404 Not Found") from exc
            if code not in {"403", "AccessDenied"}:
                raise
            # Without s3:ListBucket a missing key answers 403 too: leave the verdict to CloudFormation.


@contextlib.contextmanager
def _stack_errors(project: Project, stack: str, action: str) -> Iterator[None]:
    """aws_errors for a create/update call, where a missing Lambda package says what to run."""
    with aws_errors(f"{action} {stack}"):
        try:
            yield
        except ResponseParserError as exc:
            # The local endpoint answers with Lambda's JSON error, which botocore cannot parse as XML.
            found = missing_code(project, stack, unreadable_answer(exc)[1])
            if found is None:
                raise
            raise found from exc


def wait_for(project: Project, stack: str, waiter_name: str, action: str) -> dict | None:
    """Wait for the stack operation; on failure print the failed events and raise one BuildError line."""
    cfn = project.aws.client("cloudformation")
    delay = poll_seconds()
    try:
        cfn.get_waiter(waiter_name).wait(
            StackName=stack, WaiterConfig={"Delay": delay, "MaxAttempts": int(3 * 3600 / delay)}
        )
    except WaiterError as exc:
        current = describe_stack(project, stack)
        status = current["StackStatus"] if current else "gone"
        events = failed_events(project, stack)
        if events:
            project.out(f"{stack}: failed resources:")
            for event in events:
                project.out(
                    f"  {event.get('LogicalResourceId')} ({event.get('ResourceType')}) "
                    f"{event.get('ResourceStatus')}: {event.get('ResourceStatusReason', '')}"
                )
        reason = _root_cause(events) if events else (current or {}).get("StackStatusReason") or str(exc)
        reason = str(missing_code(project, stack, reason) or reason)
        raise BuildError(f"{action} {stack} failed ({status}): {reason}") from exc
    return describe_stack(project, stack)


def _print_outputs(project: Project, description: dict | None) -> None:
    for output in (description or {}).get("Outputs", []) or []:
        project.out(f"  {output['OutputKey']} = {output['OutputValue']}")


def _check_data_bucket_free(project: Project, stack: str) -> None:
    """step-functions-resources creates the data bucket; CloudFormation fails if it already exists."""
    if stack != "step-functions-resources":
        return
    bucket = project.data_bucket
    state = bucket_state(project, bucket)
    if state != "missing":
        where = project.rel(project.param_path(stack))
        raise BuildError(
            f"bucket {bucket} already exists, and the {stack} stack creates it: set another "
            f"SourceDataBucketName in {where} (and the other params files) "
            f"or delete it: pynt deletes3bucket[{bucket}]"
        )


def _say_derived(project: Project, stack: str) -> None:
    note = project.derived_note(stack)
    if note:
        project.out(note)


def create_stack(project: Project, stack: str, wait: bool = True) -> dict | None:
    check_stacks([stack])
    project.validate()
    body = template_body(project, stack)
    params = project.cfn_parameters(stack)
    _say_derived(project, stack)
    _check_data_bucket_free(project, stack)
    require_package(project, stack)
    cfn = project.aws.client("cloudformation")
    with _stack_errors(project, stack, "creating stack"):
        try:
            cfn.create_stack(StackName=stack, TemplateBody=body, Parameters=params, Capabilities=CAPABILITIES)
        except ClientError as exc:
            if error_code(exc) == "AlreadyExistsException":
                raise BuildError(
                    f"stack {stack} already exists: update it with pynt updatestack[{stack}]"
                ) from exc
            raise
    project.out(f"creating stack {stack} ...")
    if not wait:
        return None
    result = wait_for(project, stack, "stack_create_complete", "creating stack")
    project.out(f"stack {stack}: {result['StackStatus'] if result else 'created'}")
    _print_outputs(project, result)
    return result


def update_stack(project: Project, stack: str, wait: bool = True) -> bool:
    """Update the stack; False when CloudFormation has nothing to change (not an error)."""
    check_stacks([stack])
    project.validate()
    body = template_body(project, stack)
    params = project.cfn_parameters(stack)
    _say_derived(project, stack)
    require_package(project, stack)
    cfn = project.aws.client("cloudformation")
    with _stack_errors(project, stack, "updating stack"):
        try:
            cfn.update_stack(StackName=stack, TemplateBody=body, Parameters=params, Capabilities=CAPABILITIES)
        except ClientError as exc:
            message = str(exc)
            if NO_UPDATES in message:
                project.out(f"stack {stack}: no updates to perform")
                return False
            if "does not exist" in message:
                raise BuildError(
                    f"stack {stack} does not exist: create it with pynt createstack[{stack}]"
                ) from exc
            raise
    project.out(f"updating stack {stack} ...")
    if wait:
        result = wait_for(project, stack, "stack_update_complete", "updating stack")
        project.out(f"stack {stack}: {result['StackStatus'] if result else 'updated'}")
        _print_outputs(project, result)
    return True


def create_or_update_stack(project: Project, stack: str) -> str:
    """Create the stack, or update it when it exists; returns 'created', 'updated' or 'unchanged'.

    A stack left in ROLLBACK_COMPLETE by a failed creation holds no resources: it is deleted and created
    again.
    An operation still in progress is waited for first.
    """
    check_stacks([stack])
    project.validate()
    current = describe_stack(project, stack)
    status = current["StackStatus"] if current else None
    if status and status.endswith("_IN_PROGRESS"):
        project.out(f"stack {stack} is {status}: waiting for it")
        waiter = (
            "stack_delete_complete"
            if status.startswith("DELETE")
            else ("stack_create_complete" if status.startswith("CREATE") else "stack_update_complete")
        )
        with contextlib.suppress(BuildError):  # a failed operation leaves a status handled below
            wait_for(project, stack, waiter, "waiting for stack")
        current = describe_stack(project, stack)
        status = current["StackStatus"] if current else None
    if status == "ROLLBACK_COMPLETE":
        project.out(f"stack {stack} is ROLLBACK_COMPLETE after a failed creation: deleting it first")
        delete_stack(project, stack)
        status = None
    if status is None or status == "DELETE_COMPLETE":
        create_stack(project, stack)
        return "created"
    return "updated" if update_stack(project, stack) else "unchanged"


def delete_stack(project: Project, stack: str, wait: bool = True) -> bool:
    """Delete the stack; False when it does not exist. Refuses while one of its buckets holds objects."""
    check_stacks([stack])
    if describe_stack(project, stack) is None:
        project.out(f"stack {stack} does not exist")
        return False
    cfn = project.aws.client("cloudformation")
    with aws_errors(f"reading stack {stack}"):
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    for resource in resources:
        bucket = resource.get("PhysicalResourceId")
        if (
            resource.get("ResourceType") == "AWS::S3::Bucket"
            and bucket
            and resource.get("ResourceStatus", "") != "DELETE_COMPLETE"
            and bucket_state(project, bucket) == "mine"
            and bucket_has_objects(project, bucket)
        ):
            raise BuildError(
                f"bucket {bucket} of stack {stack} is not empty, so CloudFormation cannot delete it: "
                f"delete it first with pynt deletes3bucket[{bucket}]"
            )
    with aws_errors(f"deleting stack {stack}"):
        cfn.delete_stack(StackName=stack)
    project.out(f"deleting stack {stack} ...")
    if wait:
        wait_for(project, stack, "stack_delete_complete", "deleting stack")
        project.out(f"stack {stack}: DELETE_COMPLETE")
    return True


def stack_status(project: Project, stacks: Iterable[str] = ()) -> list[dict]:
    """Print a table of each stack's status and reason (all stacks when none); returns the rows."""
    names = check_stacks(stacks)
    rows = []
    for name in names:
        current = describe_stack(project, name)
        if current is None:
            rows.append({"Stack": name, "Status": "DOES NOT EXIST", "Reason": "", "Updated": ""})
            continue
        updated = current.get("LastUpdatedTime") or current.get("CreationTime")
        rows.append(
            {
                "Stack": name,
                "Status": current["StackStatus"],
                "Reason": current.get("StackStatusReason", "") or "",
                "Updated": updated.strftime("%Y-%m-%d %H:%M:%S") if updated else "",
            }
        )
    print_table(project, rows, ["Stack", "Status", "Updated", "Reason"])
    return rows


def print_table(project: Project, rows: list[dict], columns: list[str]) -> None:
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns}
    project.out("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    project.out("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        project.out("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns).rstrip())
