"""Lambda workers forked from a template process that has imported boto3 already.

A new execution environment (``localaws.runtime.lambda_process``) spends most of its cold start importing
boto3 (about 0.3 CPU-s), and the demo starts a dozen while Spark needs the same two cores. The template
("zygote") is started once per endpoint process with ``python -m localaws.runtime.lambda_zygote
<socket-fd>``, imports boto3, parses the SDK models of the services the endpoint bridges into the botocore
Loader that every session of it and of its children shares (``localaws.shared_botocore_loader``), and then
forks one child per worker it is asked for. A child is set up as ``awslambda.worker._Worker.start``
would start a process: its own session (process group), the function's folder as working directory, exactly
the function's environment (nothing of the zygote's), stdin from /dev/null, stdout and stderr on the
worker's output pipe; then it runs ``lambda_process.main`` on its request and response pipes.

Protocol on the socket (a socketpair with the endpoint), one JSON document per line each way:

- endpoint -> zygote: ``{"spawn": n, "cwd": ..., "env": {...}}`` with three descriptors attached
  (SCM_RIGHTS): the worker's request pipe (read end), response pipe and output pipe (write ends);
- zygote -> endpoint: ``{"spawned": n, "pid": p}`` (or ``{"spawned": n, "error": "..."}``), and
  ``{"exited": p, "returncode": c}`` when a child ends (``-signal`` when killed, as Popen's returncode),
  since only the zygote, their parent, can reap them.

A function that bundles its own boto3 or botocore gets a fresh interpreter instead (``can_fork``): the
zygote's would shadow it. The zygote ends when the endpoint's end of the socket closes; its children live on
until their request pipe closes, as workers do.

Standard library and boto3 only; the project's modules stay off the children's ``sys.path`` as in
``lambda_process`` (it removes them before importing the handler).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PRELOADED = ("boto3", "botocore")
# The services whose SDK data the zygote parses once for all its children: the ones the local endpoint bridges
# (the project's functions call these). A child's first client of one is then about 0.06 CPU-s cheaper than
# parsing the model itself (0.27 -> 0.09 CPU-s for a runner's three), about ten times a demo.
PRELOADED_SERVICES = ("athena", "dynamodb", "events", "glue", "s3", "stepfunctions")


def can_fork(task_root: Path) -> bool:
    """False when the function's package brings its own boto3 or botocore (the zygote's would shadow it)."""
    return not any((task_root / name).exists() for name in PRELOADED)


# -- the zygote process ------------------------------------------------------------------------------------


def _child(cwd: str, env: dict[str, str], request_fd: int, response_fd: int, output_fd: int) -> int:
    """In the forked child: become a fresh worker process, then run the worker's loop."""
    os.setsid()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    for fd in (null, output_fd):
        os.close(fd)
    # As `python -u`: the worker's output is unbuffered.
    sys.stdout, sys.stderr = (
        io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), "utf-8", errors, write_through=True)
        for fd, errors in ((1, "strict"), (2, "backslashreplace"))
    )
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr
    from localaws.runtime import lambda_process

    return lambda_process.main([str(request_fd), str(response_fd)])


def _spawn(message: dict[str, Any], fds: list[int], close_in_child: list[Any]) -> int:
    pid = os.fork()
    if pid == 0:  # the child never returns into the zygote's loop
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for close in close_in_child:  # the zygote's socket, selector and wakeup pipe
                close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            code = _child(message["cwd"], message["env"], *fds)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return pid


def _json_lines(buffer: bytes) -> tuple[list[dict[str, Any]], bytes]:
    """The whole JSON lines at the start of ``buffer``, and the incomplete rest."""
    *lines, rest = buffer.split(b"\n")
    return [json.loads(line) for line in lines], rest


def _reap(send: Any) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        send({"exited": pid, "returncode": code})


def preload_sdk_data(services: tuple[str, ...] = PRELOADED_SERVICES) -> None:
    """Parse botocore's data for ``services`` into the Loader that every later session of this process
    shares (``localaws.shared_botocore_loader``), so that forked children find it parsed.

    Building a throwaway client loads exactly what a child's clients need (model, endpoint rules,
    partitions, retry and default configuration); explicit keys and region keep it off the environment and
    the credential chain, and it sends no request."""
    import boto3

    from localaws import shared_botocore_loader

    shared_botocore_loader.install()
    # Whatever fails here (a botocore without one of them, an AWS_PROFILE the endpoint's environment names
    # but no config file has), the children parse what they use themselves, as without a zygote.
    with contextlib.suppress(Exception):
        session = boto3.session.Session(
            aws_access_key_id="preload", aws_secret_access_key="preload", region_name="us-east-1"
        )
        for service in services:
            with contextlib.suppress(Exception):
                session.client(service)


def serve(fd: int) -> None:
    """The zygote's loop: fork on request, report exits, end when the endpoint goes."""
    for module in PRELOADED:
        __import__(module)
    import localaws.runtime.lambda_process  # noqa: F401 - imported once here, not in every child

    preload_sdk_data()

    sock = socket.socket(fileno=fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the work
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the endpoint's to handle

    def send(message: dict[str, Any]) -> None:
        sock.sendall(json.dumps(message).encode() + b"\n")

    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "sock")
    selector.register(wake_r, selectors.EVENT_READ, "wake")
    closers = [sock.close, selector.close, lambda: os.close(wake_r), lambda: os.close(wake_w)]
    buffer = b""
    fds: list[int] = []  # descriptors arrive with the first byte of their message: kept until it is whole
    while True:
        for key, _ in selector.select():
            if key.data == "wake":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                _reap(send)
                continue
            data, received, _flags, _addr = socket.recv_fds(sock, 65536, 30)
            fds += received
            if not data:
                return
            messages, buffer = _json_lines(buffer + data)
            for message in messages:
                mine, fds = fds[:3], fds[3:]
                try:
                    pid = _spawn(message, mine, closers)
                    send({"spawned": message["spawn"], "pid": pid})
                except OSError as exc:
                    send({"spawned": message["spawn"], "error": str(exc)})
        _reap(send)


# -- the endpoint's side -----------------------------------------------------------------------------------


def _exists(pid: int) -> bool:
    """Whether the process still runs (a zombie that its new parent has not reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class ForkedProcess:
    """What ``awslambda.worker._Worker`` uses of ``subprocess.Popen``, for a child of the zygote."""

    def __init__(self, zygote: Zygote, pid: int, stdout: Any) -> None:
        self._zygote = zygote
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.returncode(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self._zygote.wait(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"lambda worker {self.pid}", timeout or 0)
        self.returncode = code
        return code


class Zygote:
    """The endpoint's handle on one zygote process (started on first use, restarted if it died)."""

    def __init__(self, project_root: str) -> None:
        self._project_root = project_root
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._next = 0
        self._spawned: dict[int, dict[str, Any]] = {}
        self._exits: dict[int, int] = {}
        self._mine: set[int] = set()  # pids of the running zygote's children

    def _ensure_running(self) -> socket.socket:
        if self._proc is not None and self._proc.poll() is None and self._sock is not None:
            return self._sock
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {**os.environ, "PYTHONPATH": self._project_root}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "localaws.runtime.lambda_zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        finally:
            theirs.close()
        self._sock = ours
        self._mine = set()
        reader = threading.Thread(target=self._read, args=(ours, self._proc), name="lambda-zygote")
        reader.daemon = True
        reader.start()
        return ours

    def _read(self, sock: socket.socket, proc: subprocess.Popen) -> None:
        buffer = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            messages, buffer = _json_lines(buffer + data)
            for message in messages:
                with self._changed:
                    if "spawned" in message:
                        self._spawned[message["spawned"]] = message
                        # A reused pid: the end recorded for an earlier child is not this one's (the zygote
                        # tells a child's start before its end, and this thread reads in order).
                        self._exits.pop(message.get("pid", -1), None)
                    else:
                        self._exits[message["exited"]] = message["returncode"]
                    self._changed.notify_all()
        with self._changed:  # the zygote is gone: its children can no longer be reaped by it
            if self._sock is sock:
                self._sock = None
            self._changed.notify_all()
        with contextlib.suppress(OSError):
            sock.close()
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)

    def spawn(self, cwd: Path, env: dict[str, str], request_fd: int, response_fd: int) -> ForkedProcess:
        """Fork a worker. The caller keeps (and closes) ``request_fd`` and ``response_fd``."""
        output_r, output_w = os.pipe()
        try:
            with self._changed:
                sock = self._ensure_running()
                self._next += 1
                number = self._next
                message = json.dumps({"spawn": number, "cwd": str(cwd), "env": env}).encode() + b"\n"
                sent = socket.send_fds(sock, [message], [request_fd, response_fd, output_w])
                if sent < len(message):
                    sock.sendall(message[sent:])
                while number not in self._spawned:
                    if self._sock is not sock:
                        raise OSError("the Lambda zygote process ended")
                    self._changed.wait(1.0)
                answer = self._spawned.pop(number)
                if "error" in answer:
                    raise OSError(f"the Lambda zygote could not fork: {answer['error']}")
                self._mine.add(answer["pid"])
        except BaseException:
            os.close(output_r)
            raise
        finally:
            os.close(output_w)
        return ForkedProcess(self, answer["pid"], os.fdopen(output_r, "rb"))

    def returncode(self, pid: int) -> int | None:
        with self._changed:
            return self._returncode(pid)

    def _returncode(self, pid: int) -> int | None:
        if pid in self._exits:
            return self._exits[pid]
        if (pid not in self._mine or self._sock is None) and not _exists(pid):
            # Orphaned (the zygote died): nobody can report how it ended; it was gone, as if killed.
            return -signal.SIGKILL
        return None

    def wait(self, pid: int, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while (code := self._returncode(pid)) is None:
                remaining = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)  # an orphan's end is noticed by looking, not told
            return code

    def stop(self) -> None:
        with self._changed:
            sock, self._sock = self._sock, None
            proc, self._proc = self._proc, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
    # Nothing is left to flush or clean up, and freeing the preloaded models one object at a time took the
    # endpoint's stop 0.15 s of waiting.
    os._exit(0)
