"""Start moto's server in-process and install every bridge, so the project runs here as on AWS."""

from __future__ import annotations

import functools
import importlib
import logging
import shutil
import socket
from typing import Any

from moto.core.config import default_user_config
from moto.moto_server import threaded_moto_server
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from werkzeug.serving import make_server

from localaws import conformance, error_shapes, faults, shared_botocore_loader
from localaws.bridges import BRIDGES, patching
from localaws.console.app import mount as mount_console
from localaws.context import LocalAwsContext
from localaws.iam import authorizer as iam
from localaws.iam import states_role
from localaws.iam.middleware import IamMiddleware

log = logging.getLogger(__name__)

# How often the server loop checks for stop(); werkzeug's default (0.5 s) is added to every endpoint stop.
SHUTDOWN_POLL_S = 0.05


def _make_quick_stopping_server(*args: Any, **kwargs: Any) -> Any:
    """werkzeug's make_server, whose server loop sees a shutdown request within SHUTDOWN_POLL_S."""
    server = make_server(*args, **kwargs)
    server.app = error_shapes.ServiceShapedErrors(server.app)  # unmapped errors in the service's protocol
    server.app = IamMiddleware(server.app)  # requests of issued role sessions are authorised (localaws/iam/)
    server.app = faults.FaultMiddleware(server.app)  # passes every request through while faults are off
    # Outermost but for the console: the check sees every answer a client gets, throttles and denials too.
    server.app = conformance.wrap_if_enabled(server.app)
    server.app = mount_console(server.app)  # the local console at /_console/ (localaws/console/)
    server.serve_forever = functools.partial(server.serve_forever, poll_interval=SHUTDOWN_POLL_S)
    return server


def _check_port(host: str, port: int) -> None:
    """Raise OSError (e.g. EADDRINUSE) if the server could not listen there. moto's server binds in its own
    thread, and when that fails its start() waits forever for a ready signal that never comes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket does
        sock.bind((host, port))


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalAws:
    """A running local AWS endpoint. Use as a context manager, or call start() and stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, **context_settings) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.ctx = LocalAwsContext(endpoint_url=f"http://{host}:{self.port}", **context_settings)
        # A work folder the caller did not choose is ours to remove when the endpoint stops.
        self._owns_work_dir = "work_dir" not in context_settings
        self._server: ThreadedMotoServer | None = None

    def start(self) -> LocalAwsContext:
        _check_port(self.host, self.port)  # before anything is installed: a busy port fails at once
        iam.parse_mode(self.ctx.iam)  # a bad LOCALAWS_IAM fails here, before anything runs
        faults.install(self.ctx)  # a bad LOCALAWS_FAULTS fails here, before anything runs
        iam.install(self.ctx)
        # Executing state machines is off by default in moto; this project needs it.
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        # There is no Docker here: the awslambda bridge runs handlers in a local process instead.
        default_user_config["lambda"]["use_docker"] = False
        # Before the bridges import moto's models, whose import makes botocore sessions (see the module).
        shared_botocore_loader.install()
        for name in BRIDGES:
            importlib.import_module(f"localaws.bridges.{name}").install(self.ctx)
        states_role.install()  # a state machine's role is checked when it is created (localaws/iam)
        # werkzeug logs every request at INFO (thousands per workflow); warnings and errors still show.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # The execution engine logs every failure a state raises at ERROR, caught ones included; the execution
        # history (what AWS shows) already records each one, with its error and cause.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        # The name moto's server thread calls.
        patching.replace(threaded_moto_server, "make_server", _make_quick_stopping_server)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        log.info("local AWS endpoint at %s", self.ctx.endpoint_url)
        return self.ctx

    def stop(self) -> None:
        # Bridges with background work (the schedule clock, warm Lambda workers) expose stop(); install()
        # starts them again. Reverse order: the schedules stop before the Lambda workers they would invoke.
        for name in reversed(BRIDGES):
            bridge = importlib.import_module(f"localaws.bridges.{name}")
            stop = getattr(bridge, "stop", None)
            if callable(stop):
                stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
        faults.uninstall(self.ctx)
        iam.uninstall(self.ctx)
        if self._owns_work_dir:
            shutil.rmtree(self.ctx.work_dir, ignore_errors=True)

    def __enter__(self) -> LocalAwsContext:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
