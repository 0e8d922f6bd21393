"""Bridge for Glue: StartJobRun really runs the job's unchanged PySpark script, in this process.

moto records a job run and moves its state STARTING -> RUNNING -> SUCCEEDED by itself (a ``ManagedState``
advanced on every GetJobRun), never looking at the script. Here a StartJobRun:

1. still goes through moto (unknown job -> EntityNotFoundException, MaxConcurrentRuns, argument merging:
   DefaultArguments, then the run's Arguments, then NonOverridableArguments);
2. starts a worker thread that downloads ``Command.ScriptLocation`` and every ``--extra-py-files`` object
   from the endpoint's S3, and executes the script as ``__main__`` with the ``awsglue`` runtime of
   ``localaws/glue_runtime`` first on ``sys.path`` and the shared SparkSession (``localaws.spark``);
3. reports the real state: STARTING while staging, RUNNING while the script runs, then SUCCEEDED, or FAILED
   with ``ErrorMessage`` = ``"<ExceptionType>: <message> (at <script> line N[, <file> line M])"``: the
   script's line whose call failed and, when elsewhere, the innermost line of the run's own code (an
   ``--extra-py-files`` module); Spark's log of a failed run is kept (``localaws.spark.keep_log``) and its
   path written to the run's error log. StartedOn, LastModifiedOn, CompletedOn and ExecutionTime follow the
   run.

A run that ends SUCCEEDED, FAILED, TIMEOUT or STOPPED then (state first, so a target calling GetJobRun sees it
ended) puts Glue's "Glue Job State Change" event on the account's default EventBridge bus (events bridge):
source ``aws.glue``, resources ``[]``, detail ``{jobName, severity, state, jobRunId, message}`` with severity
INFO / ERROR / WARN / INFO and message "Job run succeeded", "JobName:<job> and JobRunId:<id> failed to execute
with exception <ErrorMessage>", "Job run timed out", "Job run stopped".

The script's argv is built like Glue's (``script.py --JOB_NAME <name> --JOB_RUN_ID <id> --k v ...``) and
handed to ``getResolvedOptions`` via a thread-local run context, because ``sys.argv`` is one per process and
runs execute in parallel. What the script prints goes to CloudWatch Logs (``/aws-glue/jobs/output`` and
``/aws-glue/jobs/error``, stream = run id) and to ``<work_dir>/glue-logs/<job>/<run id>.log``.
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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.glue.models import FakeJob, FakeJobRun, GlueBackend
from moto.glue.responses import GlueResponse

from localaws.bridges import glue_run_size, patching
from localaws.context import LocalAwsContext
from localaws.glue_run_errors import run_error_message

log = logging.getLogger(__name__)

GLUE_RUNTIME_DIR = Path(__file__).resolve().parent.parent / "glue_runtime"
OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
ERROR_LOG_GROUP = "/aws-glue/jobs/error"
_MAX_ERROR_MESSAGE = 2048

_state: dict[str, Any] = {"ctx": None}
_install_lock = threading.Lock()
_sys_path_lock = threading.Lock()


class GlueBridgeError(RuntimeError):
    """moto no longer looks as this bridge expects (after an upgrade): the bridge cannot be installed."""


@dataclass
class BridgedRun:
    """The real state of a job run, kept on moto's FakeJobRun as ``_localaws_run``."""

    job_name: str
    run_id: str
    glue_version: str | None
    state: str = "STARTING"
    started_on: datetime = field(default_factory=utcnow)
    last_modified_on: datetime = field(default_factory=utcnow)
    completed_on: datetime | None = None
    error_message: str | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    finished_monotonic: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    stop_requested: bool = False
    account_id: str = ""  # where its "Glue Job State Change" event goes (none when empty)
    region: str = ""

    def set_state(self, state: str, error: str | None = None) -> None:
        if self.stop_requested and state == "RUNNING":
            return  # stopped while staging: it stays STOPPING until the run ends
        ended_now = state in _TERMINAL_STATES and not self.done.is_set()
        self.state = state
        self.last_modified_on = utcnow()
        if error is not None:
            self.error_message = error[:_MAX_ERROR_MESSAGE]
        if state in _TERMINAL_STATES:
            self.completed_on = self.last_modified_on
            self.finished_monotonic = time.monotonic()
            self.done.set()
        if ended_now and state in _EVENT_STATES:
            # After the state is visible: a target that calls GetJobRun on the event sees the run ended.
            self.emit_state_change()

    def emit_state_change(self) -> None:
        """Glue's "Glue Job State Change" event for the run's terminal state, on the default bus."""
        if not self.account_id:
            return
        from localaws.bridges import events

        events.emit(
            self.account_id,
            self.region,
            "aws.glue",
            "Glue Job State Change",
            job_state_change_detail(self.job_name, self.run_id, self.state, self.error_message),
            [],
        )

    @property
    def execution_seconds(self) -> int:
        end = self.finished_monotonic if self.finished_monotonic is not None else time.monotonic()
        return int(round(end - self.started_monotonic))


_TERMINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR")
# Glue sends "Glue Job State Change" for these four only; severity and message as in Glue's documented events.
_EVENT_STATES = {
    "SUCCEEDED": ("INFO", "Job run succeeded"),
    "FAILED": ("ERROR", None),
    "TIMEOUT": ("WARN", "Job run timed out"),
    "STOPPED": ("INFO", "Job run stopped"),
}


def job_state_change_detail(job_name: str, run_id: str, state: str, error: str | None) -> dict[str, str]:
    """The ``detail`` of a "Glue Job State Change" event (field order as Glue sends it)."""
    severity, message = _EVENT_STATES[state]
    if message is None:
        message = f"JobName:{job_name} and JobRunId:{run_id} failed to execute with exception {error or ''}"
    return {"jobName": job_name, "severity": severity, "state": state, "jobRunId": run_id, "message": message}


def bridged_run(job_run: FakeJobRun) -> BridgedRun | None:
    return job_run.__dict__.get("_localaws_run")


# -- patches of moto --------------------------------------------------------------------------------------


def _check_moto_shape() -> None:
    """Fail loudly at install, naming the gap, if a moto upgrade moved what the patches replace."""
    problems = []
    if not callable(getattr(GlueBackend, "start_job_run", None)):
        problems.append("moto.glue.models.GlueBackend.start_job_run is gone")
    if not isinstance(getattr(FakeJobRun, "status", None), property):
        problems.append("moto.glue.models.FakeJobRun.status is no longer a property (ManagedState)")
    if not callable(getattr(FakeJobRun, "as_dict", None)):
        problems.append("moto.glue.models.FakeJobRun.as_dict is gone")
    if not hasattr(FakeJob, "__init__") or "job_runs" not in FakeJob.__init__.__code__.co_names:
        problems.append("moto.glue.models.FakeJob no longer keeps its runs in .job_runs")
    if problems:
        raise GlueBridgeError("Glue bridge (gap: job runs never run their script): " + "; ".join(problems))


def _patch_start_job_run() -> None:
    """GlueBackend.start_job_run: after moto has recorded the run, execute its script in a worker thread.

    WHY: moto only records the run; nothing runs the script.
    """
    patching.wrap(GlueBackend, "start_job_run", _start_job_run_executing)


def _start_job_run_executing(original: Any) -> Any:
    def start_job_run(self: GlueBackend, name: str, *args: Any, **kwargs: Any) -> str:
        run_id = original(self, name, *args, **kwargs)  # EntityNotFound, ConcurrentRunsExceeded, arg merge
        job = self.get_job(name)
        job_run = next(r for r in job.job_runs if r.job_run_id == run_id)
        record = BridgedRun(
            job_name=name,
            run_id=run_id,
            glue_version=job.glue_version,
            account_id=self.account_id,
            region=self.region_name,
        )
        job_run._localaws_run = record
        ctx = _state["ctx"]
        threading.Thread(
            target=_execute_run,
            args=(ctx, job, job_run, record),
            name=f"glue-run-{name}-{run_id[:11]}",
            daemon=True,
        ).start()
        return run_id

    return start_job_run


def _patch_job_run_status() -> None:
    """FakeJobRun.status: a bridged run reports its real state.

    WHY: ManagedState.status advances STARTING -> RUNNING -> SUCCEEDED on its own (immediately by default);
    moto's own MaxConcurrentRuns check reads it too, so it now sees runs that are really still running.
    """
    patching.wrap(FakeJobRun, "status", _run_status_of_bridged_runs)


def _run_status_of_bridged_runs(original: property) -> property:
    def _get(self: FakeJobRun) -> str | None:
        record = bridged_run(self)
        return record.state if record is not None else original.fget(self)  # type: ignore[misc]

    return property(_get, original.fset)


def _patch_job_run_as_dict() -> None:
    """FakeJobRun.as_dict (GetJobRun, GetJobRuns): the run's real state, times, error and Glue version.

    WHY: moto reports fixed values (ExecutionTime 123, CompletedOn = StartedOn, GlueVersion "0.9", no
    ErrorMessage).
    """
    patching.wrap(FakeJobRun, "as_dict", _as_dict_of_bridged_runs)


def _as_dict_of_bridged_runs(original: Any) -> Any:
    def as_dict(self: FakeJobRun) -> dict[str, Any]:
        result = original(self)
        record = bridged_run(self)
        if record is None:
            return result
        result.update(
            JobRunState=record.state,
            StartedOn=record.started_on,
            LastModifiedOn=record.last_modified_on,
            ExecutionTime=record.execution_seconds,
            LogGroupName="/aws-glue/jobs",
        )
        if record.glue_version:
            result["GlueVersion"] = record.glue_version
        if record.completed_on is not None:
            result["CompletedOn"] = record.completed_on
        else:
            result.pop("CompletedOn", None)
        if record.error_message:
            result["ErrorMessage"] = record.error_message
        return result

    return as_dict


_STOPPABLE = frozenset({"STARTING", "RUNNING", "WAITING"})


def _patch_get_job_run_index() -> None:
    """FakeJob.get_job_run: a dict lookup instead of a walk over every run of the job.

    WHY: a runner checks each tracked run with GetJobRun; with N runs of one job moto's walk made each call
    O(N) and a check cycle O(N²). The index is rebuilt when runs were added (runs are only ever appended).
    """
    patching.wrap(FakeJob, "get_job_run", _indexed_get_job_run)


def _indexed_get_job_run(original: Any) -> Any:
    def get_job_run(self: FakeJob, run_id: str) -> FakeJobRun:
        index = self.__dict__.get("_localaws_run_index")
        if index is None or index[0] != len(self.job_runs):
            index = (len(self.job_runs), {run.job_run_id: run for run in self.job_runs})
            self.__dict__["_localaws_run_index"] = index
        job_run = index[1].get(run_id)
        if job_run is None:
            return original(self, run_id)  # moto's own JobRunNotFound answer
        job_run.advance()
        return job_run

    return get_job_run


def stop_job_run(backend: GlueBackend, job_name: str, run_id: str) -> dict[str, Any] | None:
    """Stop one run; None when it was submitted for stopping, else its BatchStopJobRunError."""

    def refused(code: str, message: str) -> dict[str, Any]:
        return {
            "JobName": job_name,
            "JobRunId": run_id,
            "ErrorDetail": {"ErrorCode": code, "ErrorMessage": message},
        }

    job = backend.jobs.get(job_name)
    if job is None:
        return refused("EntityNotFoundException", f"Job {job_name} not found")
    try:
        job_run = job.get_job_run(run_id)
    except Exception:  # moto's JobRunNotFoundException
        return refused("EntityNotFoundException", f"Job run {run_id} not found")
    record = bridged_run(job_run)
    state = record.state if record is not None else job_run.status
    if state not in _STOPPABLE:
        return refused("InvalidInputException", f"Job run {run_id} is {state} and cannot be stopped")
    if record is None:
        job_run.status = "STOPPED"
        return None
    record.stop_requested = True
    record.set_state("STOPPING")
    threading.Thread(
        target=_cancel_until_done, args=(record,), name=f"glue-stop-{run_id[:11]}", daemon=True
    ).start()
    return None


def _cancel_until_done(record: BridgedRun) -> None:
    """Cancel the run's Spark jobs until its script ends: cancelJobGroup only reaches jobs already submitted,
    and a script keeps submitting new ones."""
    from localaws import spark as shared

    while not record.done.is_set():
        if shared.is_started():
            with contextlib.suppress(Exception):  # best effort, tried again
                shared.get_spark().sparkContext.cancelJobGroup(record.run_id)
        record.done.wait(0.5)


def _patch_batch_stop_job_run() -> None:
    """GlueResponse.batch_stop_job_run: stop runs as Glue does (STOPPING, then STOPPED once the script ends).

    WHY: moto has no BatchStopJobRun (it answered 500); the runner stops a run whose task is gone.
    """
    patching.replace(GlueResponse, "batch_stop_job_run", _batch_stop_job_run_action)


def _batch_stop_job_run_action(self: GlueResponse) -> ActionResult:
    job_name = self._get_param("JobName")
    submitted, errors = [], []
    for run_id in self._get_param("JobRunIds") or []:
        error = stop_job_run(self.glue_backend, job_name, run_id)
        if error is None:
            submitted.append({"JobName": job_name, "JobRunId": run_id})
        else:
            errors.append(error)
    return ActionResult({"SuccessfulSubmissions": submitted, "Errors": errors})


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's Glue job runs (idempotent); the latest ``ctx`` is the one runs report to."""
    with _install_lock:
        _state["ctx"] = ctx
        _check_moto_shape()
        _ensure_runtime_importable()
        _patch_start_job_run()
        _patch_job_run_status()
        _patch_job_run_as_dict()
        _patch_get_job_run_index()
        _patch_batch_stop_job_run()
        glue_run_size.install()  # GetJobRun's MaxCapacity: the run's workers times their DPUs


def _ensure_runtime_importable() -> None:
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


def _execute_run(ctx: LocalAwsContext, job: FakeJob, job_run: FakeJobRun, record: BridgedRun) -> None:
    from localaws.catalog_staging import calling_for

    # Everything the run reads and writes is authorised as the job's Role (localaws/iam), as on Glue.
    with calling_for(f"glue-run:{record.job_name}:{record.run_id}"):
        _execute_run_as_role(ctx, job, job_run, record)


def _execute_run_as_role(ctx: LocalAwsContext, job: FakeJob, job_run: FakeJobRun, record: BridgedRun) -> None:
    from localaws.catalog_staging import Stager
    from localaws.iam.service_access import glue_job_credentials

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
        _ensure_runtime_importable()
        from awsglue import _localrun  # the runtime the script will import (same module object)

        from localaws.spark import get_spark

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
        error = run_error_message(exc, run_dir, script_name, _MAX_ERROR_MESSAGE)
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
    from localaws import spark

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
        from localaws.catalog_staging import make_client

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
