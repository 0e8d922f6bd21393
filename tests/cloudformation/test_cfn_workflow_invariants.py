"""What must hold for ANY workflow built on these templates, whatever its jobs and states.

These tests name no job, state or table of the sample: they read the workflow from the templates, so a job
or a step you add (README, "Adding a job to your workflow") is checked like the sample's own, and adding one
keeps them green. The sample's own names are guarded in test_cfn_sample_names.py.
"""

from __future__ import annotations

import json

import pytest
from cfn_test_helpers import (
    REPO_ROOT,
    Resolver,
    allow_statements,
    allowed,
    declared_activity_arns,
    glue_jobs,
    glue_resolver,
    glue_tables,
    load_template,
    resources_of_type,
    runner_errors,
    runner_stacks,
    scopes,
    state_machine_definition,
    state_machines,
    step_functions_resolver,
    task_inputs,
    wait_activities,
)

from buildlib import load_project

PATHS = {
    "S3ETLScriptPath": "s3://script-bucket/glue/scripts",
    "S3ETLOutputPath": "s3://output-bucket/etl/out",
    "SourceDataBucketName": "data-bucket",
}
SFN_PARAMS = {"SourceDataBucketName": PATHS["SourceDataBucketName"]}
MACHINES = state_machines()


def definition(logical_id: str) -> dict:
    return json.loads(
        state_machine_definition(logical_id, {"SourceDataBucketName": PATHS["SourceDataBucketName"]})
    )


def tasks(logical_id: str) -> dict[str, dict]:
    """Every Task state of the machine (Parallel branches included) by name."""
    return {
        name: state
        for scope in scopes(definition(logical_id))
        for name, state in scope["States"].items()
        if state["Type"] == "Task"
    }


def runner_of(activity_arn: str) -> str | None:
    """The runner stack whose function polls the activity."""
    return next((stack for stack, polled in runner_stacks().items() if polled == activity_arn), None)


def glue_runner_activity() -> str:
    (activity,) = [arn for stack, arn in runner_stacks().items() if stack == "gluerunner-lambda"]
    return activity


def glue_tasks() -> list[tuple[str, str, dict]]:
    """(machine, state, input) of every Task state worked by the Glue runner."""
    found = []
    for machine in MACHINES:
        inputs = task_inputs(definition(machine))
        for name, state in tasks(machine).items():
            if state["Resource"] == glue_runner_activity():
                found.append((machine, name, inputs[name]))
    return found


# --- states and who works them ----------------------------------------------------------------------------


@pytest.mark.parametrize("machine", MACHINES)
def test_every_state_is_reachable_and_every_path_ends(machine):
    for scope in scopes(definition(machine)):
        states = scope["States"]
        assert scope["StartAt"] in states
        reachable, todo = set(), [scope["StartAt"]]
        while todo:
            name = todo.pop()
            if name in reachable:
                continue
            reachable.add(name)
            state = states[name]
            targets = [catch["Next"] for catch in state.get("Catch", [])]
            targets += [choice["Next"] for choice in state.get("Choices", [])]
            targets += [state[key] for key in ("Next", "Default") if key in state]
            if "Next" not in state and "Choices" not in state:
                assert state.get("End") is True or state["Type"] in ("Fail", "Succeed"), f"{name} never ends"
            for target in targets:
                assert target in states, f"{name} -> unknown state {target}"
                todo.append(target)
        assert reachable == set(states), f"unreachable: {set(states) - reachable}"


@pytest.mark.parametrize("machine", MACHINES)
def test_every_task_names_a_declared_activity_that_a_worker_polls(machine):
    """A runner polls it (its stack's SFN_ACTIVITY_ARN) or an upload releases it (WAIT_ACTIVITIES)."""
    declared = set(declared_activity_arns(SFN_PARAMS).values())
    waits = set(wait_activities(SFN_PARAMS).values())
    found = tasks(machine)
    assert found
    for name, task in found.items():
        assert task["Resource"] in declared, f"{name}: {task['Resource']} is not declared"
        assert runner_of(task["Resource"]) or task["Resource"] in waits, (
            f"{name}: no worker polls its activity"
        )


@pytest.mark.parametrize("machine", MACHINES)
def test_every_runner_task_comes_back_after_a_lost_worker_and_ends_the_execution_on_its_errors(machine):
    """HeartbeatSeconds + Retry on States.HeartbeatTimeout (a runner killed holding the task), a timeout,
    and the runner's errors caught, by the task or the Parallel state around it, into a path to a Fail."""
    machine_definition = definition(machine)
    for name, task in tasks(machine).items():
        stack = runner_of(task["Resource"])
        if stack is None:
            continue  # a wait-for-data task: see the next test
        assert task.get("HeartbeatSeconds") and task.get("TimeoutSeconds"), name
        assert any("States.HeartbeatTimeout" in retry["ErrorEquals"] for retry in task.get("Retry", [])), name
        catching = task.get("Catch", [])
        for scope_owner in machine_definition["States"].values():
            for branch in scope_owner.get("Branches", []):
                if name in branch["States"]:
                    catching = catching + scope_owner.get("Catch", [])
        caught = {error for catch in catching for error in catch["ErrorEquals"]}
        missing = (runner_errors(stack) | {"States.Timeout", "States.HeartbeatTimeout"}) - caught
        assert not missing or "States.ALL" in caught, f"{name} lets {missing} through"
        for catch in catching:
            assert _leads_to_a_fail(machine_definition, catch["Next"]), (
                f"{name}: {catch['Next']} does not fail"
            )


def _leads_to_a_fail(machine: dict, start: str) -> bool:
    state, seen = machine["States"].get(start), set()
    while state is not None and start not in seen:
        if state["Type"] == "Fail":
            return True
        seen.add(start)
        start = state.get("Next", "")
        state = machine["States"].get(start)
    return False


@pytest.mark.parametrize("machine", MACHINES)
def test_every_wait_task_names_the_object_its_activity_is_released_by(machine):
    """ons3objectcreated checks the task's ExpectedS3Bucket/Key against the upload; its heartbeat is the one
    the function uses to tell a dead claim from a live one."""
    waits = wait_activities(SFN_PARAMS)
    resolver = step_functions_resolver()
    (function,) = resources_of_type(resolver.template, "AWS::Lambda::Function").values()
    heartbeat = int(function["Properties"]["Environment"]["Variables"]["WAIT_HEARTBEAT_SECONDS"])
    for name, task in tasks(machine).items():
        if task["Resource"] not in waits.values():
            continue
        expected = f"s3://{task['Parameters']['ExpectedS3Bucket']}/{task['Parameters']['ExpectedS3Key']}"
        assert waits.get(expected) == task["Resource"], (
            f"{name} waits for {expected}, released by another key"
        )
        assert task["HeartbeatSeconds"] == heartbeat, name


# --- Glue jobs --------------------------------------------------------------------------------------------


def test_every_glue_task_names_a_declared_job_and_every_allowed_job_exists():
    """A task's job must exist and be allowed; the runner's allow list (build.py's) must name no other."""
    declared = set(glue_jobs(PATHS))
    allowed_jobs = set(load_project(REPO_ROOT).params("gluerunner-lambda")["AllowedGlueJobNames"].split(","))
    assert allowed_jobs <= declared, f"allowed but not declared: {allowed_jobs - declared}"
    found = glue_tasks()
    assert found
    for machine, state, task_input in found:
        job = task_input.get("GlueJobName")
        assert job in declared, f"{machine} / {state} runs {job!r}, not a job of glue-resources.yaml"
        assert job in allowed_jobs, f"{machine} / {state} runs {job}, which the Glue runner may not start"


@pytest.mark.parametrize("job", sorted(glue_jobs(PATHS)))
def test_every_job_runs_a_script_of_the_repository(job):
    props = glue_jobs(PATHS)[job]
    prefix = PATHS["S3ETLScriptPath"] + "/"
    files = [
        props["Command"]["ScriptLocation"],
        *props["DefaultArguments"].get("--extra-py-files", "").split(","),
    ]
    for location in filter(None, files):
        assert location.startswith(prefix), f"{job}: {location} is not under S3ETLScriptPath"
        assert (REPO_ROOT / "glue-scripts" / location[len(prefix) :]).is_file(), f"{job}: no {location}"


def test_every_job_writes_its_own_dataset_under_the_output_path():
    """--s3_output_path is how the demo and the test kit find a job's dataset; two jobs never share one."""
    outputs = {
        job: props["DefaultArguments"].get("--s3_output_path") for job, props in glue_jobs(PATHS).items()
    }
    for job, output in outputs.items():
        assert output, f"{job} has no --s3_output_path default argument"
        assert output.startswith(PATHS["S3ETLOutputPath"] + "/") and output.endswith("/"), (job, output)
    assert len(set(outputs.values())) == len(outputs), f"jobs share an output: {outputs}"


def _job_inputs(props: dict) -> list[str]:
    """The S3 folders a job reads: its S3 path arguments but its output, and its catalog tables' folders."""
    arguments = props["DefaultArguments"]
    folders = [
        value
        for key, value in arguments.items()
        if key != "--s3_output_path"
        and isinstance(value, str)
        and value.startswith("s3://")
        and key != "--extra-py-files"
    ]
    tables = glue_tables(PATHS)
    if "--table_name" in arguments:
        folders.append(tables[arguments["--table_name"]]["StorageDescriptor"]["Location"])
    return folders


def _arn(s3_url: str) -> str:
    return "arn:aws:s3:::" + s3_url.removeprefix("s3://")


@pytest.mark.parametrize("job", sorted(glue_jobs(PATHS)))
def test_every_jobs_role_can_read_its_inputs_and_write_its_output(job):
    props = glue_jobs(PATHS)[job]
    resolver = glue_resolver(PATHS)
    role_id = props["Role"].strip("<>").split(".")[0]
    statements = [
        resolver.resolve(statement)
        for where, statement in allow_statements(resolver.template)
        if where.startswith(f"{role_id}/")
    ]
    readable = [props["Command"]["ScriptLocation"], *_job_inputs(props)]
    for location in readable:
        folder = location.endswith("/")
        obj = _arn(location + "part-0.parquet" if folder else location)
        assert allowed(statements, "s3:GetObject", obj), f"{job} cannot read {location}"
        if folder:  # a dataset is read as a folder: its objects are listed first
            bucket = _arn(location).split("/")[0]
            assert allowed(statements, "s3:ListBucket", bucket), f"{job} cannot list {bucket}"
    output = props["DefaultArguments"]["--s3_output_path"]
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert allowed(statements, action, _arn(output + "part-0.parquet")), f"{job} cannot {action} {output}"
    if "--table_name" in props["DefaultArguments"]:
        database, table = (
            props["DefaultArguments"]["--database_name"],
            props["DefaultArguments"]["--table_name"],
        )
        table_arn = f"arn:aws:glue:us-east-1:123456789012:table/{database}/{table}"
        assert allowed(statements, "glue:GetTable", table_arn), f"{job} cannot read the table {table}"


# --- Athena tasks -----------------------------------------------------------------------------------------


def test_every_athena_task_queries_a_declared_database_and_writes_where_its_runner_may():
    stack = "athenarunner-lambda"
    resolver = glue_resolver(PATHS)
    databases = {
        resolver.resolve(db["Properties"]["DatabaseInput"]["Name"])
        for db in resources_of_type(resolver.template, "AWS::Glue::Database").values()
    }
    template = load_template(stack)
    runner = Resolver(template, {"SourceDataBucketName": PATHS["SourceDataBucketName"]})
    statements = [runner.resolve(statement) for _, statement in allow_statements(template)]
    found = 0
    for machine in MACHINES:
        inputs = task_inputs(definition(machine))
        for name, state in tasks(machine).items():
            if state["Resource"] != runner_stacks()[stack]:
                continue
            found += 1
            task_input = inputs[name]
            if "AthenaDatabase" in task_input:
                assert task_input["AthenaDatabase"] in databases, f"{machine} / {name}: unknown database"
            location = task_input["AthenaResultOutputLocation"]
            assert allowed(statements, "s3:PutObject", _arn(location + "r.csv")), (
                f"{machine} / {name}: {location}"
            )
    assert found, "no Athena task: the sample's Athena workflow has one"
