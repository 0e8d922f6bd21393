"""Values for every `<NO-DEFAULT>` parameter on a local endpoint: `pynt localparams` writes them once.

The demo deploys with these values (`localaws/demo/`); `pynt localparams` writes them to
`cloudformation/local-params.json` (ignored by git: the tracked params files keep their `<NO-DEFAULT>` for
AWS), and the build tasks apply that file, as in-memory overrides (`load_project(overrides=…)`), whenever
`AWS_ENDPOINT_URL` is set. Against AWS it is never read: bucket names are global there and must be the user's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from buildlib.errors import BuildError

LOCAL_PARAMS_FILE = Path("cloudformation") / "local-params.json"
ARTIFACT_BUCKET = "etl-orchestrator-demo-artifacts"
DATA_BUCKET = "etl-orchestrator-demo-data"
# One value per parameter that has no default; a key applies to every params file (and the descriptor) that
# has it, as load_project's overrides do.
LOCAL_VALUES = {
    "SourceS3BucketName": ARTIFACT_BUCKET,
    "SourceDataBucketName": DATA_BUCKET,
    "S3ETLScriptPath": f"s3://{ARTIFACT_BUCKET}/glue-scripts",
    "S3ETLOutputPath": f"s3://{ARTIFACT_BUCKET}/etl-output",
}


def write_local_params(root: Path, values: Mapping[str, str] = LOCAL_VALUES) -> Path:
    """Write the local values to `<root>/cloudformation/local-params.json`; returns its path."""
    path = root / LOCAL_PARAMS_FILE
    try:
        path.write_text(json.dumps(dict(values), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"cannot write {LOCAL_PARAMS_FILE}: {exc.strerror or exc}") from exc
    return path


def local_overrides(root: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """The values of local-params.json when AWS_ENDPOINT_URL is set and the file exists, else None."""
    path = root / LOCAL_PARAMS_FILE
    if not environ.get("AWS_ENDPOINT_URL") or not path.is_file():
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(
            f"{LOCAL_PARAMS_FILE} is not valid JSON: {exc} (write it again: pynt localparams)"
        ) from exc
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise BuildError(
            f"{LOCAL_PARAMS_FILE} must map parameter keys to strings (pynt localparams writes it)"
        )
    return values
