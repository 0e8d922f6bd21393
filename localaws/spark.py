"""The one SparkSession of the local endpoint process, started lazily, shared by Glue runs and Athena queries.

Glue 5.0 runs Spark 3.5; here a small ``local[2]`` session stands in for it: no UI, few shuffle partitions,
quiet logs, an in-memory catalog (Athena's tables are registered into it per query) and a warehouse folder
outside the working directory. Starting it takes several seconds (JVM start), so the demo may call
``warm_up()`` early in a background thread.
"""

from __future__ import annotations

import logging
import os
import shutil
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
    "Spark needs Java 17 to run the local Glue jobs and Athena queries, and no `java` was found "
    "(neither on PATH nor under JAVA_HOME). Install it, e.g. `sudo apt-get install openjdk-17-jre-headless` "
    "(Debian/Ubuntu) or `brew install openjdk@17` (macOS), then start again."
)

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


class JavaNotFoundError(RuntimeError):
    """Raised instead of Spark's own obscure gateway error when no Java runtime is installed."""


def find_java() -> str | None:
    """The java executable Spark would use, or None."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.exists():
            return str(candidate)
    return shutil.which("java")


def _conf_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="localaws-spark-"))
    (folder / "log4j2.properties").write_text(_LOG4J2_PROPERTIES.format(log_file=folder / "spark.log"))
    (folder / "warehouse").mkdir()
    return folder


def _build() -> SparkSession:
    if find_java() is None:
        raise JavaNotFoundError(JAVA_INSTALL_HINT)
    # Python workers (UDFs) must run this interpreter, the one pyspark is installed in.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    conf_dir = _conf_dir()
    log4j = f"-Dlog4j2.configurationFile=file:{conf_dir / 'log4j2.properties'}"
    session = (
        SparkSession.builder.master("local[2]")
        .appName("localaws")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", str(conf_dir / "warehouse"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", os.environ.get("LOCALAWS_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.driver.extraJavaOptions", log4j)
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .getOrCreate()
    )
    log.info("Spark's JVM log: %s", conf_dir / "spark.log")
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
