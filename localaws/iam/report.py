"""``pynt iamreport``: what each role did in a local run, what allowed it, and what nothing used.

Reads an audit file (``build/iam-audit.jsonl``, written by ``pynt demo`` and ``pynt localaws``; see
``localaws/iam/audit.py``) and reports its last run (or the run named): per principal, every action on every
resource with how often it was allowed and by which statement; every denial; and every action of every
Allow statement of the principal's role that no decision used (a permission the run did not need).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from localaws.iam.patterns import action_matches


class ReportError(ValueError):
    """The audit file is missing or holds no run; the message is one line."""


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ReportError(f"{path} not found: run `pynt demo` (or `pynt localaws`) first, it writes the file")
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a killed process
    return records


def last_run(records: list[dict[str, Any]]) -> str:
    starts = [r["run"] for r in records if r.get("kind") == "start"]
    if not starts:
        raise ReportError("the audit file holds no run")
    return starts[-1]


@dataclass
class Usage:
    """One statement's actions and the decisions that used each."""

    policy: str
    index: int
    sid: str | None
    actions: list[str]
    used: Counter = field(default_factory=Counter)  # action pattern -> decisions


def allow_statements(policies: dict[str, Any]) -> list[Usage]:
    """Every Allow statement of a role's policies (``{name: document}``) with its Action patterns."""
    found = []
    for name, document in policies.items():
        statements = document.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        for index, statement in enumerate(statements):
            if statement.get("Effect") != "Allow" or "Action" not in statement:
                continue
            actions = statement["Action"]
            found.append(
                Usage(name, index, statement.get("Sid"), actions if isinstance(actions, list) else [actions])
            )
    return found


def mark_used(usages: Iterable[Usage], decisions: Iterable[dict[str, Any]]) -> None:
    """Count, per statement and action pattern, the allowed decisions that statement allowed."""
    by_ref = {(u.policy, u.index): u for u in usages}
    for decision in decisions:
        for ref in decision.get("allowed_by") or []:
            usage = by_ref.get((ref.get("policy"), ref.get("index")))
            if usage is None:
                continue
            for pattern in usage.actions:
                if action_matches(pattern, decision["action"]):
                    usage.used[pattern] += 1


def build(records: list[dict[str, Any]], run: str | None = None) -> dict[str, Any]:
    """The report's content for one run: ``{"run", "principals": {key: {...}}}``."""
    run = run or last_run(records)
    mine = [r for r in records if r.get("run") == run]
    documents = {(r["name"], r["digest"]): r["document"] for r in mine if r.get("kind") == "document"}
    roles: dict[str, dict[str, Any]] = {}
    for record in mine:
        if record.get("kind") == "role":
            roles[record["name"]] = {
                name: documents[(name, digest)]
                for name, digest in record.get("documents") or []
                if (name, digest) in documents
            }
    principals: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"calls": Counter(), "allowed_by": defaultdict(set), "denied": []}
    )
    decisions_by_role: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in mine:
        if record.get("kind") != "decision":
            continue
        key = record.get("role") or record.get("service_principal") or record.get("principal") or "?"
        entry = principals[key]
        call = (record["action"], record["resource"])
        entry["calls"][call] += 1
        for ref in record.get("allowed_by") or []:
            sid = f" ({ref['sid']})" if ref.get("sid") else ""
            entry["allowed_by"][call].add(f"{ref['policy']} #{ref['index']}{sid}")
        if not record.get("allowed"):
            entry["denied"].append(record)
        if record.get("role"):
            decisions_by_role[record["role"]].append(record)
    unused: dict[str, list[str]] = {}
    for role, policies in roles.items():
        usages = allow_statements(policies)
        mark_used(usages, decisions_by_role.get(role, []))
        unused[role] = [
            f"{u.policy} #{u.index}{f' ({u.sid})' if u.sid else ''}: {pattern}"
            for u in usages
            for pattern in u.actions
            if not u.used[pattern]
        ]
    return {"run": run, "principals": principals, "unused": unused}


def render(report: dict[str, Any], out: TextIO) -> None:
    print(f"IAM report of run {report['run']}", file=out)
    for key in sorted(report["principals"]):
        entry = report["principals"][key]
        print(f"\n{key}", file=out)
        for (action, resource), count in sorted(entry["calls"].items()):
            allowed_by = ", ".join(sorted(entry["allowed_by"].get((action, resource), ()))) or "-"
            print(f"  {action} on {resource} ×{count}  allowed by: {allowed_by}", file=out)
        for denial in entry["denied"]:
            print(f"  DENIED: {denial.get('message')}", file=out)
        unused = report["unused"].get(key)
        if unused is not None:
            print(
                "  statements' actions nothing used:" if unused else "  every allowed action was used",
                file=out,
            )
            for line in unused:
                print(f"    {line}", file=out)


def main(path: str | Path, out: TextIO, run: str | None = None) -> None:
    records = read_records(Path(path))
    render(build(records, run), out)
