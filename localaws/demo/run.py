"""The one-command demo (``run_demo``, what `pynt demo` runs): check the inputs, deploy on a fresh local
endpoint, run both workflows, and collect what they wrote, the timeline and summary.json into one folder.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from buildlib.project import FUNCTIONS
from localaws.demo.environment import DEFAULT_TIME_SCALE, ROOT
from localaws.demo.executions import (
    ATHENA_MACHINE,
    MAIN_MACHINE,
    DemoFailed,
    history_changes,
    run_athena_workflow,
    run_main_workflow,
    start_athena_workflow,
)
from localaws.demo.hops import history, runner_hops
from localaws.demo.inputs import DEMO_SUMMARY, DemoInputError, demo_datasets, prepare_output_dir
from localaws.demo.outputs import DatasetCollector, collect_query_results
from localaws.demo.report import DemoReport, say
from localaws.demo.timeline import write_timeline
from localaws.faults import ENV_VAR as FAULTS_ENV_VAR
from localaws.faults import README_TABLE, FaultSpec, unknown_kill_functions
from localaws.faults import parse_spec as parse_fault_spec
from localaws.faults import report as fault_report
from localaws.iam import denials as iam_denials

DEFAULT_OUTPUT_DIR = ROOT / "build" / "demo-output"


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
    # Imported here: the console imports this package (its timeline view); a top-level import is a cycle.
    # deployed_environment is looked up on the package at each run: callers stand in for it there (a test
    # that must not deploy, the e2e driver reusing the environment it deployed).
    from localaws import demo
    from localaws.console.app import url as console_url

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
    with demo.deployed_environment(time_scale, out, **({} if faults is None else {"faults": faults})) as env:
        report.deploy_s = env.deploy_s
        phase_done("start endpoint and deploy")
        if hold is not None:
            say(out, f"Console: {console_url(env.ctx.endpoint_url)} (watch the workflows run)")
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
