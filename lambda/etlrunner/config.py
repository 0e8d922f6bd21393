"""Runner configuration: `<runner>-config.json` next to the runner module, environment variables win."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NO_DEFAULT = "<NO-DEFAULT>"

# The seed's keys every runner has, and the environment variable that overrides each.
COMMON_KEYS: dict[str, str] = {
    "sfn_activity_arn": "SFN_ACTIVITY_ARN",
    "sfn_worker_name": "SFN_WORKER_NAME",
    "ddb_table": "DDB_TABLE",
    "ddb_query_limit": "DDB_QUERY_LIMIT",
}


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key, the file and the env var."""


@dataclass(frozen=True)
class RunnerConfig:
    """The resolved configuration of one runner.

    `settings` holds the runner's own keys (e.g. `glue_job_capacity`) after environment overrides, with
    values from the environment still as strings: read them with `int_setting`, which validates them.
    """

    sfn_activity_arn: str
    sfn_worker_name: str
    ddb_table: str
    ddb_query_limit: int
    source: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    setting_env: Mapping[str, str] = field(default_factory=dict)

    def int_setting(self, key: str, minimum: int, allow_null: bool = False) -> int | None:
        """A runner-specific integer setting; `null` (or an empty env value) gives None when allowed."""
        value = self.settings.get(key)
        env_var = self.setting_env.get(key, "")
        return _as_int(value, key, self.source, env_var, minimum, allow_null)


def load_config(
    config_file: str | os.PathLike[str],
    extra_keys: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunnerConfig:
    """Read `config_file` and apply environment overrides.

    `extra_keys` maps the runner's own keys to their env vars (e.g. `{"glue_job_capacity":
    "GLUE_JOB_CAPACITY"}`). A key left at `<NO-DEFAULT>` with no env override, or a bad limit, raises
    `ConfigError` naming the key, the file and the env var.
    """
    env = os.environ if environ is None else environ
    path = Path(config_file)
    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"runner configuration file {source} not found") from None
    except ValueError as exc:
        raise ConfigError(f"runner configuration file {source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"runner configuration file {source} must hold a JSON object")

    extras = dict(extra_keys or {})
    resolved: dict[str, Any] = {}
    for key, env_var in {**COMMON_KEYS, **extras}.items():
        # An empty env var counts as unset so a template can pass "" for "use the file".
        if env.get(env_var):
            resolved[key] = env[env_var]
        elif key in data:
            resolved[key] = data[key]
        elif key in COMMON_KEYS:
            raise ConfigError(f"{key} is missing from {source} and environment variable {env_var} is not set")
        else:
            resolved[key] = None

    for key in COMMON_KEYS:
        resolved[key] = _no_default_checked(resolved[key], key, source, COMMON_KEYS[key])
    for key in extras:
        if resolved[key] == NO_DEFAULT:
            raise ConfigError(_no_default_message(key, source, extras[key]))

    limit = _as_int(resolved["ddb_query_limit"], "ddb_query_limit", source, COMMON_KEYS["ddb_query_limit"], 1)
    assert limit is not None  # allow_null is False, so _as_int never returns None here
    return RunnerConfig(
        sfn_activity_arn=_as_str(resolved["sfn_activity_arn"], "sfn_activity_arn", source),
        sfn_worker_name=_as_str(resolved["sfn_worker_name"], "sfn_worker_name", source),
        ddb_table=_as_str(resolved["ddb_table"], "ddb_table", source),
        ddb_query_limit=limit,
        source=source,
        settings={key: resolved[key] for key in extras},
        setting_env=extras,
    )


def _no_default_message(key: str, source: str, env_var: str) -> str:
    return f"{key} is {NO_DEFAULT} in {source}: set it there or set environment variable {env_var}"


def _no_default_checked(value: Any, key: str, source: str, env_var: str) -> Any:
    if value is None or value == NO_DEFAULT or (isinstance(value, str) and not value.strip()):
        raise ConfigError(_no_default_message(key, source, env_var))
    return value


def _as_str(value: Any, key: str, source: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key} in {source} must be a string, got {json.dumps(value)}")
    return value


def _as_int(
    value: Any, key: str, source: str, env_var: str, minimum: int, allow_null: bool = False
) -> int | None:
    """Accept an int from the file or a decimal string from the environment."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none")):
        if allow_null:
            return None
        raise ConfigError(
            f"{key} in {source} (or environment variable {env_var}) must be an integer >= {minimum}"
        )
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        null_hint = " or null" if allow_null else ""
        raise ConfigError(
            f"{key} in {source} (or environment variable {env_var}) must be an integer >= {minimum}"
            f"{null_hint}, got {json.dumps(value)}"
        )
    return value
