"""The progress model reads any execution history, parallel branches included."""

import datetime as dt
import io

from buildlib.execution_progress import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    WAITING,
    HistoryFollower,
    ProgressPrinter,
    attribute_events,
    execution_failure,
    first_failure,
    state_progress,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _event(event_id: int, previous: int, kind: str, seconds: float, **details: object) -> dict:
    stamp = T0 + dt.timedelta(seconds=seconds)
    return {"id": event_id, "previousEventId": previous, "type": kind, "timestamp": stamp, **details}


def _entered(name: str) -> dict:
    return {"stateEnteredEventDetails": {"name": name}}


def _exited(name: str) -> dict:
    return {"stateExitedEventDetails": {"name": name}}


# Two parallel branches whose events interleave: each activity event must land on its own branch's state.
PARALLEL_HISTORY = [
    _event(1, 0, "ExecutionStarted", 0),
    _event(2, 1, "ParallelStateEntered", 0.1, **_entered("Parallel")),
    _event(3, 2, "TaskStateEntered", 0.2, **_entered("Wait For Sales Data")),
    _event(4, 2, "TaskStateEntered", 0.2, **_entered("Wait For Marketing Data")),
    _event(5, 3, "ActivityScheduled", 0.3),
    _event(6, 4, "ActivityScheduled", 0.3),
    _event(7, 6, "ActivityStarted", 2.0),
    _event(8, 7, "ActivitySucceeded", 2.1),
    _event(9, 8, "TaskStateExited", 2.1, **_exited("Wait For Marketing Data")),
]


def test_activity_events_are_attributed_to_their_own_branch():
    states = state_progress(PARALLEL_HISTORY)
    assert states["Wait For Sales Data"].status == WAITING
    assert states["Wait For Marketing Data"].status == SUCCEEDED
    assert states["Wait For Marketing Data"].elapsed_s == 1.9
    assert states["Parallel"].status == RUNNING
    assert list(states) == ["Parallel", "Wait For Sales Data", "Wait For Marketing Data"]


def test_a_started_activity_is_running_and_a_failed_one_keeps_its_cause():
    history = [
        *PARALLEL_HISTORY,
        _event(10, 5, "ActivityStarted", 3.0),
        _event(
            11,
            10,
            "ActivityFailed",
            4.0,
            activityFailedEventDetails={"error": "GlueJobFailedError", "cause": '{"GlueJobName": "X"}'},
        ),
    ]
    running = state_progress(history[:-1])["Wait For Sales Data"]
    assert running.status == RUNNING
    failed = state_progress(history)["Wait For Sales Data"]
    assert failed.status == FAILED
    assert failed.detail == 'GlueJobFailedError: {"GlueJobName": "X"}'


def test_execution_failure_gives_error_and_cause():
    history = [_event(1, 0, "ExecutionFailed", 1, executionFailedEventDetails={"error": "E", "cause": "C"})]
    failure = execution_failure(history)
    assert (failure.error, failure.cause) == ("E", "C")
    assert execution_failure(PARALLEL_HISTORY) is None


def test_printer_prints_each_change_once():
    out = io.StringIO()
    printer = ProgressPrinter(out, T0, labels={"Wait For Sales Data:waiting": "waiting for data"})
    printer.update(state_progress(PARALLEL_HISTORY))
    printer.update(state_progress(PARALLEL_HISTORY))
    assert [line.split() for line in out.getvalue().splitlines()] == [
        ["[", "0.1s]", "Parallel", "running"],
        ["[", "0.2s]", "Wait", "For", "Sales", "Data", "waiting", "for", "data"],
        ["[", "0.2s]", "Wait", "For", "Marketing", "Data", "waiting"],
        ["[", "2.0s]", "Wait", "For", "Marketing", "Data", "running"],
        ["[", "2.1s]", "Wait", "For", "Marketing", "Data", "succeeded", "(1.9s)"],
    ]


def test_printer_prints_transitions_that_came_and_went_between_two_updates():
    out = io.StringIO()
    printer = ProgressPrinter(out, T0)
    printer.update(state_progress(PARALLEL_HISTORY[:6]))  # Marketing: waiting
    printer.update(state_progress(PARALLEL_HISTORY))  # Marketing: running, then succeeded, both since
    marketing = [line.split()[-1] for line in out.getvalue().splitlines() if "Marketing" in line]
    assert marketing == ["waiting", "running", "(1.9s)"]


def test_a_state_entered_again_is_printed_again():
    history = [
        _event(1, 0, "ExecutionStarted", 0),
        _event(2, 1, "PassStateEntered", 0.1, **_entered("Loop")),
        _event(3, 2, "PassStateExited", 0.2, **_exited("Loop")),
        _event(4, 3, "PassStateEntered", 0.3, **_entered("Loop")),
    ]
    out = io.StringIO()
    printer = ProgressPrinter(out, T0)
    printer.update(state_progress(history[:3]))
    printer.update(state_progress(history))
    # Not a Task: its latest status at each update (the first "running" came and went unseen).
    assert [line.split()[-1] for line in out.getvalue().splitlines()] == ["(0.1s)", "running"]


# A branch fails inside a Parallel state whose Catch leads to a Pass and then a Fail state: the shape of the
# main workflow's failure path, as the local endpoint records it. ParallelStateFailed follows the failing
# branch's last event (6), not the Parallel's own; a Fail state has no exit event.
CAUGHT_PARALLEL_FAILURE = [
    _event(1, 0, "ExecutionStarted", 0),
    _event(2, 0, "ParallelStateEntered", 0.1, **_entered("P")),
    _event(3, 2, "ParallelStateStarted", 0.1),
    _event(4, 3, "TaskStateEntered", 0.2, **_entered("Job")),
    _event(5, 4, "ActivityScheduled", 0.2),
    _event(6, 5, "ActivityStarted", 0.5),
    _event(
        7, 6, "ActivityFailed", 1.0, activityFailedEventDetails={"error": "GlueJobFailedError", "cause": "x"}
    ),
    _event(8, 7, "ParallelStateFailed", 1.1),
    _event(9, 8, "ParallelStateExited", 1.1, **_exited("P")),
    _event(10, 9, "PassStateEntered", 1.2, **_entered("Fallback")),
    _event(11, 10, "PassStateExited", 1.2, **_exited("Fallback")),
    _event(12, 11, "FailStateEntered", 1.3, **_entered("Failed")),
    _event(13, 12, "ExecutionFailed", 1.3, executionFailedEventDetails={"error": "GlueJobFailedError"}),
]


def test_a_caught_parallel_failure_marks_the_task_the_parallel_and_the_fail_state_failed():
    states = state_progress(CAUGHT_PARALLEL_FAILURE)
    assert {name: p.status for name, p in states.items()} == {
        "P": FAILED,
        "Job": FAILED,
        "Fallback": SUCCEEDED,
        "Failed": FAILED,
    }
    assert states["Job"].detail == "GlueJobFailedError: x"


def test_printer_prints_one_update_in_history_order():
    out = io.StringIO()
    ProgressPrinter(out, T0).update(state_progress(CAUGHT_PARALLEL_FAILURE))
    names = [line.split("] ")[1].split()[0] for line in out.getvalue().splitlines()]
    # The task failed (event 7) before its Parallel state (8), though the Parallel was entered first.
    assert names == ["Job", "Job", "Job", "P", "Fallback", "Failed"]


def test_first_failure_is_the_task_where_the_failure_began():
    assert first_failure(state_progress(CAUGHT_PARALLEL_FAILURE)).name == "Job"
    assert first_failure(state_progress(PARALLEL_HISTORY)) is None


def test_a_fail_state_alone_is_the_first_failure():
    history = [
        _event(1, 0, "ExecutionStarted", 0),
        _event(2, 1, "FailStateEntered", 0.1, **_entered("Stop")),
        _event(3, 2, "ExecutionFailed", 0.1, executionFailedEventDetails={"error": "E"}),
    ]
    assert first_failure(state_progress(history)).name == "Stop"


def test_nested_parallel_failures_land_on_each_parallel_state():
    history = [
        _event(1, 0, "ExecutionStarted", 0),
        _event(2, 1, "ParallelStateEntered", 0.1, **_entered("Outer")),
        _event(3, 2, "ParallelStateStarted", 0.1),
        _event(4, 3, "ParallelStateEntered", 0.2, **_entered("Inner")),
        _event(5, 4, "ParallelStateStarted", 0.2),
        _event(6, 5, "FailStateEntered", 0.3, **_entered("Boom")),
        _event(7, 6, "ParallelStateFailed", 0.4),  # Inner's
        _event(8, 7, "ParallelStateFailed", 0.5),  # Outer's: its chain passes through Inner, which ended
        _event(9, 8, "ExecutionFailed", 0.5, executionFailedEventDetails={"error": "E"}),
    ]
    attributed = {event["id"]: state for event, state in attribute_events(history)}
    assert (attributed[7], attributed[8], attributed[9]) == ("Inner", "Outer", None)
    states = state_progress(history)
    assert [states[name].status for name in ("Outer", "Inner", "Boom")] == [FAILED, FAILED, FAILED]
    assert first_failure(states).name == "Boom"


class _GrowingHistory:
    """GetExecutionHistory over a list that grows between calls, paged as Step Functions pages it."""

    def __init__(self, events: list[dict]) -> None:
        self.events = events
        self.returned = 0  # events sent back, summed over calls

    def get_execution_history(
        self, executionArn: str, maxResults: int, reverseOrder: bool = False, nextToken: str | None = None
    ) -> dict:
        ordered = list(reversed(self.events)) if reverseOrder else list(self.events)
        start = int(nextToken or 0)
        page = ordered[start : start + maxResults]
        self.returned += len(page)
        answer: dict = {"events": page}
        if start + maxResults < len(ordered):
            answer["nextToken"] = str(start + maxResults)
        return answer


def test_the_history_follower_reads_only_what_is_new_and_keeps_history_order():
    sfn = _GrowingHistory(PARALLEL_HISTORY[:2])
    follower = HistoryFollower(sfn, "arn:execution", page_size=3)
    assert follower.refresh() == PARALLEL_HISTORY[:2]
    assert follower.refresh() == PARALLEL_HISTORY[:2]  # nothing new: one page, nothing added
    sfn.events = PARALLEL_HISTORY  # 7 new events: more than two pages of 3
    sfn.returned = 0
    assert follower.refresh() == PARALLEL_HISTORY
    assert sfn.returned == 9  # three pages, the last one reaching an event it had
    sfn.returned = 0
    assert follower.refresh() == PARALLEL_HISTORY
    assert sfn.returned == 3  # a poll with nothing new reads one page, not the whole history


def test_a_succeeded_task_keeps_what_its_worker_sent():
    """The demo and the test kit read which Glue job a task ran from its output (GlueJobName)."""
    history = [
        _event(1, 0, "ExecutionStarted", 0),
        _event(2, 1, "TaskStateEntered", 0.1, **_entered("Roll Up")),
        _event(3, 2, "ActivityScheduled", 0.2),
        _event(4, 3, "ActivityStarted", 0.3),
        _event(
            5, 4, "ActivitySucceeded", 5.0, activitySucceededEventDetails={"output": '{"GlueJobName": "R"}'}
        ),
        _event(6, 5, "TaskStateExited", 5.0, **_exited("Roll Up")),
    ]
    assert state_progress(history[:4])["Roll Up"].output is None
    assert state_progress(history)["Roll Up"].output == '{"GlueJobName": "R"}'
