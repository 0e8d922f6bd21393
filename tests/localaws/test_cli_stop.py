"""`pynt localaws` ends on Ctrl-C even when the endpoint's stop hangs (localaws/cli.py)."""

from __future__ import annotations

import io
import threading

from localaws import cli


class HangingServer:
    def __init__(self) -> None:
        self.released = threading.Event()

    def stop(self) -> None:
        self.released.wait(30)


class QuickServer:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_a_stop_that_hangs_is_given_up_and_says_so(capfd) -> None:
    server, out = HangingServer(), io.StringIO()
    try:
        assert cli._stop_within(server, 0.2, out) is False
    finally:
        server.released.set()
    assert "did not stop within 0 s" in out.getvalue()
    assert "in stop" in capfd.readouterr().err  # every thread's stack: the hung one is in stop()


def test_a_stop_that_ends_is_waited_for() -> None:
    server, out = QuickServer(), io.StringIO()
    assert cli._stop_within(server, 5, out) is True
    assert server.stopped and out.getvalue() == ""
