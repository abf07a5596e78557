"""Run the eBox simulator with uvicorn in a background thread on loopback (demo and tests)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn
from fastapi import FastAPI

from channels.ebox_simulator.app import FEDERATION_PATH, OAUTH_PATHS, REGISTRY_PATHS, create_app
from channels.ebox_simulator.state import SimulatorConfig, SimulatorState

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 5.0


class SimulatorServer:
    """`start()` binds 127.0.0.1 (port 0: any free port) and returns once it accepts connections.

    Give it an app from `create_app`, or `create_app`'s keyword arguments and it makes one.
    """

    def __init__(
        self,
        app: FastAPI | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **create_app_options: Any,
    ) -> None:
        if app is not None and create_app_options:
            raise TypeError("pass an app or create_app's options, not both")
        self.app = app if app is not None else create_app(**create_app_options)
        self.host = host
        self._requested_port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SimulatorState:
        """What the simulator received; read it only, and between requests."""
        state: SimulatorState = self.app.state.sim
        return state

    def messages(self) -> list[dict[str, Any]]:
        """Every publication so far, oldest first, in the shape of `GET /_sim/messages`."""
        with self.state.lock:
            found = list(self.state.publications.values())
        return [publication.describe() for publication in found]

    @property
    def port(self) -> int:
        if self._server is None or not self._server.servers:
            raise RuntimeError("simulator not started")
        port: int = self._server.servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        """The server's root, `http://127.0.0.1:{port}`; the API paths hang below it."""
        return f"http://{self.host}:{self.port}"

    @property
    def config(self) -> SimulatorConfig:
        config: SimulatorConfig = self.app.state.config
        return config

    @property
    def registry_url(self) -> str:
        """The Message Registry base of the version it serves (v2 or v3)."""
        return self.base_url + REGISTRY_PATHS[self.config.api_version]

    @property
    def federation_url(self) -> str:
        return self.base_url + FEDERATION_PATH

    @property
    def token_url(self) -> str:
        return self.base_url + OAUTH_PATHS[self.config.api_version] + "/token"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("simulator already running")
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self._requested_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="ebox-simulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._thread = None
                raise RuntimeError("eBox simulator did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(SHUTDOWN_TIMEOUT_S)
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
