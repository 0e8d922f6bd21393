"""Hands the pending arrival of one expected object to the wait task of its activity, at most once.

``release(...)`` runs the steps below for one expected object; every step is safe to repeat, so a retried S3
event, the next sweep, or two invocations at once cannot hand one upload to two tasks:

1. A claimed token from an earlier attempt (or one in flight) is answered first (SendTaskSuccess, retried),
   its sender noted first (``claim_senders``). If Step Functions no longer knows it, the stored
   ``send_attempt_at`` decides: present means a send to it may have been applied (a worker died after
   SendTaskSuccess, or a retry hid an applied attempt), so the arrival counts as consumed; absent means every
   send was refused, so the claim is dropped and a fresh task is polled. A worker only drops a claim it alone
   sent to: if another one re-sent it meanwhile, that send may be the one that answered the task.
2. With an arrival pending, GetActivityTask is called once (AWS long-polls up to 60 s). No task: the newest
   arrival stays pending for the next attempt, older ones are superseded by it (arrival_store.py).
3. A task whose input names another object (``ExpectedS3Bucket``/``ExpectedS3Key``) is failed with
   ``WaitForData.MisWired``; the arrival stays pending.
4. The token is stored in the item for the OLDEST pending arrival (conditional on it still pending and no
   other claim in flight; a release in flight for another task is waited for, briefly, so that two uploads
   release two waits) BEFORE SendTaskSuccess; success marks the arrival consumed. A send that keeps failing
   leaves the claim for the next attempt ("send-failed", which the handler raises so Lambda retries).
5. A task polled for an arrival that another release handed out meanwhile (two invocations saw it pending;
   the other took the task, and this one's long poll went on for up to 60 s and got the NEXT execution's
   task) has no upload to go with it: it is given back at once with ``WaitForData.Requeued``, which the wait
   state's Retry schedules again within a second. Held, it would wait for its heartbeat timeout (120 s).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from arrival_store import Arrival, ArrivalStore, Claim
from botocore.exceptions import BotoCoreError, ClientError
from etlrunner.nudge import send_nudge
from etlrunner.sfn import TOKEN_GONE_ERRORS, error_code, error_name

logger = logging.getLogger("ons3objectcreated")

WORKER_NAME = "ons3objectcreated"
MISWIRED_ERROR = "WaitForData.MisWired"
# A task this release cannot answer (no upload left for it); the wait states retry this error at once.
REQUEUED_ERROR = "WaitForData.Requeued"
# A claim of another release in flight settles within a send; this many looks, CLAIM_WAIT_S apart.
CLAIM_RACE_ATTEMPTS = 20
CLAIM_WAIT_S = 0.25
# Statuses after which the upload may not have reached its wait (or its release was not announced): the
# handler raises so that Lambda retries, and the retry finishes the release.
FAILED_STATUSES = frozenset({"send-failed", "error", "nudge-failed"})


@dataclass(frozen=True)
class WaitTarget:
    """An expected object and the activity whose wait task it releases."""

    bucket: str
    key: str
    activity_arn: str

    @property
    def s3_object(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ReleaseSettings:
    heartbeat_seconds: int = 120
    send_attempts: int = 3
    send_backoff_s: float = 0.5
    # Time a GetActivityTask long poll needs (AWS: 60 s plus margin); a local endpoint shortens it.
    poll_reserve_ms: int = 75_000


@dataclass
class SendResult:
    outcome: str  # "sent", "gone" or "failed"
    maybe_applied: bool  # an attempt may have reached Step Functions without us seeing its answer
    detail: str = ""


def send_success(
    sfn: Any, token: str, output: Mapping[str, Any], settings: ReleaseSettings, sleep: Callable[[float], None]
) -> SendResult:
    """SendTaskSuccess with botocore's retries plus `send_attempts` of our own; never raises."""
    maybe_applied = False
    detail = ""
    for attempt in range(settings.send_attempts):
        if attempt:
            sleep(settings.send_backoff_s * attempt)
        try:
            sfn.send_task_success(taskToken=token, output=json.dumps(output))
            return SendResult("sent", maybe_applied)
        except ClientError as exc:
            code = error_code(exc)
            retried = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in TOKEN_GONE_ERRORS:
                # botocore retried before this answer: an earlier attempt may have been the one applied.
                return SendResult("gone", maybe_applied or retried > 0, code)
            # A 4xx answer (throttled, denied) is a refusal; a 5xx may hide an applied request.
            maybe_applied = maybe_applied or status >= 500 or retried > 0
            detail = f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
        except BotoCoreError as exc:  # timeouts and connection errors: the request may have gone through
            maybe_applied = True
            detail = f"{type(exc).__name__}: {exc}"
    return SendResult("failed", maybe_applied, detail)


def success_output(target: WaitTarget, arrival: Arrival) -> dict[str, Any]:
    return {
        "S3BucketName": target.bucket,
        "S3Key": target.key,
        "SFNActivityArn": target.activity_arn,
        "S3VersionId": arrival.version_id if arrival.version_id not in (None, "null") else None,
        "S3ETag": arrival.etag,
        "S3Sequencer": arrival.sequencer,
    }


def task_expectation(raw_input: str | None) -> tuple[str | None, str | None, str | None]:
    """(ExpectedS3Bucket, ExpectedS3Key, ExecutionArn) from a wait task's input; Nones when absent."""
    try:
        value: Any = json.loads(raw_input or "null")
        if isinstance(value, str):  # a JSON string holding the object (the seed's Pass-state style)
            value = json.loads(value)
    except json.JSONDecodeError:
        return None, None, None
    if not isinstance(value, dict):
        return None, None, None
    return value.get("ExpectedS3Bucket"), value.get("ExpectedS3Key"), value.get("ExecutionArn")


def pause(seconds: float) -> None:
    """The back-off between our own SendTaskSuccess attempts (a module function so tests can skip it)."""
    time.sleep(seconds)


@dataclass
class Releaser:
    """Everything one release needs; `now` and `sleep` are replaceable for tests."""

    store: ArrivalStore
    sfn: Any
    settings: ReleaseSettings
    remaining_ms: Callable[[], int] | None = None
    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = field(default_factory=lambda: pause)
    events: Any = None  # EventBridge: the nudge after each release (None: nudges off, in tests)
    # This invocation among a claim's senders (arrival_store.py, claim_senders).
    sender: str = field(default_factory=lambda: secrets.token_hex(8))

    def release(self, target: WaitTarget) -> dict[str, Any]:
        """Release the wait task of `target` with its pending arrival; returns {"status", "detail", ...}."""
        try:
            return self._release(target)
        except (ClientError, BotoCoreError) as exc:
            detail = f"{error_name(exc)}: {exc}"
            logger.error("%s: release failed: %s", target.s3_object, detail)
            return {"status": "error", "detail": detail}

    def _release(self, target: WaitTarget) -> dict[str, Any]:
        item = self.store.get(target.s3_object)
        if item.claim is not None:
            result = self._resend(target, item.claim)
            if result is not None:
                return result
            item = self.store.get(target.s3_object)
        if item.pending is None:
            return {"status": "nothing-pending", "detail": "no upload is waiting to be handed to a task"}
        if self.remaining_ms is not None and self.remaining_ms() < self.settings.poll_reserve_ms:
            detail = "too little time left for a long poll; the upload stays pending for the next attempt"
            logger.warning("%s: %s", target.s3_object, detail)
            return {"status": "out-of-time", "detail": detail}
        # Noted first: a worker that dies holding what this poll returns leaves the note behind (see
        # arrival_store.py), and the recovery tick polls again once that task can have come back.
        poll = self.store.poll_started(target.s3_object, self.now())
        try:
            task = self.sfn.get_activity_task(activityArn=target.activity_arn, workerName=WORKER_NAME)
        except ClientError:
            self.store.poll_ended(target.s3_object, poll)  # answered with an error: no task was handed out
            raise
        # (A timeout or a lost connection keeps the note: AWS may have handed a task to the dropped poll.)
        token = task.get("taskToken")
        if not token:
            self.store.poll_ended(target.s3_object, poll)
            dropped = self.store.keep_newest_only(target.s3_object, self.store.get(target.s3_object))
            detail = f"no task waiting on {target.activity_arn}; the upload stays pending until one does"
            if dropped:
                detail += f" ({dropped} older upload(s) superseded by the newest)"
            logger.info("%s: %s", target.s3_object, detail)
            return {"status": "no-waiting-task", "detail": detail}
        bucket, key, execution = task_expectation(task.get("input"))
        if (bucket, key) != (target.bucket, target.key):
            result = self._fail_miswired(target, token, bucket, key, execution)
            self.store.poll_ended(target.s3_object, poll)
            return result
        return self._claim_and_send(target, token, item.pending, execution, poll)

    def _fail_miswired(
        self, target: WaitTarget, token: str, bucket: str | None, key: str | None, execution: str | None
    ) -> dict[str, Any]:
        cause = {
            "ErrorMessage": (
                f"the wait task on {target.activity_arn} expects s3://{bucket}/{key}, but that activity is "
                f"released by {target.s3_object}: fix ExpectedS3Bucket/ExpectedS3Key in the wait state's "
                "Parameters or the WAIT_ACTIVITIES mapping of ons3objectcreated"
                if bucket is not None or key is not None
                else f"the wait task on {target.activity_arn} names no ExpectedS3Bucket/ExpectedS3Key in its "
                f"input; ons3objectcreated only releases a task that names {target.s3_object}"
            ),
            "ExpectedS3Bucket": bucket,
            "ExpectedS3Key": key,
            "ConfiguredS3Object": target.s3_object,
            "SFNActivityArn": target.activity_arn,
        }
        self.sfn.send_task_failure(taskToken=token, error=MISWIRED_ERROR, cause=json.dumps(cause))
        logger.error(
            "%s: failed a mis-wired task of %s: %s", target.s3_object, execution, cause["ErrorMessage"]
        )
        return {"status": "mis-wired", "detail": cause["ErrorMessage"], "execution": execution}

    def _claim_and_send(
        self, target: WaitTarget, token: str, pending: Arrival, execution: str | None, poll: Decimal
    ) -> dict[str, Any]:
        arrival: Arrival | None = pending
        claimed_at = self.now()
        try:
            for _ in range(CLAIM_RACE_ATTEMPTS):
                assert arrival is not None
                claimed_at = self.now()
                claimed = self.store.claim(
                    target.s3_object, token, arrival, execution, claimed_at, poll, self.sender
                )
                if claimed:
                    break
                # Another release claimed an upload for its own task, or handed this one out meanwhile.
                item = self.store.get(target.s3_object)
                arrival = item.pending
                if arrival is None:
                    why = "the upload was handed to another task while this one was polled"
                    return self._give_back(target, token, execution, why, poll)
                if item.claim is not None:
                    self.sleep(CLAIM_WAIT_S)  # its send settles it; this task takes the next upload
            else:
                return self._give_back(target, token, execution, "the pending upload kept changing", poll)
        except (ClientError, BotoCoreError) as exc:
            # The claim could not be stored (throttled past its retries): holding the token unrecorded would
            # leave the wait to its heartbeat timeout, so give it back; the upload stays pending.
            why = f"the claim could not be stored ({error_name(exc)}: {exc})"
            return self._give_back(target, token, execution, why, poll)
        claim = Claim(token, claimed_at, arrival, execution, claimed_at)
        return self._send(target, claim, applied_before=False)

    def _give_back(
        self, target: WaitTarget, token: str, execution: str | None, why: str, poll: Decimal
    ) -> dict[str, Any]:
        """Fail a task this release holds without an upload for it, with the error its wait state retries
        at once (step 5): it waits again for the next upload, as if never polled."""
        cause = {
            "ErrorMessage": f"{why}; the wait state's Retry schedules the task again for the next upload",
            "S3Object": target.s3_object,
            "SFNActivityArn": target.activity_arn,
        }
        try:
            self.sfn.send_task_failure(taskToken=token, error=REQUEUED_ERROR, cause=json.dumps(cause))
        except (ClientError, BotoCoreError) as exc:
            # Its heartbeat timeout and the same Retry still bring it back, only later.
            detail = (
                f"holding a task of {execution} without an upload ({why}), and giving it back failed "
                f"({error_name(exc)}); its heartbeat times out after {self.settings.heartbeat_seconds} s "
                "and its wait state's Retry schedules it again for the next upload"
            )
            logger.warning("%s: %s", target.s3_object, detail)
            return {"status": "claim-lost", "detail": detail, "execution": execution}
        detail = f"gave back a task of {execution} ({why}): {REQUEUED_ERROR}, which its wait state retries"
        logger.info("%s: %s", target.s3_object, detail)
        try:
            self.store.poll_ended(target.s3_object, poll)
        except (ClientError, BotoCoreError) as exc:  # a note left behind costs one more poll later, no more
            logger.warning("%s: could not settle the poll's note: %s", target.s3_object, exc)
        return {"status": "requeued", "detail": detail, "execution": execution}

    def _resend(self, target: WaitTarget, claim: Claim) -> dict[str, Any] | None:
        """Answer a token claimed by an earlier attempt; None when it is gone unanswered (poll afresh)."""
        applied_before = claim.send_attempt_at is not None
        if not self.store.add_sender(target.s3_object, claim.token, self.sender, self.now()):
            return None  # settled meanwhile by the worker that claimed it (consumed, or dropped: poll afresh)
        logger.info("%s: re-sending the upload to the task claimed at %s", target.s3_object, claim.claimed_at)
        result = self._send(target, claim, applied_before=applied_before)
        return None if result["status"] == "task-gone" else result

    def _send(self, target: WaitTarget, claim: Claim, applied_before: bool) -> dict[str, Any]:
        output = success_output(target, claim.arrival)
        result = send_success(self.sfn, claim.token, output, self.settings, self.sleep)
        if result.outcome == "sent":
            if not self._nudge(target):
                return self._nudge_failed(target, claim)
            self._consume(target, claim)
            detail = f"released the task of {claim.execution} waiting on {target.activity_arn}"
            logger.info("%s: %s", target.s3_object, detail)
            return {"status": "released", "detail": detail, "execution": claim.execution, "output": output}
        if result.outcome == "gone":
            if applied_before or result.maybe_applied:
                return self._consume_ambiguous(target, claim, result.detail)
            if not self.store.drop_claim(target.s3_object, claim.token, self.sender):
                # Another worker found this claim and re-sent it: its send may have answered the task.
                return self._consume_ambiguous(target, claim, result.detail)
            detail = (
                f"Step Functions answered {result.detail} before any send to the claimed task could apply "
                "(its execution ended or the task timed out); the upload stays pending for a fresh task"
            )
            logger.warning("%s: %s", target.s3_object, detail)
            return {"status": "task-gone", "detail": detail, "execution": claim.execution}
        if not (applied_before or result.maybe_applied):
            # Every attempt was refused: nothing reached the task, so a later "gone" means it was not ours.
            self.store.mark_refused(target.s3_object, claim.token, self.sender)
        detail = (
            f"SendTaskSuccess kept failing ({result.detail}); the claimed token is kept for the next attempt"
        )
        logger.error("%s: %s", target.s3_object, detail)
        return {"status": "send-failed", "detail": detail, "execution": claim.execution}

    def _nudge(self, target: WaitTarget) -> bool:
        """Tell the runners that the released wait's next state may be theirs, BEFORE the claim is settled:
        a worker that dies between the two leaves the claim, and the attempt that finds it (Lambda's retry,
        the sweep, the tick) sends both again (the task's answer comes back "gone", and counts as sent)."""
        return self.events is None or send_nudge(self.events, WORKER_NAME, target.activity_arn, 1)

    def _nudge_failed(self, target: WaitTarget, claim: Claim) -> dict[str, Any]:
        detail = (
            f"released the task of {claim.execution}, but the nudge to the runners could not be sent; the "
            "claim is kept so that the next attempt sends it"
        )
        logger.error("%s: %s", target.s3_object, detail)
        return {"status": "nudge-failed", "detail": detail, "execution": claim.execution}

    def _consume(self, target: WaitTarget, claim: Claim) -> None:
        if not self.store.consume(target.s3_object, claim, self.now()):
            logger.warning("%s: the claim was no longer ours when marking it consumed", target.s3_object)

    def _consume_ambiguous(self, target: WaitTarget, claim: Claim, code: str) -> dict[str, Any]:
        age = self.now() - claim.claimed_at
        if age < self.settings.heartbeat_seconds:
            certainty = (
                f"it was claimed {age:.0f} s ago, less than the wait state's HeartbeatSeconds "
                f"({self.settings.heartbeat_seconds}), so it cannot have timed out: our earlier send "
                "released it (unless its execution was stopped meanwhile)"
            )
        else:
            certainty = (
                f"it was claimed {age:.0f} s ago, so it may instead have timed out; if that wait is still "
                "running, upload the file again"
            )
        if not self._nudge(target):
            return self._nudge_failed(target, claim)
        self._consume(target, claim)
        detail = (
            f"Step Functions answered {code} for a task an earlier send may already have released; the "
            f"upload counts as consumed so that it never releases a second execution: {certainty}"
        )
        logger.warning("%s: %s", target.s3_object, detail)
        return {"status": "released-earlier", "detail": detail, "execution": claim.execution}
