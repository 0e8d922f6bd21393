"""Running a job's script: staged from S3, run as ``__main__`` with Glue's argv and the ``awsglue`` runtime on
``sys.path``, its output captured to CloudWatch Logs and a local log, its end reported to its ``BridgedRun``.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import logging
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from moto.glue.models import FakeJob, FakeJobRun

from localaws.context import LocalAwsContext
from localaws.runtime.glue_run_errors import run_error_message

if TYPE_CHECKING:
    from localaws.bridges.glue.runs import BridgedRun

log = logging.getLogger(__name__)


GLUE_RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime" / "glue_runtime"
OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
ERROR_LOG_GROUP = "/aws-glue/jobs/error"
MAX_ERROR_MESSAGE = 2048
_sys_path_lock = threading.Lock()


def ensure_runtime_importable() -> None:
    with _sys_path_lock:
        runtime = str(GLUE_RUNTIME_DIR)
        if runtime in sys.path:
            sys.path.remove(runtime)
        sys.path.insert(0, runtime)


# -- output capture ---------------------------------------------------------------------------------------


class _ThreadRoutedStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr while runs are active: writes from a run's thread go to that run's
    buffer, every other write to the stream that was there before."""

    def __init__(self, fallback: Any, routes: dict[int, io.StringIO]) -> None:
        self._fallback = fallback
        self._routes = routes

    def write(self, text: str) -> int:
        buffer = self._routes.get(threading.get_ident())
        if buffer is not None:
            return buffer.write(text)
        return self._fallback.write(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self._fallback.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._fallback, "encoding", "utf-8")


class _OutputCapture:
    _lock = threading.Lock()
    _active = 0
    _routes_out: dict[int, io.StringIO] = {}
    _routes_err: dict[int, io.StringIO] = {}
    _saved: tuple[Any, Any] | None = None

    @classmethod
    @contextlib.contextmanager
    def capture(cls) -> Any:
        out, err = io.StringIO(), io.StringIO()
        ident = threading.get_ident()
        with cls._lock:
            if cls._active == 0:
                cls._saved = (sys.stdout, sys.stderr)
                sys.stdout = _ThreadRoutedStream(sys.stdout, cls._routes_out)
                sys.stderr = _ThreadRoutedStream(sys.stderr, cls._routes_err)
            cls._active += 1
            cls._routes_out[ident] = out
            cls._routes_err[ident] = err
        try:
            yield out, err
        finally:
            with cls._lock:
                cls._routes_out.pop(ident, None)
                cls._routes_err.pop(ident, None)
                cls._active -= 1
                if cls._active == 0 and cls._saved is not None:
                    # Put the streams back only if nobody (pytest's capture, say) replaced ours meanwhile.
                    if isinstance(sys.stdout, _ThreadRoutedStream):
                        sys.stdout = cls._saved[0]
                    if isinstance(sys.stderr, _ThreadRoutedStream):
                        sys.stderr = cls._saved[1]
                    cls._saved = None


# -- one run ----------------------------------------------------------------------------------------------


def build_argv(script_path: str, job_name: str, run_id: str, arguments: dict[str, str]) -> list[str]:
    """The argv Glue gives a script: ``script --JOB_NAME <name> --JOB_RUN_ID <id> --k v ...``."""
    argv = [script_path, "--JOB_NAME", job_name, "--JOB_RUN_ID", run_id]
    for key, value in arguments.items():
        if key in ("--JOB_NAME", "--JOB_RUN_ID"):
            continue
        argv += [key, str(value)]
    return argv


def _stage_extra_py_files(stager: Any, uris: str, dest: Path) -> tuple[list[str], list[str]]:
    """Download ``--extra-py-files``; return the sys.path entries to add and the module names they provide."""
    entries: list[str] = []
    modules: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)
    for uri in (u.strip() for u in uris.split(",")):
        if not uri:
            continue
        files, _ = stager.download(uri, dest, keep_hidden=True)
        if not files:
            raise FileNotFoundError(f"--extra-py-files: no object at {uri}")
        for path in files:
            if path.suffix in (".zip", ".egg", ".whl"):
                entries.append(str(path))
            elif path.suffix == ".py":
                modules.append(path.stem)
    entries.insert(0, str(dest))
    return entries, modules


@contextlib.contextmanager
def _on_sys_path(entries: list[str], modules: list[str]) -> Iterator[dict[str, ModuleType]]:
    """The run's extra files importable for its duration, and its extra modules, already imported.

    sys.modules is one per process while runs are parallel: two runs importing a module of the same name
    from their own ``--extra-py-files`` raced (one forgot the module while the other's import was in flight:
    KeyError), and either could get the other's copy. So the run's modules are imported here, under the
    lock, from the run's own files first on sys.path, and the script gets exactly these (``_run_script``).
    """
    with _sys_path_lock:
        position = 1 if sys.path and sys.path[0] == str(GLUE_RUNTIME_DIR) else 0
        for entry in reversed(entries):
            sys.path.insert(position, entry)
        try:
            for name in modules:
                sys.modules.pop(name, None)  # an older deployment's, or another run's: import this run's
            loaded = {name: importlib.import_module(name) for name in modules}
        except BaseException:
            _remove_from_sys_path(entries)
            raise
    try:
        yield loaded
    finally:
        with _sys_path_lock:
            _remove_from_sys_path(entries)


def _remove_from_sys_path(entries: list[str]) -> None:
    for entry in entries:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _run_builtins(run_modules: dict[str, ModuleType]) -> dict[str, Any]:
    """Builtins whose ``__import__`` answers the run's own extra modules, whatever sys.modules holds now."""
    process_import = builtins.__import__

    def run_import(name: str, globals=None, locals=None, fromlist=(), level: int = 0) -> Any:  # noqa: A002
        if level == 0 and name in run_modules:
            return run_modules[name]
        return process_import(name, globals, locals, fromlist, level)

    return {**vars(builtins), "__import__": run_import}


def _run_script(script_path: Path, run_modules: dict[str, ModuleType] | None = None) -> None:
    """Execute the script as ``__main__`` without touching ``sys.modules['__main__']``.

    runpy.run_path would swap the process-wide ``sys.modules['__main__']`` for the script's duration; with
    parallel runs, interleaved swaps can leave the wrong module there. A fresh namespace named ``__main__``
    runs the unchanged script the same way (``if __name__ == "__main__": main()`` fires).
    """
    source = script_path.read_text()
    code = compile(source, str(script_path), "exec")
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "__file__": str(script_path),
        "__builtins__": _run_builtins(run_modules or {}),
        "__package__": None,
        "__spec__": None,
    }
    exec(code, namespace)  # noqa: S102 - running the job's script is the point


def execute_run(ctx: LocalAwsContext, job: FakeJob, job_run: FakeJobRun, record: BridgedRun) -> None:
    from localaws.runtime.catalog_staging import calling_for

    # Everything the run reads and writes is authorised as the job's Role (localaws/iam), as on Glue.
    with calling_for(f"glue-run:{record.job_name}:{record.run_id}"):
        _execute_run_as_role(ctx, job, job_run, record)


def _execute_run_as_role(ctx: LocalAwsContext, job: FakeJob, job_run: FakeJobRun, record: BridgedRun) -> None:
    from localaws.iam.service_access import glue_job_credentials
    from localaws.runtime.catalog_staging import Stager

    ctx.emit("glue.run.start", job=record.job_name, run_id=record.run_id, state=record.state)
    run_dir = ctx.work_dir / "glue" / record.run_id
    out_text = err_text = ""
    error: str | None = None
    script_name: str | None = None
    credentials: dict[str, str] | None = None
    stager = None
    try:
        credentials = glue_job_credentials(job.role, record.job_name, record.run_id)  # None: IAM off
        stager = Stager(ctx.endpoint_url, ctx.region, run_dir, credentials)
        script_uri = (job.command or {}).get("ScriptLocation")
        if not script_uri:
            raise ValueError(f"job {record.job_name} has no Command.ScriptLocation")
        script_dir = stager.new_dir("script")
        files, _ = stager.download(script_uri, script_dir, keep_hidden=True)
        if len(files) != 1:
            raise FileNotFoundError(f"script not found at {script_uri}")
        script_name = files[0].name
        arguments = dict(job_run.arguments or {})
        entries, modules = _stage_extra_py_files(
            stager, arguments.get("--extra-py-files", ""), stager.new_dir("extra-py-files")
        )
        ensure_runtime_importable()
        from awsglue import _localrun  # the runtime the script will import (same module object)

        from localaws.runtime.spark import get_spark

        spark = get_spark()
        run_context = _localrun.RunContext(
            argv=build_argv(str(files[0]), record.job_name, record.run_id, arguments),
            job_name=record.job_name,
            run_id=record.run_id,
            endpoint_url=ctx.endpoint_url,
            region=ctx.region,
            work_dir=run_dir,
            spark=spark,
            credentials=credentials,
        )
        record.set_state("RUNNING")
        with (
            _OutputCapture.capture() as (out, err),
            _on_sys_path(entries, modules) as run_modules,
            _localrun.activate(run_context),
        ):
            try:
                spark.sparkContext.setJobGroup(
                    record.run_id, f"Glue job {record.job_name}", interruptOnCancel=True
                )
                _run_script(files[0], run_modules)
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    raise RuntimeError(f"script exited with status {exc.code}") from exc
            except BaseException:
                traceback.print_exc()  # into the run's error log, as Glue's error stream shows it
                raise
            finally:
                out_text, err_text = out.getvalue(), err.getvalue()
                for extra in run_context.stagers:
                    extra.cleanup()
    except BaseException as exc:  # the run fails, the endpoint lives on
        error = run_error_message(exc, run_dir, script_name, MAX_ERROR_MESSAGE)
        if not err_text:
            err_text = traceback.format_exc()
    finally:
        if stager is not None:
            stager.cleanup()
        shutil.rmtree(run_dir, ignore_errors=True)
    # A stopped run ends STOPPED whatever its script did once Spark cancelled its jobs (Glue: STOPPING,
    # then STOPPED).
    final = "STOPPED" if record.stop_requested else "FAILED" if error else "SUCCEEDED"
    if record.stop_requested:
        error = None
    spark_log = _keep_spark_log(record) if final == "FAILED" else None
    if spark_log is not None:
        err_text += f"\nSpark's log of this run: {spark_log}\n"
    duration_s = round(time.monotonic() - record.started_monotonic, 3)
    # Logs and the end event first, the final state last: whoever sees the run end finds its logs there.
    _publish_logs(ctx, record, final, error, out_text, err_text, credentials)
    log.info("glue run %s %s %s%s", record.job_name, record.run_id, final, f": {error}" if error else "")
    ctx.emit(
        "glue.run.end",
        job=record.job_name,
        run_id=record.run_id,
        state=final,
        error=error,
        duration_s=duration_s,
        spark_log=str(spark_log) if spark_log else None,
    )
    record.set_state(final, error)


def _keep_spark_log(record: BridgedRun) -> Path | None:
    """Keep Spark's JVM log of a failed run (the session's folder is removed at exit) and say where."""
    from localaws.runtime import spark

    kept = spark.keep_log(f"{record.job_name}-{record.run_id[:20]}")
    if kept is not None:
        log.warning("glue run %s %s failed; Spark's log is kept at %s", record.job_name, record.run_id, kept)
    return kept


def _publish_logs(
    ctx: LocalAwsContext,
    record: BridgedRun,
    state: str,
    error: str | None,
    out_text: str,
    err_text: str,
    credentials: dict[str, str] | None = None,
) -> None:
    """What the script printed: a local file, and CloudWatch Logs as on Glue (best effort), written with the
    job's role (``credentials``) as Glue writes them."""
    try:
        folder = ctx.work_dir / "glue-logs" / record.job_name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{record.run_id}.log").write_text(
            f"== stdout ==\n{out_text}\n== stderr ==\n{err_text}\n== {state} {error or ''}\n"
        )
    except OSError as exc:
        log.debug("could not write the run's log file: %s", exc)
    try:
        from localaws.runtime.catalog_staging import make_client

        logs = make_client("logs", ctx.endpoint_url, ctx.region, credentials)
        now_ms = int(time.time() * 1000)
        for group, text in ((OUTPUT_LOG_GROUP, out_text), (ERROR_LOG_GROUP, err_text)):
            lines = [line for line in text.splitlines() if line.strip()]
            if not lines:
                continue
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=group)
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=group, logStreamName=record.run_id)
            for start in range(0, len(lines), 1000):
                events = [{"timestamp": now_ms, "message": line} for line in lines[start : start + 1000]]
                logs.put_log_events(logGroupName=group, logStreamName=record.run_id, logEvents=events)
    except Exception as exc:  # logs are a convenience; never fail a run over them
        log.debug("could not send the run's output to CloudWatch Logs: %s", exc)
