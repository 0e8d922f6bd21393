"""S3: secure bucket creation, Glue script and sample data uploads, and emptying + deleting a bucket."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

from buildlib.aws import aws_errors, error_code
from buildlib.errors import BuildError
from buildlib.project import DATA_FILES, Project


def bucket_state(project: Project, bucket: str) -> str:
    """'mine' (exists, accessible), 'missing', or 'foreign' (exists, owned by another account)."""
    s3 = project.aws.client("s3")
    with aws_errors(f"checking bucket {bucket}"):
        try:
            s3.head_bucket(Bucket=bucket)
            return "mine"
        except ClientError as exc:
            code = error_code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                return "missing"
            if code in {"403", "AccessDenied", "Forbidden"}:
                return "foreign"
            raise


def tls_only_policy(bucket: str, partition: str = "aws") -> str:
    arn = f"arn:{partition}:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def ensure_bucket(project: Project, bucket: str, where: str) -> bool:
    """Create `bucket` when it does not exist: public access blocked, SSE-S3, TLS-only. True if created.

    `where` names the setting holding the name, for the message when the name belongs to someone else.
    """
    state = bucket_state(project, bucket)
    if state == "mine":
        return False
    if state == "foreign":
        raise BuildError(f"bucket {bucket} exists in another AWS account: set another name in {where}")
    s3 = project.aws.client("s3")
    region = project.aws.region
    kwargs: dict = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with aws_errors(f"creating bucket {bucket}"):
        try:
            s3.create_bucket(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "BucketAlreadyOwnedByYou":
                return False
            if error_code(exc) == "BucketAlreadyExists":
                raise BuildError(
                    f"bucket name {bucket} is taken by another AWS account: set another name in {where}"
                ) from exc
            raise
    with aws_errors(f"securing bucket {bucket}"):
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        if project.aws.endpoint_is_tls:
            partition = project.aws.session.get_partition_for_region(region) or "aws"
            s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, partition))
            tls = ", TLS only"
        else:
            # Every request to a plain-http endpoint is non-TLS: the policy would deny them all.
            tls = f", no TLS-only policy: {project.aws.endpoint_url} is plain http"
    project.out(f"created bucket {bucket} in {region} (public access blocked, SSE-S3{tls})")
    return True


def upload_file(project: Project, path: Path, bucket: str, key: str, content_type: str | None = None) -> str:
    extra = {"ContentType": content_type} if content_type else None
    action = f"uploading {project.rel(path)} to s3://{bucket}/{key}"
    with aws_errors(action):
        try:
            project.aws.client("s3").upload_file(str(path), bucket, key, ExtraArgs=extra)
        except S3UploadFailedError as exc:  # boto3's transfer wraps the ClientError in its text
            raise BuildError(f"{action} failed: {str(exc).split(f'{bucket}/{key}: ', 1)[-1]}") from exc
    url = f"s3://{bucket}/{key}"
    project.out(f"uploaded {project.rel(path)} -> {url}")
    return url


def deploy_glue_scripts(project: Project) -> list[str]:
    """Upload every glue-scripts/*.py to S3ETLScriptPath (creating its bucket securely when missing)."""
    project.validate()
    bucket, prefix = project.s3_path("glue-resources", "S3ETLScriptPath")
    scripts = sorted(project.glue_scripts_dir.glob("*.py"))
    if not scripts:
        raise BuildError(f"no {project.rel(project.glue_scripts_dir)}/*.py to deploy")
    ensure_bucket(project, bucket, f"{project.rel(project.param_path('glue-resources'))} S3ETLScriptPath")
    return [
        upload_file(project, script, bucket, f"{prefix}/{script.name}".lstrip("/"), "text/x-python")
        for script in scripts
    ]


def data_destination(name: str) -> str:
    """The key prefix a data file goes under: sales/ or marketing/ by its name."""
    if name in DATA_FILES:
        return DATA_FILES[name]
    lowered = name.lower()
    if "sales" in lowered:
        return "sales/"
    if "marketing" in lowered:
        return "marketing/"
    raise BuildError(
        f"cannot tell where {name} goes: name it with its key, e.g. uploaddata[{name}=sales/] or =marketing/"
    )


def upload_data(
    project: Project, files: Iterable[str] = (), destinations: Mapping[str, str] | None = None
) -> list[str]:
    """Upload the sample CSVs (or the given files) to s3://<SourceDataBucketName>/sales/ and marketing/.

    `files` are paths (relative to the project root or absolute); their key prefix follows from the name.
    `destinations` maps a path to its key (ending in / = a prefix the file name is appended to).
    """
    plan: list[tuple[Path, str]] = []
    explicit = dict(destinations or {})
    names = list(files)
    if not names and not explicit:
        names = [str(project.samples_dir / name) for name in DATA_FILES]
    for name, dest in [(n, None) for n in names] + list(explicit.items()):
        path = Path(name)
        if not path.is_absolute():
            path = project.root / path
        if not path.is_file():
            hint = " (generate the samples first, see samples/)" if path.parent == project.samples_dir else ""
            raise BuildError(f"{project.rel(path)} not found{hint}")
        key = dest if dest is not None else data_destination(path.name)
        key = key.lstrip("/")
        if key == "" or key.endswith("/"):
            key += path.name
        plan.append((path, key))
    project.validate()
    bucket = project.data_bucket
    return [upload_file(project, path, bucket, key, "text/csv") for path, key in plan]


def _default_ask(question: str) -> str:
    return input(question)


def delete_bucket(
    project: Project,
    bucket: str,
    confirm: str | bool | None = None,
    *,
    is_tty: Callable[[], bool] | None = None,
    ask: Callable[[str], str] = _default_ask,
) -> bool:
    """Empty `bucket` (every object version and delete marker) and delete it. True if deleted.

    Asks y/N first on a terminal; `confirm="yes"` (or True) skips the question; with no terminal and no
    "yes" it refuses before any AWS call.
    """
    if not bucket:
        raise BuildError("name the bucket to delete: pynt deletes3bucket[<bucket-name>]")
    if confirm not in (None, "", False):
        if confirm is not True and str(confirm).lower() not in {"yes", "y"}:
            raise BuildError(f"the second argument of deletes3bucket must be 'yes', not '{confirm}'")
        confirmed = True
    else:
        confirmed = False
    if not confirmed:
        tty = (is_tty or (lambda: sys.stdin is not None and sys.stdin.isatty()))()
        if not tty:
            raise BuildError(
                f"refusing to delete bucket {bucket} without confirmation: run it on a terminal "
                f"or confirm in the command: pynt deletes3bucket[{bucket},yes]"
            )
        answer = ask(f"Delete bucket {bucket} and every object version in it? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            project.out(f"bucket {bucket} not deleted")
            return False
    s3 = project.aws.client("s3")
    removed = 0
    with aws_errors(f"emptying bucket {bucket}"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(objects), 1000):
                batch = objects[start : start + 1000]
                result = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                if result.get("Errors"):
                    err = result["Errors"][0]
                    raise BuildError(
                        f"emptying bucket {bucket} failed on {err.get('Key')}: "
                        f"{err.get('Code')}: {err.get('Message')}"
                    )
                removed += len(batch)
    with aws_errors(f"deleting bucket {bucket}"):
        s3.delete_bucket(Bucket=bucket)
    project.out(f"deleted bucket {bucket} ({removed} object versions removed)")
    return True


def bucket_has_objects(project: Project, bucket: str) -> bool:
    with aws_errors(f"listing bucket {bucket}"):
        page = project.aws.client("s3").list_object_versions(Bucket=bucket, MaxKeys=1)
    return bool(page.get("Versions") or page.get("DeleteMarkers"))
