"""One way for every bridge to patch moto: replace an attribute once, and reach what it replaced.

The bridges fill moto's gaps by replacing attributes of its classes and modules (a method, a property, a
module's function or class). ``replace`` puts a new attribute in place, ``wrap`` one made from the attribute
it replaces (a wrapper that calls it). Both are idempotent: an ``install`` that runs again (a second endpoint
in one process) finds its patches in place and changes nothing. A patch is known by its key, by default the
qualified name of the replacement (``replace``) or of the function that makes it (``wrap``), so two patches
of one attribute are each kept once, in the order they were made (the Step Functions bridge wraps
``EventManager.add_event`` twice: history notifications, then the seal of a stopped execution's history).

A patch is in place while it is in the attribute's chain: the attribute there now, what that one replaced,
and so on down to moto's own. Once something else is put there (a test's monkeypatch putting moto's own
back), the chain ends there, and the next install applies the patch again.

``original`` is moto's own attribute under every patch (tests that show a gap, and callers that want moto's
behaviour, use it).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_MISSING = object()  # the attribute did not exist before the patch


@dataclass(frozen=True)
class _Patch:
    owner: Any  # kept so that id(owner), the registry's key, stays its id
    name: str
    key: str
    replacement: Any
    replaced: Any  # the attribute as it was (_MISSING when there was none)


_lock = threading.RLock()
_patches: dict[tuple[int, str], list[_Patch]] = {}  # (id(owner), name) -> its patches, oldest first


def _current(owner: Any, name: str) -> Any:
    """The attribute as stored (a classmethod or property object, not what it binds to)."""
    return inspect.getattr_static(owner, name, _MISSING)


def _chain(owner: Any, name: str) -> Iterator[_Patch]:
    """The patches in place on ``owner.name``, newest first."""
    patches = _patches.get((id(owner), name), [])
    current = _current(owner, name)
    while True:
        patch = next((p for p in reversed(patches) if p.replacement is current), None)
        if patch is None:
            return
        yield patch
        current = patch.replaced


def _key_of(obj: Any) -> str:
    target = getattr(obj, "__func__", None) or getattr(obj, "fget", None) or obj
    qualname = getattr(target, "__qualname__", None)
    if qualname is None:
        raise TypeError(f"{obj!r} has no qualified name: give the patch a key")
    return f"{target.__module__}.{qualname}"


def is_patched(owner: Any, name: str, key: str) -> bool:
    """Whether the patch ``key`` is in place on ``owner.name``."""
    with _lock:
        return any(patch.key == key for patch in _chain(owner, name))


def wrap(owner: Any, name: str, make: Callable[[Any], Any], *, key: str | None = None) -> Any:
    """Put ``make(replaced)`` in place of ``owner.name`` unless this patch is in place already; return the
    attribute in place. ``replaced`` is the attribute as stored (a function, a classmethod or property
    object), for the replacement to call."""
    key = key or _key_of(make)
    with _lock:
        if is_patched(owner, name, key):
            return _current(owner, name)
        replaced = _current(owner, name)
        replacement = make(replaced)
        setattr(owner, name, replacement)
        _patches.setdefault((id(owner), name), []).append(_Patch(owner, name, key, replacement, replaced))
        return replacement


def replace(owner: Any, name: str, replacement: Any, *, key: str | None = None) -> Any:
    """Put ``replacement`` in place of ``owner.name`` unless this patch is in place already; return the
    attribute in place. ``key`` is needed when the replacement has no qualified name (a plain value)."""
    return wrap(owner, name, lambda _replaced: replacement, key=key or _key_of(replacement))


def original(owner: Any, name: str) -> Any:
    """``owner.name`` as moto defines it, under every patch in place (as stored, like ``wrap`` hands it)."""
    with _lock:
        patches = list(_chain(owner, name))
        return patches[-1].replaced if patches else _current(owner, name)
