"""The demo's view of IAM (localaws/iam/denials.py): the first enforced denial ends the watch at once, naming
the principal, the action, the resource and the state each watched workflow was in."""

from __future__ import annotations

import io
import threading
from types import SimpleNamespace

from localaws.context import LocalAwsContext
from localaws.iam.denials import DenialWatch, print_summary

DENIAL = {
    "enforced": True,
    "principal": "arn:aws:sts::123456789012:assumed-role/athenarunner-lambda-Role-X/athenarunner",
    "action": "athena:StartQueryExecution",
    "resource": "arn:aws:athena:us-east-1:123456789012:workgroup/primary",
    "message": "User: … is not authorized to perform: athena:StartQueryExecution on resource: …",
    "detail": {"function": "athenarunner"},
}


def state(name: str, status: str, event_id: int, state_type: str = "Task") -> SimpleNamespace:
    return SimpleNamespace(name=name, status=status, event_id=event_id, state_type=state_type)


def test_nothing_stops_the_watch_until_an_enforced_denial() -> None:
    ctx = LocalAwsContext(endpoint_url="http://127.0.0.1:1")
    wake = threading.Event()
    watch = DenialWatch(ctx, wake)
    check = watch.check_for("AthenaRunnerTestETLOrchestrator")
    states = {"Execute Athena Query": state("Execute Athena Query", "waiting", 3)}
    assert check(states) is None
    ctx.emit("iam.denied", **{**DENIAL, "enforced": False})  # audit mode: let through, nothing stops
    assert check(states) is None and not wake.is_set()
    ctx.emit("iam.denied", **DENIAL)
    assert wake.is_set()  # the watcher looks at once
    text, where = check(states)
    assert where == "Execute Athena Query"
    assert text.startswith(
        "IAM denied athena:StartQueryExecution on arn:aws:athena:us-east-1:123456789012:workgroup/primary "
        f"to athenarunner ({DENIAL['principal']}) while AthenaRunnerTestETLOrchestrator in state "
        "'Execute Athena Query': User: "
    )


def test_the_failed_state_is_named_before_the_running_ones() -> None:
    ctx = LocalAwsContext(endpoint_url="http://127.0.0.1:1")
    watch = DenialWatch(ctx)
    ctx.emit("iam.denied", **DENIAL)
    states = {
        "Process Sales Data": state("Process Sales Data", "running", 9),
        "Process Marketing Data": state("Process Marketing Data", "failed", 12),
        "Wait": state("Wait", "failed", 15, "Parallel"),
    }
    text, where = watch.check_for("MarketingAndSalesETLOrchestrator")(states)
    assert where == "Process Marketing Data"


def test_the_summary_lists_would_be_denials_in_audit_mode() -> None:
    out = io.StringIO()
    iam = {
        "mode": "audit",
        "allowed": 10,
        "denied": 1,
        "audit_file": "build/iam-audit.jsonl",
        "denials": [DENIAL],
    }
    print_summary(iam, out)
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("IAM (audit): 10 calls allowed, 1 denied (audit mode: let through)")
    assert lines[2] == f"  would be denied: {DENIAL['message']}"
