"""The shared runner core on its own: configuration, input parsing, encoding, the interface."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import athenarunner
import etlrunner
import gluerunner
import pytest
from etlrunner.sfn import MAX_CAUSE_CHARS, encode_cause

SEED_KEYS = {
    "sfn_activity_arn": "<NO-DEFAULT>",
    "sfn_worker_name": "gluerunner",
    "ddb_table": "GlueRunnerActiveJobs",
    "ddb_query_limit": 50,
    "glue_job_capacity": 10,
}


def write_config(tmp_path: Path, data: dict, name: str = "gluerunner-config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_shipped_config_files_keep_the_seed_keys():
    # glue_job_capacity null: a run gets the job's own size (glue-resources.yaml), not a hidden 10 workers.
    assert json.loads(gluerunner.CONFIG_FILE.read_text()) == {**SEED_KEYS, "glue_job_capacity": None}
    assert json.loads(athenarunner.CONFIG_FILE.read_text()) == {
        "sfn_activity_arn": "<NO-DEFAULT>",
        "sfn_worker_name": "athenarunner",
        "ddb_table": "AthenaRunnerActiveJobs",
        "ddb_query_limit": 50,
    }


def test_descriptor_lists_the_three_functions():
    descriptor = json.loads((gluerunner.CONFIG_FILE.parents[1] / "s3-deployment-descriptor.json").read_text())
    assert descriptor == {
        name: {"SourceS3BucketName": "<NO-DEFAULT>", "SourceS3Key": f"src/{name}.zip"}
        for name in ("gluerunner", "athenarunner", "ons3objectcreated")
    }


def test_env_wins_over_file(tmp_path):
    path = write_config(tmp_path, SEED_KEYS)
    env = {
        "SFN_ACTIVITY_ARN": "arn:aws:states:us-east-1:1:activity:A",
        "SFN_WORKER_NAME": "w",
        "DDB_TABLE": "T",
        "DDB_QUERY_LIMIT": "7",
        "GLUE_JOB_CAPACITY": "4",
    }
    config = etlrunner.load_config(path, gluerunner.CONFIG_EXTRA_KEYS, environ=env)
    assert (config.sfn_activity_arn, config.sfn_worker_name, config.ddb_table, config.ddb_query_limit) == (
        "arn:aws:states:us-east-1:1:activity:A",
        "w",
        "T",
        7,
    )
    assert config.int_setting("glue_job_capacity", 2, allow_null=True) == 4


def test_file_values_apply_without_env(tmp_path):
    path = write_config(tmp_path, {**SEED_KEYS, "sfn_activity_arn": "arn:x"})
    config = etlrunner.load_config(path, gluerunner.CONFIG_EXTRA_KEYS, environ={"SFN_WORKER_NAME": ""})
    assert (config.sfn_worker_name, config.ddb_query_limit) == ("gluerunner", 50)
    assert config.int_setting("glue_job_capacity", 2, allow_null=True) == 10


@pytest.mark.parametrize(("file_value", "env"), [(None, {}), (10, {"GLUE_JOB_CAPACITY": "null"})])
def test_null_capacity_means_job_settings(tmp_path, file_value, env):
    path = write_config(tmp_path, {**SEED_KEYS, "sfn_activity_arn": "arn:x", "glue_job_capacity": file_value})
    config = etlrunner.load_config(path, gluerunner.CONFIG_EXTRA_KEYS, environ=env)
    assert gluerunner.build_runner(config, glue=object()).default_capacity is None


def test_no_default_without_env_names_key_file_and_env(tmp_path):
    path = write_config(tmp_path, SEED_KEYS)
    with pytest.raises(etlrunner.ConfigError) as raised:
        etlrunner.load_config(path, gluerunner.CONFIG_EXTRA_KEYS, environ={})
    assert str(raised.value) == (
        f"sfn_activity_arn is <NO-DEFAULT> in {path}: set it there or set environment "
        "variable SFN_ACTIVITY_ARN"
    )


@pytest.mark.parametrize(
    ("file_value", "env"), [("fifty", {}), (50, {"DDB_QUERY_LIMIT": "lots"}), (0, {}), (True, {})]
)
def test_bad_query_limit_names_key_file_and_env(tmp_path, file_value, env):
    path = write_config(tmp_path, {**SEED_KEYS, "sfn_activity_arn": "arn:x", "ddb_query_limit": file_value})
    with pytest.raises(
        etlrunner.ConfigError,
        match=r"ddb_query_limit in .*gluerunner-config.json \(or environment "
        r"variable DDB_QUERY_LIMIT\) must be an integer >= 1",
    ):
        etlrunner.load_config(path, environ=env)


def test_bad_capacity_is_a_config_error(tmp_path):
    path = write_config(tmp_path, {**SEED_KEYS, "sfn_activity_arn": "arn:x", "glue_job_capacity": 1})
    config = etlrunner.load_config(path, gluerunner.CONFIG_EXTRA_KEYS, environ={})
    with pytest.raises(
        etlrunner.ConfigError, match="glue_job_capacity .* GLUE_JOB_CAPACITY.* >= 2 or null, got 1"
    ):
        gluerunner.build_runner(config, glue=object())


def test_missing_key_and_missing_file(tmp_path):
    path = write_config(tmp_path, {"sfn_activity_arn": "arn:x"})
    with pytest.raises(etlrunner.ConfigError, match="sfn_worker_name is missing from .* SFN_WORKER_NAME"):
        etlrunner.load_config(path, environ={})
    with pytest.raises(etlrunner.ConfigError, match="not found"):
        etlrunner.load_config(tmp_path / "absent.json", environ={})


@pytest.mark.parametrize("raw", ['{"GlueJobName": "J"}', json.dumps('{"GlueJobName": "J"}')])
def test_task_input_as_object_or_json_string(raw):
    assert etlrunner.parse_task_input(raw) == {"GlueJobName": "J"}


def test_long_causes_are_cut_to_the_step_functions_limit():
    text = encode_cause({"ErrorMessage": "x" * 100_000, "GlueJobName": "J"})
    assert len(text) <= MAX_CAUSE_CHARS
    assert json.loads(text)["GlueJobName"] == "J"


def test_iso8601_is_utc():
    local = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert etlrunner.iso8601(local) == "2025-01-01T10:00:00+00:00"
    assert etlrunner.iso8601(None) is None


def test_task_ref_hides_the_token():
    ref = etlrunner.task_ref("AAAA-secret-token")
    assert ref.startswith("task-") and "secret" not in ref and ref == etlrunner.task_ref("AAAA-secret-token")


def test_runners_satisfy_the_interface():
    assert isinstance(gluerunner.GlueRunner(object(), None), etlrunner.Runner)
    assert isinstance(athenarunner.AthenaRunner(object()), etlrunner.Runner)
