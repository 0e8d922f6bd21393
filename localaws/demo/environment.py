"""The demo's environment: a local endpoint started in this process with the project deployed on it through
`pynt deployall`'s own code, and the clocks that measure the run there (``deployed_environment``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3

from buildlib.aws import retry_config
from buildlib.local_params import LOCAL_VALUES
from localaws.context import DEFAULT_REGION, FAKE_CREDENTIALS
from localaws.demo.clocks import IntervalClock, clock_listener
from localaws.demo.executions import DemoFailed
from localaws.demo.report import say

ROOT = Path(__file__).resolve().parents[2]
IAM_AUDIT_FILE = ROOT / "build" / "iam-audit.jsonl"  # pynt iamreport reads it
# AWS's real clock: events (a job's end, an answered task, an execution's start) move the workflow on, not
# the schedules, so the demo takes as long as with waits scaled (bench/bench_demo.py runs both side by side).
# time_scale=0.002 makes the safety-net schedules fire every 1.2 s and a 60 s long poll last 0.12 s.
DEFAULT_TIME_SCALE = 1.0

# The values `pynt localparams` writes for the manual local path (one place: buildlib/local_params.py).
DEMO_PARAMETERS = LOCAL_VALUES


def _client(service: str, endpoint_url: str) -> Any:
    """A client of the demo's own (it follows the executions), retrying as the build tasks' clients do."""
    session = boto3.session.Session()
    return session.client(
        service, endpoint_url=endpoint_url, region_name=DEFAULT_REGION, config=retry_config(session)
    )


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
        ctx.subscribe(clock_listener(glue_clock, athena_clock, runs_by_job))
        ctx.subscribe(_failed_run_listener(out))
        say(out, f"Local AWS endpoint: {ctx.endpoint_url} (waits scaled ×{time_scale:g})")
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


def _failed_run_listener(out: TextIO) -> Callable[[str, dict], None]:
    """Say where Spark's log of a failed Glue run is kept (the run's error names its line already)."""

    def listener(kind: str, fields: dict) -> None:
        if kind == "glue.run.end" and fields.get("spark_log"):
            say(out, f"  Glue run of {fields.get('job')} failed; Spark's log of it: {fields['spark_log']}")

    return listener


def deploy_project(out: TextIO) -> None:
    """Package and deploy through the same code `pynt deployall` runs against AWS, with demo bucket names."""
    from buildlib import load_project
    from buildlib.deploy import deploy_all

    say(out, "\n▶ Deploying: packagelambda, deploylambda, deploygluescripts, createstack × 4")
    project = load_project(ROOT, overrides=DEMO_PARAMETERS, out=lambda line: say(out, f"  {line}"))
    deploy_all(project)
