"""The console's timeline view of an execution (`/_console/timeline?arn=`), over a recorded history."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from console_fixtures import recorded
from werkzeug.test import Client

from localaws.console import app as console_app

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:MarketingAndSalesETLOrchestrator"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:MarketingAndSalesETLOrchestrator:run-1"


class RecordedReader:
    """The two reads the view makes, answered from tests/console/data/main-success.json."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def execution(self, arn: str) -> dict:
        assert arn == EXECUTION
        return {"executionArn": arn, "stateMachineArn": MACHINE, "name": "run-1", "status": "SUCCEEDED"}

    def history(self, arn: str) -> list[dict]:
        assert arn == EXECUTION
        return recorded("main-success")["events"]


@pytest.fixture
def client(monkeypatch) -> Client:
    monkeypatch.setattr(console_app, "Reader", RecordedReader)
    return Client(console_app.ConsoleApp())


def test_the_timeline_view_draws_the_executions_states(client: Client) -> None:
    answer = client.get(
        "/timeline", query_string={"arn": EXECUTION}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    root = ET.fromstring(answer.get_data(as_text=True))
    states = [g.get("data-state") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-state")]
    assert states[0] == "Process Sales And Marketing Data" and "Join Marketing And Sales Data" in states
    assert "Timeline of run-1" in answer.get_data(as_text=True)


def test_the_timeline_view_needs_an_execution(client: Client) -> None:
    answer = client.get("/timeline", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.status_code == 404


def test_the_execution_page_links_its_timeline() -> None:
    from localaws.console.pages import execution_page

    page = execution_page(
        {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "name": "run-1", "status": "RUNNING"},
        "MarketingAndSalesETLOrchestrator",
        "<svg></svg>",
        "api/execution",
    )
    assert 'id="exec-timeline" href="timeline?arn=arn%3Aaws%3Astates' in page
