"""The demo's view of IAM: stop at the first enforced denial, and the IAM part of its summary.

``DenialWatch`` subscribes to an endpoint's ``iam.denied`` events. In enforce mode the first denial ends the
demo at once (``check`` returns the failure's text, naming the principal, the action, the resource and the
state the workflow was in); in audit mode nothing stops, and the summary lists what would have been denied.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

from localaws.iam.authorizer import summary as iam_summary


class DenialWatch:
    def __init__(self, ctx: Any, wake: threading.Event | None = None) -> None:
        self._lock = threading.Lock()
        self._first: dict[str, Any] | None = None
        self._states: dict[str, dict[str, Any]] = {}  # machine -> its watched execution's latest states
        self._wake = wake
        ctx.subscribe(self._on_event)

    def _on_event(self, kind: str, fields: dict[str, Any]) -> None:
        if kind != "iam.denied" or not fields.get("enforced"):
            return
        with self._lock:
            if self._first is None:
                self._first = fields
        if self._wake is not None:
            self._wake.set()  # the watcher looks now, not at its next poll

    @property
    def first(self) -> dict[str, Any] | None:
        with self._lock:
            return self._first

    def check_for(self, machine: str) -> Any:
        """A ``stop_check`` for the watch of one execution of ``machine``: it keeps that execution's latest
        states, so a denial names the state each watched workflow was in (a runner of one workflow may be
        denied while the demo watches the other)."""

        def check(states: dict[str, Any]) -> tuple[str, str | None] | None:
            with self._lock:
                self._states[machine] = states
            return self.failure()

        return check

    def failure(self) -> tuple[str, str | None] | None:
        """(failure text, state) once a call was denied; None while none was."""
        denial = self.first
        if denial is None:
            return None
        with self._lock:
            watched = dict(self._states)
        places = {machine: _state_of(states) for machine, states in watched.items()}
        places = {machine: state for machine, state in places.items() if state}
        where = " and ".join(f"{machine} in state '{state}'" for machine, state in places.items())
        function = (denial.get("detail") or {}).get("function")
        who = f"{function} ({denial.get('principal')})" if function else denial.get("principal")
        what = f"{denial.get('action')} on {denial.get('resource')} to {who}"
        text = f"IAM denied {what}{f' while {where}' if where else ''}: {denial.get('message')}"
        return text, next(iter(places.values()), None)


def _state_of(states: dict[str, Any]) -> str | None:
    """The failed state if one failed, else the task states running or waiting (the ones acting)."""
    failed = [p for p in states.values() if p.status == "failed"]
    if failed:
        return min(failed, key=lambda p: p.event_id).name
    acting = [
        p.name for p in states.values() if p.status in ("running", "waiting") and p.state_type == "Task"
    ]
    return ", ".join(acting) or None


def report(ctx: Any) -> dict[str, Any] | None:
    """What the demo's summary.json records of IAM (None when it is off)."""
    return iam_summary(ctx)


def print_summary(iam: dict[str, Any] | None, out: TextIO) -> None:
    if iam is None:
        print("\nIAM: off (LOCALAWS_IAM=off): nothing was authorised", file=out, flush=True)
        return
    print(
        f"\nIAM ({iam['mode']}): {iam['allowed']} calls allowed, {iam['denied']} denied"
        f"{' (audit mode: let through)' if iam['mode'] == 'audit' and iam['denied'] else ''}; "
        f"decisions in {iam['audit_file']} (pynt iamreport)",
        file=out,
        flush=True,
    )
    label = "would be denied" if iam["mode"] == "audit" else "denied"
    for denial in iam["denials"][:20]:
        print(f"  {label}: {denial['message']}", file=out)
    if len(iam["denials"]) > 20:
        print(f"  … and {len(iam['denials']) - 20} more", file=out)
