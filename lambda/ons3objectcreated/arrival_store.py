"""The arrivals table: one item per expected S3 object, changed only by conditional writes.

Item (hash key ``s3_object`` = ``s3://<bucket>/<key>``):

- ``activity_arn``: the wait activity the object releases (informational).
- ``pending_uploads`` (a map by sequencer of ``{etag, version_id, size, event_time, recorded_at}``): the
  uploads not yet handed to a wait task, and ``pending_versions`` (a string set) their version ids. Each
  upload releases one wait, the oldest upload first (a release claims ``ArrivalItem.pending``, the oldest):
  two uploads while two executions wait release both. When a poll finds no task waiting, only the newest
  pending upload is kept (``keep_newest_only``): uploads nobody waited for are superseded by the latest one,
  so a wait that begins later is released once, with the newest file.
- ``claimed_*`` (``token``, ``at``, ``sequencer``, ``etag``, ``version_id``, ``size``, ``execution``): the
  task token a worker claimed for that upload, stored BEFORE SendTaskSuccess so that a failed or interrupted
  release is re-sent to the same task instead of being lost.
- ``send_attempt_at``: present while a SendTaskSuccess to ``claimed_token`` may have reached Step Functions
  (set with the claim and before a re-send; removed only when every attempt was refused for sure).
- ``claim_senders`` (a string set): one id per worker that sent, or is sending, to ``claimed_token`` (the
  claimer, and each attempt that found the claim and re-sent it). A worker whose own sends were all refused
  may give the claim up only while it is the sole sender: another one's send may be the one that answered
  the task (a re-send racing the claimer's send, then the claimer's "gone" answer, would otherwise keep an
  upload pending that already released a wait, and it would release the next execution's wait too).
- ``consumed_*`` (``sequencer``, ``etag``, ``version_id``, ``at``, ``execution``): the last upload handed to a
  task. A delivery whose sequencer is not above it is a duplicate or a stale event and is never recorded.
- ``polls_started`` (a number set): one entry per GetActivityTask in flight for this object, its start time
  (epoch seconds with a unique fraction), added before the poll and removed when its outcome is stored. An
  entry left behind is a worker that died holding what its poll returned: a task token nobody else knows.
  That task comes back by itself once its HeartbeatSeconds have run out, and the recovery tick polls for it
  then (see ``stale_polls``).

Sequencers are stored upper-case and left-padded with zeros to SEQUENCER_WIDTH, so that DynamoDB's string
comparison orders them as S3 documents (compare sequencers of one key as hex strings of equal length).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

SEQUENCER_WIDTH = 64
HEX = re.compile(r"^[0-9A-F]+$")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def normalize_sequencer(raw: Any) -> str | None:
    """The sequencer as stored (upper-case, zero-padded to SEQUENCER_WIDTH), or None when it is not one."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().upper()
    if not HEX.match(text) or len(text) > SEQUENCER_WIDTH:
        return None
    return text.rjust(SEQUENCER_WIDTH, "0")


@dataclass(frozen=True)
class Arrival:
    """One upload of an expected object, as its S3 event describes it."""

    sequencer: str  # normalized
    etag: str | None = None
    version_id: str | None = None
    size: int | None = None
    event_time: str | None = None

    def attributes(self, prefix: str) -> dict[str, Any]:
        values = {
            "sequencer": self.sequencer,
            "etag": self.etag,
            "version_id": self.version_id,
            "size": self.size,
            "event_time": self.event_time,
        }
        return {f"{prefix}_{name}": value for name, value in values.items() if value is not None}

    def entry(self) -> dict[str, Any]:
        """The upload as an entry of ``pending_uploads`` (its sequencer is the entry's key)."""
        return {k.removeprefix("x_"): v for k, v in self.attributes("x").items() if k != "x_sequencer"}

    @classmethod
    def from_item(cls, item: Mapping[str, Any], prefix: str) -> Arrival | None:
        sequencer = item.get(f"{prefix}_sequencer")
        if sequencer is None:
            return None
        size = item.get(f"{prefix}_size")
        return cls(
            sequencer=sequencer,
            etag=item.get(f"{prefix}_etag"),
            version_id=item.get(f"{prefix}_version_id"),
            size=int(size) if size is not None else None,
            event_time=item.get(f"{prefix}_event_time"),
        )


@dataclass(frozen=True)
class Claim:
    """A task token claimed for an arrival and not yet known to be answered."""

    token: str
    claimed_at: float
    arrival: Arrival
    execution: str | None
    send_attempt_at: float | None


@dataclass(frozen=True)
class ArrivalItem:
    s3_object: str
    pending_uploads: tuple[Arrival, ...]  # oldest first
    claim: Claim | None
    consumed_sequencer: str | None
    consumed_version_id: str | None
    polls_started: tuple[Decimal, ...] = ()

    @property
    def pending(self) -> Arrival | None:
        """The upload a release hands out next: the oldest one not claimed already."""
        claimed = self.claim.arrival.sequencer if self.claim is not None else None
        return next((upload for upload in self.pending_uploads if upload.sequencer != claimed), None)

    @property
    def newest(self) -> Arrival | None:
        return self.pending_uploads[-1] if self.pending_uploads else None

    def stale_polls(self, now: float, older_than_s: float) -> tuple[Decimal, ...]:
        """Polls begun more than `older_than_s` ago and never finished: their workers died."""
        return tuple(started for started in self.polls_started if float(started) < now - older_than_s)


def _arrival_of(sequencer: str, entry: Mapping[str, Any]) -> Arrival:
    size = entry.get("size")
    return Arrival(
        sequencer=sequencer,
        etag=entry.get("etag"),
        version_id=entry.get("version_id"),
        size=int(size) if size is not None else None,
        event_time=entry.get("event_time"),
    )


CLAIM_ATTRIBUTES = (
    "claimed_token",
    "claimed_at",
    "claimed_sequencer",
    "claimed_etag",
    "claimed_version_id",
    "claimed_size",
    "claimed_event_time",
    "claimed_execution",
    "send_attempt_at",
    "claim_senders",
)
# The condition under which a worker may undo its claim: it is the claim's only sender (or the claim predates
# claim_senders).
SOLE_SENDER = (
    "claimed_token = :token AND (attribute_not_exists(claim_senders)"
    " OR (size(claim_senders) = :one AND contains(claim_senders, :me)))"
)


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class ArrivalStore:
    """Reads and conditionally updates the arrivals table (a low-level DynamoDB client)."""

    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def get(self, s3_object: str) -> ArrivalItem:
        response = self.ddb.get_item(
            TableName=self.table, Key={"s3_object": {"S": s3_object}}, ConsistentRead=True
        )
        raw = {k: _deserializer.deserialize(v) for k, v in response.get("Item", {}).items()}
        claim = None
        claimed = Arrival.from_item(raw, "claimed")
        if raw.get("claimed_token") and claimed is not None:
            attempt = raw.get("send_attempt_at")
            claim = Claim(
                token=raw["claimed_token"],
                claimed_at=float(raw.get("claimed_at", 0)),
                arrival=claimed,
                execution=raw.get("claimed_execution"),
                send_attempt_at=float(attempt) if attempt is not None else None,
            )
        uploads = raw.get("pending_uploads") or {}
        return ArrivalItem(
            s3_object=s3_object,
            pending_uploads=tuple(_arrival_of(seq, uploads[seq]) for seq in sorted(uploads)),
            claim=claim,
            consumed_sequencer=raw.get("consumed_sequencer"),
            consumed_version_id=raw.get("consumed_version_id"),
            polls_started=tuple(sorted(raw.get("polls_started") or ())),
        )

    def _update(
        self,
        s3_object: str,
        set_values: Mapping[str, Any],
        remove: tuple[str | tuple[str, str], ...] | list[str | tuple[str, str]] = (),
        condition: str | None = None,
        condition_values: Mapping[str, Any] | None = None,
        delete_numbers: Mapping[str, Decimal] | None = None,
        condition_names: Mapping[str, str] | None = None,
        delete_strings: Mapping[str, str] | None = None,
    ) -> bool:
        """One conditional UpdateItem: SET, REMOVE (a name, or (map, key) for a map's entry), and DELETE of
        one number or string from a set; False when the condition does not hold."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        clauses = []
        for i, (name, value) in enumerate(set_values.items()):
            names[f"#s{i}"] = name
            values[f":s{i}"] = _serializer.serialize(value)
            clauses.append(f"#s{i} = :s{i}")
        expression = f"SET {', '.join(clauses)}" if clauses else ""
        removed = []
        for i, name in enumerate(remove):
            if isinstance(name, tuple):  # an entry of a map
                names[f"#r{i}"], names[f"#r{i}k"] = name
                removed.append(f"#r{i}.#r{i}k")
            else:
                names[f"#r{i}"] = name
                removed.append(f"#r{i}")
        if removed:
            expression += f" REMOVE {', '.join(removed)}"
        deleted = []
        for i, (name, number) in enumerate((delete_numbers or {}).items()):
            names[f"#d{i}"] = name
            values[f":d{i}"] = {"NS": [str(number)]}
            deleted.append(f"#d{i} :d{i}")
        for i, (name, text) in enumerate((delete_strings or {}).items()):
            names[f"#t{i}"] = name
            values[f":t{i}"] = {"SS": [text]}
            deleted.append(f"#t{i} :t{i}")
        names.update(condition_names or {})
        if deleted:
            expression += f" DELETE {', '.join(deleted)}"
        for name, value in (condition_values or {}).items():
            values[name] = _serializer.serialize(value)
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"s3_object": {"S": s3_object}},
            "UpdateExpression": expression.strip(),
            "ExpressionAttributeNames": names,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        if condition:
            request["ConditionExpression"] = condition
        try:
            self.ddb.update_item(**request)
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def record(self, s3_object: str, activity_arn: str, arrival: Arrival, now: float | None = None) -> str:
        """Keep `arrival` among the pending uploads: "recorded", or why not ("duplicate": this upload is
        pending, claimed or handed out already; "superseded": older than the last one handed out)."""
        # The map must exist before one of its entries can be set (two updates: DynamoDB refuses both paths in
        # one expression).
        self.ddb.update_item(
            TableName=self.table,
            Key={"s3_object": {"S": s3_object}},
            UpdateExpression="SET #uploads = if_not_exists(#uploads, :empty), #activity = :activity",
            ExpressionAttributeNames={"#uploads": "pending_uploads", "#activity": "activity_arn"},
            ExpressionAttributeValues={":empty": {"M": {}}, ":activity": {"S": activity_arn}},
        )
        condition = (
            "(attribute_not_exists(consumed_sequencer) OR consumed_sequencer < :seq)"
            " AND attribute_not_exists(#uploads.#seq)"
            " AND (attribute_not_exists(claimed_sequencer) OR claimed_sequencer <> :seq)"
        )
        values: dict[str, Any] = {
            ":seq": {"S": arrival.sequencer},
            ":entry": _serializer.serialize(
                {
                    **{
                        k.removeprefix("x_"): v
                        for k, v in arrival.attributes("x").items()
                        if k != "x_sequencer"
                    },
                    "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                }
            ),
        }
        expression = "SET #uploads.#seq = :entry"
        names = {"#uploads": "pending_uploads", "#seq": arrival.sequencer}
        if arrival.version_id and arrival.version_id != "null":
            # A version of a versioned bucket is created once: the same id is a repeated delivery.
            condition += (
                " AND (attribute_not_exists(consumed_version_id) OR consumed_version_id <> :vid)"
                " AND NOT contains(#versions, :vid)"
            )
            expression += " ADD #versions :vids"
            names["#versions"] = "pending_versions"
            values[":vid"] = {"S": arrival.version_id}
            values[":vids"] = {"SS": [arrival.version_id]}
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"s3_object": {"S": s3_object}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return "recorded"
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
        item = self.get(s3_object)
        if item.consumed_sequencer is not None and arrival.sequencer < item.consumed_sequencer:
            return "superseded"
        return "duplicate"

    def keep_newest_only(self, s3_object: str, item: ArrivalItem) -> int:
        """A poll found no wait: the older pending uploads are superseded by the newest (module docstring).
        Returns how many were dropped (none while a release is in flight: its claim decides)."""
        older = item.pending_uploads[:-1]
        if not older or item.claim is not None:
            return 0
        names = {"#uploads": "pending_uploads"}
        removes = []
        for i, upload in enumerate(older):
            names[f"#s{i}"] = upload.sequencer
            removes.append(f"#uploads.#s{i}")
        expression = "REMOVE " + ", ".join(removes)
        values: dict[str, Any] = {}
        versions = [u.version_id for u in older if u.version_id and u.version_id != "null"]
        if versions:
            expression += " DELETE #versions :vids"
            names["#versions"] = "pending_versions"
            values[":vids"] = {"SS": versions}
        names["#newest"] = item.pending_uploads[-1].sequencer
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"s3_object": {"S": s3_object}},
                UpdateExpression=expression,
                ConditionExpression=(
                    "attribute_not_exists(claimed_token) AND attribute_exists(#uploads.#newest)"
                ),
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return 0
            raise
        return len(older)

    def claim(
        self,
        s3_object: str,
        token: str,
        arrival: Arrival,
        execution: str | None,
        now: float,
        poll: Decimal | None = None,
        sender: str | None = None,
    ) -> bool:
        """Store `token` as claimed for the pending `arrival` by `sender`, settling the `poll` that returned
        it; False if the arrival is no longer pending or claimed."""
        values: dict[str, Any] = {
            "claimed_token": token,
            "claimed_at": _number(now),
            # The send follows at once: from here on the outcome of a crash is unknown.
            "send_attempt_at": _number(now),
            **arrival.attributes("claimed"),
        }
        if sender:
            values["claim_senders"] = {sender}
        if execution:
            values["claimed_execution"] = execution
        return self._update(
            s3_object,
            values,
            condition="attribute_exists(#uploads.#seq) AND attribute_not_exists(claimed_token)",
            condition_names={"#uploads": "pending_uploads", "#seq": arrival.sequencer},
            delete_numbers={"polls_started": poll} if poll is not None else None,
        )

    def poll_started(self, s3_object: str, now: float) -> Decimal:
        """Note a GetActivityTask about to begin; returns its entry (settle it with ``poll_ended``)."""
        entry = Decimal(f"{now:.3f}{secrets.randbelow(10**6):06d}")
        self.ddb.update_item(
            TableName=self.table,
            Key={"s3_object": {"S": s3_object}},
            UpdateExpression="ADD #polls :entry",
            ExpressionAttributeNames={"#polls": "polls_started"},
            ExpressionAttributeValues={":entry": {"NS": [str(entry)]}},
        )
        return entry

    def poll_ended(self, s3_object: str, *entries: Decimal) -> None:
        """Forget polls whose outcome is settled (nothing came back, the task was answered or given back)."""
        if entries:
            self.ddb.update_item(
                TableName=self.table,
                Key={"s3_object": {"S": s3_object}},
                UpdateExpression="DELETE #polls :entries",
                ExpressionAttributeNames={"#polls": "polls_started"},
                ExpressionAttributeValues={":entries": {"NS": [str(entry) for entry in entries]}},
            )

    def add_sender(self, s3_object: str, token: str, sender: str, attempt_at: float) -> bool:
        """Before a re-send to a claimed token: note `sender` among its senders, and that a send may reach
        Step Functions from now on. False if the claim is no longer there."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"s3_object": {"S": s3_object}},
                UpdateExpression="SET send_attempt_at = :at ADD claim_senders :me",
                ConditionExpression="claimed_token = :token",
                ExpressionAttributeValues={
                    ":at": {"N": str(_number(attempt_at))},
                    ":me": {"SS": [sender]},
                    ":token": {"S": token},
                },
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def mark_refused(self, s3_object: str, token: str, sender: str) -> bool:
        """Every send of `sender` was refused: none of them can have reached the task. `sender` is no longer
        one of the token's senders, and the attempt (``send_attempt_at``) is forgotten unless another worker
        sends to the token too. False when the attempt is not forgotten."""
        if self._update(
            s3_object,
            {},
            remove=["send_attempt_at"],
            condition=SOLE_SENDER,
            condition_values={":token": token, ":one": 1, ":me": sender},
            delete_strings={"claim_senders": sender},
        ):
            return True
        self._update(
            s3_object,
            {},
            condition="claimed_token = :token",
            condition_values={":token": token},
            delete_strings={"claim_senders": sender},
        )
        return False

    def drop_claim(self, s3_object: str, token: str, sender: str) -> bool:
        """Forget a claimed token that no send of `sender` answered; the arrival stays pending. Refused
        (False) when another worker sent to the token too, or the claim is no longer there."""
        return self._update(
            s3_object,
            {},
            remove=list(CLAIM_ATTRIBUTES),
            condition=SOLE_SENDER,
            condition_values={":token": token, ":one": 1, ":me": sender},
        )

    def consume(self, s3_object: str, claim: Claim, now: float) -> bool:
        """The claimed arrival was handed to its task: remember it as consumed, and clear the claim and that
        upload from the pending ones (newer uploads stay pending, for the next waits). False if the claim is
        no longer ours."""
        arrival = claim.arrival
        values: dict[str, Any] = {"consumed_at": _number(now), **arrival.attributes("consumed")}
        if claim.execution:
            values["consumed_execution"] = claim.execution
        stale = [f"consumed_{name}" for name in ("etag", "version_id", "size", "event_time", "execution")]
        remove = [name for name in stale if name not in values]
        return self._update(
            s3_object,
            values,
            remove=[*remove, *CLAIM_ATTRIBUTES, ("pending_uploads", arrival.sequencer)],
            condition="claimed_token = :token",
            condition_values={":token": claim.token},
            delete_strings=(
                {"pending_versions": arrival.version_id}
                if arrival.version_id and arrival.version_id != "null"
                else None
            ),
        )


def _number(value: float) -> Decimal:
    # DynamoDB numbers go through Decimal; millisecond precision is plenty for these timestamps.
    return Decimal(str(round(value, 3)))
