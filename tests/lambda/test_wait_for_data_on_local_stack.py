"""The wait-for-data release through the DEPLOYED step-functions-resources stack on the local endpoint.

The real template is created with the local CloudFormation, the real ons3objectcreated package runs in the
Lambda bridge (invoked asynchronously by the bucket notification and by the sweep schedule, which the events
bridge fires on the session's scaled clock), and the assertions are on the real execution's history and the
arrivals table. Uploading before the execution starts is the normal case: the datasets arrive at any time in
the week.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.xdist_group("localaws"), pytest.mark.usefixtures("service_roles")]

REPO = Path(__file__).resolve().parents[2]
SALES_KEY = "sales/SalesPipeline_QuickSightSample.csv"
MARKETING_KEY = "marketing/MarketingData_QuickSightSample.csv"
DEADLINE_S = 60.0


def package() -> bytes:
    """The function's zip as packagelambda builds it: its folder's modules at the zip root, and the core."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((REPO / "lambda" / "ons3objectcreated").glob("*.py")):
            archive.writestr(path.name, path.read_text())
        for path in sorted((REPO / "lambda" / "etlrunner").glob("*.py")):
            archive.writestr(f"etlrunner/{path.name}", path.read_text())
    return buffer.getvalue()


def wait_until(what: str, check: Callable[[], Any], timeout_s: float = DEADLINE_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"not after {timeout_s} s: {what}"
        time.sleep(0.1)
    return value


def uploads_done(lines: list[tuple[str, str]]) -> bool:
    """Both S3-triggered invocations (those that kept an upload) logged that no task was waiting."""
    uploads = {request for request, line in list(lines) if "kept as the pending upload" in line}
    finished = {request for request, line in list(lines) if "no task waiting on" in line}
    return len(uploads) == 2 and uploads <= finished


@dataclass
class Deployed:
    """The stack's outputs and names, the log lines of every ons3objectcreated invocation as (request id,
    line), and the executions to stop at the end."""

    outputs: dict[str, str]
    data_bucket: str
    table: str
    lines: list[tuple[str, str]]
    executions: list[str] = field(default_factory=list)


@pytest.fixture
def deployed(local_aws, aws_client, unique_name) -> Iterator[Deployed]:
    cfn, s3, sfn = (aws_client(name) for name in ("cloudformation", "s3", "stepfunctions"))
    code_bucket, data_bucket = unique_name("code").lower(), unique_name("data").lower()
    table, stack = unique_name("Arrivals"), unique_name("wait-for-data")
    s3.create_bucket(Bucket=code_bucket)
    s3.put_object(Bucket=code_bucket, Key="src/ons3objectcreated.zip", Body=package())
    cfn.create_stack(
        StackName=stack,
        TemplateBody=(REPO / "cloudformation" / "step-functions-resources.yaml").read_text(),
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in {
                "SourceS3BucketName": code_bucket,
                "SourceDataBucketName": data_bucket,
                "ArrivalsTableName": table,
            }.items()
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    lines: list[tuple[str, str]] = []
    local_aws.subscribe(
        lambda kind, fields: (
            lines.append((str(fields.get("request_id")), str(fields.get("line"))))
            if kind == "lambda.log" and fields.get("function") == "ons3objectcreated"
            else None
        )
    )
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    world = Deployed(outputs, data_bucket, table, lines)
    try:
        assert described["StackStatus"] == "CREATE_COMPLETE", described
        yield world
    finally:
        for execution in world.executions:
            if sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
                sfn.stop_execution(executionArn=execution)
        for bucket in (data_bucket, code_bucket):
            for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
        cfn.delete_stack(StackName=stack)
        s3.delete_bucket(Bucket=code_bucket)


def history(sfn: Any, execution: str) -> list[dict[str, Any]]:
    return sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]


def released_outputs(sfn: Any, execution: str) -> list[dict[str, Any]]:
    """The outputs ons3objectcreated sent to the execution's wait tasks, in order."""
    return [
        json.loads(e["activitySucceededEventDetails"]["output"])
        for e in history(sfn, execution)
        if e["type"] == "ActivitySucceeded"
    ]


def test_files_uploaded_before_the_execution_release_both_waits(deployed, aws_client):
    s3, sfn, ddb = (aws_client(name) for name in ("s3", "stepfunctions", "dynamodb"))
    outputs, data_bucket, table, lines = (
        deployed.outputs,
        deployed.data_bucket,
        deployed.table,
        deployed.lines,
    )

    # 1. Both files land while no execution waits: each upload is kept as its key's pending arrival.
    for key in (SALES_KEY, MARKETING_KEY):
        s3.put_object(Bucket=data_bucket, Key=key, Body=b"date,value\n1/2/2019,3\n")

    def pending() -> list[str]:
        items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
        return sorted(i["s3_object"]["S"] for i in items if i.get("pending_uploads", {}).get("M"))

    wait_until("both uploads pending", lambda: len(pending()) == 2)
    assert pending() == [f"s3://{data_bucket}/{MARKETING_KEY}", f"s3://{data_bucket}/{SALES_KEY}"]
    # The S3-triggered invocations have given up their long polls: from here on only the sweep releases.
    wait_until("the upload invocations found no task", lambda: uploads_done(lines))

    # 2. THEN the execution starts; the sweep schedule releases both waits with the kept uploads.
    execution = sfn.start_execution(
        stateMachineArn=outputs["MarketingAndSalesETLOrchestratorArn"], input="{}"
    )["executionArn"]
    deployed.executions.append(execution)

    def released() -> list[dict[str, Any]]:
        sent = released_outputs(sfn, execution)
        return sent if len(sent) == 2 else []

    outputs_sent = wait_until("both waits released", released)
    assert sorted(o["S3Key"] for o in outputs_sent) == [MARKETING_KEY, SALES_KEY]
    for output in outputs_sent:
        assert output["S3BucketName"] == data_bucket
        activity = outputs[
            "SalesDataWaitActivityArn" if output["S3Key"] == SALES_KEY else "MarketingDataWaitActivityArn"
        ]
        assert output["SFNActivityArn"] == activity
        assert output["S3ETag"] and output["S3Sequencer"]
    events = history(sfn, execution)
    workers = [
        e["activityStartedEventDetails"].get("workerName") for e in events if e["type"] == "ActivityStarted"
    ]
    assert workers == ["ons3objectcreated", "ons3objectcreated"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert {"Process Sales Data", "Process Marketing Data"} <= set(entered), entered
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"  # on to the Glue steps

    # 3. Each upload was handed out once: nothing pending, nothing claimed. The sweep marks an upload
    # consumed only after SendTaskSuccess returned, so the history can show the release a moment before.
    def settled() -> list[dict[str, Any]]:
        items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
        return items if all("claimed_token" not in item for item in items) else []

    items = wait_until("both claims settled", settled)
    assert len(items) == 2
    for item in items:
        assert "consumed_sequencer" in item and not item.get("pending_uploads", {}).get("M"), item


def test_a_wait_task_given_back_waits_again_and_the_next_upload_releases_it(deployed, aws_client):
    """What ons3objectcreated does with a task it polled but has no upload for (wait_release.py, step 5):
    WaitForData.Requeued. The deployed wait state's Retry must schedule the task again at once, and the
    next upload must release the new task."""
    s3, sfn = aws_client("s3"), aws_client("stepfunctions")
    sales_activity = deployed.outputs["SalesDataWaitActivityArn"]
    execution = sfn.start_execution(
        stateMachineArn=deployed.outputs["MarketingAndSalesETLOrchestratorArn"], input="{}"
    )["executionArn"]
    deployed.executions.append(execution)

    def scheduled_on_sales() -> int:
        return sum(
            1
            for e in history(sfn, execution)
            if e["type"] == "ActivityScheduled"
            and e["activityScheduledEventDetails"]["resource"] == sales_activity
        )

    wait_until("the sales wait scheduled", scheduled_on_sales)
    token = sfn.get_activity_task(activityArn=sales_activity, workerName="stale-release")["taskToken"]
    sfn.send_task_failure(taskToken=token, error="WaitForData.Requeued", cause="no upload left for it")

    wait_until("the sales wait scheduled again", lambda: scheduled_on_sales() == 2)
    failures = [
        e["activityFailedEventDetails"] for e in history(sfn, execution) if e["type"] == "ActivityFailed"
    ]
    assert [f["error"] for f in failures] == ["WaitForData.Requeued"]
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    s3.put_object(Bucket=deployed.data_bucket, Key=SALES_KEY, Body=b"date,value\n1/2/2019,3\n")

    (output,) = wait_until("the new sales task released", lambda: released_outputs(sfn, execution))
    assert output["S3Key"] == SALES_KEY and output["SFNActivityArn"] == sales_activity


def test_uploads_while_two_executions_wait_release_the_older_execution_first(deployed, aws_client):
    """Two executions wait for the sales file. One upload releases the older one, and only it; a second
    upload of the same key releases the newer one (each upload releases one wait, oldest first)."""
    s3, sfn = aws_client("s3"), aws_client("stepfunctions")
    sales_activity = deployed.outputs["SalesDataWaitActivityArn"]
    machine = deployed.outputs["MarketingAndSalesETLOrchestratorArn"]

    def sales_wait_scheduled(execution: str) -> bool:
        return any(
            e["type"] == "ActivityScheduled"
            and e["activityScheduledEventDetails"]["resource"] == sales_activity
            for e in history(sfn, execution)
        )

    older = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deployed.executions.append(older)
    wait_until("the older execution's sales wait", lambda: sales_wait_scheduled(older))
    newer = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deployed.executions.append(newer)
    wait_until("the newer execution's sales wait", lambda: sales_wait_scheduled(newer))

    s3.put_object(Bucket=deployed.data_bucket, Key=SALES_KEY, Body=b"date,value\n1/2/2019,3\n")
    (first,) = wait_until("the older execution released", lambda: released_outputs(sfn, older))

    s3.put_object(Bucket=deployed.data_bucket, Key=SALES_KEY, Body=b"date,value\n1/3/2019,4\n")
    (second,) = wait_until("the newer execution released", lambda: released_outputs(sfn, newer))
    # Had the first upload released both, the newer execution would hold the first upload, not the second.
    assert first["S3Sequencer"] < second["S3Sequencer"]
    assert len(released_outputs(sfn, older)) == 1
