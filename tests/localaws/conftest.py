"""Tests of the embedded local AWS endpoint (``localaws.server.LocalAws``) and its bridges.

The fixtures ``local_aws``, ``aws_client`` and ``unique_name`` are defined in ``tests/conftest.py`` so that
``tests/lambda`` shares the same session endpoint (see there).
"""

import pytest

from tests.iam_roles import service_roles  # noqa: F401 - the roles the tests name exist


@pytest.fixture
def sfn(aws_client):
    """A Step Functions client of the session endpoint."""
    return aws_client("stepfunctions")


@pytest.fixture
def activity_arn(sfn, unique_name):
    """A new activity, deleted after the test."""
    arn = sfn.create_activity(name=unique_name("Activity"))["activityArn"]
    yield arn
    sfn.delete_activity(activityArn=arn)
