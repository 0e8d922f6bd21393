"""The endpoint process's botocore sessions share one data Loader (localaws/shared_botocore_loader.py)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import botocore.session
import pytest

from localaws import shared_botocore_loader


def _loader(session: botocore.session.Session) -> object:
    return session.get_component("data_loader")


@pytest.fixture
def restore_install_state() -> Iterator[None]:
    """Tests here install and uninstall; the session endpoint had it installed, and keeps it so."""
    was_installed = shared_botocore_loader.installed()
    yield
    if was_installed:
        shared_botocore_loader.install()
    else:
        shared_botocore_loader.uninstall()


def test_sessions_share_one_loader_and_its_parsed_models(restore_install_state):
    shared_botocore_loader.install()
    first, second = botocore.session.Session(), botocore.session.Session()
    assert _loader(first) is _loader(second)
    model = first.get_service_data("stepfunctions")
    assert second.get_service_data("stepfunctions") is model  # parsed once, as within one session


def test_install_twice_is_the_same_as_once(restore_install_state):
    shared_botocore_loader.install()
    shared_botocore_loader.install()
    assert _loader(botocore.session.Session()) is _loader(botocore.session.Session())
    shared_botocore_loader.uninstall()
    assert _loader(botocore.session.Session()) is not _loader(botocore.session.Session())


def test_a_session_with_another_data_path_gets_another_loader(restore_install_state, tmp_path, monkeypatch):
    shared_botocore_loader.install()
    default = _loader(botocore.session.Session())
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    other = botocore.session.Session()
    assert _loader(other) is not default
    assert str(tmp_path) in _loader(other).search_paths
    assert _loader(botocore.session.Session()) is _loader(other)


def test_after_uninstall_each_session_has_its_own_loader_again(restore_install_state):
    shared_botocore_loader.install()
    shared_botocore_loader.uninstall()
    assert not shared_botocore_loader.installed()
    assert _loader(botocore.session.Session()) is not _loader(botocore.session.Session())


def test_the_endpoint_installs_it_and_clients_work_through_it(local_aws, aws_client, unique_name):
    assert shared_botocore_loader.installed()
    s3 = aws_client("s3")
    bucket = unique_name("shared-loader").lower()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.csv", Body=b"x\n")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a.csv"]


def test_motos_extras_never_reach_a_boto3_clients_model(local_aws, aws_client, unique_name):
    """moto merges its extras (an OPTIONS operation for CORS preflight, among others) into the S3 model its
    own Loader parsed to serve a request; boto3 clients must keep botocore's model as shipped."""
    s3 = aws_client("s3")
    bucket = unique_name("moto-extras").lower()
    s3.create_bucket(Bucket=bucket)
    s3.list_objects_v2(Bucket=bucket)  # moto has loaded its S3 model now
    fresh = boto3.session.Session().client("s3", region_name="us-east-1")
    assert "BucketCORSPreflightCheck" not in fresh.meta.service_model.operation_names
