"""The test kit's endpoint process: the project deployed on a fresh local endpoint, serving until its stdin
closes, and reading Glue outputs for the tests with its own Spark (the one the Glue jobs ran on).

    python -m etltest.server <protocol fd>

moto's state and the bridges' patches are process-wide, so the endpoint never runs in the test process
(where another endpoint may run, tests/conftest.py's). Requests come one JSON object a line on stdin; each
answer is one JSON line on the protocol file descriptor, never on stdout: everything else this process and its
children (Lambda workers, Spark's JVM) print goes to stderr, the kit's log file.

- first, once deployed: ``{"ready": {"endpoint_url", "region"}}`` (or ``{"error": ...}`` and exit 1);
- ``{"rows": "s3://bucket/prefix/"}`` -> ``{"rows": [{column: value}, ...]}``: the Parquet dataset there, in
  file order; dates and timestamps as ISO strings, decimals as strings.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def read_rows(s3: Any, s3_path: str) -> list[dict[str, Any]]:
    """Every row of the Parquet files under ``s3_path``, as dicts."""
    from localaws.demo.outputs import download_prefix
    from localaws.demo.workflow import split_s3_url
    from localaws.runtime.spark import get_spark

    bucket, prefix = split_s3_url(s3_path.rstrip("/") + "/")
    with tempfile.TemporaryDirectory(prefix="etltest-rows-") as folder:
        files = [str(p) for p in download_prefix(s3, bucket, prefix, Path(folder)) if p.suffix == ".parquet"]
        if not files:
            raise FileNotFoundError(f"no Parquet file under {s3_path}")
        return [row.asDict(recursive=True) for row in get_spark().read.parquet(*files).collect()]


def _answer(protocol: TextIO, message: dict[str, Any]) -> None:
    protocol.write(json.dumps(message, default=_jsonable) + "\n")
    protocol.flush()


def serve(protocol: TextIO, requests: TextIO) -> int:
    from localaws import demo

    try:
        environment = demo.deployed_environment(out=sys.stderr)
        env = environment.__enter__()
    except BaseException as exc:  # the kit shows this line and the log
        _answer(protocol, {"error": f"the project could not be deployed: {exc}"})
        traceback.print_exc()
        return 1
    try:
        _answer(protocol, {"ready": {"endpoint_url": env.ctx.endpoint_url, "region": env.ctx.region}})
        for line in requests:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                _answer(protocol, {"rows": read_rows(env.s3, request["rows"])})
            except Exception as exc:  # one request failed; the endpoint serves on
                traceback.print_exc()
                _answer(protocol, {"error": f"{type(exc).__name__}: {exc}"})
    finally:
        environment.__exit__(None, None, None)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m etltest.server <protocol fd>", file=sys.stderr)
        return 2
    protocol = os.fdopen(int(argv[0]), "w", encoding="utf-8")
    # Anything written to stdout from here on (this process, the Lambda workers and the JVM it starts, which
    # inherit file descriptor 1) lands in the log, not in the answers.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return serve(protocol, sys.stdin)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
