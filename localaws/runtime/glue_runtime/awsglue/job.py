"""``Job``: init/commit. Bookmarks are not kept locally (the project's jobs run with bookmarks disabled)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("awsglue.job")


class Job:
    def __init__(self, glue_context: Any) -> None:
        self._glue_context = glue_context
        self._name: str | None = None
        self._args: dict[str, Any] = {}
        self._committed = False

    def init(self, job_name: str, args: dict[str, Any] | None = None) -> None:
        self._name = job_name
        self._args = dict(args or {})
        log.info("job %s initialised", job_name)

    def commit(self) -> None:
        if self._name is None:
            raise RuntimeError("Job.commit() called before Job.init()")
        self._committed = True
        log.info("job %s committed", self._name)

    def isInitialized(self) -> bool:  # Glue's name
        return self._name is not None
