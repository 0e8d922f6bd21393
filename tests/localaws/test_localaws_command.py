"""`pynt localaws`: the endpoint in the foreground, used from "another shell" as the README shows.

Each test runs `pynt localaws[…]` as a child process (its own endpoint, on its own port), talks to it with
boto3 and with another build task through AWS_ENDPOINT_URL, and stops it as Ctrl-C or a service manager would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.child_env import child_environment, free_port

ROOT = Path(__file__).resolve().parents[2]
PYNT = str(Path(sys.executable).parent / "pynt")
READY_LINE = "Local AWS endpoint on "
BANNER_END = "Ctrl-C stops it."
START_TIMEOUT_S = 60


class Foreground:
    """A running `pynt localaws[port=…]` child and what it printed up to the ready line."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [PYNT, f"localaws[port={port},time_scale=0.01]"],
            cwd=ROOT,
            env=child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.banner: list[str] = []
        give_up = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < give_up:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner.append(line.rstrip("\n"))
            if line.startswith(BANNER_END):
                return
        self.stop()
        raise AssertionError(f"pynt localaws did not start: {self.banner}")

    def stop(self) -> tuple[int | None, str]:
        """SIGTERM, then what it printed after the banner and its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rest, _ = self.proc.communicate()
        return self.proc.returncode, rest


@pytest.fixture
def foreground() -> Iterator[Foreground]:
    endpoint = Foreground(free_port())
    yield endpoint
    endpoint.stop()


def test_the_banner_tells_how_to_point_another_shell_at_it(foreground: Foreground) -> None:
    banner = "\n".join(foreground.banner)
    assert f"{READY_LINE}{foreground.url}" in banner
    assert f"export AWS_ENDPOINT_URL={foreground.url}" in banner


def test_boto3_and_a_build_task_from_another_shell_use_it_and_sigterm_stops_it(
    foreground: Foreground,
) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=foreground.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="made-from-another-shell")
    s3.put_object(Bucket="made-from-another-shell", Key="a.csv", Body=b"x")

    task = subprocess.run(
        [PYNT, "deletes3bucket[made-from-another-shell,yes]"],
        cwd=ROOT,
        env=child_environment(AWS_ENDPOINT_URL=foreground.url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert task.returncode == 0, task.stdout + task.stderr
    assert "made-from-another-shell" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    code, rest = foreground.stop()
    assert code == 0, rest
    assert "Local AWS endpoint stopped." in rest
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", foreground.port), timeout=2).close()


def test_a_port_in_use_is_one_error_line_and_exit_1() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [PYNT, f"localaws[port={port}]"],
            cwd=ROOT,
            env=child_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [errors[-1]] and f"cannot listen on 127.0.0.1:{port}" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
