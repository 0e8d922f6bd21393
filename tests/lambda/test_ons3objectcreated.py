"""ons3objectcreated: every upload of an expected object releases exactly one wait task.

DynamoDB (the arrivals table) is moto's; Step Functions is stubbed, so every GetActivityTask, SendTaskSuccess
and SendTaskFailure is asserted with its parameters, and a call the test did not queue fails the test. Each
test touches one expected object per invocation, so the handler's parallel releases keep the call order.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import arrival_store
import boto3
import ons3objectcreated
import pytest
import wait_release
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber
from lambda_support import ACCOUNT, REGION, FakeContext, FakeEvents, JsonMatching, contains

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ons3objectcreated"
BUCKET = "etl-data"
TABLE = "WaitForDataArrivals"
SALES_KEY = "sales/SalesPipeline_QuickSightSample.csv"
MARKETING_KEY = "marketing/MarketingData_QuickSightSample.csv"
SALES = f"s3://{BUCKET}/{SALES_KEY}"
MARKETING = f"s3://{BUCKET}/{MARKETING_KEY}"
SALES_ACTIVITY = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:{BUCKET}-SalesPipeline_QuickSightSample.csv"
MARKETING_ACTIVITY = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:{BUCKET}-MarketingData_QuickSightSample.csv"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:MarketingAndSalesETLOrchestrator:run-1"


@pytest.fixture
def arrivals(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The arrivals table in moto and the function's environment, as the template sets them."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "s3_object", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "s3_object", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("WAIT_ACTIVITIES", json.dumps({SALES: SALES_ACTIVITY, MARKETING: MARKETING_ACTIVITY}))
    monkeypatch.setenv("ARRIVALS_TABLE", TABLE)
    monkeypatch.setenv("WAIT_HEARTBEAT_SECONDS", "300")
    monkeypatch.setattr(wait_release, "pause", lambda seconds: None)
    return TABLE


@pytest.fixture
def stub(sfn: tuple[Any, Stubber], arrivals: str) -> Stubber:
    return sfn[1]


def record(
    key: str, sequencer: str, etag: str = "e1", version: str | None = None, bucket: str = BUCKET
) -> dict:
    obj: dict[str, Any] = {"key": key, "size": 10, "eTag": etag, "sequencer": sequencer}
    if version:
        obj["versionId"] = version
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": "2025-01-01T00:00:00.000Z",
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }


SCHEDULED = {
    "version": "0",
    "id": "1",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": ACCOUNT,
    "time": "2025-01-01T00:01:00Z",
    "region": REGION,
    "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/sweep"],
    "detail": {},
}


def handle(sfn: tuple[Any, Stubber], event: dict[str, Any], events: Any = None) -> dict[str, Any]:
    context = FakeContext(invoked_function_arn=FUNCTION_ARN)
    return ons3objectcreated.handler(event, context, sfn=sfn[0], events=events or FakeEvents())


def on_upload(sfn: tuple[Any, Stubber], *records: dict[str, Any]) -> dict[str, Any]:
    return handle(sfn, {"Records": list(records)})


def sweep(sfn: tuple[Any, Stubber]) -> dict[str, Any]:
    return handle(sfn, SCHEDULED)


def task_input(key: str = SALES_KEY, bucket: str = BUCKET) -> str:
    return json.dumps({"ExpectedS3Bucket": bucket, "ExpectedS3Key": key, "ExecutionArn": EXECUTION})


def poll(activity: str = SALES_ACTIVITY) -> dict[str, str]:
    return {"activityArn": activity, "workerName": "ons3objectcreated"}


def expect_task(stub: Stubber, token: str, activity: str = SALES_ACTIVITY, key: str = SALES_KEY) -> None:
    stub.add_response("get_activity_task", {"taskToken": token, "input": task_input(key)}, poll(activity))


def expect_no_task(stub: Stubber, activity: str = SALES_ACTIVITY) -> None:
    stub.add_response("get_activity_task", {}, poll(activity))


def sent(token: str, sequencer: str, etag: str = "e1", key: str = SALES_KEY) -> dict[str, Any]:
    activity = SALES_ACTIVITY if key == SALES_KEY else MARKETING_ACTIVITY
    output = {
        "S3BucketName": BUCKET,
        "S3Key": key,
        "SFNActivityArn": activity,
        "S3VersionId": None,
        "S3ETag": etag,
        "S3Sequencer": arrival_store.normalize_sequencer(sequencer),
    }
    return {"taskToken": token, "output": JsonMatching(output)}


def expect_release(stub: Stubber, token: str, sequencer: str, etag: str = "e1") -> None:
    stub.add_response("send_task_success", {}, sent(token, sequencer, etag))


def pending(s3_object: str = SALES) -> list[str]:
    """The sequencers of the uploads pending for the object, oldest first."""
    store = arrival_store.ArrivalStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    return [upload.sequencer for upload in store.get(s3_object).pending_uploads]


def item(s3_object: str = SALES) -> dict[str, Any]:
    raw = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"s3_object": {"S": s3_object}}, ConsistentRead=True
    )
    return {k: next(iter(v.values())) for k, v in raw.get("Item", {}).items()}


def statuses(result: dict[str, Any], part: str) -> list[str]:
    return [r["status"] for r in result[part]]


# --- every upload counts: upload before the wait, then the sweep releases it ------------------------------


def test_upload_before_the_wait_is_kept_and_the_sweep_releases_it(sfn, stub):
    expect_no_task(stub)
    first = on_upload(sfn, record(SALES_KEY, "0A1"))
    assert statuses(first, "records") == ["recorded"] and statuses(first, "releases") == ["no-waiting-task"]
    assert pending() == [arrival_store.normalize_sequencer("0A1")]

    expect_task(stub, "T1")
    expect_release(stub, "T1", "0A1")
    result = sweep(sfn)

    assert statuses(result, "sweep") == ["released"]
    assert result["sweep"][0]["execution"] == EXECUTION
    stored = item()
    assert pending() == [] and "claimed_token" not in stored
    assert stored["consumed_sequencer"] == arrival_store.normalize_sequencer("0A1")
    assert stored["consumed_execution"] == EXECUTION


def test_sweep_with_nothing_pending_polls_nothing(sfn, stub):
    assert sweep(sfn) == {"sweep": []}


EXECUTION_STARTED = {
    "source": "aws.states",
    "detail-type": "Step Functions Execution Status Change",
    "detail": {"status": "RUNNING", "executionArn": EXECUTION},
}
TASK_ANSWERED = {"source": "etl-orchestrator", "detail-type": "ETL Task Answered", "detail": {"answered": 1}}


@pytest.mark.parametrize(
    "event", [EXECUTION_STARTED, TASK_ANSWERED], ids=["execution-started", "task-answered"]
)
def test_an_upload_that_came_first_is_released_when_a_wait_may_have_begun(sfn, stub, event):
    """An execution started, or a task was answered: a wait may have begun. The sweep releases it at once,
    and the release nudges the runners (the next state, e.g. PSD, is theirs)."""
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "0A1"))
    expect_task(stub, "T1")
    expect_release(stub, "T1", "0A1")
    events = FakeEvents()

    result = handle(sfn, event, events)

    assert statuses(result, "sweep") == ["released"]
    (nudge,) = events.entries
    assert (nudge["Source"], nudge["DetailType"]) == ("etl-orchestrator", "ETL Task Answered")
    detail = {"sender": "ons3objectcreated", "activityArn": SALES_ACTIVITY, "answered": 1}
    assert json.loads(nudge["Detail"]) == detail


def test_an_execution_that_ended_is_not_a_sweep(sfn, stub):
    ended = {**EXECUTION_STARTED, "detail": {"status": "SUCCEEDED"}}
    assert handle(sfn, ended) == {"status": "unrecognised-event"}


def test_no_release_no_nudge(sfn, stub):
    events = FakeEvents()
    expect_no_task(stub)
    on_upload_result = handle(sfn, {"Records": [record(SALES_KEY, "0A1")]}, events)
    assert statuses(on_upload_result, "releases") == ["no-waiting-task"] and events.entries == []


def test_athena_results_are_skipped_quietly(sfn, stub, monkeypatch, caplog):
    monkeypatch.setenv("QUIET_PREFIXES", "athena-results/")
    with caplog.at_level(logging.INFO, logger="ons3objectcreated"):
        result = on_upload(sfn, record("athena-results/abc.csv", "01"))
    assert statuses(result, "records") == ["ignored"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_upload_while_a_task_waits_releases_it_at_once(sfn, stub):
    expect_task(stub, "T1")
    expect_release(stub, "T1", "0A1")
    result = on_upload(sfn, record(SALES_KEY, "0A1"))
    assert statuses(result, "releases") == ["released"]
    assert result["releases"][0]["output"]["S3Key"] == SALES_KEY


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [("sales/Sales+Pipeline.csv", "sales/Sales Pipeline.csv"), ("sales/caf%C3%A9.csv", "sales/café.csv")],
)
def test_keys_are_url_decoded_before_matching(sfn, stub, monkeypatch, encoded, decoded):
    monkeypatch.setenv("WAIT_ACTIVITIES", json.dumps({f"s3://{BUCKET}/{decoded}": SALES_ACTIVITY}))
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": task_input(decoded)}, poll())
    stub.add_response("send_task_success", {}, {"taskToken": "T1", "output": JsonMatching({}, False)})
    result = on_upload(sfn, record(encoded, "01"))
    assert result["records"][0]["key"] == decoded and statuses(result, "releases") == ["released"]


# --- exactly once: duplicates, older and newer uploads ------------------------------------------------------


def test_a_duplicate_delivery_never_releases_a_second_wait(sfn, stub):
    expect_task(stub, "T1")
    expect_release(stub, "T1", "0A1")
    assert statuses(on_upload(sfn, record(SALES_KEY, "0A1")), "releases") == ["released"]

    # Same event again (S3 delivers at least once): nothing is polled, nothing released.
    again = on_upload(sfn, record(SALES_KEY, "0a1"))
    assert statuses(again, "records") == ["duplicate"]
    assert statuses(again, "releases") == ["nothing-pending"]
    assert sweep(sfn) == {"sweep": []}


def test_the_same_version_of_a_versioned_bucket_is_a_duplicate(sfn, stub):
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "0A1", version="v1"))
    expect_no_task(stub)
    assert statuses(on_upload(sfn, record(SALES_KEY, "0A2", version="v1")), "records") == ["duplicate"]
    assert pending() == [arrival_store.normalize_sequencer("0A1")]


def test_an_older_sequencer_arriving_later_does_not_replace_the_newer_one(sfn, stub):
    # "100" is newer than "FF": sequencers are compared after left-padding, not as raw strings.
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "100", etag="new"))
    expect_no_task(stub)
    late = on_upload(sfn, record(SALES_KEY, "FF", etag="old"))

    # Kept until its poll found no wait; then the newest upload supersedes it.
    assert statuses(late, "records") == ["recorded"]
    assert statuses(late, "releases") == ["no-waiting-task"] and "superseded" in late["releases"][0]["detail"]
    assert pending() == [arrival_store.normalize_sequencer("100")]
    expect_task(stub, "T1")
    expect_release(stub, "T1", "100", etag="new")
    assert statuses(sweep(sfn), "sweep") == ["released"]
    # ...and once "100" is consumed, the late "FF" still does not count.
    assert statuses(on_upload(sfn, record(SALES_KEY, "FF", etag="old")), "records") == ["superseded"]
    assert sweep(sfn) == {"sweep": []}


def test_a_newer_upload_replaces_a_pending_one_and_releases_one_wait(sfn, stub):
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "0A1", etag="first"))
    expect_no_task(stub)
    assert statuses(on_upload(sfn, record(SALES_KEY, "0B2", etag="second")), "records") == ["recorded"]

    expect_task(stub, "T1")
    expect_release(stub, "T1", "0B2", etag="second")
    assert statuses(sweep(sfn), "sweep") == ["released"]
    assert sweep(sfn) == {"sweep": []}, "the replaced upload must not release a second wait"


def test_two_uploads_while_two_executions_wait_release_both_oldest_upload_first(sfn, stub):
    """Two quick PUTs of one file, both recorded before either is released, while two executions wait:
    each upload releases one wait, the older upload the task polled first (the older execution's)."""
    store = arrival_store.ArrivalStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    for sequencer, etag in (("0A1", "first"), ("0B2", "second")):
        upload = arrival_store.Arrival(sequencer=arrival_store.normalize_sequencer(sequencer), etag=etag)
        assert store.record(SALES, SALES_ACTIVITY, upload) == "recorded"
    expect_task(stub, "T-older")
    expect_release(stub, "T-older", "0A1", etag="first")
    assert statuses(sweep(sfn), "sweep") == ["released"]
    assert pending() == [arrival_store.normalize_sequencer("0B2")]  # the second upload waits for its wait

    expect_task(stub, "T-newer")
    expect_release(stub, "T-newer", "0B2", etag="second")
    assert statuses(sweep(sfn), "sweep") == ["released"]
    assert pending() == [] and sweep(sfn) == {"sweep": []}


def test_a_release_waits_for_another_in_flight_and_takes_the_next_upload(arrivals):
    """Two invocations release at once: the second's claim finds the first's in flight; it waits for it to
    settle and claims the next upload, instead of giving its task back with one upload left over."""
    store = arrival_store.ArrivalStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    first = arrival_store.Arrival(sequencer=arrival_store.normalize_sequencer("01"), etag="a")
    second = arrival_store.Arrival(sequencer=arrival_store.normalize_sequencer("02"), etag="b")
    store.record(SALES, SALES_ACTIVITY, first)
    store.record(SALES, SALES_ACTIVITY, second)
    assert store.claim(SALES, "T1", first, EXECUTION, 100.0)  # the other invocation's release, in flight
    sent_outputs: list[str] = []

    class Sfn:
        def send_task_success(self, taskToken: str, output: str) -> None:  # noqa: N803
            sent_outputs.append(json.loads(output)["S3ETag"])

    def the_other_release_settles(seconds: float) -> None:
        claim = store.get(SALES).claim
        if claim is not None and claim.token == "T1":
            assert store.consume(SALES, claim, 101.0)

    releaser = wait_release.Releaser(
        store=store, sfn=Sfn(), settings=wait_release.ReleaseSettings(), sleep=the_other_release_settles
    )
    target = wait_release.WaitTarget(BUCKET, SALES_KEY, SALES_ACTIVITY)
    poll = store.poll_started(SALES, time.time())

    result = releaser._claim_and_send(target, "T2", first, EXECUTION, poll)

    assert result["status"] == "released" and sent_outputs == ["b"]
    assert pending() == [] and store.get(SALES).consumed_sequencer == second.sequencer


def test_a_re_send_racing_the_claimers_send_releases_the_wait_once_and_consumes_the_upload(arrivals):
    """A sweep finds a claim whose send is in flight and re-sends it; its send answers the task, so the
    claimer's own send is answered TaskTimedOut. The claimer must not give the claim up: the upload already
    released that wait, and left pending it would release the next execution's wait too (seen in the fault
    matrix: a wait released before its own upload, and that upload left over)."""
    store = arrival_store.ArrivalStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    upload = arrival_store.Arrival(sequencer=arrival_store.normalize_sequencer("0A1"), etag="a")
    store.record(SALES, SALES_ACTIVITY, upload)
    target = wait_release.WaitTarget(BUCKET, SALES_KEY, SALES_ACTIVITY)
    open_tokens = {"T1"}
    released: list[str] = []

    class Sfn:
        def __init__(self, before_answer: Any = None) -> None:
            self.before_answer = before_answer

        def send_task_success(self, taskToken: str, output: str) -> None:  # noqa: N803
            if self.before_answer is not None:
                before, self.before_answer = self.before_answer, None
                before()
            if taskToken not in open_tokens:
                raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "closed"}}, "SendTaskSuccess")
            open_tokens.discard(taskToken)
            released.append(json.loads(output)["S3Sequencer"])

    def a_sweep_re_sends_the_claim() -> None:
        sweeper = wait_release.Releaser(store=store, sfn=Sfn(), settings=wait_release.ReleaseSettings())
        assert sweeper.release(target)["status"] == "released"

    claimer = wait_release.Releaser(
        store=store,
        sfn=Sfn(before_answer=a_sweep_re_sends_the_claim),
        settings=wait_release.ReleaseSettings(),
    )
    poll = store.poll_started(SALES, time.time())

    result = claimer._claim_and_send(target, "T1", upload, EXECUTION, poll)

    assert released == [upload.sequencer], "the wait was released once"
    assert result["status"] == "released-earlier", result
    assert pending() == [], "the upload that released the wait is not left for the next execution"
    assert store.get(SALES).consumed_sequencer == upload.sequencer and store.get(SALES).claim is None


def test_an_upload_during_a_release_stays_pending_for_the_next_wait(arrivals):
    store = arrival_store.ArrivalStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    first = arrival_store.Arrival(sequencer=arrival_store.normalize_sequencer("01"), etag="a")
    second = arrival_store.Arrival(sequencer=arrival_store.normalize_sequencer("02"), etag="b")
    store.record(SALES, SALES_ACTIVITY, first)
    assert store.claim(SALES, "T1", first, EXECUTION, 100.0)
    assert store.record(SALES, SALES_ACTIVITY, second) == "recorded"
    claim = store.get(SALES).claim
    assert claim is not None and claim.arrival == first

    assert store.consume(SALES, claim, 101.0)

    after = store.get(SALES)
    assert after.claim is None and after.pending == second and after.consumed_sequencer == first.sequencer


# --- a claimed task is never lost -----------------------------------------------------------------------


def throttled(stub: Stubber, token: str, sequencer: str, times: int = 3) -> None:
    for _ in range(times):
        stub.add_client_error(
            "send_task_success",
            "ThrottlingException",
            "slow down",
            400,
            expected_params=sent(token, sequencer),
        )


def test_a_failing_send_keeps_the_token_and_the_next_attempt_resends_to_it(sfn, stub):
    expect_task(stub, "T1")
    throttled(stub, "T1", "0A1")
    with pytest.raises(RuntimeError, match="send-failed"):
        on_upload(sfn, record(SALES_KEY, "0A1"))
    stored = item()
    assert stored["claimed_token"] == "T1" and pending()
    assert "send_attempt_at" not in stored, "every attempt was refused: none can have reached the task"

    # The retry of the S3 event (or the sweep) answers the stored token first, without polling.
    expect_release(stub, "T1", "0A1")
    result = on_upload(sfn, record(SALES_KEY, "0A1"))

    assert statuses(result, "records") == ["duplicate"] and statuses(result, "releases") == ["released"]
    assert "claimed_token" not in item() and pending() == []


def test_a_token_gone_after_refused_sends_polls_a_fresh_task(sfn, stub):
    expect_task(stub, "T1")
    throttled(stub, "T1", "0A1")
    with pytest.raises(RuntimeError):
        on_upload(sfn, record(SALES_KEY, "0A1"))

    stub.add_client_error(
        "send_task_success", "TaskTimedOut", "closed", 400, expected_params=sent("T1", "0A1")
    )
    expect_task(stub, "T2")
    expect_release(stub, "T2", "0A1")
    assert statuses(sweep(sfn), "sweep") == ["released"]
    assert "claimed_token" not in item()


def test_a_crash_after_the_send_before_the_consumed_mark_does_not_release_twice(sfn, stub, monkeypatch):
    expect_task(stub, "T1")
    expect_release(stub, "T1", "0A1")

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("Lambda runtime ended the invocation")

    with monkeypatch.context() as patch:
        patch.setattr(arrival_store.ArrivalStore, "consume", crash)
        with pytest.raises(RuntimeError, match="Lambda runtime ended"):
            on_upload(sfn, record(SALES_KEY, "0A1"))
    assert item()["claimed_token"] == "T1" and "send_attempt_at" in item()

    # The task was released: its token is gone. No GetActivityTask is queued, so a poll would fail the test.
    stub.add_client_error(
        "send_task_success", "TaskTimedOut", "closed", 400, expected_params=sent("T1", "0A1")
    )
    result = sweep(sfn)

    assert statuses(result, "sweep") == ["released-earlier"]
    assert "cannot have timed out" in result["sweep"][0]["detail"]
    assert item()["consumed_sequencer"] == arrival_store.normalize_sequencer("0A1")
    assert sweep(sfn) == {"sweep": []}


def test_a_hidden_botocore_retry_before_a_gone_answer_counts_as_released(sfn, stub):
    expect_task(stub, "T1")
    stub.add_client_error(
        "send_task_success",
        "TaskTimedOut",
        "closed",
        400,
        response_meta={"RetryAttempts": 1},
        expected_params=sent("T1", "0A1"),
    )
    result = on_upload(sfn, record(SALES_KEY, "0A1"))
    assert statuses(result, "releases") == ["released-earlier"]
    assert sweep(sfn) == {"sweep": []}


def test_a_task_gone_before_any_send_applied_keeps_the_upload(sfn, stub):
    expect_task(stub, "T1")
    stub.add_client_error(
        "send_task_success", "TaskTimedOut", "closed", 400, expected_params=sent("T1", "0A1")
    )
    result = on_upload(sfn, record(SALES_KEY, "0A1"))
    assert statuses(result, "releases") == ["task-gone"]
    assert "claimed_token" not in item() and pending()


@pytest.mark.parametrize(
    ("age", "text"), [(10, "cannot have timed out"), (900, "may instead have timed out")]
)
def test_the_ambiguous_release_says_how_sure_it_is(arrivals, age, text):
    ddb = boto3.client("dynamodb", region_name=REGION)
    store = arrival_store.ArrivalStore(ddb, TABLE)
    arrival = arrival_store.Arrival(sequencer=arrival_store.normalize_sequencer("01"))
    store.record(SALES, SALES_ACTIVITY, arrival)
    store.claim(SALES, "T1", arrival, None, 1000.0)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    with Stubber(sfn) as stubber:
        stubber.add_client_error("send_task_success", "TaskTimedOut", "closed", 400)
        releaser = wait_release.Releaser(store, sfn, wait_release.ReleaseSettings(), now=lambda: 1000.0 + age)
        result = releaser.release(wait_release.WaitTarget(BUCKET, SALES_KEY, SALES_ACTIVITY))
    assert result["status"] == "released-earlier" and text in result["detail"]


# --- only the configured key releases a wait -------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("sales/archive/2019/SalesPipeline_QuickSightSample.csv", "same file name as"),
        ("marketing/SalesPipeline_QuickSightSample.csv", "same file name as"),
        ("SalesPipeline_QuickSightSample.csv", "uploaded to the bucket's root; upload it as s3://"),
        (
            "incoming/other.csv",
            "not in marketing/ or sales/: a wait is released only by a file uploaded there",
        ),
        ("sales/notes.csv", "not an expected object"),
    ],
)
def test_other_keys_are_logged_with_the_reason_never_released_never_raised(sfn, stub, caplog, key, reason):
    with caplog.at_level(logging.INFO, logger="ons3objectcreated"):
        result = on_upload(sfn, record(key, "01"))
    assert statuses(result, "records") == ["unexpected-key"] and result["releases"] == []
    (line,) = [r.getMessage() for r in caplog.records if key in r.getMessage()]
    assert reason in line and SALES in line and MARKETING in line
    assert item() == {}


def test_another_bucket_with_the_expected_key_releases_nothing(sfn, stub):
    result = on_upload(sfn, record(SALES_KEY, "01", bucket="other-bucket"))
    assert statuses(result, "records") == ["unexpected-key"]


def test_a_mis_wired_task_is_failed_with_a_clear_cause_and_the_upload_stays(sfn, stub):
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": task_input(MARKETING_KEY)}, poll())
    cause = JsonMatching(
        {
            "ErrorMessage": lambda text: SALES in text and MARKETING_KEY in text,
            "ExpectedS3Bucket": BUCKET,
            "ExpectedS3Key": MARKETING_KEY,
            "ConfiguredS3Object": SALES,
            "SFNActivityArn": SALES_ACTIVITY,
        }
    )
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "WaitForData.MisWired", "cause": cause}
    )
    result = on_upload(sfn, record(SALES_KEY, "01"))
    assert statuses(result, "releases") == ["mis-wired"]
    assert pending() and "claimed_token" not in item()


def test_a_task_without_an_expected_key_is_failed_too(sfn, stub):
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": "{}"}, poll())
    stub.add_response(
        "send_task_failure",
        {},
        {"taskToken": "T1", "error": "WaitForData.MisWired", "cause": JsonMatching({}, exact_keys=False)},
    )
    assert statuses(on_upload(sfn, record(SALES_KEY, "01")), "releases") == ["mis-wired"]


# --- a task polled without an upload for it is given back at once -----------------------------------------


class UploadHandedOutDuringThePoll:
    """Step Functions as a release with a stale view sees it: while its long poll waited, another invocation
    claimed the pending upload for its own task and released it; then the poll got the next task (a later
    execution's wait), for which no upload is left."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_activity_task(self, **params: Any) -> dict[str, Any]:
        store = arrival_store.ArrivalStore(boto3.client("dynamodb", region_name=REGION), TABLE)
        pending = store.get(SALES).pending
        assert pending is not None and store.claim(SALES, "T1", pending, EXECUTION, 100.0)
        claim = store.get(SALES).claim
        assert claim is not None and store.consume(SALES, claim, 101.0)
        return self.client.get_activity_task(**params)


def requeued(token: str) -> dict[str, Any]:
    cause = JsonMatching(
        {
            "ErrorMessage": lambda text: "handed to another task" in text and "Retry" in text,
            "S3Object": SALES,
            "SFNActivityArn": SALES_ACTIVITY,
        }
    )
    return {"taskToken": token, "error": "WaitForData.Requeued", "cause": cause}


def test_a_task_polled_after_its_upload_was_handed_out_is_given_back_at_once(sfn, stub):
    """Held, the later execution's wait would sit until its heartbeat timed out (300 s) with nothing to
    release it; given back with the error its wait state retries, it waits again within a second."""
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "01"))
    expect_task(stub, "T2")
    stub.add_response("send_task_failure", {}, requeued("T2"))
    events = FakeEvents()

    result = handle((UploadHandedOutDuringThePoll(sfn[0]), sfn[1]), SCHEDULED, events)

    assert statuses(result, "sweep") == ["requeued"]
    assert "WaitForData.Requeued" in result["sweep"][0]["detail"]
    stored = item()
    assert "claimed_token" not in stored and pending() == []
    assert stored["consumed_sequencer"] == arrival_store.normalize_sequencer("01")
    assert events.entries == []  # nothing was released by this invocation: no nudge


def test_a_task_that_cannot_be_given_back_is_left_to_its_heartbeat_not_raised(sfn, stub, caplog):
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "01"))
    expect_task(stub, "T2")
    stub.add_client_error(
        "send_task_failure", "ThrottlingException", "slow down", 400, expected_params=requeued("T2")
    )

    with caplog.at_level(logging.WARNING, logger="ons3objectcreated"):
        result = handle((UploadHandedOutDuringThePoll(sfn[0]), sfn[1]), SCHEDULED)

    assert statuses(result, "sweep") == ["claim-lost"]
    assert "heartbeat times out after 300 s" in caplog.text and "ThrottlingException" in caplog.text


# --- bad input and configuration ------------------------------------------------------------------------


def test_bad_records_are_logged_once_and_not_raised(sfn, stub, caplog):
    no_sequencer = record(SALES_KEY, "01")
    del no_sequencer["s3"]["object"]["sequencer"]
    with caplog.at_level(logging.INFO, logger="ons3objectcreated"):
        result = on_upload(sfn, no_sequencer, {"eventSource": "aws:sqs"}, record(SALES_KEY, "xyz"))
    assert statuses(result, "records") == ["bad-record"] * 3
    assert "sequencer None is not a hex string" in caplog.text
    assert "not an S3 record" in caplog.text
    assert "'xyz' is not a hex string" in caplog.text


def test_an_event_of_another_kind_is_logged(sfn, stub, caplog):
    with caplog.at_level(logging.ERROR, logger="ons3objectcreated"):
        assert handle(sfn, {"hello": "world"}) == {"status": "unrecognised-event"}
    assert "not an S3 notification nor a sweep event" in caplog.text


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WAIT_ACTIVITIES", "", "WAIT_ACTIVITIES is not JSON"),
        ("WAIT_ACTIVITIES", "{}", "WAIT_ACTIVITIES must be"),
        ("WAIT_ACTIVITIES", '{"sales/x.csv": "arn:x"}', "bad entry"),
        ("ARRIVALS_TABLE", "", "ARRIVALS_TABLE is not set"),
        ("WAIT_HEARTBEAT_SECONDS", "five", "WAIT_HEARTBEAT_SECONDS must be"),
    ],
)
def test_configuration_errors_name_the_variable(sfn, stub, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ons3objectcreated.ConfigurationError, match=message):
        sweep(sfn)


def test_too_little_time_for_a_long_poll_leaves_the_upload_to_the_sweep(sfn, stub):
    context = FakeContext(remaining=[30_000], invoked_function_arn=FUNCTION_ARN)
    result = ons3objectcreated.handler({"Records": [record(SALES_KEY, "01")]}, context, sfn=sfn[0])
    assert statuses(result, "releases") == ["out-of-time"] and pending()


def test_default_clients_read_past_the_long_poll(aws):
    client = ons3objectcreated.sfn_client()
    assert client.meta.config.read_timeout > 60
    assert client.meta.config.retries["mode"] == "standard"


def test_the_arrivals_table_client_retries_a_throttle_as_the_runners_do(aws):
    # 3 tries (botocore's default) lost 22 % of the calls at a 60 % throttle: an upload not recorded.
    retries = ons3objectcreated.ddb_client().meta.config.retries
    assert retries["mode"] == "standard" and retries["total_max_attempts"] >= 5, retries


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("0a1", "0" * 61 + "0A1"),
        (" FF ", "0" * 62 + "FF"),
        ("", None),
        ("12G", None),
        ("1" * 65, None),
        (5, None),
    ],
)
def test_sequencers_are_normalized_for_string_comparison(raw, stored):
    assert arrival_store.normalize_sequencer(raw) == stored


# --- dead workers and the recovery tick -----------------------------------------------------------------

TICK = {"etlrunner": "tick"}


def store() -> arrival_store.ArrivalStore:
    return arrival_store.ArrivalStore(boto3.client("dynamodb", region_name=REGION), TABLE)


def test_a_claim_that_cannot_be_stored_gives_the_task_back_and_keeps_the_upload(sfn, stub, monkeypatch):
    """The claim's UpdateItem throttled past its retries: the token held unrecorded would leave the wait
    to its heartbeat timeout, so it is given back at once; the upload stays pending for the retry."""
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "01"))

    def throttled_claim(*args: Any, **kwargs: Any) -> bool:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    monkeypatch.setattr(arrival_store.ArrivalStore, "claim", throttled_claim)
    expect_task(stub, "T1")
    cause = JsonMatching({"ErrorMessage": contains("the claim could not be stored")}, exact_keys=False)
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "WaitForData.Requeued", "cause": cause}
    )

    result = sweep(sfn)

    assert statuses(result, "sweep") == ["requeued"]
    stored = item()
    assert pending() and "claimed_token" not in stored
    assert "polls_started" not in stored  # given back: no task is held, nothing for the tick to do


def test_a_nudge_that_cannot_be_sent_keeps_the_claim_and_the_retry_sends_it(sfn, stub):
    expect_task(stub, "T1")
    expect_release(stub, "T1", "01")
    with pytest.raises(RuntimeError, match="nudge-failed"):
        handle(sfn, {"Records": [record(SALES_KEY, "01")]}, FakeEvents(fail=True))
    assert item()["claimed_token"] == "T1"

    # Lambda's retry: the task was released (its token is gone), so the release counts, and is announced.
    stub.add_client_error(
        "send_task_success", "TaskTimedOut", "closed", 400, expected_params=sent("T1", "01")
    )
    events = FakeEvents()
    result = handle(sfn, {"Records": [record(SALES_KEY, "01")]}, events)

    assert statuses(result, "releases") == ["released-earlier"] and len(events.entries) == 1
    assert item()["consumed_sequencer"] == arrival_store.normalize_sequencer("01")


def test_a_worker_that_dies_holding_a_polled_task_leaves_its_poll_noted(sfn, stub, monkeypatch):
    class Killed(BaseException):  # noqa: N818 - the Lambda is gone: nothing of the invocation goes on
        pass

    def die(*args: Any, **kwargs: Any) -> bool:
        raise Killed

    monkeypatch.setattr(arrival_store.ArrivalStore, "claim", die)
    expect_task(stub, "T1")
    with pytest.raises(Killed):
        on_upload(sfn, record(SALES_KEY, "01"))

    (started,) = store().get(SALES).polls_started
    assert float(started) == pytest.approx(time.time(), abs=30)


def test_the_tick_polls_again_once_a_dead_poll_s_task_can_have_come_back(sfn, stub):
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "01"))
    dead = store().poll_started(SALES, time.time() - 301 - ons3objectcreated.LOST_TASK_MARGIN_S)
    young = store().poll_started(MARKETING, time.time() - 100)  # its task cannot be back yet

    expect_task(stub, "T2")  # the task the dead worker held, timed out and scheduled again by the Retry
    expect_release(stub, "T2", "01")
    result = handle(sfn, TICK)

    assert statuses(result, "tick") == ["released"]
    assert store().get(SALES).polls_started == ()
    assert store().get(MARKETING).polls_started == (young,)
    assert dead not in store().get(SALES).polls_started


def test_the_tick_sends_a_claim_a_dead_worker_left_unsent(sfn, stub):
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "01"))
    pending = store().get(SALES).pending
    assert pending is not None
    assert store().claim(SALES, "T1", pending, EXECUTION, time.time() - ons3objectcreated.STUCK_CLAIM_S - 1)
    expect_release(stub, "T1", "01")

    result = handle(sfn, TICK)

    assert statuses(result, "tick") == ["released"] and "claimed_token" not in item()


def test_a_tick_with_nothing_due_polls_nothing(sfn, stub):
    expect_no_task(stub)
    on_upload(sfn, record(SALES_KEY, "01"))  # pending, but its poll ended: the sweeps take care of it
    assert handle(sfn, TICK) == {"tick": []}


def test_a_poll_answered_with_an_error_is_settled_but_a_lost_connection_is_not(sfn, stub, monkeypatch):
    stub.add_client_error("get_activity_task", "ThrottlingException", "slow", 400, expected_params=poll())
    with pytest.raises(RuntimeError):
        on_upload(sfn, record(SALES_KEY, "01"))
    assert store().get(SALES).polls_started == ()  # an error answer hands out no task

    def lost(**params: Any) -> Any:
        raise ReadTimeoutError(endpoint_url="https://states.us-east-1.amazonaws.com")

    monkeypatch.setattr(sfn[0], "get_activity_task", lost)
    with pytest.raises(RuntimeError):
        sweep(sfn)
    assert len(store().get(SALES).polls_started) == 1  # AWS may have handed a task to the dropped poll
