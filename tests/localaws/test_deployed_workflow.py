"""The workflow as deployed (localaws/demo/workflow.py): what the demo and the test kit follow.

Before, the demo named the sample's states and datasets in lists (STATE_LABELS, DATASET_STATES): a job a
user added was neither labelled nor copied. Here every fact comes from the deployment's own answers.
"""

from __future__ import annotations

import json
from typing import Any

from localaws.demo.workflow import (
    DATA_ARRIVED,
    WAITING_FOR_DATA,
    dataset_name,
    glue_output_path,
    read_workflow,
    states_of,
    task_output,
)

GLUE = "arn:aws:states:us-east-1:123456789012:activity:GlueRunnerActivity"
WAIT = "arn:aws:states:us-east-1:123456789012:activity:bkt-in.csv"
OTHER = "arn:aws:states:us-east-1:123456789012:activity:NobodyPollsThis"

DEFINITION = {
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Wait For Input",
                    "States": {
                        "Wait For Input": {"Type": "Task", "Resource": WAIT, "Next": "Clean"},
                        "Clean": {"Type": "Task", "Resource": GLUE, "End": True},
                    },
                },
                {"StartAt": "Idle", "States": {"Idle": {"Type": "Pass", "End": True}}},
            ],
            "Next": "Each Month",
        },
        "Each Month": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "Roll Up",
                "States": {"Roll Up": {"Type": "Task", "Resource": GLUE, "End": True}},
            },
            "Next": "Elsewhere",
        },
        "Elsewhere": {"Type": "Task", "Resource": OTHER, "End": True},
    },
}


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self._pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self._pages


class FakeLambda:
    """ListFunctions as Lambda answers it, in two pages."""

    def get_paginator(self, name: str) -> _Pages:
        assert name == "list_functions"
        return _Pages(
            [
                {
                    "Functions": [
                        {"FunctionName": "myrunner", "Environment": {"Variables": {"SFN_ACTIVITY_ARN": GLUE}}}
                    ]
                },
                {
                    "Functions": [
                        {"FunctionName": "plain"},
                        {
                            "FunctionName": "ons3objectcreated",
                            "Environment": {
                                "Variables": {"WAIT_ACTIVITIES": json.dumps({"s3://bkt/in/in.csv": WAIT})}
                            },
                        },
                    ]
                },
            ]
        )


class FakeSfn:
    def describe_state_machine(self, stateMachineArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
        return {"name": "Machine", "definition": json.dumps(DEFINITION)}


class FakeGlue:
    def get_job(self, JobName: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
        arguments = {"Clean": {"--s3_output_path": "s3://out/etl/clean/"}, "Bare": {}}[JobName]
        return {"Job": {"Name": JobName, "DefaultArguments": arguments}}


def test_every_task_state_is_found_in_branches_and_map_iterators():
    names = [name for name, state in states_of(DEFINITION) if state["Type"] == "Task"]
    assert names == ["Wait For Input", "Clean", "Roll Up", "Elsewhere"]


def test_each_task_knows_what_works_it_from_the_deployed_functions():
    workflow = read_workflow(FakeSfn(), FakeLambda(), "arn:machine")
    assert workflow.tasks["Clean"].runner == "myrunner"
    assert workflow.tasks["Roll Up"].runner == "myrunner"
    assert workflow.tasks["Wait For Input"].waits_for == "s3://bkt/in/in.csv"
    assert workflow.tasks["Elsewhere"].runner is None and workflow.tasks["Elsewhere"].waits_for is None
    assert workflow.wait_states == {"Wait For Input": "s3://bkt/in/in.csv"}


def test_labels_name_the_runner_or_the_data_and_leave_unknown_work_alone():
    labels = read_workflow(FakeSfn(), FakeLambda(), "arn:machine").labels()
    assert labels == {
        "Wait For Input:waiting": WAITING_FOR_DATA,
        "Wait For Input:running": DATA_ARRIVED,
        "Clean:waiting": "waiting for myrunner",
        "Clean:running": "running (myrunner)",
        "Roll Up:waiting": "waiting for myrunner",
        "Roll Up:running": "running (myrunner)",
    }


def test_a_jobs_dataset_is_its_output_path_default_argument():
    assert glue_output_path(FakeGlue(), "Clean") == "s3://out/etl/clean/"
    assert glue_output_path(FakeGlue(), "Bare") is None
    assert dataset_name("s3://out/etl/clean/") == "clean"
    assert dataset_name("s3://out/etl/marketing-and-sales") == "marketing-and-sales"


def test_a_task_output_is_read_as_an_object_or_nothing():
    assert task_output('{"GlueJobName": "Clean"}') == {"GlueJobName": "Clean"}
    assert task_output("[1]") == {} and task_output("not json") == {} and task_output(None) == {}
