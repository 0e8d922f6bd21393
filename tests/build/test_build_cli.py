"""`pynt` itself: the task list, and each user error as one stderr line with exit code 1.

Every run gets fake credentials and AWS_ENDPOINT_URL on a closed local port, so nothing can reach AWS;
the errors tested here are found before any AWS call.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from build_support import PARAMS, REPO, copy_build_tool, error_line, pynt, pynt_env, write_params

from buildlib.commandline import check_calls

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
    "localparams",
    "pictures",
    "demo",
    "localaws",
    "iamreport",
]


@pytest.fixture
def cli_repo(repo):
    copy_build_tool(repo)
    return repo


def test_pynt_lists_every_task(tmp_path):
    result = pynt(REPO, "-l", env=pynt_env(tmp_path))
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(TASKS)


def _leave_no_default(root: Path, tmp: Path) -> None:
    write_params(root, "glue-resources", {**PARAMS["glue-resources"], "S3ETLScriptPath": "<NO-DEFAULT>"})


def _disagree(root: Path, tmp: Path) -> None:
    path = root / "lambda" / "gluerunner" / "gluerunner-config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "ddb_table": "Other"}))


def _long_data_bucket(root: Path, tmp: Path) -> None:
    for stack in ("step-functions-resources", "glue-resources", "athenarunner-lambda"):
        write_params(root, stack, {**PARAMS[stack], "SourceDataBucketName": "d" * 50})


def _bad_json_params(root: Path, tmp: Path) -> None:
    (root / "cloudformation" / "glue-resources-params.json").write_text('[{"ParameterKey": ')


def _no_params_file(root: Path, tmp: Path) -> None:
    (root / "cloudformation" / "gluerunner-lambda-params.json").unlink()


def _bad_descriptor(root: Path, tmp: Path) -> None:
    (root / "lambda" / "s3-deployment-descriptor.json").write_text("[]")


def _a_file(root: Path, tmp: Path) -> None:
    (tmp / "out.csv").write_text("x")


def _symlinked_folder(root: Path, tmp: Path) -> None:
    (tmp / "real").mkdir()
    (tmp / "real" / "summary.json").write_text("{}")  # rmtree on the link: once a traceback
    (tmp / "link").symlink_to(tmp / "real", target_is_directory=True)


def _users_folder(root: Path, tmp: Path) -> None:
    (tmp / "mine" / "sub").mkdir(parents=True)
    for name in ("summary.json", "thesis.docx", "sub/data.csv"):
        (tmp / "mine" / name).write_text("precious")


@dataclass(frozen=True)
class BadCall:
    """One bad `pynt` call and the error line it must give (a message ending in … is its start)."""

    call: str  # {tmp} stands for the test's temporary folder
    message: str
    where: str = "copy"  # "copy": a copy of the project layout; "repo": this checkout (the demo needs it)
    setup: Callable[[Path, Path], None] | None = None
    env: dict[str, str | None] = field(default_factory=dict)


DEMO_USAGE = "usage: pynt demo[sales=…,marketing=…,output=…,time_scale=…"
TASK_LIST = "tasks: clean, createstack, deletes3bucket, deletestack, demo, deployall, deploygluescripts, …"
BAD_CALLS = {
    # Names and arguments (pynt's own dispatch printed a traceback for these).
    "unknown task": BadCall("nosuchtask", f"unknown task 'nosuchtask'; {TASK_LIST}"),
    "misspelt task": BadCall("demoo", f"unknown task 'demoo' (did you mean demo?); {TASK_LIST}"),
    "module attribute": BadCall("sys", f"unknown task 'sys'; {TASK_LIST}"),
    "helper function": BadCall("_project", f"unknown task '_project'; {TASK_LIST}"),
    "ambiguous prefix": BadCall(
        "dep", "task 'dep' is ambiguous: it starts deployall, deploygluescripts, deploylambda"
    ),
    "unreadable call": BadCall("demo[sales", "cannot read the task call 'demo[sales': write `task` or …"),
    "misspelt keyword": BadCall(
        "demo[sale=x.csv]", f"demo got an unexpected argument 'sale' (did you mean sales?); {DEMO_USAGE}…"
    ),
    "keyword of a list task": BadCall(
        "createstack[name=x]",
        "createstack got an unexpected argument 'name'; usage: pynt createstack[<stack_names>,…]",
    ),
    "value for no argument": BadCall(
        "clean[x]", "clean got too many values (x); usage: pynt clean (no arguments)"
    ),
    "too many values": BadCall("demo[a,b,c,d,e,f]", f"demo got too many values (a,b,c,d,e,f); {DEMO_USAGE}…"),
    "two values": BadCall(
        "executionstatus[a,b]",
        "executionstatus got too many values (a,b); usage: pynt executionstatus[arn=…]",
    ),
    "value after keyword": BadCall(
        "demo[sales=a,b]", "demo: the value 'b' follows a key=value argument; put values first"
    ),
    "keyword twice": BadCall("demo[sales=a,sales=b]", "demo got the argument 'sales' twice"),
    "position and keyword": BadCall(
        "demo[a,sales=b]", "demo got two values for 'sales': one by position, one as sales="
    ),
    "two equals signs": BadCall(
        "demo[sales=a=b]",
        "demo: cannot read the argument 'sales=a=b': it holds more than one '=' "
        "(pynt cannot pass a value holding '=' or ',')",
    ),
    "empty value": BadCall("demo[sales=]", f"demo: sales= has no value; write sales=<value>; {DEMO_USAGE}…"),
    "key without a value": BadCall(
        "demo[sales]", f"demo: sales needs a value: write sales=<value>; {DEMO_USAGE}…"
    ),
    "empty value among values": BadCall(
        "createstack[glue-resources,,gluerunner-lambda]",
        "createstack: an empty value in '[glue-resources,,gluerunner-lambda]'; "
        "usage: pynt createstack[<stack_names>,…]",
    ),
    "three values for two": BadCall("deletes3bucket[a,b,c]", "deletes3bucket got too many values (a,b,c); …"),
    # Names inside the project.
    "unknown stack": BadCall(
        "createstack[nope]",
        "unknown stack 'nope': valid stacks are step-functions-resources, glue-resources, "
        "gluerunner-lambda, athenarunner-lambda",
    ),
    "unknown stack to update": BadCall("updatestack[nope]", "unknown stack 'nope': valid stacks are …"),
    "unknown stack to delete": BadCall("deletestack[nope]", "unknown stack 'nope': valid stacks are …"),
    "unknown function": BadCall(
        "packagelambda[nope]",
        "unknown function 'nope': valid functions are gluerunner, athenarunner, ons3objectcreated",
    ),
    "unknown function to deploy": BadCall(
        "deploylambda[nope]", "unknown function 'nope': valid functions are …"
    ),
    "no stack to delete": BadCall(
        "deletestack", "name the stack to delete: pynt deletestack[<stack>]; stacks: …"
    ),
    # Configuration files.
    "<NO-DEFAULT> left": BadCall(
        "createstack[glue-resources]",
        # pynt_env points at a (closed) local endpoint: the message names the command that sets them all.
        "cloudformation/glue-resources-params.json: set S3ETLScriptPath (still <NO-DEFAULT>); "
        "on a local endpoint `pynt localparams` sets every one of them",
        setup=_leave_no_default,
    ),
    "disagreeing values": BadCall(
        "deployall",
        "values disagree: cloudformation/gluerunner-lambda-params.json DDBTableName is "
        "'GlueRunnerActiveJobs' but lambda/gluerunner/gluerunner-config.json ddb_table is 'Other': "
        "set both to the same value",
        setup=_disagree,
    ),
    "long data bucket": BadCall(
        "uploaddata",
        f"cloudformation/step-functions-resources-params.json: SourceDataBucketName '{'d' * 50}' is 50 "
        "characters; at most 45 are allowed …",
        setup=_long_data_bucket,
    ),
    "params not JSON": BadCall(
        "createstack[glue-resources]",
        "cloudformation/glue-resources-params.json is not valid JSON: …",
        setup=_bad_json_params,
    ),
    "params file missing": BadCall(
        "createstack[gluerunner-lambda]",
        "cloudformation/gluerunner-lambda-params.json not found: create it (see docs/DESIGN.md)",
        setup=_no_params_file,
    ),
    "descriptor not an object": BadCall(
        "deploylambda",
        "lambda/s3-deployment-descriptor.json must map each function to "
        '{{"SourceS3BucketName", "SourceS3Key"}}',
        setup=_bad_descriptor,
    ),
    "zip not built": BadCall(
        "deploylambda[gluerunner]",
        "build/gluerunner.zip not found: run `pynt packagelambda[gluerunner]` first",
    ),
    "data file missing": BadCall("uploaddata[{tmp}/none.csv]", "{tmp}/none.csv not found"),
    # The environment and AWS.
    "no region": BadCall(
        "stackstatus",
        "no AWS region configured: set AWS_REGION (e.g. `export AWS_REGION=us-east-1`) …",
        env={"AWS_DEFAULT_REGION": None},
    ),
    "endpoint unreachable": BadCall(
        "stackstatus[glue-resources]",
        "describing stack glue-resources failed: cannot reach http://127.0.0.1:9/ (check AWS_ENDPOINT_URL)",
    ),
    "no state machine reachable": BadCall("startexecution", "listing state machines failed: cannot reach …"),
    "bucket without confirmation": BadCall(
        "deletes3bucket[some-bucket]",
        "refusing to delete bucket some-bucket without confirmation: run it on a terminal or "
        "confirm in the command: pynt deletes3bucket[some-bucket,yes]",
    ),
    # The demo and the endpoint (they need this checkout's localaws/); each fails before deploying.
    "demo sales file missing": BadCall(
        "demo[sales={tmp}/none.csv]", "sales file {tmp}/none.csv does not exist", "repo"
    ),
    "demo time scale": BadCall("demo[time_scale=0]", "time_scale must be a number > 0, got '0'", "repo"),
    "demo output is a file": BadCall(
        "demo[output={tmp}/out.csv]", "output {tmp}/out.csv is a file: …", "repo", setup=_a_file
    ),
    "demo output symlinked": BadCall(
        "demo[output={tmp}/link]",
        "output folder {tmp}/link is a symbolic link: …",
        "repo",
        setup=_symlinked_folder,
    ),
    "demo output of the user's": BadCall(
        "demo[output={tmp}/mine]",
        "output folder {tmp}/mine is not empty and was not made by the demo …",
        "repo",
        setup=_users_folder,
    ),
    "demo iam mode": BadCall(
        "demo[iam=strict]", "the IAM mode must be one of enforce, audit, off; got 'strict'", "repo"
    ),
    "endpoint iam mode": BadCall(
        "localaws[iam=lax]", "the IAM mode must be one of enforce, audit, off; got 'lax'", "repo"
    ),
    "no audit file yet": BadCall(
        "iamreport[file={tmp}/none.jsonl]",
        "{tmp}/none.jsonl not found: run `pynt demo` (or `pynt localaws`) first, it writes the file",
        "repo",
    ),
    "endpoint port": BadCall("localaws[port=abc]", "port must be a number, got 'abc'", "repo"),
    "endpoint port too big": BadCall(
        "localaws[port=99999]", "port must be between 0 and 65535, got 99999", "repo"
    ),
}


@pytest.mark.parametrize("bad", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_a_bad_call_is_one_error_line_and_exit_1(bad: BadCall, cli_repo, tmp_path):
    where = cli_repo if bad.where == "copy" else REPO
    if bad.setup is not None:
        bad.setup(where, tmp_path)
    result = pynt(where, bad.call.format(tmp=tmp_path), env=pynt_env(tmp_path, **bad.env))
    message = error_line(result)
    expected = bad.message.format(tmp=tmp_path)
    if expected.endswith("…"):
        assert message.startswith(expected[:-1]), message
    else:
        assert message == expected


def test_a_bad_call_after_good_ones_runs_none_of_them(cli_repo, tmp_path):
    (cli_repo / "build").mkdir()
    error_line(pynt(cli_repo, "clean", "packagelambda", "nosuchtask", env=pynt_env(tmp_path)))
    assert (cli_repo / "build").is_dir() and not any((cli_repo / "build").iterdir())


def test_packagelambda_succeeds(cli_repo, tmp_path):
    result = pynt(cli_repo, "packagelambda", env=pynt_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (cli_repo / "build").iterdir()) == [
        "athenarunner.zip",
        "gluerunner.zip",
        "ons3objectcreated.zip",
    ]


@pytest.fixture(scope="module")
def build_tasks() -> dict:
    """build.py's namespace as pynt sees it (imported outside pynt, its own check does nothing)."""
    spec = importlib.util.spec_from_file_location("build_for_calls", REPO / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


@pytest.mark.parametrize(
    "call",
    [
        "clean",
        "clea",  # pynt runs the one task a prefix names
        "createstack[step-functions-resources,glue-resources]",
        "uploaddata[a.csv=sales/,b.csv=marketing/]",
        "uploaddata[a.csv,b.csv]",
        "deletes3bucket[some-bucket,yes]",
        "deletes3bucket[name=some-bucket,confirm=yes]",
        "executionstatus[arn:aws:states:us-east-1:123456789012:execution:M:e]",
        "demo[sales=a.csv,output=out]",
        "demo[a.csv,b.csv]",
        "demo[]",
        "localaws[port=4566,time_scale=0.5]",
        "localaws[iam=audit]",
        "demo[iam=off]",
    ],
)
def test_the_check_lets_every_good_call_through(call: str, build_tasks: dict) -> None:
    check_calls([call], build_tasks)
