"""`pynt` itself: the task list, and each user error as one stderr line with exit code 1.

Every run gets fake credentials and AWS_ENDPOINT_URL on a closed local port, so nothing can reach AWS;
the errors tested here are found before any AWS call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from build_support import PARAMS, REPO, copy_build_tool, write_params

PYNT = str(Path(sys.executable).parent / "pynt")
TASKS = [
    "clean",
    "packagelambda",
    "deploylambda",
    "updatelambda",
    "createstack",
    "updatestack",
    "deletestack",
    "stackstatus",
    "deploygluescripts",
    "deletes3bucket",
    "deployall",
    "uploaddata",
    "startexecution",
    "executionstatus",
    "lint",
    "demo",
    "localaws",
]


def _env(tmp_path, **extra):
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


def pynt(cwd, *args, env):
    return subprocess.run(
        [PYNT, *args], cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )


@pytest.fixture
def cli_repo(repo):
    copy_build_tool(repo)
    return repo


def _error_line(result):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]  # nothing after it (no pynt abort noise)
    return errors[0][len("error: ") :]


def test_pynt_lists_every_task(tmp_path):
    result = pynt(REPO, "-l", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(TASKS)


def test_unknown_stack(cli_repo, tmp_path):
    message = _error_line(pynt(cli_repo, "createstack[nope]", env=_env(tmp_path)))
    assert message == (
        "unknown stack 'nope': valid stacks are step-functions-resources, glue-resources, "
        "gluerunner-lambda, athenarunner-lambda"
    )


def test_unknown_function(cli_repo, tmp_path):
    message = _error_line(pynt(cli_repo, "packagelambda[nope]", env=_env(tmp_path)))
    assert (
        message == "unknown function 'nope': valid functions are gluerunner, athenarunner, ons3objectcreated"
    )


def test_no_default_left(cli_repo, tmp_path):
    write_params(cli_repo, "glue-resources", {**PARAMS["glue-resources"], "S3ETLScriptPath": "<NO-DEFAULT>"})
    message = _error_line(pynt(cli_repo, "createstack[glue-resources]", env=_env(tmp_path)))
    assert message == "cloudformation/glue-resources-params.json: set S3ETLScriptPath (still <NO-DEFAULT>)"


def test_disagreeing_values(cli_repo, tmp_path):
    path = cli_repo / "lambda" / "gluerunner" / "gluerunner-config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "ddb_table": "Other"}))
    message = _error_line(pynt(cli_repo, "deployall", env=_env(tmp_path)))
    assert message == (
        "values disagree: cloudformation/gluerunner-lambda-params.json DDBTableName is "
        "'GlueRunnerActiveJobs' but lambda/gluerunner/gluerunner-config.json ddb_table is 'Other': "
        "set both to the same value"
    )


def test_long_data_bucket(cli_repo, tmp_path):
    for stack in ("step-functions-resources", "glue-resources", "athenarunner-lambda"):
        write_params(cli_repo, stack, {**PARAMS[stack], "SourceDataBucketName": "d" * 50})
    message = _error_line(pynt(cli_repo, "uploaddata", env=_env(tmp_path)))
    assert "SourceDataBucketName" in message and "is 50 characters; at most 45" in message


def test_missing_zip(cli_repo, tmp_path):
    message = _error_line(pynt(cli_repo, "deploylambda[gluerunner]", env=_env(tmp_path)))
    assert message == "build/gluerunner.zip not found: run `pynt packagelambda[gluerunner]` first"


def test_no_region(cli_repo, tmp_path):
    env = _env(tmp_path, AWS_DEFAULT_REGION=None)
    message = _error_line(pynt(cli_repo, "stackstatus", env=env))
    assert message.startswith("no AWS region configured: set AWS_REGION (e.g. `export AWS_REGION=us-east-1`)")


def test_deletes3bucket_without_tty_or_yes(cli_repo, tmp_path):
    message = _error_line(pynt(cli_repo, "deletes3bucket[some-bucket]", env=_env(tmp_path)))
    assert message == (
        "refusing to delete bucket some-bucket without confirmation: run it on a terminal or "
        "confirm in the command: pynt deletes3bucket[some-bucket,yes]"
    )


def test_deletestack_needs_a_name(cli_repo, tmp_path):
    message = _error_line(pynt(cli_repo, "deletestack", env=_env(tmp_path)))
    assert message.startswith("name the stack to delete: pynt deletestack[<stack>]; stacks: ")


def test_aws_error_is_one_line(cli_repo, tmp_path):
    message = _error_line(pynt(cli_repo, "stackstatus[glue-resources]", env=_env(tmp_path)))
    assert message.startswith("describing stack glue-resources failed: cannot reach")
    assert "(check AWS_ENDPOINT_URL)" in message


def test_packagelambda_succeeds(cli_repo, tmp_path):
    result = pynt(cli_repo, "packagelambda", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (cli_repo / "build").iterdir()) == [
        "athenarunner.zip",
        "gluerunner.zip",
        "ons3objectcreated.zip",
    ]
