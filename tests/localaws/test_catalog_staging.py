"""Catalog staging (localaws/runtime/catalog_staging.py): S3 objects become local files only inside the
staging folder, streamed (not read whole); clients of the local endpoint are shared."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from localaws.runtime.catalog_staging import Stager, make_client, staged_path


@pytest.fixture
def stager(local_aws, tmp_path):
    stager = Stager(local_aws.endpoint_url, local_aws.region, tmp_path / "work")
    yield stager
    stager.cleanup()


@pytest.fixture
def bucket(aws_client, unique_name):
    name = unique_name("staging").lower()
    aws_client("s3").create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize(
    "relative", ["/tmp/x.csv", "../../x.csv", "a//b.csv", "./x.csv", "a/./b.csv", "a/../../x.csv", "a/b/.."]
)
def test_a_key_that_is_not_a_plain_relative_path_is_refused(tmp_path, relative):
    with pytest.raises(ValueError, match="cannot be staged"):
        staged_path(tmp_path, relative, f"sales/{relative}")


@pytest.mark.parametrize("below_prefix", ["/{outside}", "../../outside.csv", "../x.csv", "a//b.csv"])
def test_download_never_writes_outside_its_folder(stager, aws_client, bucket, tmp_path, below_prefix):
    """Keys such as ``sales//<absolute path>.csv`` or ``sales/../../x.csv`` are refused and no file is written
    for them (they used to map to that absolute path, or climb out of the staging folder)."""
    s3 = aws_client("s3")
    outside = tmp_path / "outside.csv"
    key = "sales/" + below_prefix.format(outside=str(outside).lstrip("/"))
    s3.put_object(Bucket=bucket, Key=key, Body=b"evil\n")
    assert [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix="sales/")["Contents"]] == [key]
    dest = stager.new_dir("sales")

    with pytest.raises(ValueError, match="cannot be staged"):
        stager.download(f"s3://{bucket}/sales/", dest, keep_hidden=True)  # ".." is not skipped as hidden

    assert not outside.exists()
    written = [path for path in stager.folder.parent.rglob("*") if path.is_file()]
    assert written == [], written


def test_download_streams_and_skips_header_lines_plain_and_gzip(stager, aws_client, bucket):
    """Header lines are dropped from each file (gzip ones stored decompressed), the rest is kept byte for
    byte, and the bytes read are the objects' sizes."""
    s3 = aws_client("s3")
    rows = b"".join(b"%d,name-%d\r\n" % (n, n) for n in range(20000))
    plain = b"h1\nh2\n" + rows
    packed = gzip.compress(b"h1\nh2\n" + rows)
    s3.put_object(Bucket=bucket, Key="t/year=2020/a.csv", Body=plain)
    s3.put_object(Bucket=bucket, Key="t/b.csv.gz", Body=packed)
    s3.put_object(Bucket=bucket, Key="t/_SUCCESS", Body=b"")

    files, total = stager.download(f"s3://{bucket}/t/", stager.new_dir("t"), skip_lines=2)

    by_name = {Path(f).name: Path(f).read_bytes() for f in files}
    assert by_name == {"a.csv": rows, "b.csv": rows}
    assert total == len(plain) + len(packed)


def test_clients_of_the_local_endpoint_are_made_once_and_shared(local_aws, tmp_path):
    """A Session and a client cost tens of ms each (more on a loaded machine); a demo made 36, a set per Glue
    run. botocore clients are thread-safe, so every stager of one endpoint uses the same ones."""
    first = Stager(local_aws.endpoint_url, local_aws.region, tmp_path / "a")
    second = Stager(local_aws.endpoint_url, local_aws.region, tmp_path / "b")
    try:
        assert first.client("s3") is second.client("s3")
        assert first.client("glue") is not first.client("s3")
        assert make_client("s3", local_aws.endpoint_url, "eu-west-1") is not first.client("s3")
    finally:
        first.cleanup()
        second.cleanup()


def test_upload_dir_sends_each_data_file_byte_for_byte(stager, aws_client, bucket, tmp_path):
    local = tmp_path / "written"
    (local / "day=1").mkdir(parents=True)
    data = bytes(range(256)) * 8192  # 2 MiB
    (local / "day=1" / "part-0.parquet").write_bytes(data)
    (local / "_SUCCESS").write_bytes(b"")
    (local / "day=1" / ".part-0.parquet.crc").write_bytes(b"crc")

    keys = stager.upload_dir(local, f"s3://{bucket}/out")

    assert keys == ["out/day=1/part-0.parquet"]
    assert aws_client("s3").get_object(Bucket=bucket, Key=keys[0])["Body"].read() == data
