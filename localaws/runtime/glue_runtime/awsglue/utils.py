"""``getResolvedOptions`` as AWS Glue implements it (argparse over ``--name value`` pairs)."""

from __future__ import annotations

import argparse

from awsglue import _localrun

# Arguments Glue itself passes or reserves: accepted when present, never required, not allowed in `options`.
_RESERVED = ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "encryption-type")
_BOOKMARK = ("--job-bookmark-option", "job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause")


class GlueArgumentError(Exception):
    """Raised (instead of argparse's exit) when a required argument is missing, as in Glue."""


class GlueArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise GlueArgumentError(message)


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str]:
    """Resolve ``options`` (names without ``--``) from the job's arguments.

    In a run of the local Glue bridge the run's own argv is used (``sys.argv`` is shared by parallel runs in
    one process); otherwise ``args`` as given, like ``sys.argv``: ``[script, "--JOB_NAME", "x", ...]``.
    """
    run = _localrun.current()
    argv = run.argv if run is not None else list(args)
    for reserved in (*_RESERVED, _BOOKMARK[0][2:], "continuation-option"):
        if reserved in options:
            raise RuntimeError(f"Using reserved arguments {reserved}")
    parser = GlueArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument(_BOOKMARK[0], choices=_BOOKMARK[1:], required=False)
    parser.add_argument("--continuation-option", choices=_BOOKMARK[1:], required=False)
    for reserved in _RESERVED:
        parser.add_argument(f"--{reserved}", required=False)
    parser.add_argument("--RedshiftTempDir", required=False)
    parser.add_argument("--TempDir", required=False)
    for option in options:
        if option in ("RedshiftTempDir", "TempDir"):
            continue
        parser.add_argument(f"--{option}", required=True)
    parsed, _unknown = parser.parse_known_args(argv[1:])
    resolved = vars(parsed)
    if resolved.get("TempDir") is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved.get("RedshiftTempDir") is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]
    continuation = resolved.pop("continuation_option", None)
    if resolved.get("job_bookmark_option") is None:
        resolved["job_bookmark_option"] = continuation or "job-bookmark-disable"
    return resolved
