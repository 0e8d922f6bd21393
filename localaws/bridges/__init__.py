"""One module per AWS service whose moto emulation needs a bridge to run this project for real.

Each module exposes ``install(ctx: LocalAwsContext) -> None`` (idempotent). ``localaws.server`` installs them
all, in the order of ``BRIDGES``.
"""

BRIDGES: tuple[str, ...] = (
    "stepfunctions",
    "dynamodb",
    "cloudformation",
    "awslambda",
    "s3",
    "events",
    "glue",
    "athena",
)
