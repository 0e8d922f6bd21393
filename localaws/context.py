"""What every bridge needs to know about the running local endpoint."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def _time_scale_from_env() -> float:
    raw = os.environ.get("LOCALAWS_TIME_SCALE", "1.0")
    try:
        scale = float(raw)
    except ValueError as exc:
        raise ValueError(f"LOCALAWS_TIME_SCALE must be a number > 0, got {raw!r}") from exc
    if scale <= 0:
        raise ValueError(f"LOCALAWS_TIME_SCALE must be a number > 0, got {raw!r}")
    return scale


@dataclass
class LocalAwsContext:
    """Settings shared by the bridges of one local endpoint."""

    endpoint_url: str
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    # 1.0 = real time. Scales waiting only (schedule intervals, the GetActivityTask long poll), never work.
    time_scale: float = field(default_factory=_time_scale_from_env)
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="localaws-")))
    # Injected faults (throttles, 5xx, latency, Lambda kills), in localaws/faults.py's syntax; "" = none.
    faults: str = field(default_factory=lambda: os.environ.get("LOCALAWS_FAULTS", ""))
    # Initialize one execution environment of each Lambda function as it is created (the demo does, so that
    # cold starts overlap the rest of its deploy); off, the first invocation starts it, as on AWS.
    prewarm_lambdas: bool = False
    # IAM (localaws/iam/authorizer.py): "enforce" (the default), "audit" (record and log what would be
    # denied, deny nothing) or "off"; and the JSON-lines file its decisions are appended to ("": a file in
    # work_dir, removed with it).
    iam: str = field(default_factory=lambda: os.environ.get("LOCALAWS_IAM", "enforce"))
    iam_audit: str = field(default_factory=lambda: os.environ.get("LOCALAWS_IAM_AUDIT", ""))
    _listeners: list[Callable[[str, dict], None]] = field(default_factory=list, repr=False)
    _listeners_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def subscribe(self, listener: Callable[[str, dict], None]) -> None:
        """Call ``listener(kind, fields)`` for every event a bridge emits (progress views, timing)."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def emit(self, kind: str, **fields: object) -> None:
        """Tell listeners what happened, e.g. ``emit("glue.run.end", job="X", state="FAILED")``.

        A failing listener must never break the bridge that emits, so its error is swallowed.
        """
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            with contextlib.suppress(Exception):
                listener(kind, dict(fields))

    def scaled(self, seconds: float) -> float:
        """A wait of ``seconds`` on AWS, as long as it lasts here."""
        return seconds * self.time_scale

    def client_environment(self) -> dict[str, str]:
        """Environment for a process (a Lambda, a Glue job) that talks to this endpoint as if it were AWS."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
