"""The DynamoDB bridge (localaws/bridges/dynamodb.py): requests are atomic; Query pages seek to
ExclusiveStartKey.

The semantics must stay moto's (and DynamoDB's): every page is compared with what moto's own query answers
for the same request over the whole table.
"""

from __future__ import annotations

import sys
import threading
import uuid

import pytest
from moto.dynamodb.responses import DynamoHandler

from localaws.bridges import dynamodb as dynamodb_bridge
from localaws.bridges import patching


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


@pytest.fixture
def table(ddb, unique_name):
    name = unique_name("Jobs")
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "sfn_activity_arn", "KeyType": "HASH"},
            {"AttributeName": "job_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "sfn_activity_arn", "AttributeType": "S"},
            {"AttributeName": "job_id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    ddb.delete_table(TableName=name)


def put_jobs(ddb, table: str, arn: str, ids: list[str]) -> None:
    for start in range(0, len(ids), 25):
        requests = [
            {"PutRequest": {"Item": {"sfn_activity_arn": {"S": arn}, "job_id": {"S": i}, "n": {"N": str(k)}}}}
            for k, i in enumerate(ids[start : start + 25], start=start)
        ]
        ddb.batch_write_item(RequestItems={table: requests})


def query_all(ddb, **request) -> tuple[list[str], list[dict]]:
    """Every job_id of a paged Query, in the order of the pages, and every page answered."""
    seen, pages = [], []
    while True:
        page = ddb.query(**request)
        pages.append(page)
        seen.extend(item["job_id"]["S"] for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return seen, pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def by_arn(table: str, arn: str, **extra) -> dict:
    return {
        "TableName": table,
        "KeyConditionExpression": "sfn_activity_arn = :arn",
        "ExpressionAttributeValues": {":arn": {"S": arn}},
        "ConsistentRead": True,
        **extra,
    }


def test_query_pages_yield_every_item_once_in_range_key_order(ddb, table):
    """Paging with Limit and ExclusiveStartKey (as the runners do) yields every item of the hash key exactly
    once, sorted by range key, with items of other hash keys left out; after deletes and new puts too."""
    arn, other = "arn:aws:states:us-east-1:123456789012:activity:A", "arn:other"
    ids = [f"jr_{n:05d}" for n in range(0, 1000, 3)]
    put_jobs(ddb, table, arn, ids[::-1])  # written out of order
    put_jobs(ddb, table, other, ["jr_00001", "jr_00002"])

    seen, pages = query_all(ddb, **by_arn(table, arn, Limit=50))
    assert seen == sorted(ids)
    assert all(len(page["Items"]) == 50 for page in pages[:-1]) and len(pages) == -(-len(ids) // 50)

    # The runners delete finished jobs while paging and new jobs arrive: the index follows.
    for gone in ids[::7]:
        ddb.delete_item(TableName=table, Key={"sfn_activity_arn": {"S": arn}, "job_id": {"S": gone}})
    put_jobs(ddb, table, arn, ["jr_00001", "jr_99999"])
    expected = sorted({*ids} - {*ids[::7]} | {"jr_00001", "jr_99999"})
    assert query_all(ddb, **by_arn(table, arn, Limit=50))[0] == expected
    assert query_all(ddb, **by_arn(table, arn, Limit=50, ScanIndexForward=False))[0] == expected[::-1]


@pytest.mark.parametrize(
    "extra",
    [
        {"Limit": 7},
        {"Limit": 7, "ScanIndexForward": False},
        {"Limit": 5, "FilterExpression": "n > :low", "ExpressionAttributeValues": {":low": {"N": "30"}}},
        {
            "Limit": 4,
            "KeyConditionExpression": "sfn_activity_arn = :arn AND job_id BETWEEN :a AND :b",
            "ExpressionAttributeValues": {":a": {"S": "jr_00010"}, ":b": {"S": "jr_00040"}},
        },
        {"Limit": 6, "ProjectionExpression": "job_id"},
        {},
    ],
)
def test_query_pages_are_the_ones_moto_answers(ddb, table, monkeypatch, extra):
    """Each page (Items, Count, ScannedCount, LastEvaluatedKey) is the page moto's own query answers, with
    range conditions, filters, projections, reverse order and no Limit."""
    arn = "arn:aws:states:us-east-1:123456789012:activity:B"
    put_jobs(ddb, table, arn, [f"jr_{n:05d}" for n in range(60)])
    request = by_arn(table, arn, **extra)
    request["ExpressionAttributeValues"] = {":arn": {"S": arn}, **extra.get("ExpressionAttributeValues", {})}

    def pages() -> list[dict]:
        answered = query_all(ddb, **dict(request))[1]
        return [
            {key: page.get(key) for key in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")}
            for page in answered
        ]

    patched = pages()
    monkeypatch.setattr(dynamodb_bridge, "_seek_start", lambda *args: ...)  # always moto's own path
    assert patched == pages()


def test_query_page_reads_a_window_not_the_whole_table(ddb, table, monkeypatch):
    """A page of a base-table Query never lists the whole table (moto's Table.all_items sorts every item of
    every hash key), so its cost does not grow with the number of items."""
    from moto.dynamodb.models.table import Table

    arn = "arn:aws:states:us-east-1:123456789012:activity:C"
    put_jobs(ddb, table, arn, [f"jr_{n:05d}" for n in range(120)])
    whole_table_reads = []
    original_all_items = Table.all_items
    monkeypatch.setattr(
        Table, "all_items", lambda self: whole_table_reads.append(self.name) or original_all_items(self)
    )

    seen, _ = query_all(ddb, **by_arn(table, arn, Limit=50))

    assert len(seen) == 120
    assert table not in whole_table_reads


def test_transactions_work_on_an_indexed_table_and_keep_the_index_right(ddb, table):
    """TransactWriteItems deep-copies a table to roll it back: the bridge's bookkeeping must survive that
    (a lock on the table failed every transaction with a 500), and a rolled-back or swapped item must be
    paged exactly as the items really are. The runner swaps its `starting#` item for the job this way."""
    arn = "arn:aws:states:us-east-1:123456789012:activity:Tx"
    put_jobs(ddb, table, arn, ["a", "c"])
    query_all(ddb, **by_arn(table, arn, Limit=1))  # builds the index
    key = {"sfn_activity_arn": {"S": arn}}
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {**key, "job_id": {"S": "b"}}}},
            {"Delete": {"TableName": table, "Key": {**key, "job_id": {"S": "c"}}}},
        ]
    )
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": table, "Key": {**key, "job_id": {"S": "a"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {**key, "job_id": {"S": "b"}},
                        "ConditionExpression": "attribute_not_exists(job_id)",
                    }
                },
            ]
        )
    seen, _ = query_all(ddb, **by_arn(table, arn, Limit=1))
    assert seen == ["a", "b"]


def race_conditional_claims(ddb, table: str, rounds: int, racers: int) -> list[int]:
    """Each round, `racers` threads claim one new item with the same conditional write; the winners of each
    round (DynamoDB: exactly one)."""
    arn = f"arn:aws:states:us-east-1:123456789012:activity:Race-{uuid.uuid4().hex[:8]}"  # new items
    winners = []
    for n in range(rounds):
        barrier, won = threading.Barrier(racers), []

        def claim(racer: int, n: int = n, barrier: threading.Barrier = barrier, won: list = won) -> None:
            barrier.wait()
            try:
                ddb.update_item(
                    TableName=table,
                    Key={"sfn_activity_arn": {"S": arn}, "job_id": {"S": str(n)}},
                    UpdateExpression="SET holder = :me",
                    ConditionExpression="attribute_not_exists(holder)",
                    ExpressionAttributeValues={":me": {"S": str(racer)}},
                )
                won.append(racer)
            except ddb.exceptions.ConditionalCheckFailedException:
                pass

        threads = [threading.Thread(target=claim, args=(racer,)) for racer in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners.append(len(won))
    return winners


@pytest.fixture
def busy_switching():
    """Threads switch as often as the interpreter can: a race that exists shows up in a few rounds."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_a_conditional_write_is_atomic_among_concurrent_requests(ddb, table, busy_switching):
    """The runners' exactly-once claims rest on DynamoDB's atomic conditional writes: of requests racing
    for one item, exactly one wins."""
    assert race_conditional_claims(ddb, table, rounds=20, racers=4) == [1] * 20


def test_without_the_bridge_two_requests_win_the_same_condition(ddb, table, busy_switching, monkeypatch):
    """The gap the bridge closes is real: with moto's own dispatch, racing claims have several winners."""
    monkeypatch.setattr(DynamoHandler, "call_action", patching.original(DynamoHandler, "call_action"))
    # About 4 rounds in 10 have several winners here; up to 100 rounds make a miss practically impossible.
    assert any(max(race_conditional_claims(ddb, table, rounds=20, racers=4)) > 1 for _ in range(5))
