"""Every authorisation decision, told to the endpoint's listeners and appended to a JSON-lines file.

Listeners (``ctx.subscribe``) get ``iam.decision`` for an allowed call and ``iam.denied`` for a denied one
(``enforced`` False in audit mode: it was let through), with the record's fields.

The file (``LocalAwsContext.iam_audit``; the demo and ``pynt localaws`` write ``build/iam-audit.jsonl``,
``LOCALAWS_IAM_AUDIT`` names another) gets one JSON object per line, appended:

- ``{"kind": "start", "run", "time", "mode", "endpoint"}`` when an endpoint starts;
- ``{"kind": "document", "run", "name", "digest", "document"}`` the first time a policy document (as it is
  then: ``inline:<role>/<policy>``, ``managed:<arn>``, ``trust:<role>``, ``bucket-policy:<bucket>``,
  ``function-policy:<function>``) takes part in a decision;
- ``{"kind": "role", "run", "name", "documents"}`` a role's identity-based documents (``[[name, digest]]``)
  when its decisions first use them;
- ``{"kind": "decision", "run", "time", "label", "mode", "enforced", "principal", "role", "service_principal",
  "via", "service", "operation", "action", "resource", "context", "allowed", "reason", "allowed_by",
  "denied_by", "undecidable", "resource_policy", "documents", "message", "detail"}`` per decision:
  ``documents`` the ``[name, digest]`` of every document it was evaluated against (so it can be evaluated
  again, e.g. against a changed policy: tests/iam), ``label`` what caused it (``LOCALAWS_IAM_LABEL``, else
  the running pytest test).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

LABEL_ENV = "LOCALAWS_IAM_LABEL"


def current_label() -> str | None:
    """What the decision is recorded for: ``LOCALAWS_IAM_LABEL``, else the pytest test running now (a
    fixture's setup: its test file, whose tests share what the fixture ran)."""
    label = os.environ.get(LABEL_ENV)
    if label:
        return label
    test = os.environ.get("PYTEST_CURRENT_TEST")  # "<node id>[@<xdist group>] (<phase>)"
    if not test:
        return None
    node, _, phase = test.rpartition(" (")
    node = re.sub(r"@[\w-]+$", "", node)
    return node.split("::", 1)[0] if phase.startswith("setup") else node


def _digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:16]


class AuditLog:
    """The decisions of one endpoint run."""

    def __init__(self, path: Path, ctx: Any, mode: str) -> None:
        self.path = Path(path)
        self.ctx = ctx
        self.mode = mode
        self.run = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._snapshots: set[tuple[str, str]] = set()
        self.counts = {"allowed": 0, "denied": 0}
        self.denials: list[dict[str, Any]] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        self._write({"kind": "start", "mode": mode, "endpoint": getattr(ctx, "endpoint_url", None)})

    def _write(self, entry: dict[str, Any]) -> None:
        line = json.dumps({**entry, "run": self.run, "time": round(time.time(), 3)}, default=str)
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            self._file.flush()  # one write per line: several processes may append to one file

    def snapshot(self, kind: str, name: str, body: dict[str, Any]) -> str:
        """Record a document (or a role's list of them) once per content; return the content's digest."""
        digest = _digest(body)
        key = (name, digest)
        with self._lock:
            if key in self._snapshots:
                return digest
            self._snapshots.add(key)
        self._write({"kind": kind, "name": name, "digest": digest, **body})
        return digest

    def document(self, name: str, document: Any) -> tuple[str, str]:
        """(name, digest) of a policy document, recorded the first time it is seen."""
        return name, self.snapshot("document", name, {"document": document})

    def decision(self, record: dict[str, Any]) -> None:
        entry = {"kind": "decision", "label": current_label(), "mode": self.mode, **record}
        allowed = bool(record.get("allowed"))
        with self._lock:
            self.counts["allowed" if allowed else "denied"] += 1
            if not allowed:
                self.denials.append(entry)
        self._write(entry)
        fields = {k: v for k, v in entry.items() if k != "kind"}  # emit's own first argument is its kind
        self.ctx.emit("iam.decision" if allowed else "iam.denied", **fields)

    def close(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            self._file.close()
