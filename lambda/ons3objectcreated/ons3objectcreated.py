"""On S3 Object Created: every upload of an expected file releases exactly one wait-for-data task.

Contract (docs/DESIGN.md):

- Environment: ``WAIT_ACTIVITIES`` (JSON object ``{"s3://<bucket>/<key>": "<wait activity ARN>"}``, the only
  objects that release a wait), ``ARRIVALS_TABLE`` (the arrivals table, see arrival_store.py),
  ``WAIT_HEARTBEAT_SECONDS`` (the wait states' HeartbeatSeconds, 300), optional ``SFN_POLL_RESERVE_MS``
  (time a long poll needs; a local endpoint shortens it) and ``LOG_LEVEL``.
- An S3 ObjectCreated notification: each record of an expected object is first recorded durably as the
  pending arrival of that object (ordered and de-duplicated by its ``sequencer``, then ``versionId``), then
  the pending arrivals of the event's objects are released (wait_release.py), in parallel.
- The sweep: every expected object with a pending arrival or a claimed token is released. It runs on an
  execution's start ("Step Functions Execution Status Change", RUNNING), on every answered task (the
  runners' "ETL Task Answered" nudge: a wait later in a workflow may have just begun), and on the schedule
  (``"detail-type": "Scheduled Event"``, the safety net for lost events). So an upload that landed before
  its wait began releases that wait as soon as the wait begins.
- After releasing a wait it sends the same nudge, so that the runner whose task is next (e.g. PSD after
  "Wait For Sales Data") claims it within seconds (etlrunner/nudge.py); the nudge goes before the release
  is marked done, so a worker that dies between the two leaves it for the next attempt.
- The recovery tick (a one-minute rule whose input is ``{"etlrunner": "tick"}``): sends a claim a dead
  worker left unsent, and polls again for an object with an upload pending whose last poll's worker died
  (the task it may have held comes back after the wait state's HeartbeatSeconds).
- Success output sent to the wait task: ``{"S3BucketName", "S3Key", "SFNActivityArn", "S3VersionId",
  "S3ETag", "S3Sequencer"}``. A task whose input names another object fails with ``WaitForData.MisWired``.
- Records of other objects, and malformed records, are logged once with the reason and never raised
  (raising makes S3 retry for nothing); an upload outside the expected folders says where it should go.
  Keys under ``QUIET_PREFIXES`` (comma-separated; the template sets Athena's result folder) are skipped
  without a warning. The handler raises when an arrival could not be stored or a release
  failed, so that Lambda retries the event and finally sends it to the on-failure destination; a stored
  arrival is also retried by the next sweep.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

from arrival_store import Arrival, ArrivalStore, normalize_sequencer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from etlrunner.clients import EVENTS_CLIENT_CONFIG, reused_client
from etlrunner.sfn import POLL_RESERVE_ENV, SFN_READ_TIMEOUT_S
from etlrunner.triggers import is_nudge, is_tick
from wait_release import FAILED_STATUSES, Releaser, ReleaseSettings, WaitTarget

WAIT_ACTIVITIES_ENV = "WAIT_ACTIVITIES"
ARRIVALS_TABLE_ENV = "ARRIVALS_TABLE"
HEARTBEAT_ENV = "WAIT_HEARTBEAT_SECONDS"
QUIET_PREFIXES_ENV = "QUIET_PREFIXES"
# A claim older than this was left by a worker that died between claiming and sending (a live one sends
# within seconds); the tick sends it, if Lambda's retry of that worker's event has not already.
STUCK_CLAIM_S = 30
# After a lost task's heartbeat timeout, Step Functions times it out and the wait state's Retry (1 s)
# schedules it again; a few seconds more cover the timer's own slack.
LOST_TASK_MARGIN_S = 5

logger = logging.getLogger("ons3objectcreated")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())


class ConfigurationError(RuntimeError):
    """The function's environment is wrong: a deployment error, raised so that it is seen."""


@dataclass(frozen=True)
class Settings:
    targets: dict[str, WaitTarget]  # by s3://bucket/key
    table: str
    release: ReleaseSettings
    quiet_prefixes: tuple[str, ...] = ()


def load_settings(environ: Mapping[str, str]) -> Settings:
    """The settings from the environment; ConfigurationError naming the variable that is wrong."""
    raw = environ.get(WAIT_ACTIVITIES_ENV, "")
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{WAIT_ACTIVITIES_ENV} is not JSON ({exc}): {raw[:200]!r}") from None
    if not isinstance(mapping, dict) or not mapping:
        raise ConfigurationError(
            f'{WAIT_ACTIVITIES_ENV} must be {{"s3://bucket/key": "activity ARN"}}: {raw!r}'
        )
    targets = {}
    for s3_object, arn in mapping.items():
        bucket, _, key = str(s3_object).removeprefix("s3://").partition("/")
        if not str(s3_object).startswith("s3://") or not bucket or not key or not str(arn).startswith("arn:"):
            raise ConfigurationError(f"{WAIT_ACTIVITIES_ENV}: bad entry {s3_object!r}: {arn!r}")
        targets[s3_object] = WaitTarget(bucket, key, arn)
    table = environ.get(ARRIVALS_TABLE_ENV, "").strip()
    if not table:
        raise ConfigurationError(f"{ARRIVALS_TABLE_ENV} is not set")
    release = ReleaseSettings()
    heartbeat = environ.get(HEARTBEAT_ENV, "").strip()
    reserve = environ.get(POLL_RESERVE_ENV, "").strip()
    if heartbeat:
        if not heartbeat.isdigit():
            raise ConfigurationError(f"{HEARTBEAT_ENV} must be a number of seconds: {heartbeat!r}")
        release = replace(release, heartbeat_seconds=int(heartbeat))
    if reserve.isdigit():
        release = replace(release, poll_reserve_ms=int(reserve))
    quiet = tuple(p.strip() for p in environ.get(QUIET_PREFIXES_ENV, "").split(",") if p.strip())
    return Settings(targets, table, release, quiet)


SFN_CONFIG = Config(
    read_timeout=SFN_READ_TIMEOUT_S,
    connect_timeout=10,
    retries={"mode": "standard"},
    max_pool_connections=10,  # one connection per object released in parallel
)
# As the runners' DynamoDB client: an arrival must not be lost to a passing throttle (3 tries, the default,
# lost 22 % of the calls at a 60 % throttle).
DDB_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 6})


# Kept for later invocations of this warm environment (the runners' cache: one per service, endpoint and
# region). The Step Functions client is this function's own, keyed apart from the runners' by its config.
def sfn_client() -> Any:
    return reused_client("stepfunctions", SFN_CONFIG)


def ddb_client() -> Any:
    return reused_client("dynamodb", DDB_CONFIG)


def events_client() -> Any:
    return reused_client("events", EVENTS_CLIENT_CONFIG)  # the runners' nudge client settings


def is_scheduled_event(event: Mapping[str, Any]) -> bool:
    return event.get("detail-type") == "Scheduled Event" and event.get("source") == "aws.events"


def is_sweep_event(event: Mapping[str, Any]) -> bool:
    """The schedule, an execution's start or an answered task: release what is pending."""
    return is_scheduled_event(event) or is_nudge(event)


def parse_record(record: Mapping[str, Any]) -> tuple[str, str, Arrival | None, str]:
    """(bucket, key, arrival, problem) of one S3 record; arrival is None when the record is unusable."""
    s3 = record.get("s3") if isinstance(record, Mapping) else None
    if not isinstance(s3, Mapping):
        return "", "", None, "not an S3 record (no s3 object)"
    bucket = str(s3.get("bucket", {}).get("name", ""))
    obj = s3.get("object", {})
    # S3 URL-encodes keys in notifications ("+" for a space): decode to the real key.
    key = unquote_plus(str(obj.get("key", "")))
    if not bucket or not key:
        return bucket, key, None, "record has no s3.bucket.name or s3.object.key"
    if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
        return bucket, key, None, f"event {record.get('eventName')!r} is not an ObjectCreated event"
    sequencer = normalize_sequencer(obj.get("sequencer"))
    if sequencer is None:
        return bucket, key, None, f"s3.object.sequencer {obj.get('sequencer')!r} is not a hex string"
    size = obj.get("size")
    arrival = Arrival(
        sequencer=sequencer,
        etag=obj.get("eTag") or None,
        version_id=obj.get("versionId") or None,
        size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
        event_time=record.get("eventTime") or None,
    )
    return bucket, key, arrival, ""


def unexpected_reason(bucket: str, key: str, settings: Settings) -> str:
    """Why s3://bucket/key releases no wait, naming the objects that do."""
    expected = sorted(settings.targets)
    name = key.rsplit("/", 1)[-1]
    same_name = [t.s3_object for t in settings.targets.values() if t.key.rsplit("/", 1)[-1] == name]
    folders = sorted({t.key.rsplit("/", 1)[0] + "/" for t in settings.targets.values() if "/" in t.key})
    if same_name:
        why = f"same file name as {', '.join(same_name)} but not the same key: only the exact key counts"
        if "/" not in key:
            why = f"uploaded to the bucket's root; upload it as {', '.join(same_name)}"
    elif not any(key.startswith(folder) for folder in folders):
        why = f"not in {' or '.join(folders)}: a wait is released only by a file uploaded there"
    else:
        why = "not an expected object"
    return f"{why}; the objects that release a wait are {', '.join(expected)}"


def record_arrivals(
    records: list[Any], settings: Settings, store: ArrivalStore
) -> tuple[list[dict[str, Any]], list[WaitTarget]]:
    """Store every expected upload as its object's pending arrival; per-record summaries and the targets
    to release. A record that could not be stored is reported with status "error"."""
    summaries: list[dict[str, Any]] = []
    touched: dict[str, WaitTarget] = {}
    for record in records:
        bucket, key, arrival, problem = parse_record(record)
        summary: dict[str, Any] = {"bucket": bucket, "key": key}
        summaries.append(summary)
        if arrival is None:
            summary.update(status="bad-record", detail=problem)
            logger.error("skipping an S3 record: %s: %s", problem, json.dumps(record, default=str)[:500])
            continue
        target = settings.targets.get(f"s3://{bucket}/{key}")
        if target is None and key.startswith(settings.quiet_prefixes):
            summary.update(status="ignored", detail="under a folder that releases nothing (QUIET_PREFIXES)")
            logger.info("s3://%s/%s: %s", bucket, key, summary["detail"])
            continue
        if target is None:
            summary.update(status="unexpected-key", detail=unexpected_reason(bucket, key, settings))
            logger.warning("s3://%s/%s releases no wait: %s", bucket, key, summary["detail"])
            continue
        summary["sequencer"] = arrival.sequencer
        try:
            outcome = store.record(target.s3_object, target.activity_arn, arrival)
        except (ClientError, BotoCoreError) as exc:
            summary.update(status="error", detail=f"could not store the arrival: {exc}")
            logger.error("%s: %s", target.s3_object, summary["detail"])
            continue
        details = {
            "recorded": "kept as the pending upload of its wait",
            "duplicate": "a repeated delivery of an upload already kept or handed out: ignored",
            "superseded": "older than the upload last handed out: ignored",
        }
        summary.update(status=outcome, detail=details[outcome])
        logger.info("%s (sequencer %s): %s", target.s3_object, arrival.sequencer, summary["detail"])
        touched[target.s3_object] = target
    return summaries, list(touched.values())


def release_all(releaser: Releaser, targets: list[WaitTarget]) -> list[dict[str, Any]]:
    """Release every target at once: each may long-poll for up to 60 s."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        results = list(pool.map(releaser.release, targets))
    return [
        {"s3_object": t.s3_object, "activity_arn": t.activity_arn, **r}
        for t, r in zip(targets, results, strict=True)
    ]


def sweep_targets(settings: Settings, store: ArrivalStore) -> list[WaitTarget]:
    """The expected objects with something to release: a pending arrival or a claimed token."""
    due = []
    for target in settings.targets.values():
        item = store.get(target.s3_object)
        if item.pending is not None or item.claim is not None:
            due.append(target)
    return due


def tick_targets(
    settings: Settings, store: ArrivalStore, now: float
) -> tuple[list[WaitTarget], dict[str, tuple[Decimal, ...]]]:
    """What the recovery tick must release: an object whose claim was left unsent (its worker died; Lambda's
    retry usually sends it first), or with an upload pending and a poll whose worker died (the task it may
    have held came back after its heartbeat). Returns the targets and, per object, the dead polls the
    release settles."""
    due: list[WaitTarget] = []
    dead_polls: dict[str, tuple[Decimal, ...]] = {}
    for target in settings.targets.values():
        item = store.get(target.s3_object)
        stale = item.stale_polls(now, settings.release.heartbeat_seconds + LOST_TASK_MARGIN_S)
        if stale:
            dead_polls[target.s3_object] = stale
        stuck_claim = item.claim is not None and now - item.claim.claimed_at > STUCK_CLAIM_S
        if stuck_claim or (stale and item.pending is not None):
            due.append(target)
    return due, dead_polls


def recovery_tick(releaser: Releaser, settings: Settings, store: ArrivalStore) -> list[dict[str, Any]]:
    """The one-minute rule: cheap (one read per expected object) unless something is due."""
    targets, dead_polls = tick_targets(settings, store, releaser.now())
    releases = release_all(releaser, targets)
    failed = {r["s3_object"] for r in releases if r["status"] in FAILED_STATUSES}
    for s3_object, polls in dead_polls.items():
        if s3_object not in failed:  # polled again (or nothing to hand): those tasks are served
            store.poll_ended(s3_object, *polls)
    return releases


def handler(
    event: Mapping[str, Any],
    context: Any,
    sfn: Any | None = None,
    ddb: Any | None = None,
    events: Any | None = None,
) -> dict:
    """S3 notification or sweep; see the module docstring."""
    settings = load_settings(os.environ)
    store = ArrivalStore(ddb if ddb is not None else ddb_client(), settings.table)
    releaser = Releaser(
        store=store,
        sfn=sfn if sfn is not None else sfn_client(),
        settings=settings.release,
        remaining_ms=getattr(context, "get_remaining_time_in_millis", None),
        events=events if events is not None else events_client(),
    )
    if is_tick(event):
        releases = recovery_tick(releaser, settings, store)
        result = {"tick": releases}
        failed = [r for r in releases if r["status"] in FAILED_STATUSES]
    elif is_sweep_event(event):
        result: dict[str, Any] = {"sweep": release_all(releaser, sweep_targets(settings, store))}
        releases = result["sweep"]
        failed = [r for r in releases if r["status"] in FAILED_STATUSES]
    elif isinstance(event.get("Records"), list):
        records, targets = record_arrivals(event["Records"], settings, store)
        releases = release_all(releaser, targets)
        result = {"records": records, "releases": releases}
        failed = [r for r in records if r["status"] == "error"]
        failed += [r for r in releases if r["status"] in FAILED_STATUSES]
    else:
        logger.error("not an S3 notification nor a sweep event: %s", json.dumps(event, default=str)[:500])
        return {"status": "unrecognised-event"}
    if failed:
        # Lambda retries, then the on-failure destination keeps the event; the sweep retries stored arrivals.
        raise RuntimeError(
            f"{len(failed)} uploads not recorded or released: {json.dumps(failed, default=str)}"
        )
    return result
