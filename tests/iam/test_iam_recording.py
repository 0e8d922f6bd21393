"""The recorded decisions (tests/iam/data/decisions.jsonl) are the current templates' own, none of them was a
denial, and the README's per-role table is the one the templates and the recording make."""

from __future__ import annotations

from tests.iam import readme_table
from tests.iam import recording as rec
from tests.iam.record_decisions import is_template_document, stale_reason
from tests.iam.templates import all_statements


def test_every_recorded_template_document_is_what_the_template_says_now() -> None:
    recorded = rec.load()
    stale = [
        why for (name, _), document in recorded.documents.items() if (why := stale_reason(name, document))
    ]
    assert not stale, (
        "the recording was made from other templates than these; record again "
        f"(python -m tests.iam.record_decisions): {stale[:5]}"
    )
    assert any(is_template_document(name) for name, _ in recorded.documents)


def test_every_template_role_has_recorded_decisions() -> None:
    recorded = rec.load()
    missing = [s.key for s in all_statements() if not rec.touching(recorded, s)]
    assert not missing, f"no recorded decision was made against: {missing}"


def test_the_suites_enforced_runs_were_denied_nothing() -> None:
    denied = [d for d in rec.load().decisions if not d["allowed"]]
    assert not denied, [f"{d['label']}: {d['action']} on {d['resource']}" for d in denied[:5]]


def test_the_readme_table_is_the_templates_and_the_recordings() -> None:
    block = readme_table.block_of(readme_table.README)
    assert block is not None, f"README.md has no {readme_table.START} … {readme_table.END} block"
    assert block == readme_table.summary_table(), (
        "README.md's per-role IAM table is not the templates' (python -m tests.iam.readme_table --write)"
    )


def test_the_per_action_table_of_docs_iam_is_the_templates_and_the_recordings() -> None:
    block = readme_table.block_of(readme_table.IAM_DOC)
    assert block is not None, f"docs/IAM.md has no {readme_table.START} … {readme_table.END} block"
    assert block == readme_table.table(), (
        "docs/IAM.md's per-action table is not the templates' (python -m tests.iam.readme_table --write)"
    )
