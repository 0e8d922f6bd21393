"""Tuning of one run, from environment variables (the templates leave them at their defaults).

They are not in `<runner>-config.json`, which keeps exactly the seed's keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from etlrunner.config import ConfigError

# How many tracked jobs one run checks at the same time. AWS calls are I/O: 16 threads check 10,000 jobs at
# 30 ms a call well inside a 300 s run, where one thread could not.
CHECK_CONCURRENCY_ENV = "CHECK_CONCURRENCY"
DEFAULT_CHECK_CONCURRENCY = 16
# Consecutive failed checks of one job (its describe call raised) before its task is failed: a job that can
# never be checked must not keep its workflow waiting forever, a passing throttle must not fail it.
MAX_CHECK_FAILURES_ENV = "MAX_CHECK_FAILURES"
DEFAULT_MAX_CHECK_FAILURES = 5
# How long a run may hold a task it is starting or reporting before another run may take it over. Longer
# than one start call with its retries (see clients.py), shorter than the tasks' HeartbeatSeconds so that a
# run killed mid-start is recovered (by the next recovery tick after it) before the task times out.
LEASE_SECONDS_ENV = "TASK_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 120
# How long the run that polls the activity holds the poll lease (poller.py) before it must renew it: one 60 s
# long poll (read timeout 70 s) and a start. A run that died holding it delays other runs' polls this long;
# the recovery tick after it polls for the nudges it missed.
POLL_LEASE_SECONDS_ENV = "POLL_LEASE_SECONDS"
DEFAULT_POLL_LEASE_SECONDS = 100
# HeartbeatSeconds of this runner's Task states (the template sets both from one parameter). A task handed to
# a run that died before recording it comes back after this long; the run that finds the dead poller asks
# for a poll then (poller.py). The recovery tick heartbeats every task each minute, well inside it.
TASK_HEARTBEAT_SECONDS_ENV = "TASK_HEARTBEAT_SECONDS"
DEFAULT_TASK_HEARTBEAT_SECONDS = 240
# How many times a start that a throttle or a 5xx refused (the service's start, or the record of the job it
# started) is tried in all, 20 s apart, before the task fails with StartFailed (the job stopped if it runs).
MAX_START_ATTEMPTS_ENV = "MAX_START_ATTEMPTS"
DEFAULT_MAX_START_ATTEMPTS = 5


@dataclass(frozen=True)
class RunSettings:
    check_concurrency: int = DEFAULT_CHECK_CONCURRENCY
    max_check_failures: int = DEFAULT_MAX_CHECK_FAILURES
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    poll_lease_seconds: float = DEFAULT_POLL_LEASE_SECONDS
    task_heartbeat_seconds: float = DEFAULT_TASK_HEARTBEAT_SECONDS
    max_start_attempts: int = DEFAULT_MAX_START_ATTEMPTS


def load_settings(environ: Mapping[str, str] | None = None) -> RunSettings:
    """The run settings; a bad value raises ConfigError naming the variable."""
    env = os.environ if environ is None else environ
    return RunSettings(
        check_concurrency=_positive(env, CHECK_CONCURRENCY_ENV, DEFAULT_CHECK_CONCURRENCY, int),
        max_check_failures=_positive(env, MAX_CHECK_FAILURES_ENV, DEFAULT_MAX_CHECK_FAILURES, int),
        lease_seconds=_positive(env, LEASE_SECONDS_ENV, DEFAULT_LEASE_SECONDS, float),
        poll_lease_seconds=_positive(env, POLL_LEASE_SECONDS_ENV, DEFAULT_POLL_LEASE_SECONDS, float),
        task_heartbeat_seconds=_positive(
            env, TASK_HEARTBEAT_SECONDS_ENV, DEFAULT_TASK_HEARTBEAT_SECONDS, float
        ),
        max_start_attempts=_positive(env, MAX_START_ATTEMPTS_ENV, DEFAULT_MAX_START_ATTEMPTS, int),
    )


def _positive(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number > 0, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"environment variable {name} must be a number > 0, got {raw!r}")
    return value
