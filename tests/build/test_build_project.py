"""Configuration checks: every problem is one BuildError line naming what to set where."""

from __future__ import annotations

import json

import pytest
from build_support import DATA_BUCKET, PARAMS, REPO, write_params

from buildlib import BuildError, load_project
from buildlib.project import NO_DEFAULT, check_functions, check_stacks


def _set(repo, stack, **changes):
    write_params(repo, stack, {**PARAMS[stack], **changes})


def test_valid_layout_passes(repo):
    load_project(repo).validate()


def test_no_default_names_file_and_key(repo):
    _set(repo, "glue-resources", S3ETLOutputPath=NO_DEFAULT)
    with pytest.raises(BuildError) as err:
        load_project(repo).validate()
    assert (
        str(err.value)
        == "cloudformation/glue-resources-params.json: set S3ETLOutputPath (still <NO-DEFAULT>)"
    )


def test_no_default_in_descriptor_counts_the_rest(repo):
    path = repo / "lambda" / "s3-deployment-descriptor.json"
    descriptor = json.loads(path.read_text())
    descriptor["gluerunner"]["SourceS3BucketName"] = NO_DEFAULT
    descriptor["athenarunner"]["SourceS3BucketName"] = NO_DEFAULT
    path.write_text(json.dumps(descriptor))
    with pytest.raises(BuildError) as err:
        load_project(repo).validate()
    assert str(err.value) == (
        "lambda/s3-deployment-descriptor.json: set gluerunner.SourceS3BucketName (still <NO-DEFAULT>) "
        "(and 1 more <NO-DEFAULT> values)"
    )


def test_data_bucket_disagreement_names_both_files(repo):
    _set(repo, "glue-resources", SourceDataBucketName="other-bucket")
    with pytest.raises(BuildError) as err:
        load_project(repo).validate()
    assert str(err.value) == (
        f"values disagree: cloudformation/step-functions-resources-params.json SourceDataBucketName is "
        f"'{DATA_BUCKET}' but cloudformation/glue-resources-params.json SourceDataBucketName is "
        "'other-bucket': set both to the same value"
    )


def test_descriptor_disagreement(repo):
    _set(repo, "gluerunner-lambda", SourceS3Key="src/other.zip")
    with pytest.raises(
        BuildError,
        match=r"lambda/s3-deployment-descriptor.json gluerunner.SourceS3Key is "
        r"'src/gluerunner.zip' but cloudformation/gluerunner-lambda-params.json SourceS3Key is "
        r"'src/other.zip'",
    ):
        load_project(repo).validate()


def test_activity_name_disagreement(repo):
    _set(repo, "athenarunner-lambda", AthenaRunnerActivityName="Other")
    with pytest.raises(
        BuildError,
        match="step-functions-resources-params.json AthenaRunnerActivityName is "
        "'AthenaRunnerActivity' but cloudformation/athenarunner-lambda-params.json "
        "AthenaRunnerActivityName is 'Other'",
    ):
        load_project(repo).validate()


def test_ddb_table_disagreement_with_runner_config(repo):
    _set(repo, "gluerunner-lambda", DDBTableName="Jobs")
    with pytest.raises(
        BuildError,
        match="gluerunner-lambda-params.json DDBTableName is 'Jobs' but "
        "lambda/gluerunner/gluerunner-config.json ddb_table is 'GlueRunnerActiveJobs'",
    ):
        load_project(repo).validate()


def test_data_bucket_too_long_for_activity_names(repo):
    name = "b" * 46
    for stack in ("step-functions-resources", "glue-resources", "athenarunner-lambda"):
        _set(repo, stack, SourceDataBucketName=name)
    with pytest.raises(BuildError) as err:
        load_project(repo).validate()
    message = str(err.value)
    assert "is 46 characters; at most 45" in message
    assert "exceed 80 characters" in message
    assert "\n" not in message


def test_script_path_must_be_an_s3_url(repo):
    _set(repo, "glue-resources", S3ETLScriptPath="my-bucket/scripts")
    with pytest.raises(BuildError, match="S3ETLScriptPath must look like s3://bucket/prefix"):
        load_project(repo).validate()


def test_missing_params_file(repo):
    (repo / "cloudformation" / "glue-resources-params.json").unlink()
    with pytest.raises(BuildError, match="cloudformation/glue-resources-params.json not found"):
        load_project(repo).validate()


def test_invalid_json_is_reported(repo):
    (repo / "lambda" / "s3-deployment-descriptor.json").write_text("{nope")
    with pytest.raises(BuildError, match="lambda/s3-deployment-descriptor.json is not valid JSON"):
        load_project(repo)


def test_unknown_stack_and_function_list_the_valid_ones():
    with pytest.raises(BuildError) as err:
        check_stacks(["nope"])
    assert str(err.value) == (
        "unknown stack 'nope': valid stacks are step-functions-resources, glue-resources, gluerunner-lambda, "
        "athenarunner-lambda"
    )
    with pytest.raises(BuildError) as err:
        check_functions(["nope"])
    assert (
        str(err.value)
        == "unknown function 'nope': valid functions are gluerunner, athenarunner, ons3objectcreated"
    )
    assert check_stacks([]) == [
        "step-functions-resources",
        "glue-resources",
        "gluerunner-lambda",
        "athenarunner-lambda",
    ]


def test_overrides_apply_everywhere_in_memory_only(repo):
    before = {p: p.read_text() for p in repo.rglob("*.json")}
    project = load_project(
        repo,
        overrides={
            "SourceDataBucketName": "demo-data",
            "SourceS3BucketName": "demo-code",
            "gluerunner-lambda:DDBTableName": "DemoJobs",
        },
    )
    project.validate()
    for stack in ("step-functions-resources", "glue-resources", "athenarunner-lambda"):
        assert project.params(stack)["SourceDataBucketName"] == "demo-data"
    assert {entry["SourceS3BucketName"] for entry in project.descriptor.values()} == {"demo-code"}
    assert project.deployment_target("gluerunner") == ("demo-code", "src/gluerunner.zip")
    assert project.params("gluerunner-lambda")["DDBTableName"] == "DemoJobs"
    assert project.params("athenarunner-lambda")["DDBTableName"] == "AthenaRunnerActiveJobs"
    assert project.runner_config("gluerunner")["ddb_table"] == "DemoJobs"
    assert {"ParameterKey": "SourceDataBucketName", "ParameterValue": "demo-data"} in project.cfn_parameters(
        "glue-resources"
    )
    assert {p: p.read_text() for p in repo.rglob("*.json")} == before


def test_unknown_override_is_reported(repo):
    with pytest.raises(BuildError, match="override NoSuchKey matches no parameter"):
        load_project(repo, overrides={"NoSuchKey": "x"}).validate()


REAL_FILES = [REPO / "cloudformation" / f"{s}-params.json" for s in PARAMS] + [
    REPO / "lambda" / "s3-deployment-descriptor.json"
]


@pytest.mark.skipif(
    not all(p.is_file() for p in REAL_FILES), reason="the repository's param files are not there yet"
)
def test_real_repository_files():
    project = load_project(REPO)
    try:
        project.validate()
    except BuildError as exc:  # a fresh checkout still has <NO-DEFAULT> values for the user to set
        assert NO_DEFAULT in str(exc) or "disagree" not in str(exc)
    overrides = {
        "SourceS3BucketName": "demo-code",
        "SourceDataBucketName": "demo-data",
        "S3ETLScriptPath": "s3://demo-code/glue-scripts",
        "S3ETLOutputPath": "s3://demo-data/output",
    }
    load_project(REPO, overrides=overrides).validate()


GLUE_TEMPLATE = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties: {RoleName: r}
  FirstJob:
    Type: AWS::Glue::Job
    Properties:
      Name: First
      Role: !GetAtt Role.Arn
      Command: {ScriptLocation: !Sub "${Path}/first.py"}
  SecondJob:
    Type: AWS::Glue::Job
    Properties:
      Name: Second
      Role: !GetAtt Role.Arn
"""


def _allowed_jobs_left_empty(repo, template: str = GLUE_TEMPLATE) -> None:
    (repo / "cloudformation" / "glue-resources.yaml").write_text(template)
    _set(repo, "gluerunner-lambda", AllowedGlueJobNames="")


def test_empty_allowed_glue_jobs_are_the_jobs_the_glue_template_declares(repo):
    """A job's name is written once, in glue-resources.yaml: the runner's allow list follows it."""
    _allowed_jobs_left_empty(repo)
    project = load_project(repo)
    project.validate()
    assert project.params("gluerunner-lambda")["AllowedGlueJobNames"] == "First,Second"
    sent = {p["ParameterKey"]: p["ParameterValue"] for p in project.cfn_parameters("gluerunner-lambda")}
    assert sent["AllowedGlueJobNames"] == "First,Second"
    assert project.derived_note("gluerunner-lambda") == (
        "gluerunner-lambda: AllowedGlueJobNames = First,Second "
        "(the Glue jobs of cloudformation/glue-resources.yaml)"
    )
    assert project.derived_note("glue-resources") is None


def test_a_listed_allowed_glue_jobs_value_is_used_as_it_is(repo):
    _allowed_jobs_left_empty(repo)
    _set(repo, "gluerunner-lambda", AllowedGlueJobNames="OnlyFirst")
    project = load_project(repo)
    assert project.params("gluerunner-lambda")["AllowedGlueJobNames"] == "OnlyFirst"
    assert project.derived_note("gluerunner-lambda") is None


def test_a_glue_job_without_a_plain_name_is_one_error_line(repo):
    _allowed_jobs_left_empty(repo, GLUE_TEMPLATE.replace("Name: Second", "Name: !Sub '${AWS::StackName}-x'"))
    with pytest.raises(BuildError) as err:
        load_project(repo).validate()
    assert str(err.value) == (
        "cloudformation/glue-resources.yaml: the Glue job SecondJob needs a plain Name (e.g. `Name: MyJob`) "
        "for the Glue runner's allow list, or set AllowedGlueJobNames in "
        "cloudformation/gluerunner-lambda-params.json"
    )


def test_a_glue_template_without_jobs_is_one_error_line(repo):
    _allowed_jobs_left_empty(repo, "Resources: {}\n")
    with pytest.raises(BuildError, match="declares no AWS::Glue::Job: set AllowedGlueJobNames in"):
        load_project(repo).params("gluerunner-lambda")


def test_the_repositorys_allow_list_is_every_job_of_its_glue_template():
    from cfnlint.decode import decode

    template, _ = decode(str(REPO / "cloudformation" / "glue-resources.yaml"))
    jobs = [r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    assert jobs, "the repository's Glue template declares no job"
    project = load_project(REPO)
    assert project.params("gluerunner-lambda")["AllowedGlueJobNames"].split(",") == jobs


def test_the_local_values_fill_every_no_default_of_the_repository():
    """What `pynt localparams` writes (and the demo deploys with) leaves no <NO-DEFAULT> and agrees."""
    from buildlib.local_params import LOCAL_VALUES

    project = load_project(REPO, overrides=LOCAL_VALUES)
    project.validate()  # also: every one of the values matches a parameter
    for stack in ("step-functions-resources", "glue-resources", "gluerunner-lambda", "athenarunner-lambda"):
        assert NO_DEFAULT not in json.dumps(project.params(stack)), stack
    assert NO_DEFAULT not in json.dumps(project.descriptor)


def test_local_params_apply_only_on_an_endpoint_and_once_written(tmp_path):
    from buildlib.local_params import LOCAL_VALUES, local_overrides, write_local_params

    (tmp_path / "cloudformation").mkdir()
    endpoint = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}
    assert local_overrides(tmp_path, endpoint) is None  # not written yet
    path = write_local_params(tmp_path)
    assert path == tmp_path / "cloudformation" / "local-params.json"
    assert local_overrides(tmp_path, endpoint) == LOCAL_VALUES
    assert local_overrides(tmp_path, {}) is None  # AWS: bucket names are the user's
    path.write_text("{not json")
    with pytest.raises(
        BuildError, match=r"^cloudformation/local-params.json is not valid JSON: .*pynt localparams"
    ):
        local_overrides(tmp_path, endpoint)
