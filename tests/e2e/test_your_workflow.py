# A test of the workflow written with the test kit (README, "Testing your workflow")


def test_the_joined_dataset_has_one_row_per_day(etl):
    run = etl.run(
        "MarketingAndSalesETLOrchestrator",
        files={
            "sales/SalesPipeline_QuickSightSample.csv": "samples/SalesPipeline_QuickSightSample.csv",
            "marketing/MarketingData_QuickSightSample.csv": "samples/MarketingData_QuickSightSample.csv",
        },
    )
    assert run.status == "SUCCEEDED", run.failure
    rows = run.rows("JoinMarketingAndSalesData")
    assert rows and len({row["date"] for row in rows}) == len(rows)
