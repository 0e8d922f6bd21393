"""The check pass: every tracked job of the activity looked at, heartbeated or answered.

A job's end event checks that one job (`check_job`); the schedule visits every item (`check_active`),
`CHECK_CONCURRENCY` at a time, page by page, and a run that runs out of time leaves a resume point so that the
next run goes on from there: every item is visited within two runs, whatever their number.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etlrunner.clients import Clients
from etlrunner.config import RunnerConfig
from etlrunner.interface import Runner
from etlrunner.items import TaskItem
from etlrunner.sfn import error_text
from etlrunner.store import CHECK_CURSOR, HEARTBEAT_CURSOR, ItemStore
from etlrunner.summary import RunSummary
from etlrunner.timing import has_time, remaining_ms
from etlrunner.work import TaskWork

logger = logging.getLogger("etlrunner")

# Leave a little time after the last check so the run ends cleanly; unchecked items wait for the next run.
CHECK_RESERVE_MS = 10_000


def check_job(
    runner: Runner, config: RunnerConfig, clients: Clients, context: Any, summary: RunSummary, job_id: str
) -> None:
    """The job an event named: check it now (and answer its task if it ended)."""
    work = TaskWork(runner, config, clients, context, summary)
    try:
        item = work.store.get(job_id)
    except (ClientError, BotoCoreError) as exc:  # the schedule checks it later
        summary.add("check_errors")
        logger.error("cannot read %s=%s from %s: %s", runner.id_attribute, job_id, config.ddb_table, exc)
        return
    if item is None:
        # Another runner's job, an already answered one, or one whose event came before its item was
        # written (the run that started it looks at it once right after tracking it).
        summary.add("not_tracked")
        logger.info("%s: no tracked item for %s=%s: nothing to do", runner.name, runner.id_attribute, job_id)
        return
    visit_safely(work, item)


def look_at_started(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    context: Any,
    summary: RunSummary,
    started: list[TaskItem],
) -> None:
    """One look at the jobs this run started: one that ended already (a query that failed at once) may have
    sent its end event before its item existed, and that event found nothing to answer."""
    work = TaskWork(runner, config, clients, context, summary)
    for item in started:
        try:
            work.check(item, just_started=True)
        except Exception as exc:  # the schedule checks it later
            summary.add("check_errors")
            logger.error("%s: error looking at %s: %s", runner.name, item.key, exc)


def check_active(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    context: Any,
    summary: RunSummary,
    heartbeat_only: bool = False,
) -> list[TaskItem]:
    """Visit every item of the activity, resuming where the last run ran out of time; several at once.
    `heartbeat_only` (the recovery tick): tracked jobs are kept alive, not checked (see TaskWork.visit); its
    resume point is its own, so that ticks and scheduled checks each go round every item. Returns the items
    another run holds (a start or an answer in flight: the tick waits for those about to fall due)."""
    work = TaskWork(runner, config, clients, context, summary)
    store = work.store
    cursor_name = HEARTBEAT_CURSOR if heartbeat_only else CHECK_CURSOR
    try:
        cursor = store.read_cursor(cursor_name)
    except (ClientError, BotoCoreError) as exc:
        summary.add("check_errors")
        logger.error("cannot read the check cursor from %s: %s", config.ddb_table, error_text(exc))
        cursor = None
    # From the resume point to the end, then from the start up to the resume point: every item once.
    segments = [(cursor, None), (None, cursor)] if cursor else [(None, None)]
    last_done: str | None = None
    with ThreadPoolExecutor(max_workers=work.settings.check_concurrency) as pool:
        try:
            for after, up_to in segments:
                for page in store.pages(after, up_to):
                    if not has_time(context, CHECK_RESERVE_MS):
                        summary.out_of_time = True
                        save_cursor(store, last_done, cursor_name)
                        logger.warning(
                            "stop checking: %s ms left; the next run resumes after %s",
                            remaining_ms(context),
                            last_done,
                        )
                        return work.held
                    for future in [pool.submit(visit_safely, work, item, heartbeat_only) for item in page]:
                        future.result()
                    last_done = page[-1].key
        except (ClientError, BotoCoreError) as exc:
            summary.add("check_errors")
            logger.error("cannot read tracked jobs from %s: %s", config.ddb_table, error_text(exc))
            save_cursor(store, last_done, cursor_name)
            return work.held
    if cursor:
        save_cursor(store, None, cursor_name)
    return work.held


def visit_safely(work: TaskWork, item: TaskItem, heartbeat_only: bool = False) -> None:
    """One item's error never stops the others; the item stays and is visited again next run."""
    try:
        work.visit(item, heartbeat_only)
    except Exception as exc:
        work.summary.add("check_errors")
        logger.error(
            "%s: error handling %s=%s: %s",
            work.runner.name,
            work.runner.id_attribute,
            item.key,
            error_text(exc),
            exc_info=exc,
        )


def save_cursor(store: ItemStore, after: str | None, name: str) -> None:
    try:
        store.write_cursor(after, name)
    except (ClientError, BotoCoreError) as exc:  # the next run then starts from the beginning: nothing lost
        logger.error("cannot save the check cursor: %s", error_text(exc))
