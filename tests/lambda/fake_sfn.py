"""A small fake of Step Functions' activity tasks with real token semantics, for the runner core's tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from lambda_support import task_input


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


@dataclass
class FakeStepFunctions:
    """Activity tasks as Step Functions keeps them: queued, claimed once, answered once."""

    queued: list[tuple[str, str]] = field(default_factory=list)
    open_tokens: set[str] = field(default_factory=set)
    answers: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    heartbeats: dict[str, int] = field(default_factory=dict)
    handed_out: dict[str, str] = field(default_factory=dict)  # token -> input of the tasks workers got
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_task(self, token: str, payload: dict[str, Any]) -> None:
        self.queued.append((token, task_input(payload)))

    def get_activity_task(self, activityArn: str, workerName: str) -> dict[str, Any]:  # noqa: N803
        with self.lock:
            if not self.queued:
                return {}
            token, raw = self.queued.pop(0)
            self.open_tokens.add(token)
            self.handed_out[token] = raw
            return {"taskToken": token, "input": raw}

    def heartbeat_timeout(self, token: str, retry_token: str) -> None:
        """The task of `token` missed its heartbeat: Step Functions times it out and the state's Retry on
        States.HeartbeatTimeout schedules the task again, with a new token."""
        with self.lock:
            self.open_tokens.discard(token)
            self.queued.append((retry_token, self.handed_out[token]))

    def _answer(self, token: str, kind: str, value: Any, operation: str) -> dict:
        with self.lock:
            if token not in self.open_tokens:
                raise client_error("TaskTimedOut", operation)
            self.open_tokens.discard(token)
            self.answers.setdefault(token, []).append((kind, value))
            return {}

    def send_task_success(self, taskToken: str, output: str) -> dict:  # noqa: N803
        return self._answer(taskToken, "success", output, "SendTaskSuccess")

    def send_task_failure(self, taskToken: str, error: str, cause: str = "") -> dict:  # noqa: N803
        return self._answer(taskToken, "failure", (error, cause), "SendTaskFailure")

    def send_task_heartbeat(self, taskToken: str) -> dict:  # noqa: N803
        with self.lock:
            if taskToken not in self.open_tokens:
                raise client_error("TaskTimedOut", "SendTaskHeartbeat")
            self.heartbeats[taskToken] = self.heartbeats.get(taskToken, 0) + 1
            return {}
