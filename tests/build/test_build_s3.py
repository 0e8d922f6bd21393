"""S3 tasks on moto: deploylambda's secure bucket, deploygluescripts, uploaddata, deletes3bucket."""

from __future__ import annotations

import json

import boto3
import pytest
from build_support import CODE_BUCKET, DATA_BUCKET

from buildlib import BuildError, load_project
from buildlib.aws import Aws
from buildlib.lambdas import deploy_lambdas
from buildlib.packaging import package_lambdas
from buildlib.s3 import delete_bucket, deploy_glue_scripts, ensure_bucket, upload_data


def _keys(bucket):
    s3 = boto3.client("s3")
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_new_bucket_is_secure(tls_project, lines):
    assert ensure_bucket(tls_project, CODE_BUCKET, "lambda/s3-deployment-descriptor.json")
    s3 = boto3.client("s3")
    block = s3.get_public_access_block(Bucket=CODE_BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rule = s3.get_bucket_encryption(Bucket=CODE_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=CODE_BUCKET)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{CODE_BUCKET}", f"arn:aws:s3:::{CODE_BUCKET}/*"]
    assert lines == [f"created bucket {CODE_BUCKET} in us-east-1 (public access blocked, SSE-S3, TLS only)"]
    assert not ensure_bucket(tls_project, CODE_BUCKET, "x")  # exists: left as it is


def test_plain_http_endpoint_gets_no_tls_only_policy(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert not Aws().endpoint_is_tls
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://s3.example.test")
    assert Aws().endpoint_is_tls
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert Aws().endpoint_is_tls


def test_deploylambda_creates_the_bucket_and_uploads(project, lines):
    package_lambdas(project)
    urls = deploy_lambdas(project)
    assert urls == [
        f"s3://{CODE_BUCKET}/src/{fn}.zip" for fn in ("gluerunner", "athenarunner", "ons3objectcreated")
    ]
    s3 = boto3.client("s3")
    assert _keys(CODE_BUCKET) == ["src/athenarunner.zip", "src/gluerunner.zip", "src/ons3objectcreated.zip"]
    assert s3.get_public_access_block(Bucket=CODE_BUCKET)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    assert sum("created bucket" in line for line in lines) == 1  # one bucket for the three zips
    body = s3.get_object(Bucket=CODE_BUCKET, Key="src/gluerunner.zip")["Body"].read()
    assert body == (project.root / "build" / "gluerunner.zip").read_bytes()


def test_upload_denied_gives_one_line(project):
    ensure_bucket(project, CODE_BUCKET, "x")
    # An explicit deny, not the TLS-only policy: moto's quirk of denying every request under that policy is
    # gone in a process where the local endpoint's bridges are installed (tests share processes).
    deny_uploads = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{CODE_BUCKET}/*",
            }
        ],
    }
    boto3.client("s3").put_bucket_policy(Bucket=CODE_BUCKET, Policy=json.dumps(deny_uploads))
    package_lambdas(project, ["gluerunner"])
    with pytest.raises(BuildError) as err:
        deploy_lambdas(project, ["gluerunner"])
    assert str(err.value) == (
        f"uploading build/gluerunner.zip to s3://{CODE_BUCKET}/src/gluerunner.zip failed: "
        "An error occurred (403) when calling the PutObject operation: Forbidden"
    )


def test_deploylambda_uses_existing_bucket_as_is(project, lines):
    boto3.client("s3").create_bucket(Bucket=CODE_BUCKET)
    package_lambdas(project, ["gluerunner"])
    deploy_lambdas(project, ["gluerunner"])
    assert not any("created bucket" in line for line in lines)
    assert _keys(CODE_BUCKET) == ["src/gluerunner.zip"]


def test_bucket_outside_us_east_1_gets_its_location(repo, aws, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    project = load_project(repo)
    assert ensure_bucket(project, "eu-bucket-for-build", "somewhere")
    location = boto3.client("s3", region_name="eu-west-1").get_bucket_location(Bucket="eu-bucket-for-build")
    assert location["LocationConstraint"] == "eu-west-1"


def test_deploylambda_without_zip_fails_before_any_upload(project):
    with pytest.raises(BuildError) as err:
        deploy_lambdas(project, ["athenarunner"])
    assert str(err.value) == "build/athenarunner.zip not found: run `pynt packagelambda[athenarunner]` first"
    assert CODE_BUCKET not in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def test_deploygluescripts_uploads_every_py_file(project):
    urls = deploy_glue_scripts(project)
    assert urls == [
        f"s3://{CODE_BUCKET}/glue-scripts/glue_etl_common.py",
        f"s3://{CODE_BUCKET}/glue-scripts/process_sales_data.py",
    ]
    assert _keys(CODE_BUCKET) == ["glue-scripts/glue_etl_common.py", "glue-scripts/process_sales_data.py"]


def test_uploaddata_puts_samples_under_sales_and_marketing(project):
    boto3.client("s3").create_bucket(Bucket=DATA_BUCKET)
    upload_data(project)
    assert _keys(DATA_BUCKET) == [
        "marketing/MarketingData_QuickSightSample.csv",
        "sales/SalesPipeline_QuickSightSample.csv",
    ]


def test_uploaddata_with_other_files(project):
    boto3.client("s3").create_bucket(Bucket=DATA_BUCKET)
    (project.root / "more_sales.csv").write_text("a\n")
    (project.root / "other.csv").write_text("b\n")
    upload_data(project, ["more_sales.csv"], {"other.csv": "marketing/renamed.csv"})
    assert _keys(DATA_BUCKET) == ["marketing/renamed.csv", "sales/more_sales.csv"]
    with pytest.raises(
        BuildError,
        match=r"cannot tell where other.csv goes: name it with its key, "
        r"e.g. uploaddata\[other.csv=sales/\]",
    ):
        upload_data(project, ["other.csv"])


def test_uploaddata_missing_sample(project):
    (project.root / "samples" / "MarketingData_QuickSightSample.csv").unlink()
    with pytest.raises(BuildError, match="samples/MarketingData_QuickSightSample.csv not found"):
        upload_data(project)


def _filled_versioned_bucket(name):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2"):
        s3.put_object(Bucket=name, Key="a.csv", Body=body)
    s3.put_object(Bucket=name, Key="b.csv", Body=b"3")
    s3.delete_object(Bucket=name, Key="b.csv")  # leaves a delete marker


def _bucket_names():
    return [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def test_deletes3bucket_yes_removes_all_versions(project, lines):
    _filled_versioned_bucket("doomed")
    assert delete_bucket(project, "doomed", "yes")
    assert "doomed" not in _bucket_names()
    assert lines[-1] == "deleted bucket doomed (4 object versions removed)"


def test_deletes3bucket_asks_on_a_terminal(project, lines):
    _filled_versioned_bucket("doomed")
    questions = []

    def no(question):
        questions.append(question)
        return "n"

    assert not delete_bucket(project, "doomed", is_tty=lambda: True, ask=no)
    assert questions == ["Delete bucket doomed and every object version in it? [y/N] "]
    assert "doomed" in _bucket_names()
    assert lines[-1] == "bucket doomed not deleted"
    assert not delete_bucket(project, "doomed", is_tty=lambda: True, ask=lambda q: "")  # default is No
    assert delete_bucket(project, "doomed", is_tty=lambda: True, ask=lambda q: "y")
    assert "doomed" not in _bucket_names()


def test_deletes3bucket_refuses_without_tty_or_yes(project):
    _filled_versioned_bucket("doomed")
    with pytest.raises(BuildError) as err:
        delete_bucket(project, "doomed", is_tty=lambda: False)
    assert str(err.value) == (
        "refusing to delete bucket doomed without confirmation: run it on a terminal "
        "or confirm in the command: pynt deletes3bucket[doomed,yes]"
    )
    assert "doomed" in _bucket_names()


def test_deletes3bucket_argument_errors(project):
    with pytest.raises(BuildError, match=r"name the bucket to delete: pynt deletes3bucket\[<bucket-name>\]"):
        delete_bucket(project, None, "yes")
    with pytest.raises(BuildError, match="the second argument of deletes3bucket must be 'yes', not 'sure'"):
        delete_bucket(project, "doomed", "sure")


def test_deletes3bucket_missing_bucket_gives_the_api_message(project):
    with pytest.raises(BuildError) as err:
        delete_bucket(project, "no-such-bucket-here", "yes")
    assert str(err.value).startswith("emptying bucket no-such-bucket-here failed: NoSuchBucket: ")
    assert "does not exist" in str(err.value)
