"""Test your own workflow on the local endpoint, in a few lines (README, "Testing your workflow").

With the repository's conftest.py, pytest gives every test the ``etl`` fixture: the project deployed on a
local endpoint of its own (started once per session, stopped at its end, Spark with it). ``etl.run()`` runs
one execution with your input files and returns its ``Run``: ``status``, ``history``, ``failure``,
``outputs`` (each Task state's) and ``rows(job or state)``, a Glue job's dataset or an Athena result as rows.

    def test_the_join_has_one_row_per_day(etl):
        run = etl.run("MarketingAndSalesETLOrchestrator", files={"sales/…csv": "my-sales.csv", …})
        assert run.status == "SUCCEEDED", run.failure
        rows = run.rows("JoinMarketingAndSalesData")

Outside pytest: ``with etltest.start_environment() as etl: ...``.
"""

from etltest.environment import EtlEnvironment, KitError, start_environment
from etltest.runs import Failure, Run

__all__ = ["EtlEnvironment", "Failure", "KitError", "Run", "start_environment"]
