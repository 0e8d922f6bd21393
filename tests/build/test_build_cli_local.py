"""`pynt` tasks from "another shell" against a `pynt localaws` endpoint, as the README shows an operator.

One `pynt localaws[port=…]` child serves the module (its own moto state); every task runs as the real `pynt`
executable with AWS_ENDPOINT_URL pointing at it, so nothing reaches AWS.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from build_support import PYNT, REPO, copy_build_tool, error_line, make_repo, pynt, pynt_env

from tests.child_env import free_port
from tests.iam_roles import service_role

BANNER_END = "Ctrl-C stops it."
START_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a `pynt localaws` child, stopped with SIGTERM after the module's tests."""
    port = free_port()
    env = pynt_env(tmp_path_factory.mktemp("endpoint"), AWS_ENDPOINT_URL=None, LOCALAWS_TIME_SCALE=None)
    proc = subprocess.Popen(
        [PYNT, f"localaws[port={port},time_scale=0.01]"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its Lambda workers stop with it
    )
    try:
        banner: list[str] = []
        give_up = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < give_up and not (banner and banner[-1].startswith(BANNER_END)):
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"pynt localaws did not start: {banner}")
            banner.append(line.rstrip("\n"))
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


@pytest.fixture
def local_repo(tmp_path: Path) -> Path:
    """The small project layout with the real step-functions-resources template and the build tool."""
    root = make_repo(tmp_path / "repo")
    copy_build_tool(root)
    template = "step-functions-resources.yaml"
    shutil.copy2(REPO / "cloudformation" / template, root / "cloudformation" / template)
    return root


def _client(service: str, url: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_createstack_before_deploylambda_names_the_missing_package(endpoint, local_repo, tmp_path):
    """The endpoint once answered with Lambda's JSON error: botocore's ResponseParserError traceback, and a
    stack left half made that no later command could fix."""
    env = pynt_env(tmp_path, AWS_ENDPOINT_URL=endpoint)
    message = error_line(pynt(local_repo, "createstack[step-functions-resources]", env=env))
    assert message == (
        "the step-functions-resources stack needs the Lambda package of ons3objectcreated at "
        "s3://etl-code-bucket/src/ons3objectcreated.zip, which is not there (404 Not Found): upload it with "
        "`pynt packagelambda[ons3objectcreated] deploylambda[ons3objectcreated]` (or run `pynt deployall`)"
    )
    status = pynt(local_repo, "stackstatus[step-functions-resources]", env=env)
    assert status.returncode == 0 and "DOES NOT EXIST" in status.stdout, status.stdout + status.stderr

    # The command it names is all it takes.
    fixed = pynt(
        local_repo,
        "packagelambda[ons3objectcreated]",
        "deploylambda[ons3objectcreated]",
        "createstack[step-functions-resources]",
        env=env,
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "stack step-functions-resources: CREATE_COMPLETE" in fixed.stdout


def _ended(url: str, name: str, definition: dict) -> str:
    sfn = _client("stepfunctions", url)
    role = service_role(_client("iam", url), "sfn", "states.amazonaws.com")  # Step Functions must trust it
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    give_up = time.monotonic() + 60
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < give_up, "the execution did not end"
        time.sleep(0.1)
    return execution


@pytest.mark.parametrize(
    ("state", "status", "code"),
    [
        ({"Type": "Fail", "Error": "Boom", "Cause": "why"}, "FAILED", 3),
        ({"Type": "Pass", "End": True}, "SUCCEEDED", 0),
    ],
    ids=["failed", "succeeded"],
)
def test_executionstatus_exit_code_follows_the_execution(endpoint, local_repo, tmp_path, state, status, code):
    arn = _ended(
        endpoint, f"Only{status.title()}-{tmp_path.name[-8:]}", {"StartAt": "Only", "States": {"Only": state}}
    )
    result = pynt(local_repo, f"executionstatus[{arn}]", env=pynt_env(tmp_path, AWS_ENDPOINT_URL=endpoint))
    assert result.returncode == code, result.stdout + result.stderr
    assert f"status    {status}" in result.stdout.splitlines()
    assert "Traceback" not in result.stderr and "Aborting build" not in result.stderr, result.stderr
    assert "error:" not in result.stderr  # the status line says it all


def test_localparams_is_the_one_command_the_manual_local_path_needs(endpoint, tmp_path):
    """Eleven <NO-DEFAULT> values once had to be typed into tracked files; `pynt localparams` writes them
    (untracked) and every task on a local endpoint uses them."""
    from buildlib.local_params import ARTIFACT_BUCKET

    root = make_repo(tmp_path / "repo")
    copy_build_tool(root)
    for path in [
        *(root / "cloudformation").glob("*-params.json"),
        root / "lambda" / "s3-deployment-descriptor.json",
    ]:
        text = path.read_text()
        for key in ("etl-code-bucket", "etl-data-bucket"):
            text = text.replace(key, "<NO-DEFAULT>")
        path.write_text(text)
    tracked = {path: path.read_text() for path in (root / "cloudformation").glob("*-params.json")}
    env = pynt_env(tmp_path, AWS_ENDPOINT_URL=endpoint)

    before = error_line(pynt(root, "deploylambda[gluerunner]", env=env))
    assert "(still <NO-DEFAULT>) (and 10 more <NO-DEFAULT> values)" in before, before
    assert before.endswith("; on a local endpoint `pynt localparams` sets every one of them"), before

    written = pynt(root, "localparams", env=env)
    assert written.returncode == 0, written.stdout + written.stderr
    assert (root / "cloudformation" / "local-params.json").is_file()
    deployed = pynt(root, "packagelambda[gluerunner]", "deploylambda[gluerunner]", env=env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "values of cloudformation/local-params.json (AWS_ENDPOINT_URL is set)" in deployed.stdout
    keys = [o["Key"] for o in _client("s3", endpoint).list_objects_v2(Bucket=ARTIFACT_BUCKET)["Contents"]]
    assert "src/gluerunner.zip" in keys
    assert {path: path.read_text() for path in tracked} == tracked, "the tracked params files were changed"

    # Against AWS (no AWS_ENDPOINT_URL) the local values are never used.
    aws = error_line(pynt(root, "deploylambda[gluerunner]", env=pynt_env(tmp_path, AWS_ENDPOINT_URL=None)))
    assert "(still <NO-DEFAULT>)" in aws and "localparams" not in aws, aws
