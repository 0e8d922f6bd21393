"""What the console shows, read through the endpoint's own AWS APIs with boto3, as any client would.

The console calls the endpoint that serves it (``endpoint_url``), with fake credentials. Its clients carry
the fault mode's internal-call header: watching a run in the console must not change which faults the
project's own calls draw, nor the fault report.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import boto3
from botocore.config import Config

from localaws.context import DEFAULT_REGION, FAKE_CREDENTIALS
from localaws.faults import INTERNAL_HEADER

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def _mark_internal(request: Any, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"


def client(service: str, endpoint_url: str) -> Any:
    """A shared boto3 client of the endpoint (botocore clients are thread-safe; making one costs ~60 ms)."""
    key = (service, endpoint_url)
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            session = boto3.session.Session(region_name=DEFAULT_REGION)
            found = session.client(
                service,
                endpoint_url=endpoint_url,
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                config=Config(retries={"total_max_attempts": 4, "mode": "standard"}, read_timeout=30),
            )
            found.meta.events.register("before-send", _mark_internal)
            _clients[key] = found
        return found


def duration_s(started: dt.datetime | None, stopped: dt.datetime | None) -> float | None:
    """Seconds from start to stop, or to now while it runs."""
    if started is None:
        return None
    end = stopped or dt.datetime.now(started.tzinfo)
    return (end - started).total_seconds()


class Reader:
    """The console's reads (and its one write, StartExecution) against one endpoint."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def _c(self, service: str) -> Any:
        return client(service, self.endpoint_url)

    # --- Step Functions ---------------------------------------------------------------------------------

    def state_machines(self) -> list[dict[str, Any]]:
        sfn = self._c("stepfunctions")
        machines = []
        for page in sfn.get_paginator("list_state_machines").paginate():
            machines += page["stateMachines"]
        return sorted(machines, key=lambda m: m["name"])

    def state_machine(self, arn: str) -> dict[str, Any]:
        return self._c("stepfunctions").describe_state_machine(stateMachineArn=arn)

    def executions(self, machine_arn: str) -> list[dict[str, Any]]:
        """Every execution of a state machine, newest first."""
        sfn = self._c("stepfunctions")
        found = []
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
            found += page["executions"]
        # Sorted here as well: the order of ListExecutions is not what this page promises its reader.
        return sorted(found, key=lambda e: e["startDate"], reverse=True)

    def execution(self, arn: str) -> dict[str, Any]:
        return self._c("stepfunctions").describe_execution(executionArn=arn)

    def history(self, arn: str) -> list[dict[str, Any]]:
        sfn = self._c("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def start_execution(self, machine_arn: str, name: str | None, input_json: str) -> str:
        kwargs: dict[str, Any] = {"stateMachineArn": machine_arn, "input": input_json}
        if name:
            kwargs["name"] = name
        return self._c("stepfunctions").start_execution(**kwargs)["executionArn"]

    # --- Glue -------------------------------------------------------------------------------------------

    def glue_job_runs(self, job: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Job name → its runs, newest first (every job, or the one named)."""
        glue = self._c("glue")
        names = (
            [job]
            if job
            else sorted(j["Name"] for p in glue.get_paginator("get_jobs").paginate() for j in p["Jobs"])
        )
        runs: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            found: list[dict[str, Any]] = []
            for page in glue.get_paginator("get_job_runs").paginate(JobName=name):
                found += page["JobRuns"]
            runs[name] = sorted(found, key=lambda r: r.get("StartedOn") or dt.datetime.min, reverse=True)
        return runs

    # --- CloudWatch Logs --------------------------------------------------------------------------------

    def lambda_log_groups(self) -> list[dict[str, Any]]:
        logs = self._c("logs")
        groups = []
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/lambda/"):
            groups += page["logGroups"]
        return groups

    def log_streams(self, group: str) -> list[dict[str, Any]]:
        logs = self._c("logs")
        streams: list[dict[str, Any]] = []
        for page in logs.get_paginator("describe_log_streams").paginate(logGroupName=group):
            streams += page["logStreams"]
        return sorted(streams, key=lambda s: s.get("lastEventTimestamp") or 0, reverse=True)

    def log_events(
        self, group: str, stream: str | None = None, text: str | None = None
    ) -> list[dict[str, Any]]:
        """A stream's events, or every event of the group holding ``text``, oldest first (at most 5,000)."""
        logs = self._c("logs")
        kwargs: dict[str, Any] = {"logGroupName": group}
        if stream:
            kwargs["logStreamNames"] = [stream]
        events: list[dict[str, Any]] = []
        for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
            events += page["events"]
            if len(events) >= 5000:
                break
        if text:  # matched here: CloudWatch's filter-pattern syntax would treat some ids as terms
            events = [e for e in events if text in e.get("message", "")]
        return sorted(events, key=lambda e: (e.get("timestamp", 0), e.get("eventId", "")))

    # --- S3 ---------------------------------------------------------------------------------------------

    def buckets(self) -> list[dict[str, Any]]:
        return self._c("s3").list_buckets()["Buckets"]

    def objects(self, bucket: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self._c("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
            found += page.get("Contents", [])
        return found

    def get_object(self, bucket: str, key: str) -> dict[str, Any]:
        return self._c("s3").get_object(Bucket=bucket, Key=key)
