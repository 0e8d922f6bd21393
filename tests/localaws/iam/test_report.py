"""`pynt iamreport` (localaws/iam/report.py): each role's calls, what allowed them, what nothing used."""

from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError

from localaws.iam import authorizer, report
from tests.localaws.iam.iam_support import make_role, session_client, trust


def test_the_report_names_calls_statements_denials_and_unused_actions(
    aws_client, local_aws, unique_name
) -> None:
    table = unique_name("ReportTable")
    aws_client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    role = make_role(
        aws_client,
        [
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": arn,
            },
            {"Sid": "Never", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},
        ],
        trust(),
    )
    ddb = session_client(aws_client, local_aws, role)("dynamodb")
    ddb.get_item(TableName=table, Key={"k": {"S": "a"}})
    ddb.get_item(TableName=table, Key={"k": {"S": "b"}})
    with pytest.raises(ClientError):
        ddb.delete_item(TableName=table, Key={"k": {"S": "a"}})

    audit = authorizer.active().audit
    content = report.build(report.read_records(audit.path), audit.run)
    entry = content["principals"][role]
    assert entry["calls"][("dynamodb:GetItem", arn)] == 2
    name = role.rsplit("/", 1)[1]
    assert entry["allowed_by"][("dynamodb:GetItem", arn)] == {f"inline:{name}/test-policy #0 (Read)"}
    assert [d["action"] for d in entry["denied"]] == ["dynamodb:DeleteItem"]
    assert content["unused"][role] == [
        f"inline:{name}/test-policy #0 (Read): dynamodb:Query",
        f"inline:{name}/test-policy #1 (Never): sqs:SendMessage",
    ]
    out = io.StringIO()
    report.render(content, out)
    text = out.getvalue()
    assert f"dynamodb:GetItem on {arn} ×2  allowed by: inline:{name}/test-policy #0 (Read)" in text
    assert "DENIED: User: " in text and "sqs:SendMessage" in text


def test_a_missing_audit_file_is_one_line(tmp_path) -> None:
    with pytest.raises(report.ReportError, match="run `pynt demo`"):
        report.read_records(tmp_path / "none.jsonl")


@pytest.mark.parametrize(
    ("current", "label"),
    [
        ("tests/e2e/test_x.py::test_a@e2e (call)", "tests/e2e/test_x.py::test_a"),
        ("tests/e2e/test_x.py::test_a[p]@e2e (setup)", "tests/e2e/test_x.py"),  # a module fixture's runs
        ("tests/unit/test_y.py::test_b (call)", "tests/unit/test_y.py::test_b"),
    ],
)
def test_decisions_are_labelled_with_the_test_that_caused_them(monkeypatch, current, label) -> None:
    from localaws.iam.audit import LABEL_ENV, current_label

    monkeypatch.delenv(LABEL_ENV, raising=False)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", current)
    assert current_label() == label
    monkeypatch.setenv(LABEL_ENV, "tests/e2e/test_x.py (scenario s)")  # a driver names its scenario
    assert current_label() == "tests/e2e/test_x.py (scenario s)"
