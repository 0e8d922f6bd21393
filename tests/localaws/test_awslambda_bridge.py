"""The Lambda bridge (localaws/bridges/awslambda/), over HTTP with boto3.

Each test names the moto gap it guards; if a moto upgrade changes the behaviour, the test says which gap.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import signal
import threading
import time
import zipfile

import pytest

from localaws.bridges import awslambda
from localaws.bridges import s3 as s3_bridge
from localaws.runtime import lambda_zygote

GAP_DOCKER = "moto gap 'LambdaFunction.invoke runs handlers only in Docker' is no longer bridged"

HANDLERS = """
import json, logging, os, sys, time

print("handlers module initialised")  # the init phase: once per worker
INVOCATIONS = 0

ENV_KEYS = ["GREETING", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME", "LAMBDA_TASK_ROOT"]


def echo(event, context):
    return {
        "event": event,
        "env": {key: os.environ.get(key) for key in ENV_KEYS},
        "cwd": os.getcwd(),
        "sys_path_0": sys.path[0],
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }


def fail(event, context):
    raise ValueError("no good: " + str(event.get("why")))


def sleepy(event, context):
    time.sleep(float(event.get("seconds", 5)))
    print("woke up")
    return "slept"


def chatty(event, context):
    print("first line to stdout")
    print("second line to stderr", file=sys.stderr)
    logger = logging.getLogger()
    logger.setLevel(logging.INFO)
    logger.info("through logging %s", event.get("tag"))
    return "chatted"


def counter(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    if event.get("exit") is not None:
        os._exit(int(event["exit"]))
    if event.get("raise"):
        raise RuntimeError("asked to fail")
    time.sleep(float(event.get("sleep", 0)))
    return {"count": INVOCATIONS, "pid": os.getpid(), "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "log_stream": context.log_stream_name}


def overlap(event, context):
    started = time.time()
    time.sleep(float(event.get("seconds", 1)))
    print(json.dumps({"pid": os.getpid(), "started": started, "ended": time.time()}))
    return "done"


def buckets(event, context):
    import boto3
    return sorted(bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"])
"""


def build_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class Recorder:
    """Collects ``ctx.emit`` events; ``wait`` polls until a predicate over them holds."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def __call__(self, kind: str, fields: dict) -> None:
        with self._lock:
            self.events.append((kind, fields))

    def of(self, kind: str, **match: object) -> list[dict]:
        with self._lock:
            return [f for k, f in self.events if k == kind and all(f.get(n) == v for n, v in match.items())]

    def wait(self, predicate, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        return predicate()


@pytest.fixture(scope="module")
def recorder(local_aws) -> Recorder:
    rec = Recorder()
    local_aws.subscribe(rec)
    return rec


@pytest.fixture(scope="module")
def lam(aws_client):
    return aws_client("lambda")


@pytest.fixture(scope="module")
def package() -> bytes:
    return build_zip({"handlers.py": HANDLERS})


@pytest.fixture(scope="module")
def role_arn(aws_client) -> str:
    """The functions' execution role: Lambda may assume it, and it may write the functions' logs and list
    buckets and activities (the ``buckets`` and ``sdk_data`` handlers), as the endpoint's IAM checks."""
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    permissions = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*",
            },
            {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "states:ListActivities"], "Resource": "*"},
        ],
    }
    iam = aws_client("iam")
    name = f"awslambda-bridge-test-{time.time_ns()}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="basic-execution", PolicyDocument=json.dumps(permissions))
    return arn


@pytest.fixture
def make_function(lam, package, unique_name, role_arn):
    def make(handler: str, timeout: int = 10, code: dict | None = None, **extra) -> str:
        name = unique_name(f"fn-{handler}")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role_arn,
            Handler=f"handlers.{handler}",
            Code=code or {"ZipFile": package},
            Timeout=timeout,
            MemorySize=256,
            Environment={"Variables": {"GREETING": "hello"}},
            **extra,
        )
        return name

    return make


def invoke(lam, name: str, event: dict | None = None, **kwargs):
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def test_patch_points_exist_in_moto(local_aws):
    """Names the moto places patched; a moto upgrade that renames them fails here first."""
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.s3 import notifications

    assert LambdaFunction.invoke is awslambda._bridged_function_invoke, GAP_DOCKER
    assert LambdaSimpleBackend.invoke is awslambda._bridged_simple_backend_invoke, (
        "moto gap 'LambdaSimpleBackend.invoke returns a canned answer' is no longer bridged"
    )
    assert notifications._invoke_awslambda is s3_bridge._bridged_s3_invoke_awslambda, (
        "moto gap 'S3 notifications invoke Lambda synchronously' is no longer bridged"
    )


def test_sync_invoke_runs_the_deployed_handler_with_lambda_environment(local_aws, lam, make_function):
    name = make_function("echo", timeout=7)
    response, payload = invoke(lam, name, {"hello": "world"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response, f"{GAP_DOCKER}: {payload}"
    assert isinstance(payload, dict) and payload.get("event") == {"hello": "world"}, (
        f"{GAP_DOCKER} (or moto's canned LambdaSimpleBackend answer came back): {payload!r}"
    )
    env = payload["env"]
    assert env["GREETING"] == "hello"
    assert env["AWS_ENDPOINT_URL"] == local_aws.endpoint_url
    assert env["AWS_REGION"] == local_aws.region
    # The execution role's temporary credentials (the endpoint's STS issued them), not the caller's.
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA"), env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["LAMBDA_TASK_ROOT"] == payload["cwd"] == payload["sys_path_0"]
    context = payload["context"]
    assert context["function_name"] == name
    assert context["invoked_function_arn"].endswith(f":function:{name}")
    assert context["memory_limit_in_mb"] == 256
    assert context["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert 5000 < context["remaining_ms"] <= 7000


def test_handler_exception_is_an_unhandled_function_error(lam, make_function):
    name = make_function("fail")
    response, payload = invoke(lam, name, {"why": "testing"})

    assert response["StatusCode"] == 200
    assert response.get("FunctionError") == "Unhandled", GAP_DOCKER
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "no good: testing"
    assert any("in fail" in frame for frame in payload["stackTrace"])


def test_timeout_kills_the_handler_and_says_so_as_lambda_does(lam, make_function):
    name = make_function("sleepy", timeout=1)
    started = time.monotonic()
    response, payload = invoke(lam, name, {"seconds": 30})
    elapsed = time.monotonic() - started

    assert response.get("FunctionError") == "Unhandled", GAP_DOCKER
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert elapsed < 5, f"the 1 s timeout was not enforced ({elapsed:.1f} s)"


def test_event_invocation_returns_202_at_once_and_runs_in_background(lam, make_function, recorder):
    name = make_function("sleepy")
    started = time.monotonic()
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"seconds": 0.5}')
    returned_after = time.monotonic() - started

    assert response["StatusCode"] == 202
    assert returned_after < 0.45, f"Event invoke waited for the handler ({returned_after:.2f} s)"
    ends = recorder.wait(lambda: recorder.of("lambda.invoke.end", function=name))
    assert ends, f"{GAP_DOCKER}: the Event invocation never ran"
    assert ends[0]["error"] is None
    assert ends[0]["duration_s"] >= 0.5
    assert recorder.of("lambda.log", function=name, line="woke up")


def test_log_lines_go_to_cloudwatch_logs_and_to_listeners(lam, aws_client, make_function, recorder):
    name = make_function("chatty")
    response, payload = invoke(lam, name, {"tag": "T42"}, LogType="Tail")
    assert payload == "chatted", GAP_DOCKER
    start = recorder.of("lambda.invoke.start", function=name)[0]
    request_id = start["request_id"]

    expected = ["first line to stdout", "second line to stderr"]
    emitted = [f["line"] for f in recorder.of("lambda.log", function=name, request_id=request_id)]
    assert emitted[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert all(line in emitted for line in expected)
    assert any(
        line.startswith("[INFO]\t") and line.endswith(f"\t{request_id}\tthrough logging T42")
        for line in emitted
    ), emitted
    assert emitted[-2] == f"END RequestId: {request_id}"
    assert emitted[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "second line to stderr" in base64.b64decode(response["LogResult"]).decode()

    logs = aws_client("logs")
    found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    messages = [event["message"] for event in found]
    assert messages == emitted, "log lines missing from CloudWatch Logs"
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1 and "[$LATEST]" in streams[0]["logStreamName"]


def test_handler_can_call_the_endpoint_with_boto3(lam, aws_client, make_function, unique_name):
    bucket = unique_name("lambda-sees-me")
    aws_client("s3").create_bucket(Bucket=bucket)
    name = make_function("buckets")
    response, payload = invoke(lam, name)
    assert "FunctionError" not in response, payload
    assert bucket in payload


def test_function_deployed_from_s3_package(lam, aws_client, package, make_function, unique_name):
    bucket = unique_name("lambda-code")
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="src/fn.zip", Body=package)
    name = make_function("echo", code={"S3Bucket": bucket, "S3Key": "src/fn.zip"})
    response, payload = invoke(lam, name, {"from": "s3"})
    assert payload["event"] == {"from": "s3"}, f"{GAP_DOCKER}: {payload}"


def test_function_created_by_cloudformation_runs(aws_client, package, unique_name, role_arn):
    bucket = unique_name("cfn-code")
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="src/fn.zip", Body=package)
    name = unique_name("cfn-fn")
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": name,
                    "Runtime": "python3.13",
                    "Handler": "handlers.echo",
                    "Role": role_arn,
                    "Code": {"S3Bucket": bucket, "S3Key": "src/fn.zip"},
                    "Environment": {"Variables": {"GREETING": "from-cfn"}},
                },
            }
        }
    }
    cfn = aws_client("cloudformation")
    cfn.create_stack(StackName=unique_name("lambda-stack"), TemplateBody=json.dumps(template))
    lam = aws_client("lambda")
    deadline = time.monotonic() + 10
    while True:
        try:
            lam.get_function(FunctionName=name)
            break
        except lam.exceptions.ResourceNotFoundException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    response, payload = invoke(lam, name, {"via": "cfn"})
    assert payload["event"] == {"via": "cfn"} and payload["env"]["GREETING"] == "from-cfn", payload


def test_runtime_errors_are_function_errors(lam, make_function, unique_name, role_arn):
    missing = make_function("no_such_handler")
    _, payload = invoke(lam, missing)
    assert payload["errorType"] == "Runtime.HandlerNotFound"

    lam.create_function(
        FunctionName=(broken := unique_name("fn-broken")),
        Runtime="python3.13",
        Role=role_arn,
        Handler="nowhere.handler",
        Code={"ZipFile": build_zip({"other.py": "x = 1\n"})},
    )
    response, payload = invoke(lam, broken)
    assert response.get("FunctionError") == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'nowhere'" in payload["errorMessage"]


# -- warm workers (execution environments reused as on AWS) -------------------------------------------------
def workers_of(name: str) -> list:
    return awslambda.runtime().workers(name)


def logs_of(recorder: Recorder, name: str, request_id: str) -> list[str]:
    return [f["line"] for f in recorder.of("lambda.log", function=name, request_id=request_id)]


def test_warm_worker_keeps_module_state_and_runs_the_init_phase_once(lam, make_function, recorder):
    name = make_function("counter")
    results = [invoke(lam, name)[1] for _ in range(3)]

    assert [r["count"] for r in results] == [1, 2, 3], f"every invocation got a cold worker: {results}"
    assert len({r["pid"] for r in results}) == 1
    assert len({r["log_stream"] for r in results}) == 1, "one environment writes one log stream"
    request_ids = [r["request_id"] for r in results]
    assert len(set(request_ids)) == 3, "aws_request_id must be per invocation"
    for i, request_id in enumerate(request_ids):
        lines = logs_of(recorder, name, request_id)
        assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
        assert lines[-2] == f"END RequestId: {request_id}"
        assert lines[-1].startswith(f"REPORT RequestId: {request_id}\t")
        assert ("\tInit Duration: " in lines[-1]) == (i == 0), lines[-1]
        assert ("handlers module initialised" in lines) == (i == 0), lines
    assert [w.pid for w in workers_of(name)] == [results[0]["pid"]]


def test_remaining_time_is_per_invocation(lam, make_function):
    name = make_function("counter", timeout=3)
    first = invoke(lam, name)[1]
    time.sleep(1.5)
    second = invoke(lam, name)[1]

    assert second["pid"] == first["pid"]
    assert 2500 < second["remaining_ms"] <= 3000, f"the deadline of a warm invocation is its own: {second}"


def test_concurrent_invocations_scale_out_to_workers_of_their_own(lam, make_function, recorder):
    name = make_function("overlap")
    for _ in range(2):
        response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"seconds": 1.5}')
        assert response["StatusCode"] == 202
    recorder.wait(lambda: len(recorder.of("lambda.invoke.end", function=name)) >= 2, timeout=20)
    ends = recorder.of("lambda.invoke.end", function=name)
    assert len(ends) == 2 and all(end["error"] is None for end in ends), ends

    lines = [f["line"] for f in recorder.of("lambda.log", function=name)]
    runs = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(runs) == 2, runs
    first, second = runs
    assert first["pid"] != second["pid"], "two invocations at once ran in one worker"
    assert first["started"] < second["ended"] and second["started"] < first["ended"], f"no overlap: {runs}"
    assert sorted(w.pid for w in workers_of(name)) == sorted(run["pid"] for run in runs)

    invoke(lam, name, {"seconds": 0})  # both idle now: reuses one, starts none
    assert sorted(w.pid for w in workers_of(name)) == sorted(run["pid"] for run in runs)


def test_timeout_discards_the_worker(lam, make_function, recorder):
    name = make_function("counter", timeout=1)
    first = invoke(lam, name)[1]
    (worker,) = workers_of(name)

    response, payload = invoke(lam, name, {"sleep": 30})
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert worker.proc.poll() is not None, "the timed-out worker still runs"
    request_id = recorder.of("lambda.invoke.start", function=name)[-1]["request_id"]
    assert logs_of(recorder, name, request_id)[-1].endswith("\tStatus: timeout")

    after = invoke(lam, name)[1]
    assert after["count"] == 1 and after["pid"] != first["pid"], after


def test_worker_that_exits_mid_invocation_is_an_exit_error_and_is_replaced(lam, make_function, recorder):
    name = make_function("counter")
    first = invoke(lam, name)[1]
    (worker,) = workers_of(name)

    response, payload = invoke(lam, name, {"exit": 3})
    request_id = recorder.of("lambda.invoke.start", function=name)[-1]["request_id"]
    assert response.get("FunctionError") == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }
    assert worker.proc.poll() == 3
    assert recorder.of("lambda.invoke.end", request_id=request_id)[0]["error"] == "Runtime.ExitError"

    after = invoke(lam, name)[1]
    assert after["count"] == 1 and after["pid"] != first["pid"], after


def test_unhandled_exception_keeps_the_worker(lam, make_function):
    """AWS's Python runtime catches the handler's exception, reports it and keeps the environment."""
    name = make_function("counter")
    first = invoke(lam, name)[1]
    response, payload = invoke(lam, name, {"raise": True})
    assert response.get("FunctionError") == "Unhandled" and payload["errorType"] == "RuntimeError"

    after = invoke(lam, name)[1]
    assert after["pid"] == first["pid"] and after["count"] == 3, after


def test_code_or_configuration_update_starts_new_workers(lam, make_function):
    name = make_function("counter")
    first = invoke(lam, name)[1]
    old = [w.proc for w in workers_of(name)]

    lam.update_function_code(FunctionName=name, ZipFile=build_zip({"handlers.py": HANDLERS + "\n# v2\n"}))
    second = invoke(lam, name)[1]
    assert second["count"] == 1 and second["pid"] != first["pid"], "the old code's worker served"
    assert all(proc.poll() is not None for proc in old), "the old code's worker was not stopped"

    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"GREETING": "changed"}})
    third = invoke(lam, name)[1]
    assert third["count"] == 1 and third["pid"] not in (first["pid"], second["pid"]), third
    assert [w.pid for w in workers_of(name)] == [third["pid"]]


def test_idle_workers_are_reaped(lam, make_function, monkeypatch):
    rt = awslambda.runtime()
    assert rt.idle_timeout_s >= awslambda.MIN_IDLE_TIMEOUT_S
    name = make_function("counter")
    first = invoke(lam, name)[1]
    (worker,) = workers_of(name)
    assert rt._reaper is not None and rt._reaper.is_alive(), "no reaper thread watches idle workers"

    monkeypatch.setattr(rt, "idle_timeout_s", 0.2)
    time.sleep(0.3)
    rt.reap_idle()  # the reaper thread may already have done it, if its tick fell into the sleep
    assert worker.proc.poll() is not None and workers_of(name) == []

    after = invoke(lam, name)[1]
    assert after["count"] == 1 and after["pid"] != first["pid"]


def test_idle_workers_beyond_the_limit_go_longest_idle_first(lam, make_function, monkeypatch):
    rt = awslambda.runtime()
    monkeypatch.setattr(awslambda.pool, "MAX_IDLE_WORKERS", 1)
    older, newer = make_function("counter"), make_function("counter")
    invoke(lam, older)
    (older_worker,) = workers_of(older)
    invoke(lam, newer)

    assert older_worker.proc.poll() is not None and workers_of(older) == []
    assert len(workers_of(newer)) == 1
    assert sum(len(pool) for pool in rt._idle.values()) == 1


def test_an_async_invocation_cut_by_stop_is_not_reported_as_a_failure(lam, make_function, recorder, caplog):
    """stop() kills busy workers; their invocations end Runtime.ExitError, flagged as the stop's doing, so the
    endpoint's shutdown does not log them as function failures (a worker that exits by itself still is)."""
    caplog.set_level(logging.INFO, logger="localaws.bridges.awslambda")
    rt = awslambda.runtime()
    name = make_function("counter")
    fn = awslambda.get_function(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    results: dict[str, awslambda.InvocationResult] = {}
    done = threading.Event()

    def keep(key: str):
        return lambda result: (results.__setitem__(key, result), done.set())

    rt.invoke_async(fn, json.dumps({"exit": 3}), on_done=keep("exited"))
    assert done.wait(30), "the invocation that exits by itself did not end"
    done.clear()
    rt.invoke_async(fn, json.dumps({"sleep": 30}), on_done=keep("stopped"))
    started = recorder.wait(lambda: any(w.alive() for w in workers_of(name)))
    assert started, "the sleeping invocation did not start"
    time.sleep(0.3)  # inside the handler's sleep
    awslambda.stop()
    assert done.wait(30), "the invocation cut by stop() did not end"

    assert results["exited"].error["errorType"] == "Runtime.ExitError" and not results["exited"].ended_by_stop
    assert results["stopped"].error["errorType"] == "Runtime.ExitError" and results["stopped"].ended_by_stop
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [w for w in warnings if results["exited"].request_id in w], warnings
    assert not [w for w in warnings if results["stopped"].request_id in w], warnings


def test_stop_terminates_every_worker(lam, make_function):
    name = make_function("counter")
    invoke(lam, name)
    procs = [w.proc for w in awslambda.runtime().workers()]
    assert procs

    awslambda.stop()
    assert all(proc.poll() is not None for proc in procs), "a worker outlived stop()"
    assert awslambda.runtime().workers() == []

    after = invoke(lam, name)[1]  # the endpoint still serves: a new worker
    assert after["count"] == 1


def test_a_failed_async_invocation_is_retried_twice_with_the_same_request_id(
    lam, make_function, recorder, local_aws
):
    """Lambda runs a failed asynchronous event again after 1 and 2 minutes (scaled here); an S3 event whose
    invocation crashed is delivered again, so nothing is lost. A success ends the retries."""
    rt = awslambda.runtime()
    name = make_function("counter")
    fn = awslambda.get_function(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    done = threading.Event()
    finals: list[awslambda.InvocationResult] = []

    def keep(result: awslambda.InvocationResult) -> None:
        finals.append(result)
        done.set()

    started = time.monotonic()
    request_id = rt.invoke_async(fn, json.dumps({"raise": True}), on_done=keep)
    assert done.wait(60), "the retried invocation never ended"

    attempts = recorder.of("lambda.invoke.end", function=name, request_id=request_id)
    assert len(attempts) == 3 and all(a["error"] for a in attempts)
    assert finals[0].function_error and len(finals) == 1
    # The delays are AWS's 60 s and 120 s on the endpoint's clock.
    assert time.monotonic() - started >= local_aws.scaled(180) * 0.9

    done.clear()
    request_id = rt.invoke_async(fn, json.dumps({}), on_done=keep)
    assert done.wait(30)
    assert len(recorder.of("lambda.invoke.end", function=name, request_id=request_id)) == 1


# -- workers forked from the zygote (localaws/runtime/lambda_zygote.py), pre-warmed environments ----------

PROCESS_HANDLER = """
import os, sys

def describe(event, context):
    import botocore
    return {
        "ppid": os.getppid(),
        "pid": os.getpid(),
        "env_keys": sorted(os.environ),
        "botocore": botocore.__file__,
        "initialization": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
    }
"""


def _zygote_pid() -> int:
    zygote = awslambda.runtime().zygote
    assert zygote is not None and zygote._proc is not None, "no zygote is running"
    return zygote._proc.pid


def test_workers_are_forked_from_the_zygote_with_only_their_own_environment(lam, make_function, monkeypatch):
    runtime = awslambda.runtime()
    runtime.zygote.stop()  # the next worker starts a zygote, which gets this test's environment
    monkeypatch.setenv("LOCALAWS_TEST_ONLY_THE_ZYGOTE_HAS_THIS", "1")
    name = make_function("describe", code={"ZipFile": build_zip({"handlers.py": PROCESS_HANDLER})})
    payload = invoke(lam, name)[1]
    assert payload["ppid"] == _zygote_pid()
    assert "LOCALAWS_TEST_ONLY_THE_ZYGOTE_HAS_THIS" not in payload["env_keys"]
    assert "GREETING" in payload["env_keys"] and "AWS_LAMBDA_FUNCTION_NAME" in payload["env_keys"]
    assert payload["initialization"] == "on-demand"


SDK_DATA_HANDLER = """
import boto3

def sdk_data(event, context):
    session = boto3.session.Session()
    loader = session._session.get_component("data_loader")
    parsed = sorted({key[1] for key in loader._cache if key[0] == "load_service_model"})
    client = session.client("stepfunctions")  # built from the parsed model, and it works
    return {
        "parsed_before_any_client": parsed,
        "shared": loader is boto3.session.Session()._session.get_component("data_loader"),
        "activities": client.list_activities()["activities"] is not None,
    }
"""


def test_a_forked_worker_finds_the_sdk_models_parsed_by_the_zygote(lam, make_function):
    name = make_function("sdk_data", code={"ZipFile": build_zip({"handlers.py": SDK_DATA_HANDLER})})
    payload = invoke(lam, name)[1]
    assert set(lambda_zygote.PRELOADED_SERVICES) <= set(payload["parsed_before_any_client"]), payload
    assert payload["shared"] and payload["activities"]


def test_a_zygote_whose_environment_names_a_missing_profile_still_forks(lam, make_function, monkeypatch):
    runtime = awslambda.runtime()
    runtime.zygote.stop()  # the next worker starts a zygote with this environment
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-anywhere")  # botocore raises ProfileNotFound for it
    name = make_function("describe", code={"ZipFile": build_zip({"handlers.py": PROCESS_HANDLER})})
    payload = invoke(lam, name)[1]
    assert payload["ppid"] == _zygote_pid()


def test_a_package_that_bundles_botocore_gets_a_fresh_interpreter_and_its_own_botocore(lam, make_function):
    bundled = build_zip(
        {
            "handlers.py": PROCESS_HANDLER,
            # enough of a botocore for the handler's import; the zygote's real one would shadow it
            "botocore/__init__.py": "__version__ = 'bundled'\n",
        }
    )
    name = make_function("describe", code={"ZipFile": bundled})
    payload = invoke(lam, name)[1]
    assert payload["botocore"].endswith("/botocore/__init__.py")
    assert "site-packages" not in payload["botocore"], payload["botocore"]
    assert payload["ppid"] == os.getpid()  # the endpoint started it, not the zygote


def test_a_killed_zygote_is_replaced_and_its_orphans_are_noticed(lam, make_function):
    name = make_function("describe", code={"ZipFile": build_zip({"handlers.py": PROCESS_HANDLER})})
    first = invoke(lam, name)[1]
    (worker,) = workers_of(name)
    os.kill(_zygote_pid(), signal.SIGKILL)
    os.kill(first["pid"], signal.SIGKILL)  # nobody is left to report this one's end
    deadline = time.monotonic() + 10
    while worker.proc.poll() is None:
        assert time.monotonic() < deadline, "the orphaned worker's end was not noticed"
        time.sleep(0.05)
    payload = invoke(lam, name)[1]  # a new worker, from a new zygote
    assert payload["pid"] != first["pid"] and payload["ppid"] == _zygote_pid()


def test_prewarm_initializes_an_environment_that_the_first_invocation_uses(lam, make_function, recorder):
    name = make_function("describe", code={"ZipFile": build_zip({"handlers.py": PROCESS_HANDLER})})
    fn = awslambda.get_function(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    awslambda.runtime().prewarm(fn).join(timeout=30)
    (worker,) = workers_of(name)
    assert worker.proc is not None and worker.invocations == 0
    payload = invoke(lam, name)[1]
    assert payload["pid"] == worker.pid and payload["initialization"] == "provisioned-concurrency"
    request_id = recorder.of("lambda.invoke.start", function=name)[-1]["request_id"]
    report = next(line for line in logs_of(recorder, name, request_id) if line.startswith("REPORT"))
    assert "Init Duration" not in report  # the init ran before the invocation, as for provisioned concurrency


def test_an_endpoint_set_to_prewarm_initializes_each_function_it_creates(
    local_aws, lam, make_function, monkeypatch
):
    monkeypatch.setattr(local_aws, "prewarm_lambdas", True)
    name = make_function("describe", code={"ZipFile": build_zip({"handlers.py": PROCESS_HANDLER})})
    deadline = time.monotonic() + 30
    while not any(w in awslambda.runtime()._idle.get(w.key, []) for w in workers_of(name)):
        assert time.monotonic() < deadline, "no pre-warmed environment"
        time.sleep(0.05)
    assert invoke(lam, name)[1]["initialization"] == "provisioned-concurrency"


def test_a_zygote_that_cannot_fork_leaves_the_worker_to_a_fresh_interpreter(lam, make_function, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no fork today")

    monkeypatch.setattr(awslambda.runtime().zygote, "spawn", refuse)
    name = make_function("describe", code={"ZipFile": build_zip({"handlers.py": PROCESS_HANDLER})})
    payload = invoke(lam, name)[1]
    assert payload["ppid"] == os.getpid() and "GREETING" in payload["env_keys"]
