"""Start moto's server in-process and install every bridge, so the project runs here as on AWS."""

from __future__ import annotations

import importlib
import logging
import shutil
import socket

from moto.core.config import default_user_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from localaws.bridges import BRIDGES
from localaws.context import LocalAwsContext

log = logging.getLogger(__name__)


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
        # Executing state machines is off by default in moto; this project needs it.
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        # There is no Docker here: the awslambda bridge runs handlers in a local process instead.
        default_user_config["lambda"]["use_docker"] = False
        for name in BRIDGES:
            importlib.import_module(f"localaws.bridges.{name}").install(self.ctx)
        # werkzeug logs every request at INFO (thousands per workflow); warnings and errors still show.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        log.info("local AWS endpoint at %s", self.ctx.endpoint_url)
        return self.ctx

    def stop(self) -> None:
        # Bridges with background work (the schedule clock) expose stop(); install() starts them again.
        for name in BRIDGES:
            bridge = importlib.import_module(f"localaws.bridges.{name}")
            stop = getattr(bridge, "stop", None)
            if callable(stop):
                stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._owns_work_dir:
            shutil.rmtree(self.ctx.work_dir, ignore_errors=True)

    def __enter__(self) -> LocalAwsContext:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
