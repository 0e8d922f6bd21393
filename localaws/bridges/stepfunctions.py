"""Bridge for stepfunctions: not yet written."""

from localaws.context import LocalAwsContext


def install(ctx: LocalAwsContext) -> None:
    """Placeholder until the bridge lands."""
