"""The run a thread belongs to, set by the local Glue bridge (``localaws.bridges.glue``).

Real Glue runs one job per process, so scripts read ``sys.argv``; here several runs share one process and
``sys.argv`` is global, so the bridge puts each run's own argv (and the endpoint to stage data through) in a
thread-local ``RunContext`` and ``getResolvedOptions`` reads it from there. Outside a bridge run (a script's
unit test, a plain ``python script.py``) there is no RunContext and the passed argv and environment are used.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_local = threading.local()


@dataclass
class RunContext:
    argv: list[str]
    job_name: str = ""
    run_id: str = ""
    endpoint_url: str | None = None
    region: str = field(
        default_factory=lambda: os.environ.get(
            "AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        )
    )
    work_dir: Path | None = None
    spark: Any = None  # the shared SparkSession, when the bridge has one
    # boto3 client keys of the job's role session (None: the endpoint's administrator, IAM off)
    credentials: dict[str, str] | None = None
    stagers: list[Any] = field(default_factory=list)  # cleaned up by the bridge when the run ends


def current() -> RunContext | None:
    return getattr(_local, "run", None)


@contextlib.contextmanager
def activate(run: RunContext) -> Iterator[RunContext]:
    previous = current()
    _local.run = run
    try:
        yield run
    finally:
        _local.run = previous


def endpoint_url() -> str | None:
    run = current()
    if run is not None and run.endpoint_url:
        return run.endpoint_url
    return os.environ.get("AWS_ENDPOINT_URL")


def credentials() -> dict[str, str] | None:
    run = current()
    return run.credentials if run is not None else None


def region() -> str:
    run = current()
    if run is not None:
        return run.region
    return os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
