"""The endpoint's fault mode (localaws/faults.py): the spec grammar, server-side throttles/5xx/latency as
boto3 sees them, and Lambda workers killed at a chosen AWS call (localaws/runtime/lambda_process.py).

Tests change the session endpoint's fault mode with ``faults.configure`` and always switch it off again
(fixture ``fault_mode``); the rules target one service or operation so that other traffic is untouched.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws import faults
from localaws.bridges import awslambda
from localaws.context import LocalAwsContext
from localaws.faults import FaultSpecError, Target, parse_spec

# --- the grammar ----------------------------------------------------------------------------------------


def test_empty_spec_means_no_faults() -> None:
    assert not parse_spec("").enabled
    assert not parse_spec("  ").enabled
    assert not parse_spec(None).enabled


def test_a_global_rate_applies_to_every_call() -> None:
    spec = parse_spec("throttle:0.2")
    assert [(rule.target, rule.value) for rule in spec.throttle] == [(Target(), 0.2)]
    assert spec.server_side and not spec.kills


def test_items_of_one_kind_continue_after_a_separator_and_equals_is_accepted() -> None:
    spec = parse_spec("throttle=dynamodb:0.2;states.SendTaskSuccess:50%+error5xx:s3:0.1;seed:42")
    assert [(str(rule.target), rule.value) for rule in spec.throttle] == [
        ("dynamodb", 0.2),
        ("states.SendTaskSuccess", 0.5),
    ]
    assert [(str(rule.target), rule.value) for rule in spec.error5xx] == [("s3", 0.1)]
    assert spec.seed == 42


def test_service_aliases_and_latency_units() -> None:
    spec = parse_spec("latency:30ms;stepfunctions:0.5s;sfn.GetActivityTask:2s")
    assert [(str(rule.target), rule.value) for rule in spec.latency] == [
        ("all", 0.03),
        ("states", 0.5),
        ("states.GetActivityTask", 2.0),
    ]


def test_kill_items() -> None:
    spec = parse_spec("kill:gluerunner:after:glue.StartJobRun#2;ons3objectcreated:before:any")
    first, second = spec.kills
    assert (first.function, first.when, first.target, first.nth) == (
        "gluerunner",
        "after",
        Target("glue", "StartJobRun"),
        2,
    )
    assert (second.function, second.when, second.target, second.nth) == (
        "ons3objectcreated",
        "before",
        Target(),
        1,
    )
    assert first.matches_function("gluerunner", "gluerunner.handler")
    assert first.matches_function("MyRunner", "gluerunner.handler")  # by handler module
    assert not first.matches_function("athenarunner", "athenarunner.handler")
    assert spec.enabled and not spec.server_side


def test_the_most_specific_rule_wins() -> None:
    spec = parse_spec("throttle:0.1;dynamodb:0.2;dynamodb.PutItem:0.3")
    assert faults._most_specific(spec.throttle, "dynamodb", "PutItem").value == 0.3
    assert faults._most_specific(spec.throttle, "dynamodb", "Query").value == 0.2
    assert faults._most_specific(spec.throttle, "s3", "PutObject").value == 0.1


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("throttle:1.5", "'1.5' is not between 0 and 1"),
        ("throttle:abc", "not a fraction"),
        ("throttle:dynamo:0.1", "unknown service 'dynamo'"),
        ("throttle:dynamodb.:0.1", "an operation name must follow"),
        ("throttle:dynamodb.Put-Item:0.1", "not an operation name"),
        ("throttle:0.1;throttle:0.2", "throttle for all is given twice"),
        ("latency:30", "not a duration"),
        ("latency:-5ms", "not a duration"),
        ("kill:gluerunner:after", "a kill is function:before|after:call"),
        ("kill:gluerunner:during:any", "'during' must be 'before' or 'after'"),
        ("kill:gluerunner:after:glue.StartJobRun#0", "#0 must be a call number"),
        ("seed:x", "the seed is an integer"),
        ("0.2", "start with a kind"),
        ("slow:0.2", "start with a kind"),
        ("seed:1;2", "start with a kind"),
        # Vacuous or absurd: refused rather than run for nothing, or for ever.
        (" ; ", "an empty item"),
        ("throttle:0.1;;", "an empty item"),
        ("throttle:0.1;", "an empty item"),
        ("seed:1", "it injects nothing"),
        ("latency:99999s", "more than 10 s"),
        ("latency:s3:11s", "more than 10 s"),
    ],
)
def test_bad_specs_fail_with_one_line_naming_the_item(spec: str, names: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_spec(spec)
    message = str(caught.value)
    assert "\n" not in message
    assert names in message, message
    assert message.startswith("bad fault item '")
    assert message.endswith("(see README.md, section Fault mode for the syntax)")


def test_a_latency_up_to_the_limit_is_kept() -> None:
    assert parse_spec("latency:10s").latency[0].value == 10.0


def _tagged(tag: str, operation: str = "PutItem") -> faults.Call:
    return faults.Call("dynamodb", operation, "json", tag)


def test_a_seeded_draw_depends_on_the_call_not_on_the_order_calls_arrive(tmp_path) -> None:
    calls = [_tagged(f"gluerunner|PutItem|{n}|{attempt}") for n in range(1, 6) for attempt in (1, 2)]
    spec = parse_spec("throttle:0.5;seed:3")

    def verdicts(order: list[faults.Call]) -> dict[str, str | None]:
        injector = faults.FaultInjector(spec, tmp_path / f"state-{len(order)}-{order[0].tag}")
        return {call.tag: injector.decide(call)[1] for call in order}

    forward = verdicts(calls)
    assert forward == verdicts(list(reversed(calls))) == verdicts(calls[3:] + calls[:3])
    assert set(forward.values()) == {None, "throttle"}
    # Another seed draws otherwise (the seed is part of every draw).
    other = faults.FaultInjector(parse_spec("throttle:0.5;seed:4"), tmp_path / "other")
    assert {call.tag: other.decide(call)[1] for call in calls} != forward


def test_untagged_calls_draw_by_their_number_among_their_operation(tmp_path) -> None:
    spec = parse_spec("throttle:0.5;seed:3")
    first = faults.FaultInjector(spec, tmp_path / "a")
    second = faults.FaultInjector(spec, tmp_path / "b")
    gets = [first.decide(_tagged("", "GetItem"))[1] for _ in range(8)]
    # The second run makes other calls in between: the GetItem draws stay the same.
    mixed = []
    for _ in range(8):
        second.decide(_tagged("", "Query"))
        mixed.append(second.decide(_tagged("", "GetItem"))[1])
    assert gets == mixed


def test_a_kill_only_mode_counts_the_calls_it_saw_and_names_the_kills_that_never_fired(
    local_aws, aws_client, fault_mode
) -> None:
    injector = fault_mode("kill:nosuchfunction:before:any")
    for _ in range(3):
        _client(aws_client, "stepfunctions").list_activities()
    report = injector.report()
    assert report["calls_seen"] >= 3
    assert report["kills"]["unfired"] == ["kill:nosuchfunction:before:any"]


def test_kills_that_name_no_deployed_function_are_found_before_the_run() -> None:
    spec = parse_spec("kill:gluerunner:after:any;kill:nosuchfn:after:any;kill:wait_release:before:any")
    deployed = [("gluerunner", "gluerunner.handler"), ("ons3objectcreated", "wait_release.handler")]
    assert faults.unknown_kill_functions(spec, deployed) == ["kill:nosuchfn:after:any"]


def test_a_bad_spec_in_the_environment_stops_the_endpoint_from_starting(monkeypatch) -> None:
    from localaws.server import LocalAws

    monkeypatch.setenv(faults.ENV_VAR, "throttle:2")
    server = LocalAws()
    with pytest.raises(FaultSpecError, match="throttle:2"):
        server.start()
    assert server._server is None


# --- server side: what boto3 sees -----------------------------------------------------------------------


@pytest.fixture
def fault_mode(local_aws: LocalAwsContext) -> Iterator[Callable[[str], faults.FaultInjector]]:
    """``fault_mode("throttle:s3:1")`` turns the session endpoint's fault mode on for this test."""

    def turn_on(spec: str) -> faults.FaultInjector:
        injector = faults.configure(local_aws, spec)
        assert injector is not None
        return injector

    yield turn_on
    faults.configure(local_aws, "")
    awslambda.runtime().stop()  # workers started with this test's kills must not serve other tests


def _client(aws_client: Callable[..., Any], service: str, **retries: Any) -> Any:
    """A client that sees every error: no retries unless asked for."""
    return aws_client(service, retries=retries or {"total_max_attempts": 1})


def _error(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_dynamodb_item_calls_get_provisioned_throughput_exceeded(
    local_aws, aws_client, fault_mode, unique_name
) -> None:
    dynamodb = _client(aws_client, "dynamodb")
    table = unique_name("faults")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    injector = fault_mode("throttle:dynamodb:1")
    put = lambda: dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}})  # noqa: E731
    assert _error(put) == ("ProvisionedThroughputExceededException", 400)
    assert _error(lambda: dynamodb.list_tables()) == ("ThrottlingException", 400)  # control plane
    assert injector.report()["by_call"]["throttle"] == {"dynamodb.PutItem": 1, "dynamodb.ListTables": 1}
    faults.configure(local_aws, "")
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"id": {"S": "a"}})  # never reached moto


def test_step_functions_calls_get_throttling_exception(local_aws, aws_client, fault_mode) -> None:
    sfn = _client(aws_client, "stepfunctions")
    fault_mode("throttle:states.ListActivities:1")
    assert _error(lambda: sfn.list_activities()) == ("ThrottlingException", 400)
    sfn.list_state_machines()  # another operation: untouched


def test_s3_calls_get_slow_down_and_head_gets_503(local_aws, aws_client, fault_mode, unique_name) -> None:
    s3 = _client(aws_client, "s3")
    bucket = unique_name("faults").lower()
    s3.create_bucket(Bucket=bucket)
    injector = fault_mode("throttle:s3:1")
    assert _error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x")) == ("SlowDown", 503)
    code, status = _error(lambda: s3.head_object(Bucket=bucket, Key="k"))
    assert status == 503, code  # HEAD has no body: botocore only has the status
    assert set(injector.report()["by_call"]["throttle"]) == {"s3.PutObject", "s3.HeadObject"}


def test_query_protocol_calls_get_throttling_in_xml(local_aws, aws_client, fault_mode) -> None:
    cloudformation = _client(aws_client, "cloudformation")
    injector = fault_mode("throttle:cloudformation.ListStacks:1")
    assert _error(lambda: cloudformation.list_stacks()) == ("Throttling", 400)
    cloudformation.describe_stacks()  # the Action was read from the body and given back to moto intact
    assert injector.report()["by_call"]["throttle"] == {"cloudformation.ListStacks": 1}


@pytest.mark.parametrize(
    ("service", "call", "expected"),
    [
        ("dynamodb", lambda client: client.list_tables(), ("InternalServerError", 500)),
        ("stepfunctions", lambda client: client.list_activities(), ("InternalFailure", 500)),
        ("s3", lambda client: client.list_buckets(), ("InternalError", 500)),
        ("cloudformation", lambda client: client.list_stacks(), ("InternalFailure", 500)),
    ],
)
def test_error5xx_answers_a_retryable_server_error(
    local_aws, aws_client, fault_mode, service, call, expected
) -> None:
    client = _client(aws_client, service)
    fault_mode(f"error5xx:{faults.SERVICE_ALIASES.get(service, service)}:1")
    assert _error(lambda: call(client)) == expected


@pytest.mark.parametrize("mode", ["standard", "legacy"])
def test_retrying_clients_get_through_a_partial_throttle(local_aws, aws_client, fault_mode, mode) -> None:
    sfn = _client(aws_client, "stepfunctions", mode=mode, max_attempts=10)
    injector = fault_mode("throttle:states.ListActivities:0.4;seed:3")
    for _ in range(6):
        sfn.list_activities()
    throttled = injector.report()["by_call"].get("throttle", {}).get("states.ListActivities", 0)
    assert throttled > 0, "the seed drew no throttle: pick another seed"
    assert injector.report()["calls_seen"] == 6 + throttled  # each throttled attempt was retried once more


def test_seeded_draws_repeat(local_aws, aws_client, fault_mode) -> None:
    sfn = _client(aws_client, "stepfunctions")

    def outcomes() -> list[str]:
        fault_mode("throttle:states.ListActivities:0.5;seed:5")
        seen = []
        for _ in range(12):
            try:
                sfn.list_activities()
                seen.append("ok")
            except ClientError as exc:
                seen.append(exc.response["Error"]["Code"])
        return seen

    first = outcomes()
    assert first == outcomes()
    assert {"ok", "ThrottlingException"} == set(first)


def test_latency_is_added_to_matching_calls_only(local_aws, aws_client, fault_mode) -> None:
    sfn = _client(aws_client, "stepfunctions")
    injector = fault_mode("latency:states.ListActivities:300ms")
    began = time.monotonic()
    sfn.list_activities()
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    sfn.list_state_machines()
    assert time.monotonic() - began < 0.3
    assert injector.report()["by_call"]["latency"] == {"states.ListActivities": 1}


def test_the_endpoints_own_staging_clients_are_never_faulted(local_aws, aws_client, fault_mode) -> None:
    from localaws.runtime import catalog_staging

    fault_mode("throttle:s3:1")
    internal = catalog_staging.make_client("s3", local_aws.endpoint_url, local_aws.region)
    internal.list_buckets()  # would be SlowDown without INTERNAL_HEADER
    assert _error(lambda: _client(aws_client, "s3").list_buckets()) == ("SlowDown", 503)


# --- Lambda side: a worker killed at a chosen call --------------------------------------------------------

TWO_CALLS = """
import os
import boto3


def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key=event["run"] + "/first", Body=b"1")
    s3.put_object(Bucket=event["bucket"], Key=event["run"] + "/second", Body=b"2")
    return {"pid": os.getpid(), "env_has_kills": "LOCALAWS_FAULTS_KILLS" in os.environ}
"""


@pytest.fixture(scope="module")
def two_calls_function(aws_client) -> tuple[str, str]:
    """A function that makes two S3 calls in order: PutObject <run>/first, then PutObject <run>/second."""
    iam, lam, s3 = aws_client("iam"), aws_client("lambda"), aws_client("s3")
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    suffix = str(time.time_ns())
    role = iam.create_role(RoleName=f"faults-test-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))
    writes = {  # its role may write the objects it puts (the endpoint enforces IAM)
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::faults-kill-{suffix}/*"}
        ],
    }
    iam.put_role_policy(
        RoleName=f"faults-test-{suffix}", PolicyName="writes", PolicyDocument=json.dumps(writes)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("twocalls.py", TWO_CALLS)
    name = f"twocalls-{suffix}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="twocalls.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )
    bucket = f"faults-kill-{suffix}"
    s3.create_bucket(Bucket=bucket)
    return name, bucket


def _invoke(aws_client, name: str, event: dict[str, str]) -> tuple[dict[str, Any], Any]:
    response = aws_client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read() or b"null")


def _keys(aws_client, bucket: str, run: str) -> list[str]:
    listed = aws_client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{run}/").get("Contents", [])
    return sorted(item["Key"].split("/", 1)[1] for item in listed)


@pytest.mark.parametrize(
    ("kill", "done_before_the_kill"),
    [
        ("before:any", []),
        ("before:s3.PutObject#1", []),
        ("after:s3.PutObject#1", ["first"]),
        ("before:s3.PutObject#2", ["first"]),
        ("after:s3#2", ["first", "second"]),
    ],
)
def test_a_kill_ends_the_worker_at_the_chosen_call_once(
    local_aws, aws_client, fault_mode, two_calls_function, kill, done_before_the_kill
) -> None:
    name, bucket = two_calls_function
    injector = fault_mode(f"kill:twocalls:{kill}")
    run = f"run-{time.time_ns()}"
    response, payload = _invoke(aws_client, name, {"bucket": bucket, "run": run})
    assert response.get("FunctionError") == "Unhandled", payload
    assert payload["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in payload["errorMessage"]
    assert _keys(aws_client, bucket, run) == done_before_the_kill
    (fired,) = injector.report()["kills"]["fired"]
    assert fired["kill"] == f"kill:twocalls:{kill}"
    assert fired["function"] == name and fired["when"] == kill.split(":")[0]
    assert fired["call"] == "s3.PutObject"
    assert fired["request_id"]  # the killed invocation's

    # Once per spec: the next invocation (a fresh worker) runs to the end.
    again = f"run-{time.time_ns()}"
    response, payload = _invoke(aws_client, name, {"bucket": bucket, "run": again})
    assert "FunctionError" not in response, payload
    assert payload["env_has_kills"] is False  # the bootstrap takes its settings out of the function's sight
    assert _keys(aws_client, bucket, again) == ["first", "second"]


def test_a_worker_warm_before_the_fault_mode_does_not_serve_under_it(
    local_aws, aws_client, fault_mode, two_calls_function
) -> None:
    """A fault mode set while a worker is warm: the next invocation runs on a new worker that has the kills.
    (The fault matrix sets each point's kills just before its run; a worker warmed in between by a schedule
    ran on without them, and the point was skipped as "kill not fired".)"""
    name, bucket = two_calls_function
    warm = f"run-{time.time_ns()}"
    response, payload = _invoke(aws_client, name, {"bucket": bucket, "run": warm})
    assert "FunctionError" not in response, payload
    injector = fault_mode("kill:twocalls:before:any")
    response, payload = _invoke(aws_client, name, {"bucket": bucket, "run": f"run-{time.time_ns()}"})
    assert payload.get("errorType") == "Runtime.ExitError", payload
    assert [fired["kill"] for fired in injector.report()["kills"]["fired"]] == ["kill:twocalls:before:any"]


def test_a_kill_for_another_function_leaves_this_one_alone(
    local_aws, aws_client, fault_mode, two_calls_function
):
    name, bucket = two_calls_function
    injector = fault_mode("kill:gluerunner:before:any")
    run = f"run-{time.time_ns()}"
    response, payload = _invoke(aws_client, name, {"bucket": bucket, "run": run})
    assert "FunctionError" not in response, payload
    assert _keys(aws_client, bucket, run) == ["first", "second"]
    assert injector.report()["kills"]["fired"] == []


def test_worker_environment_carries_only_this_functions_kills(local_aws) -> None:
    ctx = LocalAwsContext(endpoint_url=local_aws.endpoint_url, work_dir=local_aws.work_dir, faults="")
    assert faults.worker_environment(ctx, "gluerunner", "gluerunner.handler") == {}
    ctx.faults = "throttle:0.5"
    assert faults.worker_environment(ctx, "gluerunner", "gluerunner.handler") == {}  # unseeded: no tags
    ctx.faults = "throttle:0.5;seed:2"
    assert faults.worker_environment(ctx, "gluerunner", "gluerunner.handler") == {faults.WORKER_TAG_ENV: "1"}
    ctx.faults = "throttle:0.5;kill:gluerunner:after:glue.StartJobRun;athenarunner:before:any"
    env = faults.worker_environment(ctx, "gluerunner", "gluerunner.handler")
    (kill,) = json.loads(env[faults.WORKER_KILLS_ENV])
    assert (kill["when"], kill["service"], kill["operation"], kill["nth"]) == (
        "after",
        "glue",
        "startjobrun",
        1,
    )
    assert env[faults.WORKER_STATE_ENV] == str(faults.state_dir(ctx))


LISTS = """
import boto3
from botocore.config import Config


def handler(event, context):
    # One attempt per call (botocore's "max_attempts" counts retries): each call is one draw.
    sfn = boto3.client("stepfunctions", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    seen = []
    for _ in range(6):
        try:
            sfn.list_activities()
            seen.append("ok")
        except sfn.exceptions.ClientError as exc:
            seen.append(exc.response["Error"]["Code"])
    return seen
"""


def test_a_seeded_worker_s_calls_get_the_same_faults_in_every_invocation(
    local_aws, aws_client, fault_mode, two_calls_function
) -> None:
    """The worker tags each call (function, operation, number, attempt), so the draws repeat whatever
    other calls the endpoint serves between them."""
    name, _ = two_calls_function
    lam, iam = aws_client("lambda"), aws_client("iam")
    role = lam.get_function_configuration(FunctionName=name)["Role"]
    lists = {  # its role may list activities (the endpoint enforces IAM)
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "states:ListActivities", "Resource": "*"}],
    }
    iam.put_role_policy(
        RoleName=role.rsplit("/", 1)[-1], PolicyName="lists", PolicyDocument=json.dumps(lists)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lists.py", LISTS)
    # A fixed name: the draws depend on it, and with seed 11 this one's six calls draw both answers.
    lists = "lists-seeded-draws"
    lam.create_function(
        FunctionName=lists,
        Runtime="python3.13",
        Role=role,
        Handler="lists.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )
    fault_mode("throttle:states.ListActivities:0.5;seed:11")
    awslambda.runtime().stop()  # workers started before the seeded mode do not tag their calls
    first = _invoke(aws_client, lists, {})[1]
    for _ in range(3):  # untagged calls in between, throttled or not
        with contextlib.suppress(ClientError):
            _client(aws_client, "stepfunctions").list_activities()
    second = _invoke(aws_client, lists, {})[1]
    assert first == second, (first, second)
    assert set(first) == {"ok", "ThrottlingException"}, first


def test_a_lambda_retry_of_an_event_tags_its_calls_anew(monkeypatch) -> None:
    """Seeded draws follow the call; Lambda's retry of an asynchronous event is a new attempt, whose calls
    draw anew (the same draws made every retry fail as the first did: with throttle:dynamodb:0.6;seed:4 an
    upload was never recorded, where on AWS each attempt's throttles are independent)."""
    from types import SimpleNamespace

    from localaws.runtime.lambda_process import _KillSwitch

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ons3objectcreated")
    switch = _KillSwitch([], "", tag_calls=True)
    tags = []
    for attempt in (1, 2, 1):
        switch.new_invocation(attempt)
        context: dict = {}
        switch.number_call(model=SimpleNamespace(name="UpdateItem"), context=context)
        tags.append(context["localaws_call"])
    assert tags == ["ons3objectcreated|UpdateItem|1", "ons3objectcreated~2|UpdateItem|1", tags[0]]
