"""The one-command demo: deploy the unchanged project on the local endpoint, run both workflows for real."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3

from buildlib.aws import retry_config
from buildlib.execution_progress import (
    SUCCEEDED,
    WAITING,
    HistoryFollower,
    ProgressPrinter,
    execution_events,
    execution_failure,
    first_failure,
    state_progress,
)
from localaws.console.app import url as console_url
from localaws.context import DEFAULT_REGION, FAKE_CREDENTIALS
from localaws.demo_inputs import DEMO_SUMMARY, DatasetFile, demo_datasets, prepare_output_dir
from localaws.faults import parse_spec as parse_fault_spec
from localaws.faults import report as fault_report
from localaws.hops import history, runner_hops
from localaws.timeline import write_timeline

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT_DIR = ROOT / "build" / "demo-output"
# AWS's real clock: events (a job's end, an answered task, an execution's start) move the workflow on, not
# the schedules, so the demo takes as long as with waits scaled (bench/bench_demo.py runs both side by side).
# time_scale=0.002 makes the safety-net schedules fire every 1.2 s and a 60 s long poll last 0.12 s.
DEFAULT_TIME_SCALE = 1.0

ARTIFACT_BUCKET = "etl-orchestrator-demo-artifacts"
DATA_BUCKET = "etl-orchestrator-demo-data"
DEMO_PARAMETERS = {
    "SourceS3BucketName": ARTIFACT_BUCKET,
    "SourceDataBucketName": DATA_BUCKET,
    "S3ETLScriptPath": f"s3://{ARTIFACT_BUCKET}/glue-scripts",
    "S3ETLOutputPath": f"s3://{ARTIFACT_BUCKET}/etl-output",
}
MAIN_MACHINE = "MarketingAndSalesETLOrchestrator"
ATHENA_MACHINE = "AthenaRunnerTestETLOrchestrator"
WAIT_STATES = ("Wait For Sales Data", "Wait For Marketing Data")
# A real run takes about a minute; this only stops a demo that would otherwise never end.
WORKFLOW_DEADLINE_S = 15 * 60

STATE_LABELS = {
    "Wait For Sales Data:waiting": "waiting for data",
    "Wait For Marketing Data:waiting": "waiting for data",
    "Process Sales Data:waiting": "waiting for the Glue runner",
    "Process Marketing Data:waiting": "waiting for the Glue runner",
    "Join Marketing And Sales Data:waiting": "waiting for the Glue runner",
    "Process Sales Data:running": "running (Glue job)",
    "Process Marketing Data:running": "running (Glue job)",
    "Join Marketing And Sales Data:running": "running (Glue job)",
    "Execute Athena Query:waiting": "waiting for the Athena runner",
    "Execute Athena Query:running": "running (Athena query)",
}


class DemoFailed(RuntimeError):
    """The workflow did not succeed; the message names the failed state and its cause."""

    def __init__(self, message: str, state: str | None = None) -> None:
        super().__init__(message)
        self.state = state  # the state where the failure began, when a workflow failed


@dataclass
class IntervalClock:
    """Wall-clock time during which at least one interval was open (parallel Glue runs count once)."""

    _open: dict[str, float] = field(default_factory=dict)
    _closed: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, key: str) -> None:
        with self._lock:
            self._open[key] = time.monotonic()

    def stop(self, key: str) -> None:
        with self._lock:
            began = self._open.pop(key, None)
            if began is not None:
                self._closed.append((began, time.monotonic()))

    @property
    def count(self) -> int:
        return len(self._closed)

    def _busy_spans(self) -> list[tuple[float, float]]:
        """The closed intervals merged where they overlap, in order."""
        with self._lock:
            spans = sorted(self._closed)
        merged: list[tuple[float, float]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def busy_seconds(self) -> float:
        return sum(end - start for start, end in self._busy_spans())

    def busy_seconds_outside(self, other: IntervalClock) -> float:
        """Of ``busy_seconds()``, the time during which ``other`` had no interval open."""
        spans, other_spans = self._busy_spans(), other._busy_spans()
        busy = sum(end - start for start, end in spans)
        covered = sum(
            max(0.0, min(end, other_end) - max(start, other_start))
            for start, end in spans
            for other_start, other_end in other_spans
        )
        return busy - covered

    def summed_seconds(self) -> float:
        with self._lock:
            return sum(end - start for start, end in self._closed)


@dataclass
class DemoReport:
    """What the demo measured and produced; also written as summary.json for bench/."""

    status: str = "RUNNING"
    failed_state: str | None = None
    cause: str | None = None
    total_s: float = 0.0
    deploy_s: float = 0.0
    glue_wall_s: float = 0.0
    glue_job_s: float = 0.0
    glue_runs: int = 0
    athena_s: float = 0.0
    athena_outside_glue_s: float = 0.0  # the part of athena_s while no Glue job ran (in the overhead)
    row_counts: dict[str, int] = field(default_factory=dict)
    first_rows: list[dict[str, Any]] = field(default_factory=list)
    output_files: list[str] = field(default_factory=list)
    athena_result_rows: list[list[str]] = field(default_factory=list)
    phases_s: dict[str, float] = field(default_factory=dict)
    # Per runner task state: task ready -> job started, job ended -> task answered (localaws/hops.py).
    hops: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, Any] | None = None  # what the fault mode injected (localaws.faults.report); None: off

    @property
    def orchestration_overhead_s(self) -> float:
        """Everything that is neither deploying nor running a Glue job (the Athena query included)."""
        return self.total_s - self.deploy_s - self.glue_wall_s


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


def _client(service: str, endpoint_url: str) -> Any:
    """A client of the demo's own (it follows the executions), retrying as the build tasks' clients do."""
    session = boto3.session.Session()
    return session.client(
        service, endpoint_url=endpoint_url, region_name=DEFAULT_REGION, config=retry_config(session)
    )


def _state_machine_arn(sfn: Any, name: str) -> str:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    raise DemoFailed(f"state machine {name} was not created; see the stack events above")


def watch_execution(
    sfn: Any,
    execution_arn: str,
    out: TextIO,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    deadline_s: float = WORKFLOW_DEADLINE_S,
    changes: threading.Event | None = None,
) -> str:
    """Print each state's progress until the execution ends; return its final status.

    It looks every 0.2 s, or, given ``changes`` (set by the endpoint of this process at every history event:
    ``history_changes``), each time that is set, and at least every second."""
    started = sfn.describe_execution(executionArn=execution_arn)["startDate"]
    printer = ProgressPrinter(out, started, STATE_LABELS)
    follower = HistoryFollower(sfn, execution_arn)
    give_up = time.monotonic() + deadline_s
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        states = state_progress(follower.refresh())
        printer.update(states)
        if on_progress is not None:
            on_progress(states)
        if status != "RUNNING":
            return status
        if time.monotonic() > give_up:
            sfn.stop_execution(
                executionArn=execution_arn, error="Demo.Deadline", cause="the demo gave up waiting"
            )
            raise DemoFailed(f"{execution_arn} was still running after {deadline_s:.0f} s; stopped it")
        if changes is None:
            time.sleep(0.2)
        else:
            changes.wait(1.0)
            changes.clear()  # what changed until now is in the next look


def history_changes(ctx: Any) -> threading.Event:
    """An event the endpoint ``ctx`` sets at every Step Functions history event of any execution."""
    changed = threading.Event()

    def listener(kind: str, fields: dict) -> None:
        if kind == "stepfunctions.history":
            changed.set()

    ctx.subscribe(listener)
    return changed


def _workflow_failed(sfn: Any, execution_arn: str, machine: str, status: str) -> DemoFailed:
    """DemoFailed naming the state where the failure began and the execution's error and cause."""
    events = list(execution_events(sfn, execution_arn))
    failed = first_failure(state_progress(events))
    failure = execution_failure(events)
    state = failed.name if failed else machine
    cause = failed.detail if failed else ""
    if failure is not None:
        cause = f"{failure.error}: {failure.cause}" if failure.cause else failure.error
    return DemoFailed(f"{machine} ended {status} in state '{state}': {cause}", state=state)


def run_main_workflow(
    sfn: Any,
    s3: Any,
    datasets: list[DatasetFile],
    out: TextIO,
    on_uploaded: Callable[[], None] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    changes: threading.Event | None = None,
) -> str:
    """Start the ETL workflow, upload the data once both wait states wait for it, follow it to the end.

    ``on_uploaded()`` is called once the files are in S3, ``on_progress(states)`` at every look at the
    execution's history."""
    arn = _state_machine_arn(sfn, MAIN_MACHINE)
    execution_arn = sfn.start_execution(stateMachineArn=arn, name=f"demo-{int(time.time())}")["executionArn"]
    _say(out, f"\n▶ {MAIN_MACHINE}: started {execution_arn.rsplit(':', 1)[-1]}")
    uploaded = False

    def upload_when_waiting(states: dict[str, Any]) -> None:
        nonlocal uploaded
        if on_progress is not None:
            on_progress(states)
        if uploaded or not all(s in states and states[s].status == WAITING for s in WAIT_STATES):
            return
        uploaded = True
        for dataset in datasets:
            s3.upload_file(str(dataset.path), DATA_BUCKET, dataset.key)
            _say(out, f"  uploaded {dataset.path.name} → s3://{DATA_BUCKET}/{dataset.key}")
        if on_uploaded is not None:
            on_uploaded()

    status = watch_execution(sfn, execution_arn, out, on_progress=upload_when_waiting, changes=changes)
    if status != "SUCCEEDED":
        raise _workflow_failed(sfn, execution_arn, MAIN_MACHINE, status)
    return execution_arn


def start_athena_workflow(sfn: Any, out: TextIO) -> str:
    """Start the sample Athena workflow; return its execution ARN."""
    arn = _state_machine_arn(sfn, ATHENA_MACHINE)
    execution_arn = sfn.start_execution(stateMachineArn=arn, name=f"demo-athena-{int(time.time())}")[
        "executionArn"
    ]
    _say(out, f"\n▶ {ATHENA_MACHINE}: started {execution_arn.rsplit(':', 1)[-1]}")
    return execution_arn


def run_athena_workflow(
    sfn: Any,
    out: TextIO,
    report: DemoReport | None = None,
    execution_arn: str | None = None,
    changes: threading.Event | None = None,
) -> dict[str, Any]:
    """Run the sample Athena workflow (or follow ``execution_arn``, one already started) to its end; return
    the Athena runner's task output."""
    if execution_arn is None:
        execution_arn = start_athena_workflow(sfn, out)
    else:
        _say(out, f"\n▶ {ATHENA_MACHINE}: {execution_arn.rsplit(':', 1)[-1]}")
    status = watch_execution(sfn, execution_arn, out, changes=changes)
    if status != "SUCCEEDED":
        raise _workflow_failed(sfn, execution_arn, ATHENA_MACHINE, status)
    if report is not None:
        report.hops += [hop.as_dict() for hop in runner_hops(history(sfn, execution_arn))]
    return json.loads(sfn.describe_execution(executionArn=execution_arn)["output"])


def _download_prefix(s3: Any, bucket: str, prefix: str, target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix) :].lstrip("/")
            if not name or name.endswith("/"):
                continue
            local = target / name
            local.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(local))
            files.append(local)
    return files


# Each Glue job's output, by the state that writes it.
DATASET_STATES = {
    "sales": "Process Sales Data",
    "marketing": "Process Marketing Data",
    "marketing-and-sales": "Join Marketing And Sales Data",
}
JOINED_DATASET = "marketing-and-sales"


@dataclass
class CollectedDataset:
    rows: int
    output_files: list[str]
    first_rows: list[dict[str, Any]] = field(default_factory=list)


def collect_dataset(s3: Any, output_dir: Path, dataset: str) -> CollectedDataset:
    """Copy one Glue job's Parquet output to output_dir and count its rows; the joined one is also written
    as CSV, and its first rows kept."""
    from localaws.spark import get_spark  # Spark is already running: the Glue jobs used it

    spark = get_spark()
    output_prefix = DEMO_PARAMETERS["S3ETLOutputPath"].split("/", 3)[3]
    files = _download_prefix(s3, ARTIFACT_BUCKET, f"{output_prefix}/{dataset}/", output_dir / dataset)
    frame = spark.read.parquet(*[str(f) for f in files if f.suffix == ".parquet"])
    if dataset != JOINED_DATASET:
        return CollectedDataset(frame.count(), [str(output_dir / dataset)])
    rows = frame.orderBy("date").collect()  # small: one row a day
    csv_path = output_dir / "marketing-and-sales.csv"
    _write_csv(rows, frame.columns, csv_path)
    return CollectedDataset(
        len(rows), [str(output_dir / dataset), str(csv_path)], [row.asDict() for row in rows[:5]]
    )


class DatasetCollector:
    """Copies each dataset as soon as the state that writes it succeeded, one at a time in the background:
    the sales and marketing outputs are copied while the join runs."""

    def __init__(self, s3: Any, output_dir: Path) -> None:
        self._s3 = s3
        self._output_dir = output_dir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-collect")
        self._copies: dict[str, Future[CollectedDataset]] = {}

    def _copy(self, dataset: str) -> Future[CollectedDataset]:
        if dataset not in self._copies:
            self._copies[dataset] = self._pool.submit(collect_dataset, self._s3, self._output_dir, dataset)
        return self._copies[dataset]

    def on_progress(self, states: dict[str, Any]) -> None:
        for dataset, state in DATASET_STATES.items():
            if state in states and states[state].status == SUCCEEDED:
                self._copy(dataset)

    def collect_all(self, report: DemoReport) -> None:
        """Wait for every dataset's copy (starting those not started) and record them in order."""
        for dataset in DATASET_STATES:
            copied = self._copy(dataset).result()
            report.row_counts[f"{dataset} (Parquet)"] = copied.rows
            report.output_files += copied.output_files
            if copied.first_rows:
                report.first_rows = copied.first_rows

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def collect_datasets(s3: Any, output_dir: Path, report: DemoReport) -> None:
    """Copy every Glue job's output to output_dir now (the workflow has ended)."""
    collector = DatasetCollector(s3, output_dir)
    try:
        collector.collect_all(report)
    finally:
        collector.close()


def collect_athena_result(
    s3: Any, athena_output: dict[str, Any], output_dir: Path, report: DemoReport
) -> None:
    """Copy the Athena query's result file to output_dir and keep its rows."""
    query_id = athena_output["AthenaQueryExecutionId"]
    athena_file = output_dir / "athena-result.csv"
    s3.download_file(DATA_BUCKET, f"athena-results/{query_id}.csv", str(athena_file))
    report.output_files.append(str(athena_file))
    with athena_file.open(newline="") as handle:
        report.athena_result_rows = list(csv.reader(handle))


def _write_csv(rows: list[Any], columns: list[str], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])


def print_summary(report: DemoReport, out: TextIO) -> None:
    _say(out, "\n=== Summary ===")
    _say(out, f"Status: {report.status}")
    for name, count in report.row_counts.items():
        _say(out, f"  rows {name:<32} {count:>8,}")
    if report.first_rows:
        columns = list(report.first_rows[0])[:6]
        _say(out, f"\nFirst rows of the joined dataset (first 6 of {len(report.first_rows[0])} columns):")
        _say(out, "  " + " | ".join(f"{c:>22}" for c in columns))
        for row in report.first_rows:
            _say(out, "  " + " | ".join(f"{str(row[c]):>22}" for c in columns))
    if report.athena_result_rows:
        _say(out, f"\nAthena query result ({len(report.athena_result_rows) - 1} rows), first 3:")
        for row in report.athena_result_rows[:4]:
            _say(out, "  " + ", ".join(row))
    _say(out, "\nTimings:")
    _say(out, f"  total                    {report.total_s:7.1f} s")
    _say(out, f"  deploy (4 stacks)        {report.deploy_s:7.1f} s")
    _say(
        out,
        f"  inside Glue jobs         {report.glue_wall_s:7.1f} s wall-clock "
        f"({report.glue_runs} runs, {report.glue_job_s:.1f} s summed)",
    )
    _say(out, f"  orchestration overhead   {report.orchestration_overhead_s:7.1f} s (total − deploy − Glue)")
    _say(
        out,
        f"    of which the Athena query run      {report.athena_outside_glue_s:5.1f} s "
        f"(it ran {report.athena_s:.1f} s, the rest beside the Glue jobs)",
    )
    for phase, seconds in report.phases_s.items():
        _say(out, f"  phase: {phase:<47} {seconds:5.1f} s")
    for hop in report.hops:
        _say(
            out,
            f"  hop: {hop['state']:<30} task ready → job started {hop['ready_to_started_s']:5.2f} s, "
            f"job ended → task answered {hop['ended_to_answered_s']:5.2f} s",
        )
    if report.faults is not None:
        _print_faults(report.faults, out)
    if report.output_files:
        _say(out, "\nOutput files:")
        for path in report.output_files:
            _say(out, f"  {os.path.relpath(path)}")


def _print_faults(faults: dict[str, Any], out: TextIO) -> None:
    injected = ", ".join(f"{count} {kind}" for kind, count in faults["injected"].items()) or "nothing"
    _say(out, f"\nFaults ({faults['spec']}): {injected} in {faults['calls_seen']} client calls")
    for kind, calls in faults["by_call"].items():
        top = sorted(calls.items(), key=lambda item: -item[1])[:5]
        _say(out, f"  {kind:<9} " + ", ".join(f"{call} ×{count}" for call, count in top))
    for fired in faults["kills"]["fired"]:
        _say(
            out,
            f"  killed {fired.get('function')} {fired.get('when')} {fired.get('call')} ({fired.get('kill')})",
        )


def _fake_aws_environment(endpoint_url: str) -> None:
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = DEFAULT_REGION
    os.environ["AWS_REGION"] = DEFAULT_REGION
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url


def require_java() -> None:
    from localaws.spark import JAVA_INSTALL_HINT, find_java  # a system Java 17, else the packaged one

    if find_java() is None:
        raise DemoFailed(JAVA_INSTALL_HINT)


@dataclass
class DemoEnvironment:
    """A local endpoint with the project deployed on it, and what the demo measures there."""

    ctx: Any  # localaws.context.LocalAwsContext
    sfn: Any
    s3: Any
    glue_clock: IntervalClock
    athena_clock: IntervalClock
    deploy_s: float


@contextlib.contextmanager
def deployed_environment(
    time_scale: float = DEFAULT_TIME_SCALE, out: TextIO = sys.stdout, faults: str | None = None
) -> Iterator[DemoEnvironment]:
    """Start a local endpoint in this process and deploy the project on it with `pynt deployall`'s code.

    ``faults``: the endpoint's fault mode (localaws/faults.py); None leaves it to ``LOCALAWS_FAULTS``."""
    from localaws.spark import warm_up

    require_java()
    warm_up()  # the JVM starts now, while moto is imported and the stacks are created
    from localaws.server import LocalAws

    glue_clock, athena_clock = IntervalClock(), IntervalClock()
    settings: dict[str, Any] = {"time_scale": time_scale, "prewarm_lambdas": True}
    if faults is not None:
        settings["faults"] = faults
    with LocalAws(**settings) as ctx:
        _fake_aws_environment(ctx.endpoint_url)
        ctx.subscribe(_clock_listener(glue_clock, athena_clock))
        _say(out, f"Local AWS endpoint: {ctx.endpoint_url} (waits scaled ×{time_scale:g})")
        deploy_began = time.monotonic()
        deploy_project(out)
        yield DemoEnvironment(
            ctx=ctx,
            sfn=_client("stepfunctions", ctx.endpoint_url),
            s3=_client("s3", ctx.endpoint_url),
            glue_clock=glue_clock,
            athena_clock=athena_clock,
            deploy_s=time.monotonic() - deploy_began,
        )


def run_demo(
    sales: str | Path | None = None,
    marketing: str | Path | None = None,
    output_dir: Path = DEFAULT_OUTPUT_DIR,
    time_scale: float = DEFAULT_TIME_SCALE,
    out: TextIO = sys.stdout,
    faults: str | None = None,
    hold: Callable[[str, DemoReport], None] | None = None,
) -> DemoReport:
    """Deploy on a fresh local endpoint, run both workflows, collect the outputs. Raises DemoFailed, or
    DemoInputError (before anything is deployed or written) for unusable input files or output folder.

    ``hold(console_url, report)``, when given, is called once the workflows ended (succeeded or not), before
    the endpoint stops: ``pynt demo[console=true]`` keeps the endpoint and its console open there."""
    report = DemoReport()
    began = time.monotonic()
    datasets = demo_datasets(sales, marketing)
    output_dir = prepare_output_dir(Path(output_dir))
    phase_began = began

    def phase_done(name: str) -> None:
        nonlocal phase_began
        now = time.monotonic()
        report.phases_s[name] = now - phase_began
        phase_began = now

    if faults is not None:
        parse_fault_spec(faults)  # a bad spec fails before anything starts
    # faults only when given: callers may stand in for deployed_environment with a (time_scale, out) one.
    with deployed_environment(time_scale, out, **({} if faults is None else {"faults": faults})) as env:
        report.deploy_s = env.deploy_s
        phase_done("start endpoint and deploy")
        if hold is not None:
            _say(out, f"Console: {console_url(env.ctx.endpoint_url)} (watch the workflows run)")
        try:
            # The Athena workflow queries only the uploaded marketing table: it starts as soon as the files
            # are in S3 and runs alongside the Glue jobs, as two workflows do on AWS.
            athena_execution: list[str] = []

            def start_athena() -> None:
                athena_execution.append(start_athena_workflow(env.sfn, out))

            collector = DatasetCollector(env.s3, output_dir)
            changes = history_changes(env.ctx)
            try:
                main_execution = run_main_workflow(
                    env.sfn,
                    env.s3,
                    datasets,
                    out,
                    on_uploaded=start_athena,
                    on_progress=collector.on_progress,
                    changes=changes,
                )
                report.hops += [hop.as_dict() for hop in runner_hops(history(env.sfn, main_execution))]
                phase_done(MAIN_MACHINE)
                athena_output = run_athena_workflow(env.sfn, out, report, athena_execution[0], changes)
                collector.collect_all(report)
            finally:
                collector.close()
            phase_done(f"{ATHENA_MACHINE} + copy datasets")
            collect_athena_result(env.s3, athena_output, output_dir, report)
            phase_done("copy the Athena result")
            timeline = write_timeline(env.sfn, [main_execution, *athena_execution], output_dir)
            report.output_files.append(str(timeline))
            report.status = "SUCCEEDED"
        except DemoFailed as failure:
            report.status = "FAILED"
            report.failed_state = failure.state
            report.cause = str(failure)
            raise
        finally:
            report.total_s = time.monotonic() - began
            report.glue_wall_s = env.glue_clock.busy_seconds()
            report.glue_job_s = env.glue_clock.summed_seconds()
            report.glue_runs = env.glue_clock.count
            report.athena_s = env.athena_clock.busy_seconds()
            report.athena_outside_glue_s = env.athena_clock.busy_seconds_outside(env.glue_clock)
            report.faults = fault_report(env.ctx)
            summary_path = output_dir / DEMO_SUMMARY
            report.output_files.append(str(summary_path))
            summary = {**asdict(report), "orchestration_overhead_s": report.orchestration_overhead_s}
            if report.faults is None:
                del summary["faults"]
            summary_path.write_text(json.dumps(summary, indent=2, default=str))
            if hold is not None:
                hold(console_url(env.ctx.endpoint_url), report)
    return report


def _clock_listener(glue_clock: IntervalClock, athena_clock: IntervalClock) -> Callable[[str, dict], None]:
    def listener(kind: str, fields: dict) -> None:
        if kind == "glue.run.start":
            glue_clock.start(str(fields.get("run_id")))
        elif kind == "glue.run.end":
            glue_clock.stop(str(fields.get("run_id")))
        elif kind == "athena.query.start":
            athena_clock.start(str(fields.get("query_execution_id")))
        elif kind == "athena.query.end":
            athena_clock.stop(str(fields.get("query_execution_id")))

    return listener


def deploy_project(out: TextIO) -> None:
    """Package and deploy through the same code `pynt deployall` runs against AWS, with demo bucket names."""
    from buildlib import load_project
    from buildlib.deploy import deploy_all

    _say(out, "\n▶ Deploying: packagelambda, deploylambda, deploygluescripts, createstack × 4")
    project = load_project(ROOT, overrides=DEMO_PARAMETERS, out=lambda line: _say(out, f"  {line}"))
    deploy_all(project)
