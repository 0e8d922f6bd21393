"""updatelambda on moto, and the lint task on a small tree."""

from __future__ import annotations

import io
import zipfile

import boto3
import pytest

from buildlib import BuildError
from buildlib.lambdas import deployed_function_name, update_lambdas
from buildlib.lint import lint
from buildlib.packaging import code_sha256, package_lambdas


def _create_function(name):
    role = boto3.client("iam").create_role(
        RoleName="lambda-role", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}'
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{name}.py", "def handler(e, c):\n    return 0\n")
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler=f"{name}.handler",
        Code={"ZipFile": buf.getvalue()},
    )


def test_updatelambda_puts_the_zip_into_the_function(project, lines):
    _create_function("gluerunner")
    (path,) = package_lambdas(project, ["gluerunner"])
    assert deployed_function_name(project, "gluerunner") == "gluerunner"  # no stack: the params' name
    assert update_lambdas(project, ["gluerunner"]) == ["gluerunner"]
    config = boto3.client("lambda").get_function_configuration(FunctionName="gluerunner")
    assert config["CodeSha256"] == code_sha256(path)
    assert update_lambdas(project, ["gluerunner"], only_changed=True) == []
    assert lines[-1] == "function gluerunner: code unchanged"


def test_updatelambda_of_an_undeployed_function(project):
    package_lambdas(project, ["athenarunner"])
    with pytest.raises(BuildError) as err:
        update_lambdas(project, ["athenarunner"])
    assert str(err.value) == (
        "function athenarunner is not deployed: create its stack first: pynt createstack[athenarunner-lambda]"
    )


def test_updatelambda_without_zip(project):
    with pytest.raises(BuildError, match=r"run `pynt packagelambda\[ons3objectcreated\]` first"):
        update_lambdas(project, ["ons3objectcreated"])


def test_lint_runs_ruff_and_reports_problems(repo, lines):
    from buildlib import load_project

    for template in (repo / "cloudformation").glob("*.yaml"):
        template.unlink()
    project = load_project(repo, out=lines.append)
    lint(project)
    assert lines[-1] == "lint: no problems"
    (repo / "bad.py").write_text("import os\n")
    with pytest.raises(BuildError) as err:
        lint(project)
    assert str(err.value) == "lint failed: ruff reported problems (listed above)"
