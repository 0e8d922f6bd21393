"""The one-command demo: deploy the unchanged project on the local endpoint, run both workflows for real."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3

from buildlib.aws import retry_config
from buildlib.execution_progress import (
    WAITING,
    HistoryFollower,
    ProgressPrinter,
    execution_events,
    execution_failure,
    first_failure,
    state_progress,
)
from buildlib.local_params import ARTIFACT_BUCKET, DATA_BUCKET, LOCAL_VALUES  # noqa: F401 - used by tests
from buildlib.project import FUNCTIONS
from localaws.console.app import url as console_url
from localaws.context import DEFAULT_REGION, FAKE_CREDENTIALS
from localaws.demo_inputs import DEMO_SUMMARY, DatasetFile, DemoInputError, demo_datasets, prepare_output_dir
from localaws.demo_outputs import (  # noqa: F401 - collect_datasets: used by tests
    DatasetCollector,
    collect_datasets,
    collect_query_results,
)
from localaws.deployed_workflow import DeployedWorkflow, read_workflow, split_s3_url, state_machine_arn
from localaws.faults import ENV_VAR as FAULTS_ENV_VAR
from localaws.faults import README_TABLE, FaultSpec, unknown_kill_functions
from localaws.faults import parse_spec as parse_fault_spec
from localaws.faults import report as fault_report
from localaws.hops import history, runner_hops
from localaws.iam import denials as iam_denials
from localaws.timeline import write_timeline

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT_DIR = ROOT / "build" / "demo-output"
IAM_AUDIT_FILE = ROOT / "build" / "iam-audit.jsonl"  # pynt iamreport reads it
# AWS's real clock: events (a job's end, an answered task, an execution's start) move the workflow on, not
# the schedules, so the demo takes as long as with waits scaled (bench/bench_demo.py runs both side by side).
# time_scale=0.002 makes the safety-net schedules fire every 1.2 s and a 60 s long poll last 0.12 s.
DEFAULT_TIME_SCALE = 1.0

# The values `pynt localparams` writes for the manual local path (one place: buildlib/local_params.py).
DEMO_PARAMETERS = LOCAL_VALUES
# The two workflows the demo runs (the sample's state machines). Their states, what works each one and where
# each Glue job writes are read from the deployment (localaws/deployed_workflow.py).
MAIN_MACHINE = "MarketingAndSalesETLOrchestrator"
ATHENA_MACHINE = "AthenaRunnerTestETLOrchestrator"
# Not used by the demo (it finds the wait states in the deployed definition); kept for
# tests/e2e/test_e2e_faults.py, which uploads when these wait.
WAIT_STATES = ("Wait For Sales Data", "Wait For Marketing Data")
# A real run takes about a minute; this only stops a demo that would otherwise never end.
WORKFLOW_DEADLINE_S = 15 * 60


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
    glue_runs_by_job: dict[str, int] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    # The first rows of the dataset the main workflow's last Glue job wrote.
    first_rows: list[dict[str, Any]] = field(default_factory=list)
    first_rows_dataset: str | None = None
    output_files: list[str] = field(default_factory=list)
    # Each Athena task's result, by state name: the header, then the rows.
    query_results: dict[str, list[list[str]]] = field(default_factory=dict)
    phases_s: dict[str, float] = field(default_factory=dict)
    # Per runner task state: task ready -> job started, job ended -> task answered (localaws/hops.py).
    hops: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, Any] | None = None  # what the fault mode injected (localaws.faults.report); None: off
    iam: dict[str, Any] | None = None  # IAM mode, counts, denials (localaws.iam.denials.report); None: off

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
    arn = state_machine_arn(sfn, name)
    if arn is None:
        raise DemoFailed(f"state machine {name} was not created; see the stack events above")
    return arn


def _client_like(client: Any, service: str) -> Any:
    """A client of ``service`` on the endpoint and region of ``client``, retrying as the demo's do."""
    session = boto3.session.Session()
    return session.client(
        service,
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        config=retry_config(session),
    )


def deployed_workflow(sfn: Any, machine_arn: str) -> DeployedWorkflow:
    """The state machine as deployed: its Task states and who works each (deployed_workflow.py)."""
    return read_workflow(sfn, _client_like(sfn, "lambda"), machine_arn)


def watch_execution(
    sfn: Any,
    execution_arn: str,
    out: TextIO,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    deadline_s: float = WORKFLOW_DEADLINE_S,
    changes: threading.Event | None = None,
    workflow: DeployedWorkflow | None = None,
    stop_check: Callable[[dict[str, Any]], tuple[str, str | None] | None] | None = None,
) -> str:
    """Print each state's progress until the execution ends; return its final status.

    Each Task state is labelled by what works it (``workflow``, read from the deployment when not given). It
    looks every 0.2 s, or, given ``changes`` (set by the endpoint of this process at every history event:
    ``history_changes``), each time that is set, and at least every second. ``stop_check(states)`` returning
    (text, state) ends the watch at once with DemoFailed (an enforced IAM denial: localaws/iam/denials.py)."""
    described = sfn.describe_execution(executionArn=execution_arn)
    started = described["startDate"]
    workflow = workflow or deployed_workflow(sfn, described["stateMachineArn"])
    printer = ProgressPrinter(out, started, workflow.labels())
    follower = HistoryFollower(sfn, execution_arn)
    give_up = time.monotonic() + deadline_s
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        states = state_progress(follower.refresh())
        printer.update(states)
        if on_progress is not None:
            on_progress(states)
        stop = stop_check(states) if stop_check is not None else None
        if stop is not None:
            raise DemoFailed(stop[0], state=stop[1])
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


def uploads_for(workflow: DeployedWorkflow, datasets: list[DatasetFile]) -> list[tuple[DatasetFile, str]]:
    """(file, s3://bucket/key) for each wait state of the workflow, matched by key; DemoFailed naming the
    state when the demo has no file for what it waits for."""
    by_key = {dataset.key: dataset for dataset in datasets}
    uploads = []
    for state, s3_object in workflow.wait_states.items():
        dataset = by_key.get(split_s3_url(s3_object)[1])
        if dataset is None:
            known = ", ".join(sorted(by_key))
            raise DemoFailed(f"state '{state}' waits for {s3_object}; the demo uploads only {known}", state)
        uploads.append((dataset, s3_object))
    return uploads


def run_main_workflow(
    sfn: Any,
    s3: Any,
    datasets: list[DatasetFile],
    out: TextIO,
    on_uploaded: Callable[[], None] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    changes: threading.Event | None = None,
    stop_check: Callable[[dict[str, Any]], tuple[str, str | None] | None] | None = None,
) -> str:
    """Start the ETL workflow, upload the data once every wait state waits for it, follow it to the end.

    The wait states and the object each waits for come from the deployment. ``on_uploaded()`` is called once
    the files are in S3, ``on_progress(states)`` at every look at the execution's history."""
    arn = _state_machine_arn(sfn, MAIN_MACHINE)
    workflow = deployed_workflow(sfn, arn)
    uploads = uploads_for(workflow, datasets)
    execution_arn = sfn.start_execution(stateMachineArn=arn, name=f"demo-{int(time.time())}")["executionArn"]
    _say(out, f"\n▶ {MAIN_MACHINE}: started {execution_arn.rsplit(':', 1)[-1]}")
    uploaded = False

    def upload_when_waiting(states: dict[str, Any]) -> None:
        nonlocal uploaded
        if on_progress is not None:
            on_progress(states)
        waiting = all(s in states and states[s].status == WAITING for s in workflow.wait_states)
        if uploaded or not waiting:
            return
        uploaded = True
        for dataset, s3_object in uploads:
            bucket, key = split_s3_url(s3_object)
            s3.upload_file(str(dataset.path), bucket, key)
            _say(out, f"  uploaded {dataset.path.name} → {s3_object}")
        if on_uploaded is not None:
            on_uploaded()

    status = watch_execution(
        sfn,
        execution_arn,
        out,
        on_progress=upload_when_waiting,
        changes=changes,
        workflow=workflow,
        stop_check=stop_check,
    )
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
    stop_check: Callable[[dict[str, Any]], tuple[str, str | None] | None] | None = None,
) -> dict[str, Any]:
    """Run the sample Athena workflow (or follow ``execution_arn``, one already started) to its end; return
    the Athena runner's task output."""
    if execution_arn is None:
        execution_arn = start_athena_workflow(sfn, out)
    else:
        _say(out, f"\n▶ {ATHENA_MACHINE}: {execution_arn.rsplit(':', 1)[-1]}")
    status = watch_execution(sfn, execution_arn, out, changes=changes, stop_check=stop_check)
    if status != "SUCCEEDED":
        raise _workflow_failed(sfn, execution_arn, ATHENA_MACHINE, status)
    if report is not None:
        report.hops += [hop.as_dict() for hop in runner_hops(history(sfn, execution_arn))]
    return json.loads(sfn.describe_execution(executionArn=execution_arn)["output"])


def print_summary(report: DemoReport, out: TextIO) -> None:
    _say(out, "\n=== Summary ===")
    _say(out, f"Status: {report.status}")
    for name, count in report.row_counts.items():
        _say(out, f"  rows {name:<32} {count:>8,}")
    if report.first_rows:
        columns = list(report.first_rows[0])[:6]
        shown = f"first {len(columns)} of {len(report.first_rows[0])} columns"
        _say(out, f"\nFirst rows of {report.first_rows_dataset}, the workflow's last dataset ({shown}):")
        _say(out, "  " + " | ".join(f"{c:>22}" for c in columns))
        for row in report.first_rows:
            _say(out, "  " + " | ".join(f"{str(row[c]):>22}" for c in columns))
    for state, rows in report.query_results.items():
        _say(out, f"\nAthena query result of '{state}' ({len(rows) - 1} rows), first 3:")
        for row in rows[:4]:
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
    iam_denials.print_summary(report.iam, out)
    if report.output_files:
        _say(out, "\nOutput files:")
        for path in report.output_files:
            _say(out, f"  {os.path.relpath(path)}")


def _print_faults(faults: dict[str, Any], out: TextIO) -> None:
    injected = ", ".join(f"{count} {kind}" for kind, count in faults["injected"].items())
    kills = len(faults["kills"]["fired"])
    done = ", ".join(part for part in (injected, f"{kills} kill(s)" if kills else "") if part) or "nothing"
    _say(out, f"\nFaults ({faults['spec']}): {done} in {faults['calls_seen']} client calls")
    for kind, calls in faults["by_call"].items():
        top = sorted(calls.items(), key=lambda item: -item[1])[:5]
        _say(out, f"  {kind:<9} " + ", ".join(f"{call} ×{count}" for call, count in top))
    for fired in faults["kills"]["fired"]:
        _say(
            out,
            f"  killed {fired.get('function')} {fired.get('when')} {fired.get('call')} ({fired.get('kill')})",
        )
    for kill in faults["kills"].get("unfired", []):
        _say(out, f"  NEVER FIRED: {kill} (the function made no such call in this run)")


def _fake_aws_environment(endpoint_url: str) -> None:
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = DEFAULT_REGION
    os.environ["AWS_REGION"] = DEFAULT_REGION
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url


def require_java() -> None:
    from localaws.runtime.spark import JAVA_INSTALL_HINT, find_java  # a system Java 17, else the packaged one

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
    glue_runs_by_job: dict[str, int] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """A client of the endpoint for ``service``, retrying as the demo's own do."""
        return _client(service, self.ctx.endpoint_url)


@contextlib.contextmanager
def deployed_environment(
    time_scale: float = DEFAULT_TIME_SCALE, out: TextIO = sys.stdout, faults: str | None = None
) -> Iterator[DemoEnvironment]:
    """Start a local endpoint in this process and deploy the project on it with `pynt deployall`'s code.

    ``faults``: the endpoint's fault mode (localaws/faults.py); None leaves it to ``LOCALAWS_FAULTS``. IAM is
    ``LOCALAWS_IAM``'s mode (enforce by default); its decisions go to ``LOCALAWS_IAM_AUDIT`` or
    ``build/iam-audit.jsonl``."""
    from localaws.runtime.spark import warm_up

    require_java()
    warm_up()  # the JVM starts now, while moto is imported and the stacks are created
    from localaws.server import LocalAws

    glue_clock, athena_clock = IntervalClock(), IntervalClock()
    runs_by_job: dict[str, int] = {}
    settings: dict[str, Any] = {"time_scale": time_scale, "prewarm_lambdas": True}
    settings["iam_audit"] = os.environ.get("LOCALAWS_IAM_AUDIT") or str(IAM_AUDIT_FILE)
    if faults is not None:
        settings["faults"] = faults
    with LocalAws(**settings) as ctx:
        _fake_aws_environment(ctx.endpoint_url)
        ctx.subscribe(_clock_listener(glue_clock, athena_clock, runs_by_job))
        ctx.subscribe(_failed_run_listener(out))
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
            glue_runs_by_job=runs_by_job,
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

    # The fault mode given here, or the endpoint's own (LOCALAWS_FAULTS, as pynt demo[faults=...] sets it):
    # a bad spec, or a kill of no deployed function, fails before anything starts.
    check_kills_name_deployed_functions(
        parse_fault_spec(faults if faults is not None else os.environ.get(FAULTS_ENV_VAR, ""))
    )
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

            collector = DatasetCollector(env.s3, env.client("glue"), output_dir, out)
            changes = history_changes(env.ctx)
            denials = iam_denials.DenialWatch(env.ctx, changes)  # an enforced denial ends the demo at once
            try:
                main_execution = run_main_workflow(
                    env.sfn,
                    env.s3,
                    datasets,
                    out,
                    on_uploaded=start_athena,
                    on_progress=collector.on_progress,
                    changes=changes,
                    stop_check=denials.check_for(MAIN_MACHINE),
                )
                report.hops += [hop.as_dict() for hop in runner_hops(history(env.sfn, main_execution))]
                phase_done(MAIN_MACHINE)
                run_athena_workflow(
                    env.sfn,
                    out,
                    report,
                    athena_execution[0],
                    changes,
                    stop_check=denials.check_for(ATHENA_MACHINE),
                )
                collector.collect_all(report)
            finally:
                collector.close()
            phase_done(f"{ATHENA_MACHINE} + copy datasets")
            athena = env.client("athena")
            for execution in (main_execution, athena_execution[0]):
                collect_query_results(env.sfn, env.s3, athena, execution, output_dir, report)
            phase_done("copy the Athena results")
            timeline = write_timeline(env.sfn, [main_execution, *athena_execution], output_dir)
            report.output_files.append(str(timeline))
            report.status = "SUCCEEDED"
        except DemoFailed as failure:
            report.status = "FAILED"
            report.failed_state = failure.state
            report.cause = str(failure)
            raise
        except (KeyboardInterrupt, SystemExit) as stopped:  # Ctrl-C, or SIGTERM (cli.demo_command)
            report.status = "INTERRUPTED"
            report.cause = f"stopped by {type(stopped).__name__} before the workflows ended"
            raise
        finally:
            report.total_s = time.monotonic() - began
            report.glue_wall_s = env.glue_clock.busy_seconds()
            report.glue_job_s = env.glue_clock.summed_seconds()
            report.glue_runs = env.glue_clock.count
            report.glue_runs_by_job = dict(env.glue_runs_by_job)
            report.athena_s = env.athena_clock.busy_seconds()
            report.athena_outside_glue_s = env.athena_clock.busy_seconds_outside(env.glue_clock)
            report.faults = fault_report(env.ctx)
            report.iam = iam_denials.report(env.ctx)
            summary_path = output_dir / DEMO_SUMMARY
            report.output_files.append(str(summary_path))
            summary = {**asdict(report), "orchestration_overhead_s": report.orchestration_overhead_s}
            if report.faults is None:
                del summary["faults"]
            summary_path.write_text(json.dumps(summary, indent=2, default=str))
            if hold is not None:
                hold(console_url(env.ctx.endpoint_url), report)
    return report


def check_kills_name_deployed_functions(spec: FaultSpec) -> None:
    """A kill that names no function the demo deploys could never fire: refused before anything starts."""
    deployed = [(name, f"{name}.handler") for name in FUNCTIONS]
    unknown = unknown_kill_functions(spec, deployed)
    if unknown:
        raise DemoInputError(
            f"bad fault item {unknown[0]!r}: it names no function the demo deploys ({', '.join(FUNCTIONS)}), "
            f"so it could never fire (see {README_TABLE} for the syntax)"
        )


def unfired_kills(report: DemoReport) -> list[str]:
    """The configured kills that never fired during the run: they tested nothing."""
    return list((report.faults or {}).get("kills", {}).get("unfired", []))


def _clock_listener(
    glue_clock: IntervalClock, athena_clock: IntervalClock, runs_by_job: dict[str, int] | None = None
) -> Callable[[str, dict], None]:
    runs_by_job = {} if runs_by_job is None else runs_by_job

    def listener(kind: str, fields: dict) -> None:
        if kind == "glue.run.start":
            glue_clock.start(str(fields.get("run_id")))
            job = str(fields.get("job"))
            runs_by_job[job] = runs_by_job.get(job, 0) + 1
        elif kind == "glue.run.end":
            glue_clock.stop(str(fields.get("run_id")))
        elif kind == "athena.query.start":
            athena_clock.start(str(fields.get("query_execution_id")))
        elif kind == "athena.query.end":
            athena_clock.stop(str(fields.get("query_execution_id")))

    return listener


def _failed_run_listener(out: TextIO) -> Callable[[str, dict], None]:
    """Say where Spark's log of a failed Glue run is kept (the run's error names its line already)."""

    def listener(kind: str, fields: dict) -> None:
        if kind == "glue.run.end" and fields.get("spark_log"):
            _say(out, f"  Glue run of {fields.get('job')} failed; Spark's log of it: {fields['spark_log']}")

    return listener


def deploy_project(out: TextIO) -> None:
    """Package and deploy through the same code `pynt deployall` runs against AWS, with demo bucket names."""
    from buildlib import load_project
    from buildlib.deploy import deploy_all

    _say(out, "\n▶ Deploying: packagelambda, deploylambda, deploygluescripts, createstack × 4")
    project = load_project(ROOT, overrides=DEMO_PARAMETERS, out=lambda line: _say(out, f"  {line}"))
    deploy_all(project)
