"""Fixtures for the build tests: fake AWS credentials, moto, and a small copy of the repository layout.

Helpers shared by the tests are in build_support.py.
"""

from __future__ import annotations

import pytest
from build_support import REGION, make_repo
from moto import mock_aws

from buildlib.aws import Aws
from buildlib.project import load_project


@pytest.fixture
def aws_env(monkeypatch, tmp_path_factory):
    """Fake credentials and a region; nothing can reach real AWS or a configured endpoint."""
    empty = tmp_path_factory.mktemp("awsconfig")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo")


@pytest.fixture
def lines():
    return []


@pytest.fixture
def aws(aws_env):
    with mock_aws():
        yield


@pytest.fixture
def project(repo, aws, lines, monkeypatch):
    """A project on moto. moto ignores the `Bool` condition of the TLS-only bucket policy and would deny
    every object request, so the policy is left out here as it is for a plain-http endpoint;
    test_build_s3.py checks the policy itself on a `tls_project`."""
    monkeypatch.setattr(Aws, "endpoint_is_tls", property(lambda self: False))
    return load_project(repo, out=lines.append)


@pytest.fixture
def tls_project(repo, aws, lines):
    return load_project(repo, out=lines.append)
