"""Deploying the Lambda zips: to S3 for CloudFormation, or straight into deployed functions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from botocore.exceptions import ClientError, WaiterError

from buildlib.aws import aws_errors, error_code
from buildlib.errors import BuildError
from buildlib.packaging import code_sha256, require_zip
from buildlib.project import FUNCTION_STACK, Project, check_functions
from buildlib.s3 import ensure_bucket, upload_file


def deploy_lambdas(project: Project, functions: Iterable[str] = ()) -> list[str]:
    """Upload build/<fn>.zip to the descriptor's bucket/key (creating the bucket securely when missing)."""
    functions = check_functions(functions)
    project.validate()
    zips = {fn: require_zip(project, fn) for fn in functions}
    where = project.rel(project.descriptor_path)
    ensured: set[str] = set()
    urls = []
    for fn in functions:
        bucket, key = project.deployment_target(fn)
        if bucket not in ensured:
            ensure_bucket(project, bucket, f"{where} and the params files (SourceS3BucketName)")
            ensured.add(bucket)
        urls.append(upload_file(project, zips[fn], bucket, key, "application/zip"))
    return urls


def deployed_function_name(project: Project, function: str) -> str:
    """The physical name of the function: from its stack's resources when the stack has exactly one."""
    cfn = project.aws.client("cloudformation")
    with aws_errors(f"reading stack {FUNCTION_STACK[function]}"):
        try:
            resources = cfn.describe_stack_resources(StackName=FUNCTION_STACK[function])["StackResources"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return project.function_name(function)
            raise
    names = [
        r["PhysicalResourceId"]
        for r in resources
        if r.get("ResourceType") == "AWS::Lambda::Function" and r.get("PhysicalResourceId")
    ]
    if len(names) == 1:
        return names[0]
    wanted = project.function_name(function)
    return wanted if wanted in names or not names else names[0]


def update_lambdas(project: Project, functions: Iterable[str] = (), only_changed: bool = False) -> list[str]:
    """Put build/<fn>.zip straight into the deployed functions (all when none). Returns the updated names.

    With `only_changed`, a function whose CodeSha256 already equals the zip's hash is left alone.
    """
    functions = check_functions(functions)
    zips = {fn: require_zip(project, fn) for fn in functions}
    client = project.aws.client("lambda")
    updated = []
    for fn in functions:
        name = deployed_function_name(project, fn)
        digest = code_sha256(zips[fn])
        if only_changed:
            with aws_errors(f"reading function {name}"):
                try:
                    current = client.get_function_configuration(FunctionName=name)["CodeSha256"]
                except ClientError as exc:
                    if error_code(exc) == "ResourceNotFoundException":
                        continue
                    raise
            if current == digest:
                project.out(f"function {name}: code unchanged")
                continue
        with aws_errors(f"updating function {name}"):
            try:
                result = client.update_function_code(FunctionName=name, ZipFile=zips[fn].read_bytes())
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    raise BuildError(
                        f"function {name} is not deployed: create its stack first: "
                        f"pynt createstack[{FUNCTION_STACK[fn]}]"
                    ) from exc
                raise
        # The update succeeded; waiting until it is live is a courtesy.
        with contextlib.suppress(WaiterError, ClientError):
            client.get_waiter("function_updated_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
            )
        project.out(f"updated function {name} (CodeSha256 {result.get('CodeSha256', digest)})")
        updated.append(name)
    return updated
