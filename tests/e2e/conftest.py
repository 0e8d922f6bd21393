"""Fixtures of the e2e tests: ONE run of the README's `pynt demo[output=…]` for every test file that needs it
(a test file of its own would otherwise run a demo of its own)."""

from __future__ import annotations

import pytest
from e2e_support import PYNT, DemoRun, run_child


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`pynt demo[output=…]` in a child process, on the sample data."""
    output = tmp_path_factory.mktemp("e2e-demo") / "demo-output"
    return DemoRun(run_child([PYNT, f"demo[output={output}]"]), output)


@pytest.fixture(scope="session")
def succeeded(demo_run: DemoRun) -> DemoRun:
    """The demo run, after checking that it succeeded (every test of its output needs that)."""
    assert demo_run.child.returncode == 0, f"`pynt demo` failed\n{demo_run.child.tail()}"
    return demo_run
