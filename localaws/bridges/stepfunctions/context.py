"""The context of the last installed ``LocalAws``, which the Step Functions patches read at call time.

moto's backends, and so the bridge's patches, are process-wide; the context of the last ``install`` is the one
whose time scale the GetActivityTask long poll uses and whose listeners hear of new history events.
"""

from __future__ import annotations

from localaws.context import LocalAwsContext

_state: dict[str, LocalAwsContext] = {}


def current() -> LocalAwsContext | None:
    """The context ``install`` was last given, or None before any install."""
    return _state.get("ctx")
