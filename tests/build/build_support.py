"""Helpers for the build tests: a small copy of the repository layout with valid, agreeing configuration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from buildlib.project import STACKS

REPO = Path(__file__).resolve().parents[2]
PYNT = str(Path(sys.executable).parent / "pynt")
REGION = "us-east-1"
CODE_BUCKET = "etl-code-bucket"
DATA_BUCKET = "etl-data-bucket"

PARAMS = {
    "step-functions-resources": {
        "SourceS3BucketName": CODE_BUCKET,
        "SourceS3Key": "src/ons3objectcreated.zip",
        "GlueRunnerActivityName": "GlueRunnerActivity",
        "SourceDataBucketName": DATA_BUCKET,
        "AthenaRunnerActivityName": "AthenaRunnerActivity",
        "WeeklyScheduleEnabled": "false",
    },
    "glue-resources": {
        "S3ETLScriptPath": f"s3://{CODE_BUCKET}/glue-scripts",
        "S3ETLOutputPath": f"s3://{CODE_BUCKET}/output",
        "SourceDataBucketName": DATA_BUCKET,
    },
    "gluerunner-lambda": {
        "SourceS3BucketName": CODE_BUCKET,
        "SourceS3Key": "src/gluerunner.zip",
        "DDBTableName": "GlueRunnerActiveJobs",
        "GlueRunnerLambdaFunctionName": "gluerunner",
        "GlueRunnerActivityName": "GlueRunnerActivity",
        "ScheduleExpression": "rate(3 minutes)",
    },
    "athenarunner-lambda": {
        "SourceS3BucketName": CODE_BUCKET,
        "SourceS3Key": "src/athenarunner.zip",
        "DDBTableName": "AthenaRunnerActiveJobs",
        "AthenaRunnerLambdaFunctionName": "athenarunner",
        "AthenaRunnerActivityName": "AthenaRunnerActivity",
        "ScheduleExpression": "rate(3 minutes)",
        "SourceDataBucketName": DATA_BUCKET,
    },
}


def small_template(stack: str, params: dict[str, str]) -> str:
    """A template moto can create quickly, declaring every parameter of the stack's params file."""
    if stack == "step-functions-resources":
        resources = {
            "DataBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": {"Ref": "SourceDataBucketName"}},
            }
        }
    else:
        resources = {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{stack}-queue"}}}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {key: {"Type": "String"} for key in params},
        "Resources": resources,
        "Outputs": {"First": {"Value": {"Ref": next(iter(resources))}}},
    }
    return json.dumps(template, indent=2)  # JSON is YAML


def write_params(root: Path, stack: str, params: dict[str, str]) -> None:
    path = root / "cloudformation" / f"{stack}-params.json"
    path.write_text(
        json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()], indent=2)
    )


def make_repo(root: Path) -> Path:
    """A small repository layout with valid, agreeing configuration."""
    (root / "cloudformation").mkdir(parents=True)
    for stack in STACKS:
        write_params(root, stack, PARAMS[stack])
        (root / "cloudformation" / f"{stack}.yaml").write_text(small_template(stack, PARAMS[stack]))
    lam = root / "lambda"
    (lam / "etlrunner" / "__pycache__").mkdir(parents=True)
    (lam / "etlrunner" / "__init__.py").write_text('from etlrunner.engine import run\n\n__all__ = ["run"]\n')
    (lam / "etlrunner" / "engine.py").write_text("def run(event, context, service):\n    return service\n")
    (lam / "etlrunner" / "__pycache__" / "engine.cpython-311.pyc").write_bytes(b"junk")
    for runner, table in (("gluerunner", "GlueRunnerActiveJobs"), ("athenarunner", "AthenaRunnerActiveJobs")):
        (lam / runner).mkdir()
        (lam / runner / f"{runner}.py").write_text(
            "from etlrunner import run\n\n\n"
            "def handler(event, context):\n    return run(event, context, None)\n"
        )
        config = {
            "sfn_activity_arn": "<NO-DEFAULT>",
            "sfn_worker_name": runner,
            "ddb_table": table,
            "ddb_query_limit": 50,
        }
        (lam / runner / f"{runner}-config.json").write_text(json.dumps(config, indent=2))
    (lam / "ons3objectcreated").mkdir()
    (lam / "ons3objectcreated" / "ons3objectcreated.py").write_text(
        "def handler(event, context):\n    return {}\n"
    )
    descriptor = {
        fn: {"SourceS3BucketName": CODE_BUCKET, "SourceS3Key": f"src/{fn}.zip"}
        for fn in ("gluerunner", "athenarunner", "ons3objectcreated")
    }
    (lam / "s3-deployment-descriptor.json").write_text(json.dumps(descriptor, indent=2))
    (root / "glue-scripts").mkdir()
    for name in ("process_sales_data.py", "glue_etl_common.py"):
        (root / "glue-scripts" / name).write_text(f"# {name}\n")
    (root / "glue-scripts" / "README.md").write_text("not a script\n")
    (root / "samples").mkdir()
    (root / "samples" / "SalesPipeline_QuickSightSample.csv").write_text("Date,Salesperson\n1/1/2020,A\n")
    (root / "samples" / "MarketingData_QuickSightSample.csv").write_text("Date,Events\n1/1/2020,x\n")
    return root


def copy_build_tool(root: Path) -> None:
    """build.py and buildlib/ in the copy, so `pynt` runs against it."""
    shutil.copy2(REPO / "build.py", root / "build.py")
    shutil.copytree(REPO / "buildlib", root / "buildlib", ignore=shutil.ignore_patterns("__pycache__"))


def pynt_env(tmp_path: Path, **extra: str | None) -> dict[str, str]:
    """Fake credentials and AWS_ENDPOINT_URL on a closed local port unless `extra` names another; a None
    value removes the variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_MAX_ATTEMPTS="1",
    )
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def pynt(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real `pynt` executable, as a user runs it in `cwd`."""
    return subprocess.run(
        [PYNT, *args], cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The message of the one `error:` line a failed call must print: exit 1, no traceback, nothing after."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]  # nothing after it (no pynt abort noise)
    return errors[0][len("error: ") :]
