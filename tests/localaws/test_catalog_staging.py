"""Catalog staging (localaws/catalog_staging.py): S3 objects become local files only inside the staging
folder, streamed (not read whole)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from localaws.catalog_staging import Stager, staged_path


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
