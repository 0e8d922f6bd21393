"""The task calls on pynt's command line, checked before pynt runs any of them.

pynt itself answers an unknown task, a misspelt argument or an argument list it cannot split with a Python
traceback. build.py calls `check_command_line()` when pynt imports it: every call is resolved as pynt will
resolve it and bound to the task's signature, so a bad call becomes one `error:` line and nothing runs.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from buildlib.errors import BuildError

# pynt's own pattern (pynt._pynt._TASK_PATTERN): `name` or `name[arguments]`.
TASK_CALL = re.compile(r"^([^\[]+)(\[([^\]]*)\])?$")
CALL_FORM = "write `task` or `task[value,…,key=value]`"


def _is_task(obj: object) -> bool:
    from pynt._pynt import Task

    return isinstance(obj, Task) and obj.show()


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def resolve_task(name: str, namespace: Mapping[str, Any]) -> Any:
    """The task pynt runs for `name`: the attribute of that name, else the one task whose name starts so."""
    tasks = sorted((obj for obj in namespace.values() if _is_task(obj)), key=lambda t: t.name)
    names = [t.name for t in tasks]
    if name in namespace:
        # pynt takes any attribute of the build file (a module, a helper): only a task may run.
        if _is_task(namespace[name]):
            return namespace[name]
    else:
        matches = [t for t in tasks if t.name.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise BuildError(f"task '{name}' is ambiguous: it starts {', '.join(t.name for t in matches)}")
    raise BuildError(f"unknown task '{name}'{_did_you_mean(name, names)}; tasks: {', '.join(names)}")


def split_arguments(task: str, text: str | None, form: str = "") -> tuple[list[str], dict[str, str]]:
    """pynt's split of `a,b,key=value`, refusing what pynt would crash on or silently misread (an empty
    value: `demo[sales=]` ran the sample data). ``form``: the task's usage, for the message."""
    hint = f"; usage: {form}" if form else ""
    args: list[str] = []
    kwargs: dict[str, str] = {}
    if not text:
        return args, kwargs
    for part in text.split(","):
        if not part.strip():
            raise BuildError(f"{task}: an empty value in '[{text}]'{hint or f'; {CALL_FORM}'}")
        if part.count("=") > 1:
            raise BuildError(
                f"{task}: cannot read the argument '{part}': it holds more than one '=' "
                "(pynt cannot pass a value holding '=' or ',')"
            )
        if "=" in part:
            key, value = (s.strip() for s in part.split("="))
            if not value:
                raise BuildError(f"{task}: {key}= has no value; write {key}=<value>{hint}")
            if key in kwargs:
                raise BuildError(f"{task} got the argument '{key}' twice")
            kwargs[key] = value
        elif kwargs:
            value = part.strip()
            raise BuildError(f"{task}: the value '{value}' follows a key=value argument; put values first")
        else:
            args.append(part.strip())
    return args, kwargs


def usage(task: str, fn: Callable[..., Any]) -> str:
    """`pynt demo[sales=…,marketing=…]`, `pynt createstack[<stack_names>,…]`: what the task accepts."""
    parts = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"<{p.name}>,…")
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"<{p.name}>=…")
        else:
            parts.append(f"{p.name}=…")
    return f"pynt {task}[{','.join(parts)}]" if parts else f"pynt {task} (no arguments)"


def check_arguments(task: str, fn: Callable[..., Any], args: list[str], kwargs: dict[str, str]) -> None:
    """Refuse arguments the task's function does not take, naming the ones it does."""
    parameters = list(inspect.signature(fn).parameters.values())  # follows functools.wraps
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    takes_values = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    takes_keys = any(p.kind is p.VAR_KEYWORD for p in parameters)
    for value in args:
        # `demo[sales]`: a parameter's name given as a value is a key whose `=value` was left out.
        if value in named and not takes_values:
            form = usage(task, fn)
            raise BuildError(f"{task}: {value} needs a value: write {value}=<value>; usage: {form}")
    if len(args) > len(positional) and not takes_values:
        raise BuildError(f"{task} got too many values ({','.join(args)}); usage: {usage(task, fn)}")
    for key in kwargs:
        if key in positional[: len(args)]:
            raise BuildError(f"{task} got two values for '{key}': one by position, one as {key}=")
        if key not in named and not takes_keys:
            hint = _did_you_mean(key, named)
            raise BuildError(f"{task} got an unexpected argument '{key}'{hint}; usage: {usage(task, fn)}")


def check_calls(calls: list[str], namespace: Mapping[str, Any]) -> None:
    """Check every task call of a pynt command line; BuildError for the first bad one."""
    for call in calls:
        match = TASK_CALL.match(call)
        if not match:
            raise BuildError(f"cannot read the task call '{call}': {CALL_FORM}")
        name, _, text = match.groups()
        task = resolve_task(name, namespace)
        args, kwargs = split_arguments(task.name, text, usage(task.name, task.func))
        check_arguments(task.name, task.func, args, kwargs)


def _pynt_arguments(frame: FrameType | None) -> argparse.Namespace | None:
    """pynt's parsed command line, found in the frame of pynt's build() that is importing the build file."""
    from pynt import _pynt

    while frame is not None:
        if frame.f_code is _pynt.build.__code__:
            parsed = frame.f_locals.get("args")
            return parsed if isinstance(parsed, argparse.Namespace) else None
        frame = frame.f_back
    return None


def check_command_line(namespace: Mapping[str, Any], frame: FrameType | None = None) -> None:
    """When pynt is importing the build file to run tasks: exit 1 with one line for a bad task call.

    Imported any other way (tests, other tools) it does nothing.
    """
    parsed = _pynt_arguments(frame or sys._getframe(1))
    if parsed is None or parsed.list_tasks or parsed.version or not parsed.tasks:
        return
    try:
        check_calls(list(parsed.tasks), namespace)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
