"""What `pynt demo` and `pynt localaws` run; kept here so build.py stays a list of thin tasks."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from localaws.context import DEFAULT_REGION, FAKE_CREDENTIALS


class CommandError(RuntimeError):
    """A problem the user can fix; one line, printed by build.py."""


def set_iam_mode(raw: str | None) -> None:
    """``demo[iam=…]`` / ``localaws[iam=…]``: the endpoint's IAM mode, through ``LOCALAWS_IAM``."""
    if raw is None:
        return
    from localaws.iam.authorizer import ENV_VAR, IamSettingError, parse_mode

    try:
        os.environ[ENV_VAR] = parse_mode(raw)
    except IamSettingError as exc:
        raise CommandError(str(exc)) from exc


def _time_scale(raw: str | float | None, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        scale = float(raw)
    except ValueError as exc:
        raise CommandError(f"time_scale must be a number > 0, got {raw!r}") from exc
    if scale <= 0:
        raise CommandError(f"time_scale must be a number > 0, got {raw!r}")
    return scale


def demo_command(
    sales: str | None = None,
    marketing: str | None = None,
    output: str | None = None,
    time_scale: str | None = None,
    out: TextIO = sys.stdout,
    console: str | None = None,
) -> None:
    """Run the demo and print its summary; raise CommandError naming the failed state and cause.

    ``console=true`` keeps the endpoint and its console open after the workflows, until Ctrl-C."""
    from localaws.demo import (
        DEFAULT_OUTPUT_DIR,
        DEFAULT_TIME_SCALE,
        DemoFailed,
        print_summary,
        run_demo,
        unfired_kills,
    )
    from localaws.demo.inputs import DemoInputError

    set_iam_mode(os.environ.get("LOCALAWS_IAM"))  # a bad mode is one line, before anything is deployed
    output_dir = Path(output) if output else DEFAULT_OUTPUT_DIR
    scale = _time_scale(time_scale or os.environ.get("LOCALAWS_TIME_SCALE"), DEFAULT_TIME_SCALE)
    keep_open = _flag(console, "console")
    printed = []

    def hold(console_url: str, report: Any) -> None:
        if report.status == "SUCCEEDED":
            print_summary(report, out)
            printed.append(True)
        print(f"\nConsole: {console_url} (the endpoint stays up; Ctrl-C stops it)", file=out, flush=True)
        _wait_for_stop()

    # SIGTERM (a CI runner's stop, `kill`) unwinds like Ctrl-C, so that summary.json says what was seen.
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        report = run_demo(
            sales=sales,
            marketing=marketing,
            output_dir=output_dir,
            time_scale=scale,
            out=out,
            **({"hold": hold} if keep_open else {}),
        )
    except DemoInputError as exc:
        raise CommandError(str(exc)) from exc
    except DemoFailed as exc:
        raise CommandError(f"the demo workflow failed: {exc}") from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not printed:
        print_summary(report, out)
    unfired = unfired_kills(report)
    if unfired:
        raise CommandError(
            f"fault mode: {', '.join(unfired)} never fired (the function made no such call in this run), so "
            "it tested nothing; see README.md, section Fault mode"
        )


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _flag(raw: str | None, name: str) -> bool:
    if raw is None or raw.strip().lower() in ("", "false", "0", "no"):
        return False
    if raw.strip().lower() in ("true", "1", "yes"):
        return True
    raise CommandError(f"{name} must be true or false, got {raw!r}")


def _wait_for_stop() -> None:
    """Until Ctrl-C or SIGTERM."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


def localaws_command(port: str | int = 4566, time_scale: str | None = None, out: TextIO = sys.stdout) -> None:
    """Serve the local endpoint in the foreground until Ctrl-C."""
    from localaws.console.app import url as console_url
    from localaws.server import LocalAws

    try:
        port_number = int(port)
    except ValueError as exc:
        raise CommandError(f"port must be a number, got {port!r}") from exc
    if not 0 <= port_number <= 65535:  # the socket layer answers with an OverflowError traceback otherwise
        raise CommandError(f"port must be between 0 and 65535, got {port_number}")
    scale = _time_scale(time_scale or os.environ.get("LOCALAWS_TIME_SCALE"), 1.0)
    # The endpoint's own Lambda processes and Glue jobs talk to it with fake credentials.
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    stopped = threading.Event()
    from localaws.demo import IAM_AUDIT_FILE

    audit = os.environ.get("LOCALAWS_IAM_AUDIT") or str(IAM_AUDIT_FILE)  # pynt iamreport reads it
    try:
        server = LocalAws(port=port_number, time_scale=scale, iam_audit=audit)
        ctx = server.start()
    except OSError as exc:
        raise CommandError(f"cannot listen on 127.0.0.1:{port_number}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a bad LOCALAWS_IAM or LOCALAWS_FAULTS: one line, before anything runs
        raise CommandError(str(exc)) from exc
    os.environ["AWS_ENDPOINT_URL"] = ctx.endpoint_url
    print(f"Local AWS endpoint on {ctx.endpoint_url} (waits scaled ×{scale:g}). In another shell:", file=out)
    print(
        f"  export AWS_ENDPOINT_URL={ctx.endpoint_url} AWS_DEFAULT_REGION={DEFAULT_REGION} "
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        file=out,
    )
    print(
        "  pynt localparams && pynt deployall && pynt startexecution && pynt uploaddata "
        "&& pynt executionstatus",
        file=out,
    )
    print(f"Console: {console_url(ctx.endpoint_url)}", file=out)
    print(
        f"IAM: {ctx.iam} (workloads act as their roles; your own keys as the account's admin); "
        f"decisions in {audit} (pynt iamreport)",
        file=out,
    )
    print("Ctrl-C stops it.", file=out, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if not _stop_within(server, STOP_TIMEOUT_S, out):
            _exit_now(out)
        print("Local AWS endpoint stopped.", file=out, flush=True)


# Ctrl-C must end the endpoint. A stop that hangs (a thread waiting on Spark's JVM, which Ctrl-C ends too) is
# given up after this long, with every thread's stack on stderr to say where it hung.
STOP_TIMEOUT_S = 20.0


def _stop_within(server: Any, timeout_s: float, out: TextIO) -> bool:
    """``server.stop()`` given at most `timeout_s`; False, with the threads' stacks on stderr, if it hung."""
    import faulthandler

    done = threading.Thread(target=server.stop, name="localaws-stop", daemon=True)
    done.start()
    done.join(timeout_s)
    if not done.is_alive():
        return True
    print(f"(the endpoint did not stop within {timeout_s:.0f} s: exiting anyway)", file=out, flush=True)
    faulthandler.dump_traceback(all_threads=True)
    return False


def _exit_now(out: TextIO) -> None:
    """Exit despite threads that still run: the exit handlers first (they end Spark's JVM and remove its
    temporary folder), then the process."""
    import atexit

    print("Local AWS endpoint stopped (not cleanly).", file=out, flush=True)
    atexit._run_exitfuncs()
    os._exit(1)
