"""Bring S3 data from the local endpoint to a local folder, so Spark can read it, and send results back.

Spark has no S3 filesystem here (no hadoop-aws, no network), so every read goes through boto3 against the
endpoint: the objects under a prefix are downloaded into a staging folder and Spark reads that folder; every
write goes to a local folder first and its data files are uploaded. A Glue catalog table is read with the
catalog's columns as its schema, as Athena and Glue do (CSV files are positional: file column order is kept).

One ``Stager`` per Glue run or Athena query; ``cleanup()`` removes its folder. Its calls are made with the
credentials it is given (a Glue job's role session, an Athena query's caller's), so the endpoint authorises
them as AWS would those of the service acting with them; without credentials it acts as the administrator.
A catalog table is read as Glue's and Athena's catalog clients read it (GetDatabase, GetTable,
GetPartitions), each call authorised on its own.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FAKE_KEYS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}

# Hive type names the Glue catalog holds -> Spark DDL types (most are the same; these are not).
_HIVE_TYPE_FIXES = [
    (re.compile(r"\b(?:var)?char\s*\(\s*\d+\s*\)", re.IGNORECASE), "string"),
    (re.compile(r"\binteger\b", re.IGNORECASE), "int"),
]

_CSV_SERDE_HINTS = ("lazysimpleserde", "opencsvserde", "textinputformat")

COPY_CHUNK_BYTES = 1024 * 1024


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (s3a:// and s3n:// too)."""
    match = re.match(r"^s3[an]?://([^/]+)/?(.*)$", uri)
    if not match:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return match.group(1), match.group(2)


_clients: dict[tuple[str, str, str, str], Any] = {}
_clients_lock = threading.Lock()
VIA_HEADER = "X-Localaws-Via"  # what a call is made for ("glue-run:<job>:<run id>", "athena-query:<id>")
_calling = threading.local()


class calling_for:  # noqa: N801 - used as a context manager: ``with calling_for("athena-query:…"):``
    """The calls this thread makes through these clients are made for ``via`` (told to the endpoint in
    ``X-Localaws-Via``: its IAM records it, and an Athena query's calls carry ``aws:CalledVia``)."""

    def __init__(self, via: str | None) -> None:
        self.via = via

    def __enter__(self) -> None:
        self.previous = getattr(_calling, "via", None)
        _calling.via = self.via

    def __exit__(self, *exc_info: object) -> None:
        _calling.via = self.previous


def _add_via_header(request: Any, **_: Any) -> None:
    via = getattr(_calling, "via", None)
    if via:
        request.headers[VIA_HEADER] = via


_session: boto3.session.Session | None = None
# Endpoints a long-lived process (a test run) started and stopped: their clients are dropped, oldest first.
MAX_SHARED_CLIENTS = 32


def make_client(
    service: str, endpoint_url: str | None, region: str, credentials: dict[str, str] | None = None
) -> Any:
    """A boto3 client for the local endpoint (``credentials``: boto3 client keys of a role session; the
    fake administrator keys without), or for the environment's AWS when no endpoint.

    Clients of the local endpoint are made once per process and shared: botocore clients are thread-safe,
    and a new Session and client cost about 60 ms each idle, 0.6 s on a loaded machine (a demo made 36 of
    them, a set per Glue run). They come from one Session, so service models are loaded once.
    """
    global _session
    kwargs: dict[str, Any] = {"config": Config(retries={"total_max_attempts": 3})}
    if not endpoint_url:
        # Real AWS: the environment's credentials, looked up anew (they may change or expire).
        return boto3.session.Session(region_name=region).client(service, **kwargs)
    keys = credentials or FAKE_KEYS
    key = (service, endpoint_url, region, keys["aws_access_key_id"])
    with _clients_lock:  # also because a Session is not thread-safe: clients are made one at a time
        client = _clients.get(key)
        if client is None:
            if _session is None:
                _session = boto3.session.Session()
            client = _session.client(service, region_name=region, endpoint_url=endpoint_url, **keys, **kwargs)
            client.meta.events.register("before-send", _add_via_header)
            if len(_clients) >= MAX_SHARED_CLIENTS:
                del _clients[next(iter(_clients))]
            _clients[key] = client
        return client


def spark_type(hive_type: str) -> str:
    spark = hive_type.strip()
    for pattern, replacement in _HIVE_TYPE_FIXES:
        spark = pattern.sub(replacement, spark)
    return spark


def ddl_schema(columns: list[dict[str, Any]]) -> str:
    """Glue catalog columns (``[{"Name", "Type"}]``) as a Spark DDL schema string, order kept."""
    return ", ".join(f"`{col['Name']}` {spark_type(col['Type'])}" for col in columns)


def staged_path(dest: Path, relative_key: str, key: str) -> Path:
    """The local file for an S3 key's part below the staged prefix: always inside ``dest``.

    S3 keys are opaque strings; as a path, an empty segment (``sales//tmp/x.csv``) would make the rest
    absolute and ``..`` would climb out of the staging folder. Such keys are refused, not guessed at.
    """
    parts = relative_key.split("/")
    if any(part in ("", ".", "..") or "\0" in part for part in parts):
        raise ValueError(
            f"S3 key {key!r} has an empty, '.' or '..' segment: it cannot be staged as a local file"
        )
    target = dest.joinpath(*parts)
    if not target.resolve().is_relative_to(dest.resolve()):  # e.g. a symlink in the staging folder
        raise ValueError(f"S3 key {key!r} would be staged outside {dest}")
    return target


def _hidden(relative_key: str) -> bool:
    # Athena, Glue and Hadoop ignore files whose name (or folder) starts with "_" or "." (_SUCCESS, .crc...).
    return any(part.startswith(("_", ".")) and "=" not in part for part in relative_key.split("/"))


@dataclass
class StagedTable:
    """A catalog table whose files are now local."""

    database: str
    name: str
    location: str
    local_dir: Path
    columns: list[dict[str, Any]]
    partition_keys: list[dict[str, Any]]
    data_format: str  # "csv" | "parquet" | "json"
    csv_options: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    bytes_scanned: int = 0  # size of the S3 objects read (what Athena reports as DataScannedInBytes)

    def read(self, spark: SparkSession) -> DataFrame:
        all_columns = self.columns + self.partition_keys
        if not self.files:  # an empty table is an empty DataFrame with the catalog's schema
            return spark.createDataFrame([], ddl_schema(all_columns))
        path = str(self.local_dir)
        if self.data_format == "parquet":
            df = spark.read.option("recursiveFileLookup", "false").parquet(path)
            lower = {c.lower(): c for c in df.columns}
            return df.select(*[lower.get(c["Name"].lower(), c["Name"]) for c in all_columns])
        reader = spark.read.schema(ddl_schema(all_columns))
        if self.data_format == "json":
            return reader.json(path)
        return reader.options(**self.csv_options).csv(path)


class Stager:
    """Downloads and uploads for one Glue run or Athena query, in its own folder."""

    def __init__(
        self,
        endpoint_url: str | None,
        region: str,
        work_dir: Path | None = None,
        credentials: dict[str, str] | None = None,
    ) -> None:
        base = Path(work_dir) if work_dir else Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="stage-", dir=base))
        self.endpoint_url = endpoint_url
        self.region = region
        self.credentials = credentials
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- clients ------------------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = make_client(
                    service, self.endpoint_url, self.region, self.credentials
                )
            return self._clients[service]

    def new_dir(self, label: str) -> Path:
        folder = self.folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', label)}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return folder

    # -- S3 -----------------------------------------------------------------------------------------------
    def list_objects(self, uri: str) -> list[dict[str, Any]]:
        """Every object under the prefix (or the single object the URI names)."""
        bucket, prefix = split_s3_uri(uri)
        s3 = self.client("s3")
        found: list[dict[str, Any]] = []
        folder_prefix = prefix if (not prefix or prefix.endswith("/")) else prefix + "/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder_prefix):
            found.extend(page.get("Contents", []))
        if not found and prefix and not prefix.endswith("/"):
            # Not a folder: maybe a single object.
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                found.extend(obj for obj in page.get("Contents", []) if obj["Key"] == prefix)
        return [
            {**obj, "Bucket": bucket, "Prefix": folder_prefix if obj["Key"] != prefix else ""}
            for obj in found
        ]

    def download(
        self, uri: str, dest: Path, skip_lines: int = 0, keep_hidden: bool = False
    ) -> tuple[list[Path], int]:
        """Download every object under ``uri`` into ``dest``, keeping the key paths below the prefix.

        ``skip_lines`` drops that many lines at the start of each file (CSV headers: Spark can only skip one,
        and only with its header option, while Hive's ``skip.header.line.count`` may say more); gzip files
        are then stored decompressed. Returns the local files and the bytes read from S3.
        """
        s3 = self.client("s3")
        files: list[Path] = []
        total = 0
        for obj in self.list_objects(uri):
            relative = obj["Key"][len(obj["Prefix"]) :] if obj["Prefix"] else obj["Key"].rsplit("/", 1)[-1]
            if not relative or relative.endswith("/") or (not keep_hidden and _hidden(relative)):
                continue
            target = staged_path(dest, relative, obj["Key"])
            target.parent.mkdir(parents=True, exist_ok=True)
            response = s3.get_object(Bucket=obj["Bucket"], Key=obj["Key"])
            total += int(response.get("ContentLength") or 0)
            # Streamed to the file: a large object never sits in memory (whole, split and joined again).
            stream = response["Body"]
            if skip_lines and target.suffix == ".gz":
                stream = gzip.GzipFile(fileobj=stream, mode="rb")
                target = target.with_suffix("")
            with stream, target.open("wb") as out:
                for _ in range(skip_lines):
                    if not stream.readline():
                        break
                shutil.copyfileobj(stream, out, COPY_CHUNK_BYTES)
            files.append(target)
        return files, total

    def upload_dir(self, local_dir: Path, uri: str) -> list[str]:
        """Upload the data files Spark wrote (not _SUCCESS, not .crc) under ``uri``; return their keys."""
        bucket, prefix = split_s3_uri(uri)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        s3 = self.client("s3")
        keys = []
        for path in sorted(local_dir.rglob("*")):
            relative = path.relative_to(local_dir).as_posix()
            if path.is_dir() or _hidden(relative) or path.name.endswith(".crc"):
                continue
            key = prefix + relative
            with path.open("rb") as body:  # streamed, not read whole
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            keys.append(key)
        return keys

    def delete_prefix(self, uri: str) -> int:
        """Delete every object under the prefix; return how many."""
        s3 = self.client("s3")
        objects = self.list_objects(uri)
        by_bucket: dict[str, list[str]] = {}
        for obj in objects:
            by_bucket.setdefault(obj["Bucket"], []).append(obj["Key"])
        for bucket, keys in by_bucket.items():
            for start in range(0, len(keys), 1000):
                chunk = [{"Key": key} for key in keys[start : start + 1000]]
                s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
        return len(objects)

    # -- the Glue catalog ---------------------------------------------------------------------------------
    def get_table(self, database: str, table: str) -> dict[str, Any]:
        """The table's definition, read as a catalog client reads it: the database, the table, its partitions
        (each a call the credentials must be allowed)."""
        glue = self.client("glue")
        glue.get_database(Name=database)
        table_def = glue.get_table(DatabaseName=database, Name=table)["Table"]
        for _ in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
            pass  # partitions are not staged apart; their listing is what the services call
        return table_def

    def stage_table(self, database: str, table: str, table_def: dict[str, Any] | None = None) -> StagedTable:
        """Download a catalog table's files and describe how to read them."""
        table_def = table_def or self.get_table(database, table)
        sd = table_def.get("StorageDescriptor") or {}
        location = sd.get("Location")
        if not location:
            raise ValueError(f"table {database}.{table} has no StorageDescriptor.Location")
        serde = sd.get("SerdeInfo") or {}
        params = {**(table_def.get("Parameters") or {}), **(serde.get("Parameters") or {})}
        hints = " ".join(
            str(x).lower()
            for x in (serde.get("SerializationLibrary"), sd.get("InputFormat"), params.get("classification"))
        )
        if "parquet" in hints:
            data_format = "parquet"
        elif "json" in hints:
            data_format = "json"
        else:
            data_format = "csv"
        skip = int(params.get("skip.header.line.count", "0") or 0) if data_format == "csv" else 0
        local = self.new_dir(f"{database}.{table}")
        files, size = self.download(location, local, skip_lines=skip)
        return StagedTable(
            database=database,
            name=table,
            location=location,
            local_dir=local,
            columns=list(sd.get("Columns") or []),
            partition_keys=list(table_def.get("PartitionKeys") or []),
            data_format=data_format,
            csv_options=_csv_options(serde.get("SerializationLibrary") or "", params),
            files=files,
            bytes_scanned=size,
        )

    def read_table(self, spark: SparkSession, database: str, table: str) -> DataFrame:
        return self.stage_table(database, table).read(spark)

    def read_paths(
        self,
        spark: SparkSession,
        paths: list[str],
        data_format: str,
        format_options: dict[str, Any] | None = None,
    ) -> DataFrame:
        """Read S3 paths (folders or objects) the way Glue's ``from_options`` does, for parquet, csv, json."""
        options = format_options or {}
        local_dirs = []
        for path in paths:
            local = self.new_dir("paths")
            self.download(path, local)
            local_dirs.append(str(local))
        data_format = data_format.lower()
        if data_format == "parquet":
            return spark.read.parquet(*local_dirs)
        if data_format == "json":
            return spark.read.option("multiLine", bool(options.get("multiline", False))).json(local_dirs)
        if data_format == "csv":
            reader = spark.read.options(
                header=str(bool(options.get("withHeader", False))).lower(),
                sep=options.get("separator", ","),
                quote=options.get("quoteChar", '"'),
                escape=options.get("escaper", "\\") or "\\",
                multiLine=str(bool(options.get("multiline", False))).lower(),
            )
            return reader.csv(local_dirs)
        raise ValueError(f"format {data_format!r} is not supported locally (parquet, csv, json are)")

    def write(
        self,
        df: DataFrame,
        uri: str,
        data_format: str = "parquet",
        compression: str | None = None,
        partition_keys: list[str] | None = None,
    ) -> list[str]:
        """Write ``df`` locally with Spark, then upload the data files under ``uri`` (added, like Glue)."""
        local = self.new_dir("write") / "out"
        writer = df.write.mode("overwrite")
        if partition_keys:
            writer = writer.partitionBy(*partition_keys)
        if compression:
            writer = writer.option("compression", "none" if compression == "uncompressed" else compression)
        data_format = data_format.lower()
        if data_format not in ("parquet", "csv", "json"):
            raise ValueError(f"format {data_format!r} is not supported locally (parquet, csv, json are)")
        writer.format(data_format).save(str(local))
        return self.upload_dir(local, uri)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _csv_options(serde_library: str, params: dict[str, str]) -> dict[str, str]:
    """Spark CSV reader options matching the table's SerDe parameters (headers are skipped at staging)."""
    lib = serde_library.lower()
    if "opencsvserde" in lib:
        return {
            "sep": params.get("separatorChar", ","),
            "quote": params.get("quoteChar", '"'),
            "escape": params.get("escapeChar", "\\"),
            "header": "false",
            "mode": "PERMISSIVE",
        }
    # LazySimpleSerDe: no quoting at all (a quote is data), "\N" is NULL, a bad number is NULL.
    options = {
        "sep": params.get("field.delim", params.get("separatorChar", ",")),
        "quote": "",  # Spark: an empty quote option turns quoting off
        "nullValue": params.get("serialization.null.format", "\\N"),
        "header": "false",
        "mode": "PERMISSIVE",
    }
    if params.get("escape.delim"):
        options["escape"] = params["escape.delim"]
    return options
