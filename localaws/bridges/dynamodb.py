"""DynamoDB bridge: each request is atomic, and a Query page costs the same whatever the number of items
under its hash key.

moto 5.2.5's ``Table.query`` sorts every item of the table, keeps those of the hash key, sorts them by range
key, then walks from the first one to ``ExclusiveStartKey`` before it fills the page. The runners page through
every tracked job (``Limit`` 50) on each check, so one check cycle over N jobs cost O(N² log N).

1. ``_patch_query_seek``: a base-table Query on a table with a range key seeks to ``ExclusiveStartKey`` in a
   sorted index of that hash key's range keys, and hands moto's own ``query`` only a window of the items that
   follow. moto's code still decides everything it decided before (range key condition, ``Limit``, the 1 MB
   page size, ``LastEvaluatedKey``, ``ScannedCount``, filter and projection), so the semantics are moto's; the
   window doubles until moto's loop stops on its own or the window reaches the last item. ConsistentRead
   changes nothing here: moto has one copy of each item. Index queries, tables without a range key, and an
   ``ExclusiveStartKey`` of another hash key take moto's path unchanged.

The sorted index is kept per table and hash key by the two places moto writes a hash key's items
(``put_item``, ``delete_item``); a bucket replaced wholesale (a restore) or of another size is re-indexed.

2. ``make_requests_atomic``: DynamoDB applies a conditional write atomically (the condition is checked and
   the item written as one step), and the runners' exactly-once claims and reports rest on it. moto checks
   the condition, then changes the item, with nothing in between to stop a second request on another thread
   of the endpoint's server: four threads racing ``attribute_not_exists`` on one key had two or more winners
   in 8 of 200 rounds. The bridge lets one DynamoDB request at a time into moto (a request takes
   milliseconds here; a real table's throughput is not what the local endpoint imitates).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from localaws.bridges import patching
from localaws.context import LocalAwsContext

_INDEX_ATTRIBUTE = "_localaws_range_index"


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's DynamoDB in-process; safe to call again."""
    make_requests_atomic()
    _patch_query_seek()


# --- 1. Query seeks to ExclusiveStartKey and reads one page ---------------------------------------------


@dataclass
class RangeIndex:
    """The range keys of one hash key's bucket, sorted as moto sorts them (DynamoType order)."""

    bucket_id: int
    keys: list[DynamoType] = field(default_factory=list)
    members: set[DynamoType] = field(default_factory=set)


# Locks live beside the tables, not on them: TransactWriteItems deep-copies a table to roll it back, and a
# lock cannot be copied (the copy would fail the whole transaction with a 500).
_table_locks: dict[int, threading.RLock] = {}
_table_locks_guard = threading.Lock()


def _table_lock(table: Table) -> threading.RLock:
    with _table_locks_guard:
        lock = _table_locks.get(id(table))
        if lock is None:
            lock = _table_locks[id(table)] = threading.RLock()
        return lock


def _indexes(table: Table) -> dict[DynamoType, RangeIndex]:
    return table.__dict__.setdefault(_INDEX_ATTRIBUTE, {})


def _range_index(table: Table, hash_key: DynamoType) -> RangeIndex | None:
    """The sorted range keys of ``hash_key`` (built on first use); call with the table's lock held."""
    bucket = table.items.get(hash_key)
    if not isinstance(bucket, dict):
        return None
    index = _indexes(table).get(hash_key)
    if index is None or index.bucket_id != id(bucket) or len(index.members) != len(bucket):
        keys = sorted(bucket)
        index = _indexes(table)[hash_key] = RangeIndex(id(bucket), keys, set(keys))
    return index


def _after_put(table: Table, item: Item) -> None:
    index = _indexes(table).get(item.hash_key)
    if index is not None and item.range_key is not None and item.range_key not in index.members:
        bisect.insort(index.keys, item.range_key)
        index.members.add(item.range_key)


def _after_delete(table: Table, hash_key: DynamoType, range_key: DynamoType) -> None:
    index = _indexes(table).get(hash_key)
    if index is not None and range_key in index.members:
        index.members.discard(range_key)
        position = bisect.bisect_left(index.keys, range_key)
        if position < len(index.keys) and index.keys[position] == range_key:
            del index.keys[position]


class _TableWindow:
    """The table as moto's ``query`` sees it, holding only the items of one window."""

    def __init__(self, table: Table, items: list[Item]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Item]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _seek_start(table: Table, hash_key: DynamoType, exclusive_start_key: dict[str, Any] | None) -> Any:
    """The range key a page starts after, None for the first page, or ``...`` when moto must decide."""
    if not exclusive_start_key:
        return None
    if DynamoType(exclusive_start_key.get(table.hash_key_attr) or {"NULL": True}) != hash_key:
        return ...
    start = exclusive_start_key.get(table.range_key_attr)
    return DynamoType(start) if start else ...


def _patch_query_seek() -> None:
    # moto gap: Table.query sorts the whole table and walks to ExclusiveStartKey on every page.
    patching.wrap(Table, "put_item", _indexed_put_item)
    patching.wrap(Table, "delete_item", _indexed_delete_item)
    patching.wrap(Table, "query", _seeking_query)


def _indexed_put_item(original_put_item: Callable[..., Item]) -> Callable[..., Item]:
    def put_item(self: Table, *args: Any, **kwargs: Any) -> Item:
        with _table_lock(self):
            item = original_put_item(self, *args, **kwargs)
            _after_put(self, item)
            return item

    return put_item


def _indexed_delete_item(original_delete_item: Callable[..., Item | None]) -> Callable[..., Item | None]:
    def delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        with _table_lock(self):
            item = original_delete_item(self, hash_key, range_key)
            if item is not None and range_key:
                _after_delete(self, hash_key, range_key)
            return item

    return delete_item


def _seeking_query(original_query: Callable[..., Any]) -> Callable[..., Any]:
    def query(
        self: Table,
        hash_key: DynamoType | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        **kwargs: Any,
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        def moto_query(table: Table | _TableWindow, start_key: dict[str, Any] | None) -> Any:
            return original_query(
                table,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                **kwargs,
            )

        start = _seek_start(self, hash_key, exclusive_start_key) if hash_key is not None else ...
        if index_name or not self.range_key_attr or hash_key is None or start is ...:
            return moto_query(self, exclusive_start_key)
        with _table_lock(self):
            index = _range_index(self, hash_key)
            if index is None:
                return moto_query(self, exclusive_start_key)
            bucket = self.items[hash_key]
            keys = index.keys
            if scan_index_forward is False:
                # Descending: the items below the start key, nearest first (moto sorts, then reverses).
                stop = bisect.bisect_left(keys, start) if start is not None else len(keys)
            else:
                begin = bisect.bisect_right(keys, start) if start is not None else 0
            width = (limit or len(keys)) + 1  # one more than a page: moto sets LastEvaluatedKey on seeing it
            while True:
                if scan_index_forward is False:
                    window_keys = keys[max(0, stop - width) : stop]
                    whole_rest = stop - width <= 0
                else:
                    window_keys = keys[begin : begin + width]
                    whole_rest = begin + width >= len(keys)
                window = [bucket[key] for key in window_keys]
                results, scanned, last_key = moto_query(_TableWindow(self, window), None)
                # moto's loop stopped by itself (a full page, or 1 MB), or saw every item left: its answer
                # is the one it would have given over the whole table.
                if last_key is not None or whole_rest:
                    return results, scanned, last_key
                width *= 2

    return query


# --- 2. One request at a time ----------------------------------------------------------------------------

# Re-entrant: a handler that served another request through moto (none does today) must not deadlock.
_request_lock = threading.RLock()


def make_requests_atomic() -> None:
    """Serve one DynamoDB request at a time, as DynamoDB's conditional writes are atomic (see the module).

    moto's dispatch of every DynamoDB action, in server mode and in-process (``mock_aws``), goes through
    ``DynamoHandler.call_action``. Safe to call again.
    """
    # moto gap: a condition and the write it guards are two steps, open to a concurrent request.
    # (patching.original(DynamoHandler, "call_action") is moto's: the test that shows the race uses it.)
    patching.wrap(DynamoHandler, "call_action", _one_request_at_a_time)


def _one_request_at_a_time(original_call_action: Callable[[DynamoHandler], Any]) -> Callable[..., Any]:
    def call_action(self: DynamoHandler) -> Any:
        with _request_lock:
            return original_call_action(self)

    return call_action
