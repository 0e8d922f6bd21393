"""The size a Glue run gets is the size the user configured (lambda/gluerunner, on the local endpoint).

One source of truth: the job's own settings (glue-resources.yaml's GlueWorkerType/GlueNumberOfWorkers) unless
the user sets another size, in the runner's config (`glue_job_capacity`, or GLUE_JOB_CAPACITY) or in a task
(`GlueJobCapacity`, or `GlueWorkerType` + `GlueNumberOfWorkers`). The shipped config used to say 10, which
silently ran every job on 10 workers instead of the template's 2.

Each case starts a run through the runner's own start code and reads its size back as the local Glue bridge
records it (GetJobRun: WorkerType, NumberOfWorkers, MaxCapacity in DPUs). The job's script is not uploaded:
the run fails at once, after StartJobRun has sized it, so no Spark is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import etlrunner
import gluerunner
import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "cloudformation" / "glue-resources.yaml"


class _Template(yaml.SafeLoader):
    """Reads the template's parameters; its !Ref/!Sub short forms are not needed here."""


_Template.add_multi_constructor("!", lambda loader, suffix, node: None)


def template_defaults() -> tuple[str, int]:
    parameters = yaml.load(TEMPLATE.read_text(), Loader=_Template)["Parameters"]  # noqa: S506
    return parameters["GlueWorkerType"]["Default"], int(parameters["GlueNumberOfWorkers"]["Default"])


def load_config(**environ: str) -> etlrunner.RunnerConfig:
    """The shipped gluerunner-config.json, with the environment a deployment would give it."""
    return etlrunner.load_config(
        gluerunner.CONFIG_FILE,
        extra_keys=gluerunner.CONFIG_EXTRA_KEYS,
        environ={
            "SFN_ACTIVITY_ARN": "arn:aws:states:us-east-1:123456789012:activity:GlueRunnerActivity",
            **environ,
        },
    )


@pytest.fixture
def glue(aws_client) -> Any:
    return aws_client("glue")


@pytest.fixture
def job(glue, unique_name) -> Iterator[str]:
    """A job sized as the template sizes the project's jobs (its parameters' defaults)."""
    worker_type, workers = template_defaults()
    name = unique_name("RunSize")
    glue.create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://no-such-bucket-{name.lower()}/job.py"},
        GlueVersion="5.0",
        WorkerType=worker_type,
        NumberOfWorkers=workers,
    )
    yield name
    glue.delete_job(JobName=name)


def run_size(glue, config: etlrunner.RunnerConfig, task_input: dict[str, Any]) -> tuple[str, int, float]:
    runner = gluerunner.build_runner(config, glue=glue, environ={})
    started = runner.start(task_input, task_token=f"token-{task_input['GlueJobName']}-{len(task_input)}")
    run = glue.get_job_run(JobName=started["glue_job_name"], RunId=started["glue_job_run_id"])["JobRun"]
    return run["WorkerType"], run["NumberOfWorkers"], run["MaxCapacity"]


def test_the_shipped_config_leaves_the_size_to_the_job(glue, job):
    """A user who reads the template gets the template's workers (before: 10 G.1X workers, from the
    shipped config's glue_job_capacity 10)."""
    config = load_config()
    assert config.int_setting("glue_job_capacity", gluerunner.MIN_CAPACITY, allow_null=True) is None
    worker_type, workers = template_defaults()
    assert run_size(glue, config, {"GlueJobName": job}) == (worker_type, workers, float(workers))


def test_a_capacity_set_in_the_config_sizes_every_run(glue, job):
    config = load_config(GLUE_JOB_CAPACITY="5")
    assert run_size(glue, config, {"GlueJobName": job}) == ("G.1X", 5, 5.0)


@pytest.mark.parametrize(
    ("sizing", "expected"),
    [
        ({"GlueJobCapacity": 4}, ("G.1X", 4, 4.0)),
        ({"GlueWorkerType": "G.2X", "GlueNumberOfWorkers": 3}, ("G.2X", 3, 6.0)),  # 2 DPUs a G.2X worker
    ],
)
def test_a_size_in_the_task_input_wins_over_job_and_config(glue, job, sizing, expected):
    config = load_config(GLUE_JOB_CAPACITY="5")
    assert run_size(glue, config, {"GlueJobName": job, **sizing}) == expected
