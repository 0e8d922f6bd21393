"""Least privilege, proven both ways: every permission of the templates is needed by a named test, and taking
it away denies that test exactly that action.

For every Allow statement of the four templates (each role's trust and inline policies, each
``AWS::Lambda::Permission``): for every action in it, the recorded decisions of the suite's enforced runs
(tests/iam/data/decisions.jsonl, see tests/iam/recording.py) are evaluated again against the templates'
documents without that action. Some decision of a named test must turn to a denial, and every decision that
turns must be for exactly that action; then the statement's resources are narrowed to match nothing, and
some decision must turn, each for one of the statement's actions. A permission no recorded decision needs is
reported as unused: take it out of the template, or add the test that needs it.
"""

from __future__ import annotations

import pytest

from localaws.iam.patterns import action_matches
from tests.iam import recording as rec
from tests.iam.templates import Statement, all_statements

STATEMENTS = all_statements()


@pytest.fixture(scope="module")
def recorded() -> rec.Recording:
    return rec.load()


def _describe(decisions: list[dict]) -> str:
    return "; ".join(f"{d['label']}: {d['action']} on {d['resource']}" for d in decisions[:5])


@pytest.mark.parametrize(
    ("statement", "action"),
    [(s, a) for s in STATEMENTS for a in s.actions],
    ids=[f"{s.key}:{a}" for s in STATEMENTS for a in s.actions],
)
def test_taking_an_action_away_denies_exactly_that_action_to_a_named_test(
    recorded: rec.Recording, statement: Statement, action: str
) -> None:
    relevant = rec.touching(recorded, statement)
    denied = rec.flipped(recorded, rec.without_action(statement, action), relevant)
    assert denied, (
        f"{statement.key}: no recorded decision needs {action} (unused: take it out of the template, "
        "or record the test that needs it: python -m tests.iam.record_decisions)"
    )
    others = [d for d in denied if not action_matches(action, d["action"])]
    assert not others, f"taking {action} away from {statement.key} also denies: {_describe(others)}"
    assert all(d["label"] for d in denied), f"a decision without the test that made it: {_describe(denied)}"


@pytest.mark.parametrize("statement", STATEMENTS, ids=[s.key for s in STATEMENTS])
def test_narrowing_a_statement_to_nothing_denies_its_actions_to_a_named_test(
    recorded: rec.Recording, statement: Statement
) -> None:
    denied = rec.flipped(recorded, rec.narrowed(statement), rec.touching(recorded, statement))
    assert denied, f"{statement.key}: narrowing it to nothing changes no recorded decision"
    actions = statement.actions
    others = [d for d in denied if not any(action_matches(a, d["action"]) for a in actions)]
    assert not others, f"narrowing {statement.key} also denies other actions: {_describe(others)}"
