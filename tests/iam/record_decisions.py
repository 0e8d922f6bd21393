"""Record the authorisation decisions the test suite's deployments of the templates make.

    .venv/bin/python -m tests.iam.record_decisions [--merge | --rewrite] [test paths...]

runs the tests that deploy the four templates and run their workloads (by default ``DEFAULT_TESTS``), every
endpoint they start appending its decisions to one audit file (``LOCALAWS_IAM_AUDIT``), each labelled with
the test that caused it, and writes the decisions about the templates' roles and function policies, with the
documents they were evaluated against, to ``tests/iam/data/decisions.jsonl`` (distinct decisions only, the
first test that made each; ``--merge`` adds to the recording instead of replacing it, for a test added
since). Run it again after changing a template's IAM or what a workload calls:
``tests/iam/test_iam_recording.py`` fails while the recording is not the templates'.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.iam.recording import DATA
from tests.iam.templates import ROOT, all_statements, as_list, matches_template, role_of, role_statements

DEFAULT_TESTS = (
    "tests/e2e/test_e2e_demo.py",
    "tests/e2e/test_e2e_demo_failure.py",
    "tests/e2e/test_e2e_scenarios.py",
    "tests/e2e/test_e2e_faults.py",
    "tests/e2e/test_e2e_iam_paths.py",
    "tests/lambda/test_wait_for_data_on_local_stack.py",
)
TEMPLATE_FUNCTIONS = ("ons3objectcreated", "gluerunner", "athenarunner")
SAMPLES = 3  # distinct decisions kept per principal, action, documents and test
KEPT_FIELDS = (
    "label",
    "via",
    "principal",
    "role",
    "service_principal",
    "action",
    "resource",
    "context",
    "allowed",
)


def run_tests(tests: Iterable[str], audit: Path) -> int:
    env = {**os.environ, "LOCALAWS_IAM_AUDIT": str(audit), "LOCALAWS_IAM": "enforce"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "-p",
        "no:cacheprovider",
        *tests,
    ]
    return subprocess.call(command, cwd=ROOT, env=env)


def is_template_document(name: str) -> bool:
    if name.startswith(("inline:", "trust:")):
        return role_of(name) is not None
    return name.startswith("function-policy:") and name.split(":", 1)[1] in TEMPLATE_FUNCTIONS


def stale_reason(name: str, document: dict[str, Any]) -> str | None:
    """Why a template role's recorded document is not what the template says now (None: it is)."""
    mapped = role_of(name)
    if mapped is None or not name.startswith(("inline:", "trust:")):
        return None
    stack, logical_id = mapped
    policy = "trust" if name.startswith("trust:") else name.split("/", 1)[1]
    expected = [s for s in role_statements(stack) if s.logical_id == logical_id and s.policy == policy]
    deployed = as_list(document.get("Statement", []))
    if not expected:
        return f"{name}: the template has no {policy} policy for {stack}/{logical_id}"
    if len(deployed) != len(expected):
        return f"{name}: {len(deployed)} statements, the template has {len(expected)}"
    for statement in expected:
        why = matches_template(statement, deployed[statement.index])
        if why:
            return why
    return None


def compact(raw: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    documents: dict[tuple[str, str], dict[str, Any]] = {}
    decisions: list[dict[str, Any]] = []
    for line in raw.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("kind") == "document":
            documents[(record["name"], record["digest"])] = record["document"]
        elif record.get("kind") == "decision":
            decisions.append(record)
    stale = {key: why for key in documents if (why := stale_reason(key[0], documents[key]))}
    kept: dict[tuple, dict[str, Any]] = {}
    skipped: list[str] = []
    for decision in decisions:
        names = [tuple(d) for d in decision.get("documents") or []]
        if not any(is_template_document(name) for name, _ in names):
            continue
        if any(key in stale for key in names):
            skipped.append(f"{decision.get('label')}: {stale[next(k for k in names if k in stale)]}")
            continue
        entry = {field: decision.get(field) for field in KEPT_FIELDS}
        entry["documents"] = [list(name) for name in names]
        key = (
            decision.get("role") or decision.get("service_principal"),
            decision["action"],
            decision["resource"],
            json.dumps(decision.get("context"), sort_keys=True),
            decision.get("allowed"),
            tuple(names),
        )
        kept.setdefault(key, entry)
    used = {tuple(name) for entry in kept.values() for name in entry["documents"]}
    document_records = [
        {"kind": "document", "name": name, "digest": digest, "document": documents[(name, digest)]}
        for name, digest in sorted(used)
    ]
    decision_records = sorted(
        ({"kind": "decision", **entry} for entry in kept.values()),
        key=lambda d: (
            d["role"] or d["service_principal"] or "",
            d["action"],
            d["resource"],
            d["label"] or "",
        ),
    )
    return document_records, decision_records, skipped


def allowed_by(documents: dict[tuple[str, str], Any], decision: dict[str, Any]) -> tuple:
    """The statements (document name, index) that allow a recorded decision, evaluated again."""
    from localaws.iam.policy import RESOURCE, Policy, evaluate
    from tests.iam.recording import kind_of, principal_of

    policies = [
        Policy(n, kind_of(n), documents[(n, d)]) for n, d in decision["documents"] if (n, d) in documents
    ]
    identity = [p for p in policies if p.kind != RESOURCE]
    resource = next((p for p in policies if p.kind == RESOURCE), None)
    result = evaluate(
        principal_of(decision),
        decision["action"],
        decision["resource"],
        identity,
        resource,
        decision["context"],
    )
    return tuple((ref.policy.rsplit("/", 1)[-1], ref.index) for ref in result.allowed_by)


def sampled(decisions: list[dict[str, Any]], all_documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most SAMPLES decisions per principal, action, outcome, documents and test: a few of each kind do
    (a Lambda writes each line of its log with its role: hundreds of decisions that differ by stream)."""
    documents = {(d["name"], d["digest"]): d["document"] for d in all_documents}
    counts: dict[tuple, int] = {}
    kept = []
    for decision in decisions:
        sample = (
            decision.get("role") or decision.get("service_principal"),
            decision["action"],
            decision["allowed"],
            tuple(name for name, _ in decision["documents"]),
            decision["label"],
            allowed_by(documents, decision),  # each statement that allows the action keeps its own samples
        )
        counts[sample] = counts.get(sample, 0) + 1
        if counts[sample] <= SAMPLES:
            kept.append(decision)
    return kept


def _existing() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records = (
        [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()] if DATA.is_file() else []
    )
    return [r for r in records if r["kind"] == "document"], [r for r in records if r["kind"] == "decision"]


def _merged(old: list[dict[str, Any]], new: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    seen: dict[Any, dict[str, Any]] = {}
    for record in [*old, *new]:
        seen.setdefault(key(record), record)
    return list(seen.values())


def main(argv: list[str]) -> int:
    merge, rewrite = "--merge" in argv, "--rewrite" in argv
    argv = [a for a in argv if a not in ("--merge", "--rewrite")]
    tests = argv or list(DEFAULT_TESTS)
    code, documents, decisions, skipped = 0, [], [], []
    with tempfile.TemporaryDirectory(prefix="iam-record-") as folder:
        if not rewrite:  # --rewrite: only sample and sort the recording again
            raw = Path(folder) / "audit.jsonl"
            code = run_tests(tests, raw)
            if code != 0:  # what they decided is still what they decided; the tests' failures are to fix
                print(f"the tests failed (exit {code}): look at them first", file=sys.stderr)
            documents, decisions, skipped = compact(raw)
    if merge or rewrite:
        old_documents, old_decisions = _existing()
        documents = _merged(old_documents, documents, lambda d: (d["name"], d["digest"]))
        decisions = _merged(
            old_decisions,
            decisions,
            lambda d: (d["principal"], d["action"], d["resource"], json.dumps(d["context"], sort_keys=True)),
        )
    for decision in decisions:  # labels recorded with the xdist group of their test (older recordings)
        decision["label"] = re.sub(r"@[\w-]+$", "", decision["label"] or "") or None
    decisions = sampled(sorted(decisions, key=lambda d: (d["label"] or "", d["resource"])), documents)
    used = {tuple(name) for d in decisions for name in d["documents"]}
    documents = [d for d in documents if (d["name"], d["digest"]) in used]
    documents.sort(key=lambda d: (d["name"], d["digest"]))
    decisions.sort(
        key=lambda d: (
            d["role"] or d["service_principal"] or "",
            d["action"],
            d["resource"],
            d["label"] or "",
        )
    )
    DATA.parent.mkdir(parents=True, exist_ok=True)
    with DATA.open("w", encoding="utf-8") as out:
        for record in [*documents, *decisions]:
            out.write(json.dumps(record, sort_keys=True) + "\n")
    print(f"{len(decisions)} decisions, {len(documents)} documents -> {DATA.relative_to(ROOT)}")
    if skipped:
        print(f"{len(skipped)} decisions made against other documents than the templates' were left out")
    statements = all_statements()
    print(f"{len(statements)} Allow statements in the templates")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
