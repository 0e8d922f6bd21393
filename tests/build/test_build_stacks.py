"""Stack tasks on moto with small templates; the failure report with a stubbed CloudFormation."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.parsers import ResponseParserError, create_parser
from botocore.stub import Stubber
from build_support import CODE_BUCKET, DATA_BUCKET, PARAMS, small_template

from buildlib import BuildError
from buildlib.deploy import deploy_all
from buildlib.stacks import (
    create_or_update_stack,
    create_stack,
    delete_stack,
    stack_status,
    update_stack,
)


def _status(name):
    return boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def _upload_packages():
    """What `deploylambda` leaves in S3: the stacks with a function need their package there first."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=CODE_BUCKET)
    for function in ("gluerunner", "athenarunner", "ons3objectcreated"):
        s3.put_object(Bucket=CODE_BUCKET, Key=f"src/{function}.zip", Body=b"zip")


MISSING_PACKAGE = (
    "the gluerunner-lambda stack needs the Lambda package of gluerunner at "
    "s3://etl-code-bucket/src/gluerunner.zip, which is not there ({}): upload it with "
    "`pynt packagelambda[gluerunner] deploylambda[gluerunner]` (or run `pynt deployall`)"
)
# What the local endpoint answers CreateStack when a function's code is missing: Lambda's JSON error.
LOCAL_ANSWER = (
    b'{"__type": "InvalidParameterValueException", "message": "Error occurred while GetObject. '
    b'S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist"}'
)


def _unparseable(body: bytes) -> ResponseParserError:
    """The error botocore raises for that answer, made by botocore's own query-protocol parser."""
    with pytest.raises(ResponseParserError) as raised:
        create_parser("query").parse({"status_code": 400, "headers": {}, "body": body}, None)
    return raised.value


def test_create_refuses_a_stack_whose_lambda_package_is_not_uploaded(project):
    with pytest.raises(BuildError) as err:
        create_stack(project, "gluerunner-lambda")
    assert str(err.value) == MISSING_PACKAGE.format("404 Not Found")
    assert boto3.client("cloudformation").describe_stacks()["Stacks"] == []  # nothing half made


def test_update_refuses_a_stack_whose_lambda_package_is_gone(project):
    _upload_packages()
    create_stack(project, "gluerunner-lambda")
    boto3.client("s3").delete_object(Bucket=CODE_BUCKET, Key="src/gluerunner.zip")
    with pytest.raises(BuildError) as err:
        update_stack(project, "gluerunner-lambda")
    assert str(err.value) == MISSING_PACKAGE.format("404 Not Found")


def test_the_local_endpoints_unparseable_answer_names_the_missing_package(project, monkeypatch):
    _upload_packages()  # uploaded, yet gone by the time CloudFormation reads it
    error = _unparseable(LOCAL_ANSWER)
    monkeypatch.setattr(project.aws.client("cloudformation"), "create_stack", lambda **_: _raise(error))
    with pytest.raises(BuildError) as err:
        create_stack(project, "gluerunner-lambda")
    assert str(err.value) == MISSING_PACKAGE.format("NoSuchBucket")


def test_another_unparseable_answer_is_one_line_with_its_code_and_message(project, monkeypatch):
    error = _unparseable(b'{"__type": "ServiceException", "message": "it broke"}')
    monkeypatch.setattr(project.aws.client("cloudformation"), "create_stack", lambda **_: _raise(error))
    with pytest.raises(BuildError) as err:
        create_stack(project, "glue-resources")
    assert str(err.value) == "creating stack glue-resources failed: ServiceException: it broke"


def _raise(error: Exception):
    raise error


def test_create_passes_params_and_capabilities(project, lines):
    calls = []
    project.aws.client("cloudformation").meta.events.register(
        "provide-client-params.cloudformation.CreateStack", lambda params, **_: calls.append(params)
    )
    result = create_stack(project, "glue-resources")
    assert result["StackStatus"] == "CREATE_COMPLETE"
    stack = boto3.client("cloudformation").describe_stacks(StackName="glue-resources")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == PARAMS["glue-resources"]
    assert calls[0]["Capabilities"] == ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
    assert calls[0]["TemplateBody"] == project.template_path("glue-resources").read_text()
    assert "stack glue-resources: CREATE_COMPLETE" in lines


def test_create_sends_the_glue_jobs_of_the_glue_template_when_the_allow_list_is_left_empty(
    repo, aws, lines, monkeypatch
):
    """AllowedGlueJobNames "" in the params file: every Glue job of glue-resources.yaml, said in one line."""
    from build_support import small_template, write_params

    from buildlib.aws import Aws
    from buildlib.project import load_project

    monkeypatch.setattr(Aws, "endpoint_is_tls", property(lambda self: False))
    params = {**PARAMS["gluerunner-lambda"], "AllowedGlueJobNames": ""}
    write_params(repo, "gluerunner-lambda", params)
    templates = repo / "cloudformation"
    (templates / "gluerunner-lambda.yaml").write_text(small_template("gluerunner-lambda", params))
    (templates / "glue-resources.yaml").write_text(
        "Resources:\n"
        "  One: {Type: AWS::Glue::Job, Properties: {Name: JobOne, Role: !Ref R}}\n"
        "  Two: {Type: AWS::Glue::Job, Properties: {Name: JobTwo, Role: !Ref R}}\n"
    )
    project = load_project(repo, out=lines.append)
    _upload_packages()
    create_stack(project, "gluerunner-lambda")
    stack = boto3.client("cloudformation").describe_stacks(StackName="gluerunner-lambda")["Stacks"][0]
    sent = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert sent["AllowedGlueJobNames"] == "JobOne,JobTwo"
    assert (
        "gluerunner-lambda: AllowedGlueJobNames = JobOne,JobTwo "
        "(the Glue jobs of cloudformation/glue-resources.yaml)"
    ) in lines


def test_create_existing_stack_says_update(project):
    create_stack(project, "glue-resources")
    with pytest.raises(BuildError) as err:
        create_stack(project, "glue-resources")
    assert (
        str(err.value)
        == "stack glue-resources already exists: update it with pynt updatestack[glue-resources]"
    )


def test_update_without_changes_is_not_an_error(project, lines):
    _upload_packages()
    create_stack(project, "gluerunner-lambda")
    assert update_stack(project, "gluerunner-lambda") is False
    assert lines[-1] == "stack gluerunner-lambda: no updates to perform"


def test_update_with_a_changed_template(project):
    _upload_packages()
    create_stack(project, "gluerunner-lambda")
    template = json.loads(small_template("gluerunner-lambda", PARAMS["gluerunner-lambda"]))
    template["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 60
    project.template_path("gluerunner-lambda").write_text(json.dumps(template))
    assert update_stack(project, "gluerunner-lambda") is True
    assert _status("gluerunner-lambda") == "UPDATE_COMPLETE"


def test_update_missing_stack_says_create(project):
    with pytest.raises(BuildError) as err:
        update_stack(project, "glue-resources")
    assert (
        str(err.value)
        == "stack glue-resources does not exist: create it with pynt createstack[glue-resources]"
    )


def test_missing_template(project):
    project.template_path("glue-resources").unlink()
    with pytest.raises(BuildError, match="cloudformation/glue-resources.yaml not found"):
        create_stack(project, "glue-resources")


def test_unknown_stack(project):
    with pytest.raises(BuildError, match="unknown stack 'nope': valid stacks are step-functions-resources"):
        create_stack(project, "nope")


def test_stackstatus_table(project, lines):
    create_stack(project, "glue-resources")
    lines.clear()
    rows = stack_status(project)
    assert [(r["Stack"], r["Status"]) for r in rows] == [
        ("step-functions-resources", "DOES NOT EXIST"),
        ("glue-resources", "CREATE_COMPLETE"),
        ("gluerunner-lambda", "DOES NOT EXIST"),
        ("athenarunner-lambda", "DOES NOT EXIST"),
    ]
    assert lines[0].split() == ["Stack", "Status", "Updated", "Reason"]
    assert lines[3].startswith("glue-resources") and "CREATE_COMPLETE" in lines[3]
    assert stack_status(project, ["gluerunner-lambda"])[0]["Status"] == "DOES NOT EXIST"


def test_delete_stack(project, lines):
    create_stack(project, "glue-resources")
    assert delete_stack(project, "glue-resources")
    assert stack_status(project, ["glue-resources"])[0]["Status"] == "DOES NOT EXIST"
    assert delete_stack(project, "glue-resources") is False
    assert "stack glue-resources does not exist" in lines


def test_step_functions_stack_needs_a_free_data_bucket(project):
    boto3.client("s3").create_bucket(Bucket=DATA_BUCKET)
    with pytest.raises(
        BuildError,
        match=f"bucket {DATA_BUCKET} already exists, and the step-functions-resources stack creates it",
    ):
        create_stack(project, "step-functions-resources")


def test_delete_refuses_while_the_data_bucket_holds_objects(project):
    _upload_packages()
    create_stack(project, "step-functions-resources")
    boto3.client("s3").put_object(Bucket=DATA_BUCKET, Key="sales/x.csv", Body=b"x")
    with pytest.raises(BuildError) as err:
        delete_stack(project, "step-functions-resources")
    assert str(err.value) == (
        f"bucket {DATA_BUCKET} of stack step-functions-resources is not empty, "
        "so CloudFormation cannot delete it: "
        f"delete it first with pynt deletes3bucket[{DATA_BUCKET}]"
    )


def test_validation_happens_before_any_aws_call(project):
    project.overrides["S3ETLOutputPath"] = "<NO-DEFAULT>"
    project._load()
    with pytest.raises(BuildError, match="set S3ETLOutputPath"):
        create_stack(project, "glue-resources")
    assert boto3.client("cloudformation").describe_stacks()["Stacks"] == []


def test_create_or_update(project):
    assert create_or_update_stack(project, "glue-resources") == "created"
    assert create_or_update_stack(project, "glue-resources") == "unchanged"


def test_deployall_on_moto(project, lines):
    results = deploy_all(project)
    assert results == {s: "created" for s in PARAMS}
    assert (project.root / "build" / "gluerunner.zip").is_file()
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="etl-code-bucket")["Contents"]}
    assert {"src/gluerunner.zip", "glue-scripts/process_sales_data.py"} <= keys
    created = [line for line in lines if line.startswith("creating stack")]
    assert created == [f"creating stack {s} ..." for s in PARAMS]  # DESIGN.md order
    assert deploy_all(project) == {s: "unchanged" for s in PARAMS}


def test_failed_creation_prints_failed_events_and_raises(project, lines):
    cfn = boto3.client("cloudformation")
    project.aws._clients["cloudformation"] = cfn
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    failed = {"StackName": "glue-resources", "StackStatus": "ROLLBACK_COMPLETE", "CreationTime": now}
    events = [
        {
            "StackId": "id",
            "EventId": "4",
            "StackName": "glue-resources",
            "LogicalResourceId": "glue-resources",
            "ResourceType": "AWS::CloudFormation::Stack",
            "Timestamp": now,
            "ResourceStatus": "ROLLBACK_COMPLETE",
        },
        {
            "StackId": "id",
            "EventId": "3",
            "StackName": "glue-resources",
            "LogicalResourceId": "Other",
            "ResourceType": "AWS::Glue::Job",
            "Timestamp": now,
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "Resource creation cancelled",
        },
        {
            "StackId": "id",
            "EventId": "2",
            "StackName": "glue-resources",
            "LogicalResourceId": "ProcessSalesData",
            "ResourceType": "AWS::Glue::Job",
            "Timestamp": now,
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "Script location is not valid",
        },
        {
            "StackId": "id",
            "EventId": "1",
            "StackName": "glue-resources",
            "LogicalResourceId": "glue-resources",
            "ResourceType": "AWS::CloudFormation::Stack",
            "Timestamp": now,
            "ResourceStatus": "CREATE_IN_PROGRESS",
            "ResourceStatusReason": "User Initiated",
        },
    ]
    with Stubber(cfn) as stub:
        stub.add_response("create_stack", {"StackId": "id"})
        stub.add_response("describe_stacks", {"Stacks": [failed]})  # the waiter: a failure state
        stub.add_response("describe_stacks", {"Stacks": [failed]})
        stub.add_response("describe_stack_events", {"StackEvents": events})
        with pytest.raises(BuildError) as err:
            create_stack(project, "glue-resources")
    assert str(err.value) == (
        "creating stack glue-resources failed (ROLLBACK_COMPLETE): "
        "ProcessSalesData: Script location is not valid"
    )
    assert "  ProcessSalesData (AWS::Glue::Job) CREATE_FAILED: Script location is not valid" in lines
    assert "  Other (AWS::Glue::Job) CREATE_FAILED: Resource creation cancelled" in lines


def test_a_stack_event_saying_the_code_is_missing_names_the_package(project, lines):
    """On AWS the missing code shows only in the failed Lambda resource's event, after a rollback."""
    _upload_packages()  # the check before the call passes; the object is gone when CloudFormation reads it
    cfn = boto3.client("cloudformation")
    project.aws._clients["cloudformation"] = cfn
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    failed = {"StackName": "gluerunner-lambda", "StackStatus": "ROLLBACK_COMPLETE", "CreationTime": now}
    reason = (
        'Resource handler returned message: "Error occurred while GetObject. S3 Error Code: NoSuchKey. '
        'S3 Error Message: The specified key does not exist. (Service: Lambda, Status Code: 400)"'
    )
    event = {
        "StackId": "id",
        "EventId": "1",
        "StackName": "gluerunner-lambda",
        "LogicalResourceId": "GlueRunnerFunction",
        "ResourceType": "AWS::Lambda::Function",
        "Timestamp": now,
        "ResourceStatus": "CREATE_FAILED",
        "ResourceStatusReason": reason,
    }
    with Stubber(cfn) as stub:
        stub.add_response("create_stack", {"StackId": "id"})
        stub.add_response("describe_stacks", {"Stacks": [failed]})
        stub.add_response("describe_stacks", {"Stacks": [failed]})
        stub.add_response("describe_stack_events", {"StackEvents": [event]})
        with pytest.raises(BuildError) as err:
            create_stack(project, "gluerunner-lambda")
    assert str(err.value) == (
        "creating stack gluerunner-lambda failed (ROLLBACK_COMPLETE): " + MISSING_PACKAGE.format("NoSuchKey")
    )
    assert f"  GlueRunnerFunction (AWS::Lambda::Function) CREATE_FAILED: {reason}" in lines
