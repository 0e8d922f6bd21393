"""A permission taken out of a template makes the local demo fail at once with AccessDenied naming it.

As a user would: a copy of the project with one permission taken out of one template, then `pynt demo` in
it. The issue's own example (the Athena runner without athena:StartQueryExecution, which passed locally and
failed on AWS), a wait-for-data permission, and one of the Glue jobs' role. Every other permission is proven
needed by tests/iam/test_iam_mutations.py, on the recorded decisions of the suite's enforced runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from e2e_support import ROOT, run_child

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-iam-mutations")]

# What is copied of the project: what `pynt demo` needs (its .venv is linked, not copied).
_IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "tests", "bench", "__pycache__", "*.png")


def mutated_project(tmp_path: Path, template: str, before: str, after: str) -> Path:
    """A copy of the project, ``before`` (found once) replaced by ``after`` in its ``<template>``."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=_IGNORED)
    os.symlink(ROOT / ".venv", copy / ".venv")
    path = copy / "cloudformation" / template
    text = path.read_text()
    assert text.count(before) == 1, f"{before!r} is not once in {template}"
    path.write_text(text.replace(before, after))
    return copy


def run_demo(project: Path, tmp_path: Path):
    # Its decisions go to its own file: they are a mutated template's, not the suite's to record.
    audit = {"LOCALAWS_IAM_AUDIT": str(tmp_path / "iam-audit.jsonl")}
    return run_child(
        [project / ".venv" / "bin" / "pynt", f"demo[output={tmp_path / 'out'}]"], cwd=project, env=audit
    )


SOURCE_OBJECTS = '                Resource: !Sub "arn:${AWS::Partition}:s3:::${SourceDataBucketName}/*"'
CASES = {
    # The example: the Athena workflow fails at its first call.
    "athena-runner-start-query": (
        "athenarunner-lambda.yaml",
        "                  - athena:StartQueryExecution\n",
        "",
        "athena:StartQueryExecution",
        "athenarunner",
    ),
    # ons3objectcreated may no longer take the wait-for-data tasks.
    "wait-for-data-poll": (
        "step-functions-resources.yaml",
        "                Action: states:GetActivityTask\n                Resource:\n"
        "                  - !Ref SalesDataWaitActivity",
        "                Action: states:DescribeActivity\n                Resource:\n"
        "                  - !Ref SalesDataWaitActivity",
        "states:GetActivityTask",
        "ons3objectcreated",
    ),
    # The Glue jobs' role may no longer read the uploaded data.
    "glue-job-read-source-data": (
        "glue-resources.yaml",
        "                Action: s3:GetObject\n" + SOURCE_OBJECTS,
        "                Action: s3:GetObjectVersion\n" + SOURCE_OBJECTS,
        "s3:GetObject",
        "GlueJobRole",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_permission_taken_out_fails_the_demo_naming_it(tmp_path: Path, case) -> None:
    template, before, after, action, principal = case
    project = mutated_project(tmp_path, template, before, after)
    child = run_demo(project, tmp_path)
    assert child.returncode == 1, child.tail()
    error = [line for line in child.stderr.splitlines() if line.startswith("error: ")]
    assert error, child.tail()
    assert f"IAM denied {action} on " in error[-1], child.tail()
    assert f"is not authorized to perform: {action} on resource: " in error[-1], child.tail()
    assert principal in error[-1], child.tail()
