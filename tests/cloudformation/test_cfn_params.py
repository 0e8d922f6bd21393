"""The <stack>-params.json files agree with DESIGN.md and with their templates."""

from __future__ import annotations

import pytest
from cfn_test_helpers import NO_DEFAULT, STACKS, load_params, load_template

# Keys in DESIGN.md order (seed keys first, then ours) with their values; NO_DEFAULT where the user sets it.
EXPECTED = {
    "step-functions-resources": [
        ("SourceS3BucketName", NO_DEFAULT),
        ("SourceS3Key", "src/ons3objectcreated.zip"),
        ("GlueRunnerActivityName", "GlueRunnerActivity"),
        ("SourceDataBucketName", NO_DEFAULT),
        ("AthenaRunnerActivityName", "AthenaRunnerActivity"),
        ("WeeklyScheduleEnabled", "false"),
        ("ArrivalsTableName", "WaitForDataArrivals"),
        ("ArrivalSweepSchedule", "rate(10 minutes)"),
    ],
    "glue-resources": [
        ("S3ETLScriptPath", NO_DEFAULT),
        ("S3ETLOutputPath", NO_DEFAULT),
        ("SourceDataBucketName", NO_DEFAULT),
    ],
    "gluerunner-lambda": [
        ("SourceS3BucketName", NO_DEFAULT),
        ("SourceS3Key", "src/gluerunner.zip"),
        ("DDBTableName", "GlueRunnerActiveJobs"),
        ("GlueRunnerLambdaFunctionName", "gluerunner"),
        ("GlueRunnerActivityName", "GlueRunnerActivity"),
        ("ScheduleExpression", "rate(10 minutes)"),
        # Empty: build.py sends every Glue job glue-resources.yaml declares (buildlib/glue_jobs.py).
        ("AllowedGlueJobNames", ""),
        ("AllowedGlueJobArguments", ""),
    ],
    "athenarunner-lambda": [
        ("SourceS3BucketName", NO_DEFAULT),
        ("SourceS3Key", "src/athenarunner.zip"),
        ("DDBTableName", "AthenaRunnerActiveJobs"),
        ("AthenaRunnerLambdaFunctionName", "athenarunner"),
        ("AthenaRunnerActivityName", "AthenaRunnerActivity"),
        ("ScheduleExpression", "rate(10 minutes)"),
        ("SourceDataBucketName", NO_DEFAULT),
    ],
}


@pytest.mark.parametrize("stack", STACKS)
def test_param_file_is_a_cloudformation_parameter_list(stack):
    params = load_params(stack)
    assert isinstance(params, list)
    for entry in params:
        assert set(entry) == {"ParameterKey", "ParameterValue"}
        assert isinstance(entry["ParameterValue"], str)


@pytest.mark.parametrize("stack", STACKS)
def test_param_file_has_exactly_the_design_keys_and_values(stack):
    params = load_params(stack)
    assert [(p["ParameterKey"], p["ParameterValue"]) for p in params] == EXPECTED[stack]


@pytest.mark.parametrize("stack", STACKS)
def test_param_keys_are_template_parameters_and_required_ones_are_listed(stack):
    declared = load_template(stack)["Parameters"]
    keys = {p["ParameterKey"] for p in load_params(stack)}
    assert keys <= set(declared), f"undeclared keys: {keys - set(declared)}"
    required = {name for name, spec in declared.items() if "Default" not in spec}
    assert required <= keys, f"parameters without default missing from the file: {required - keys}"


@pytest.mark.parametrize("stack", STACKS)
def test_template_defaults_match_param_file_values(stack):
    declared = load_template(stack)["Parameters"]
    for entry in load_params(stack):
        spec = declared[entry["ParameterKey"]]
        if entry["ParameterValue"] == NO_DEFAULT:
            assert "Default" not in spec, entry["ParameterKey"]
        else:
            assert str(spec["Default"]) == entry["ParameterValue"], entry["ParameterKey"]


def test_shared_values_agree_across_files():
    values = {stack: {p["ParameterKey"]: p["ParameterValue"] for p in load_params(stack)} for stack in STACKS}
    sfn = values["step-functions-resources"]
    assert values["gluerunner-lambda"]["GlueRunnerActivityName"] == sfn["GlueRunnerActivityName"]
    assert values["athenarunner-lambda"]["AthenaRunnerActivityName"] == sfn["AthenaRunnerActivityName"]


def test_parameters_shared_between_templates_have_the_same_constraints():
    shared = [
        "SourceDataBucketName",
        "GlueRunnerActivityName",
        "AthenaRunnerActivityName",
        "SourceS3BucketName",
    ]
    for name in shared:
        specs = {
            stack: dict(load_template(stack)["Parameters"][name])
            for stack in STACKS
            if name in load_template(stack)["Parameters"]
        }
        constraints = {
            stack: (spec.get("AllowedPattern"), spec.get("MaxLength"), spec.get("Default"))
            for stack, spec in specs.items()
        }
        assert len(set(constraints.values())) == 1, (name, constraints)


def test_data_bucket_name_is_short_enough_for_activity_names():
    # Activity names are at most 80 characters; "<bucket>-MarketingData_QuickSightSample.csv" is the longer.
    spec = load_template("step-functions-resources")["Parameters"]["SourceDataBucketName"]
    assert int(spec["MaxLength"]) + len("-MarketingData_QuickSightSample.csv") <= 80
