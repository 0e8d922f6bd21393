"""EventInvokeConfig: the five API operations, one configuration per function and qualifier.

moto 5.2.5 keeps one configuration per function whatever the Qualifier, appends on every Put (Get returns the
first), makes Update a Put, takes any destination and never applies any of it. Here the five operations are
served (``LambdaResponse`` methods, ``_event_config_action``), one configuration per function and qualifier
(``$LATEST``, a version or an alias), kept on moto's $LATEST function object (so it goes with the function),
with the Lambda API's validation. An async invocation of a function version takes the configuration of that
version (``event_invoke_config_of``, read by ``invoke.LocalLambdaRuntime.invoke_async``):
``MaximumRetryAttempts`` (0 to 2) replaces the default two retries, ``MaximumEventAgeInSeconds`` (on the
scaled clock) bounds how long the event is retried or throttled; its destinations are sent the invocation
record (``destinations``). Invoking through an alias uses the configuration of the version the alias points
to (moto resolves the alias before the invocation).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

DEFAULT_MAX_RETRY_ATTEMPTS = 2  # Lambda retries a failed asynchronous event twice unless configured
_EVENT_CONFIGS = "_localaws_event_invoke_configs"  # attribute of moto's $LATEST LambdaFunction
_configs_lock = threading.Lock()
# The Destination pattern of Lambda's API (OnSuccess / OnFailure), its current region part.
_DESTINATION_PATTERN = re.compile(
    r"^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]+(-[a-z]+)+-\d{1})?:(\d{12})?:(.*)"
)
_DESTINATION_SERVICES = {
    "OnSuccess": ("sqs", "sns", "lambda", "events"),
    "OnFailure": ("sqs", "sns", "lambda", "events", "s3"),
}
_CONFIG_KEYS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


def _lambda_error(code: str, message: str, status: int = 400) -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    error = LambdaClientError(code, message)
    error.code = status
    return error


def _split_function_name(function_name: str, qualifier: str | None) -> tuple[str, str]:
    """(name, qualifier) of a FunctionName: name, ARN or partial ARN, with ``:qualifier`` or not."""
    parts = function_name.split(":")
    if function_name.startswith("arn:"):
        parts = parts[6:]  # arn:partition:lambda:region:account:function:name[:qualifier]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]  # account:function:name[:qualifier]
    name = parts[0]
    derived = parts[1] if len(parts) > 1 else None
    if derived is not None and qualifier is not None and derived != qualifier:
        raise _lambda_error(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )
    return name, derived or qualifier or "$LATEST"


def _config_target(
    account_id: str, region: str, function_name: str, qualifier: str | None
) -> tuple[Any, str]:
    """moto's $LATEST function and the qualifier a configuration is for; ResourceNotFoundException when the
    function, version or alias does not exist."""
    from moto.awslambda.utils import get_backend

    backend = get_backend(account_id, region)
    name, qualifier = _split_function_name(function_name, qualifier)
    latest = backend.get_function(name)
    if qualifier != "$LATEST":
        backend.get_function(name, qualifier)  # the version or alias must exist
    return latest, qualifier


def _validation_errors(config: dict[str, Any]) -> list[str]:
    def bounded(key: str, low: int, high: int) -> str | None:
        value = config.get(key)
        if value is None:
            return None
        field_name = key[0].lower() + key[1:]
        prefix = f"Value '{value}' at '{field_name}' failed to satisfy constraint: Member must have value"
        if not isinstance(value, int) or value > high:
            return f"{prefix} less than or equal to {high}"
        if value < low:
            return f"{prefix} greater than or equal to {low}"
        return None

    errors = [
        e
        for e in (bounded("MaximumRetryAttempts", 0, 2), bounded("MaximumEventAgeInSeconds", 60, 21600))
        if e
    ]
    for kind in ("OnSuccess", "OnFailure"):
        destination = ((config.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
        if destination is None:
            continue
        where = f"destinationConfig.{kind[0].lower() + kind[1:]}.destination"
        if len(destination) > 350:
            errors.append(
                f"Value '{destination}' at '{where}' failed to satisfy constraint: "
                "Member must have length less than or equal to 350"
            )
        elif not _DESTINATION_PATTERN.match(destination):
            errors.append(
                f"Value '{destination}' at '{where}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {_DESTINATION_PATTERN.pattern}"
            )
    return errors


def _validate_config(config: dict[str, Any]) -> None:
    errors = _validation_errors(config)
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: "
        raise _lambda_error("ValidationException", count + "; ".join(errors))
    for kind, services in _DESTINATION_SERVICES.items():
        destination = ((config.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
        if destination and destination.split(":")[2] not in services:
            raise _lambda_error(
                "InvalidParameterValueException", f"The destination ARN {destination} is invalid."
            )


def _config_answer(latest: Any, qualifier: str, config: dict[str, Any]) -> dict[str, Any]:
    """A FunctionEventInvokeConfig as the API answers it (the destinations as {} when not set)."""
    answer: dict[str, Any] = {
        "LastModified": config["LastModified"],
        "FunctionArn": f"{latest.function_arn}:{qualifier}",
    }
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if config.get(key) is not None:
            answer[key] = config[key]
    destinations = config.get("DestinationConfig") or {}
    answer["DestinationConfig"] = {
        kind: dict(destinations.get(kind) or {}) for kind in ("OnSuccess", "OnFailure")
    }
    return answer


def _stored_configs(latest: Any) -> dict[str, dict[str, Any]]:
    configs = latest.__dict__.get(_EVENT_CONFIGS)
    if configs is None:
        configs = latest.__dict__[_EVENT_CONFIGS] = {}
    return configs


def _not_configured(latest: Any, qualifier: str) -> Exception:
    return _lambda_error(
        "ResourceNotFoundException",
        f"The function {latest.function_arn}:{qualifier} doesn't have an EventInvokeConfig",
        404,
    )


def put_event_invoke_config(
    account_id: str, region: str, function_name: str, qualifier: str | None, config: dict[str, Any]
) -> dict[str, Any]:
    """PutFunctionEventInvokeConfig: replaces the configuration (settings left out are removed)."""
    latest, qualifier = _config_target(account_id, region, function_name, qualifier)
    new = {key: config[key] for key in _CONFIG_KEYS if config.get(key) is not None}
    _validate_config(new)
    new["LastModified"] = time.time()
    with _configs_lock:
        _stored_configs(latest)[qualifier] = new
    return _config_answer(latest, qualifier, new)


def update_event_invoke_config(
    account_id: str, region: str, function_name: str, qualifier: str | None, config: dict[str, Any]
) -> dict[str, Any]:
    """UpdateFunctionEventInvokeConfig: changes the settings given, keeps the others."""
    latest, qualifier = _config_target(account_id, region, function_name, qualifier)
    with _configs_lock:
        current = _stored_configs(latest).get(qualifier)
        if current is None:
            raise _not_configured(latest, qualifier)
        merged = {key: current[key] for key in _CONFIG_KEYS if key in current}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if config.get(key) is not None:
                merged[key] = config[key]
        if config.get("DestinationConfig") is not None:
            destinations = dict(merged.get("DestinationConfig") or {})
            destinations.update({k: v for k, v in config["DestinationConfig"].items() if v is not None})
            merged["DestinationConfig"] = destinations
        _validate_config(merged)
        merged["LastModified"] = time.time()
        _stored_configs(latest)[qualifier] = merged
    return _config_answer(latest, qualifier, merged)


def get_event_invoke_config(
    account_id: str, region: str, function_name: str, qualifier: str | None
) -> dict[str, Any]:
    latest, qualifier = _config_target(account_id, region, function_name, qualifier)
    with _configs_lock:
        config = _stored_configs(latest).get(qualifier)
    if config is None:
        raise _not_configured(latest, qualifier)
    return _config_answer(latest, qualifier, config)


def delete_event_invoke_config(
    account_id: str, region: str, function_name: str, qualifier: str | None
) -> None:
    latest, qualifier = _config_target(account_id, region, function_name, qualifier)
    with _configs_lock:
        if _stored_configs(latest).pop(qualifier, None) is None:
            raise _not_configured(latest, qualifier)


def list_event_invoke_configs(
    account_id: str, region: str, function_name: str, marker: str | None = None, max_items: int | None = None
) -> dict[str, Any]:
    """ListFunctionEventInvokeConfigs: every qualifier's configuration, pages of MaxItems (1 to 50)."""
    if max_items is not None and not 1 <= max_items <= 50:
        bound = "greater than or equal to 1" if max_items < 1 else "less than or equal to 50"
        raise _lambda_error(
            "ValidationException",
            f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy constraint: "
            f"Member must have value {bound}",
        )
    latest, _ = _config_target(account_id, region, function_name, None)
    with _configs_lock:
        answers = [_config_answer(latest, q, c) for q, c in _stored_configs(latest).items()]
    start = int(marker) if marker and marker.isdigit() else 0
    end = start + (max_items or 50)
    page: dict[str, Any] = {"FunctionEventInvokeConfigs": answers[start:end]}
    if end < len(answers):
        page["NextMarker"] = str(end)
    return page


def event_invoke_config_of(fn: Any) -> dict[str, Any] | None:
    """The EventInvokeConfig that applies to an asynchronous invocation of ``fn`` (a moto function or
    version object), or None."""
    from moto.awslambda.utils import get_backend

    try:
        latest = get_backend(fn.account_id, fn.region).get_function(fn.function_name)
    except Exception:  # deleted meanwhile
        return None
    with _configs_lock:
        config = (latest.__dict__.get(_EVENT_CONFIGS) or {}).get(str(fn.version))
        return json.loads(json.dumps(config)) if config is not None else None


_EVENT_CONFIG_METHODS = {
    "put": "put_function_event_invoke_config",
    "update": "update_function_event_invoke_config",
    "get": "get_function_event_invoke_config",
    "delete": "delete_function_event_invoke_config",
    "list": "list_function_event_invoke_configs",
}


def _path_function_name(path: str) -> str:
    segments = path.split("?")[0].split("/")
    return unquote(segments[segments.index("functions") + 1])


def _query(response: Any, name: str) -> str | None:
    return (response.querystring.get(name) or [None])[0]


def _event_config_action(operation: str) -> Callable[[Any], Any]:
    """A ``LambdaResponse`` method for one of the five EventInvokeConfig operations."""

    def action(self: Any) -> Any:
        function_name = _path_function_name(self.path)
        qualifier = _query(self, "Qualifier")
        account, region = self.current_account, self.region
        if operation == "put":
            answer = put_event_invoke_config(
                account, region, function_name, qualifier, json.loads(self.body or "{}")
            )
        elif operation == "update":
            answer = update_event_invoke_config(
                account, region, function_name, qualifier, json.loads(self.body or "{}")
            )
        elif operation == "get":
            answer = get_event_invoke_config(account, region, function_name, qualifier)
        elif operation == "delete":
            delete_event_invoke_config(account, region, function_name, qualifier)
            return 204, {"status": 204}, ""
        else:
            max_items = _query(self, "MaxItems")
            answer = list_event_invoke_configs(
                account, region, function_name, _query(self, "Marker"), int(max_items) if max_items else None
            )
        return 200, {"status": 200, "content-type": "application/json"}, json.dumps(answer)

    action.__name__ = action.__qualname__ = f"{operation}_function_event_invoke_config"  # its patch key too
    return action
