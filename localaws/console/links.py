"""Links from a state to what it ran: the Glue job run its runner started, the Lambda worker's logs, the S3
object a wait state expected or received. Read from the state's task input and output, as a person would
read them in the Step Functions console (the Glue runner's input names the job, its output the run)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from localaws.console.status import StateRun


def _json_object(text: str | None) -> dict[str, Any]:
    """A JSON object, also when it arrives JSON-encoded as a string (a Pass state's string Result)."""
    value: Any = text
    for _ in range(2):
        if not isinstance(value, str):
            break
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _first(key: str, *sources: dict[str, Any]) -> str | None:
    for source in sources:
        value = source.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def state_links(run: StateRun) -> list[dict[str, str]]:
    """``[{"label", "href"}]``, hrefs relative to the console's root."""
    given = _json_object(run.task_input) or _json_object(run.input)
    produced = _json_object(run.output) or _json_object(run.cause)
    links: list[dict[str, str]] = []
    job = _first("GlueJobName", produced, given)
    run_id = _first("GlueJobRunId", produced)
    if job:
        anchor = f"#run-{run_id}" if run_id else ""
        links.append({"label": f"Glue job runs of {job}", "href": f"glue?{urlencode({'job': job})}{anchor}"})
    if run.worker:
        query = {"function": run.worker, **({"text": run_id} if run_id else {})}
        label = f"{run.worker} log lines about this job run" if run_id else f"{run.worker} Lambda logs"
        links.append({"label": label, "href": f"logs?{urlencode(query)}"})
    bucket = _first("S3BucketName", produced) or _first("ExpectedS3Bucket", given)
    key = _first("S3Key", produced)
    if bucket and key:
        links.append(
            {
                "label": f"s3://{bucket}/{key}",
                "href": f"s3/object?{urlencode({'bucket': bucket, 'key': key})}",
            }
        )
    elif bucket:
        links.append({"label": f"objects of {bucket}", "href": f"s3/bucket?{urlencode({'name': bucket})}"})
    return links
