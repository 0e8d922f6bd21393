"""pytest fixtures of the test kit; the repository's conftest.py loads them (``pytest_plugins``).

``etl`` (session): the project deployed on a local endpoint of its own, started once per test session (per
xdist worker) and stopped at its end, with its Spark. Every test using it is put in one xdist group, so with
``--dist loadgroup`` (as `make test` runs) one worker runs them all against one endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from etltest.environment import EtlEnvironment, start_environment

GROUP = "etltest"


@pytest.fixture(scope="session")
def etl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtlEnvironment]:
    """The deployed project: ``etl.run(machine, files={...})`` runs one execution and returns its ``Run``."""
    with start_environment(log=tmp_path_factory.mktemp("etltest") / "endpoint.log") as environment:
        yield environment


@pytest.hookimpl(tryfirst=True)  # before xdist names each test's group from its marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "etl" in getattr(item, "fixturenames", ()) and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(GROUP))
