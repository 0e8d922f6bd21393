"""A failed Glue run names where its code failed, and keeps Spark's log (localaws/runtime/glue_run_errors.py,
localaws/runtime/spark.py ``keep_log``, the Glue bridge).

Before: ErrorMessage held the exception's first line only, and Spark's log went with its temporary folder at
exit, so a user had to guess which line of a job failed.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from test_glue_bridge import make_job, wait_for_run

from localaws.runtime import spark
from localaws.runtime.glue_run_errors import run_error_message


def _raise_from_files(folder: Path) -> BaseException:
    """Run `job.py`, which calls `common.py`, which raises; return what was raised (with its traceback)."""
    (folder / "common.py").write_text("def check(value):\n    raise ValueError(f'bad value {value!r}')\n")
    (folder / "job.py").write_text("import common\n\n\ndef main():\n    common.check('13/45/2013')\n")
    namespace: dict = {}
    sys.path.insert(0, str(folder))
    try:
        sys.modules.pop("common", None)
        exec(compile((folder / "job.py").read_text(), str(folder / "job.py"), "exec"), namespace)
        try:
            namespace["main"]()
        except ValueError as exc:
            return exc
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("common", None)
    raise AssertionError("job.py did not raise")


def test_the_message_names_the_scripts_line_and_the_innermost_line_of_the_jobs_own_code(tmp_path):
    exc = _raise_from_files(tmp_path)
    message = run_error_message(exc, tmp_path, "job.py")
    assert message == "ValueError: bad value '13/45/2013' (at job.py line 5, common.py line 2)"


def test_a_failure_in_the_script_itself_names_one_line(tmp_path):
    script = tmp_path / "only.py"
    script.write_text("def main():\n    x = 1\n    raise KeyError('missing')\n")
    namespace: dict = {}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    with pytest.raises(KeyError) as raised:
        namespace["main"]()
    assert run_error_message(raised.value, tmp_path, "only.py") == "KeyError: 'missing' (at only.py line 3)"


def test_frames_outside_the_runs_files_are_not_named(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    exc = _raise_from_files(tmp_path / "elsewhere")
    assert run_error_message(exc, tmp_path / "staged-run", "job.py") == "ValueError: bad value '13/45/2013'"


def test_a_python_workers_traceback_in_the_message_text_names_its_line(tmp_path):
    """A UDF's error reaches the driver as text holding the worker's traceback."""
    worker_text = (
        "An exception was thrown from the Python worker.\nTraceback (most recent call last):\n"
        f'  File "/usr/lib/pyspark/worker.py", line 1200, in main\n'
        f'  File "{tmp_path}/extra/common.py", line 42, in to_date\n'
        "ValueError: bad date"
    )
    message = run_error_message(RuntimeError(worker_text), tmp_path, "job.py")
    assert message == "RuntimeError: An exception was thrown from the Python worker. (at common.py line 42)"


def test_the_place_survives_the_length_limit(tmp_path):
    exc = _raise_from_files(tmp_path)
    message = run_error_message(exc, tmp_path, "job.py", limit=60)
    assert len(message) == 60 and message.endswith("(at job.py line 5, common.py line 2)"), message


def test_keep_log_copies_sparks_log_now_and_again_complete_when_the_folder_goes(tmp_path, monkeypatch):
    folder = tmp_path / "localaws-spark-x"
    folder.mkdir()
    (folder / "spark.log").write_text("ERROR Executor: task failed\n")
    monkeypatch.setattr(spark, "_folder", folder)
    monkeypatch.setattr(spark, "_kept_logs", [])
    monkeypatch.setenv(spark.KEPT_LOGS_VARIABLE, str(tmp_path / "kept"))

    kept = spark.keep_log("ProcessSalesData-jr_1")
    assert kept is not None and kept.parent == tmp_path / "kept"
    assert kept.name.endswith("-ProcessSalesData-jr_1.log")
    assert kept.read_text() == "ERROR Executor: task failed\n"
    with (folder / "spark.log").open("a") as handle:
        handle.write("WARN TaskSetManager: lost task 0.0\n")
    spark._remove_folder()
    assert not folder.exists()
    assert kept.read_text() == "ERROR Executor: task failed\nWARN TaskSetManager: lost task 0.0\n"


def test_keep_log_without_a_session_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(spark, "_folder", None)
    monkeypatch.setenv(spark.KEPT_LOGS_VARIABLE, str(tmp_path / "kept"))
    assert spark.keep_log("x") is None
    assert not (tmp_path / "kept").exists()


@pytest.mark.spark
@pytest.mark.usefixtures("service_roles")  # the job runs as role/glue (tests/iam_roles.py)
def test_a_failed_run_names_its_line_and_keeps_sparks_log(local_aws, aws_client):
    """Through the bridge: a job whose --extra-py-files module raises."""
    glue, s3 = aws_client("glue"), aws_client("s3")
    bucket = f"glue-errors-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    module = f"helper_{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=bucket, Key=f"lib/{module}.py", Body=b"def check(v):\n    raise ValueError(v)\n")
    script = textwrap.dedent(
        f"""
        import sys
        import {module}
        from awsglue.utils import getResolvedOptions
        args = getResolvedOptions(sys.argv, ["JOB_NAME"])
        {module}.check("bad input")
        """
    )
    ends: list[dict] = []
    local_aws.subscribe(lambda kind, fields: ends.append(fields) if kind == "glue.run.end" else None)
    job = make_job(aws_client, bucket, script, {"--extra-py-files": f"s3://{bucket}/lib/{module}.py"})
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id)

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == f"ValueError: bad input (at {job}.py line 6, {module}.py line 2)"
    (end,) = [fields for fields in ends if fields["run_id"] == run_id]
    assert end["spark_log"] and Path(end["spark_log"]).is_file(), end
    assert run_id[:20] in Path(end["spark_log"]).name
