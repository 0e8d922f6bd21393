"""One botocore data loader for every botocore session of the endpoint's process.

botocore gives each Session its own Loader, and each Loader reads and parses the JSON models again. The
endpoint's process makes dozens of sessions: moto's EC2 models (which moto's CloudFormation imports) build
three at import time, each parsing the 1.4 MB EC2 model; every bridge and the demo's clients make more. That
parsing was about 1.9 CPU-seconds of every demo, on the cores Spark needs.

Within one session botocore already hands the same parsed model to every client it creates (the Loader's
instance cache), so a Loader shared by all sessions with the same data path gives each session exactly what
its own would have. moto's loader (``moto.core.loaders``, which merges moto's extras into its models) is a
Loader of its own, made without a session: it is not shared, and its models never reach boto3 clients.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore import loaders
from botocore.session import Session

_lock = threading.Lock()
_shared: dict[str | None, loaders.Loader] = {}
_original_register: Callable[[Session], None] | None = None


def shared_loader(data_path: str | None) -> loaders.Loader:
    """The process's Loader for ``data_path`` (botocore's ``data_path`` setting; None: the default)."""
    with _lock:
        loader = _shared.get(data_path)
        if loader is None:
            loader = _shared[data_path] = loaders.create_loader(data_path)
        return loader


def _register_shared_data_loader(session: Any) -> None:
    # As botocore's own Session._register_data_loader, with the shared Loader in place of a new one.
    session._components.lazy_register_component(
        "data_loader", lambda: shared_loader(session.get_config_variable("data_path"))
    )


def install() -> None:
    """Sessions created from now on share their Loader. Idempotent."""
    global _original_register
    with _lock:
        if _original_register is None:
            _original_register = Session._register_data_loader
            Session._register_data_loader = _register_shared_data_loader


def uninstall() -> None:
    """Sessions created from now on get a Loader of their own again; the shared ones are dropped."""
    global _original_register
    with _lock:
        if _original_register is not None:
            Session._register_data_loader = _original_register
            _original_register = None
        _shared.clear()


def installed() -> bool:
    return _original_register is not None
