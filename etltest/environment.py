"""The deployed project the tests talk to: an endpoint process (etltest/server.py) and clients of it."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# Starting the endpoint, the JVM and deploying the four stacks: seconds; minutes on a loaded machine.
START_TIMEOUT_S = 600
STOP_TIMEOUT_S = 60
# What could point the endpoint process at a real account, or change its pace or faults.
_DROPPED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "LOCALAWS_TIME_SCALE",
    "LOCALAWS_FAULTS",
)


class KitError(RuntimeError):
    """The kit could not do what the test asked; the message says what and where to look."""


class EtlEnvironment:
    """The project deployed on a local endpoint of its own (a child process), as `pynt deployall` deploys it
    with the demo's parameter values. ``run()`` runs one execution (etltest/runs.py)."""

    def __init__(self, process: subprocess.Popen[str], protocol: Any, endpoint_url: str, log: Path) -> None:
        self._process = process
        self._protocol = protocol
        self._lock = threading.Lock()
        self.endpoint_url = endpoint_url
        self.log = log  # what the endpoint, its Lambda workers and the Glue jobs printed
        self.root = ROOT

    def client(self, service: str) -> Any:
        """A boto3 client of the endpoint (fake credentials; nothing here can reach AWS)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            config=Config(read_timeout=90, retries={"mode": "standard", "max_attempts": 10}),
            **CREDENTIALS,
        )

    def run(
        self,
        machine: str,
        files: Mapping[str, str | Path] | None = None,
        input: Mapping[str, Any] | None = None,  # noqa: A002 - StartExecution's own word
        timeout_s: float = 600,
    ) -> Any:
        """Run one execution of the state machine ``machine`` to its end and return its ``Run``.

        ``files`` maps where a wait state waits for a file (its key in the data bucket, e.g.
        ``sales/SalesPipeline_QuickSightSample.csv``, or a whole ``s3://`` URL) to the file to upload there
        (relative paths from the project's root); each is uploaded once its wait state waits."""
        from etltest.runs import run_execution

        return run_execution(self, machine, files or {}, dict(input or {}), timeout_s)

    def read_rows(self, s3_path: str) -> list[dict[str, Any]]:
        """The rows of the Parquet dataset under ``s3_path``, read by the endpoint's own Spark."""
        answer = self._ask({"rows": s3_path})
        if "error" in answer:
            raise KitError(f"reading {s3_path}: {answer['error']} (log: {self.log})")
        return answer["rows"]

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._process.poll() is not None:
                raise KitError(
                    f"the endpoint process ended (exit {self._process.returncode}); log: {self.log}"
                )
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            line = self._protocol.readline()
        if not line:
            raise KitError(f"the endpoint process gave no answer; log: {self.log}")
        return json.loads(line)

    def close(self) -> None:
        """Stop the endpoint: its stdin closes, it stops its workers and Spark, then exits."""
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _stop_group(self._process)
        self._protocol.close()


def _stop_group(process: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def _child_environment(log: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _DROPPED}
    # Spark's logs of failed Glue runs (localaws/runtime/spark.py keep_log) beside the endpoint's own log.
    env["LOCALAWS_SPARK_LOGS"] = str(log.parent / "spark-logs")
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        PYTHONUNBUFFERED="1",
    )
    return env


def _tail(log: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


@contextlib.contextmanager
def start_environment(log: Path | None = None) -> Iterator[EtlEnvironment]:
    """Start the endpoint process, deploy the project on it, and stop it all at the end.

    ``log``: where the endpoint's output goes (a temporary file when not given)."""
    if log is None:
        log = Path(tempfile.mkdtemp(prefix="etltest-")) / "endpoint.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "etltest.server", str(write_end)],
            cwd=ROOT,
            env=_child_environment(log),
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=log_file,
            pass_fds=(write_end,),
            text=True,
            start_new_session=True,  # its Lambda workers and JVM stop with it
        )
    os.close(write_end)
    protocol = os.fdopen(read_end, "r", encoding="utf-8")
    try:
        ready, _, _ = select.select([protocol], [], [], START_TIMEOUT_S)
        line = protocol.readline() if ready else ""
        answer = json.loads(line) if line else {"error": f"no answer within {START_TIMEOUT_S} s"}
        if "ready" not in answer:
            raise KitError(f"the endpoint did not start: {answer.get('error')}; log {log}:\n{_tail(log)}")
    except BaseException:
        _stop_group(process)
        protocol.close()
        raise
    environment = EtlEnvironment(process, protocol, answer["ready"]["endpoint_url"], log)
    try:
        yield environment
    finally:
        environment.close()


def wait_until(what: str, check: Any, timeout_s: float, every_s: float = 0.25) -> Any:
    """``check()``'s first truthy value; KitError naming ``what`` after ``timeout_s``."""
    give_up = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > give_up:
            raise KitError(f"{what}: not after {timeout_s:.0f} s")
        time.sleep(every_s)
    return value
