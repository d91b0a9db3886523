"""The console's server: the Starlette app (routes.py) served by uvicorn on a background thread of the daemon.

The socket is bound here, before the thread starts, so a taken port fails `StatusServer(...)` at once with OSError
(the daemon logs it and runs on without a console) and port 0 gives the real port at once (tests). uvicorn runs
its own event loop on that thread; it installs no signal handlers off the main thread, so SIGTERM/SIGHUP stay the
daemon's. stop() asks it to exit (`should_exit`), waits a bounded time, then forces it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

import uvicorn

from .auth import is_loopback
from .routes import create_app

if TYPE_CHECKING:
    from ..app import App

log = logging.getLogger("treatywatch.web")
START_TIMEOUT = 10.0  # seconds for uvicorn to start serving on the bound socket
STOP_TIMEOUT = 5.0  # open connections get this long to finish on stop; the daemon's shutdown timeout bounds it too


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv4 or IPv6, whatever the address is)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class StatusServer:
    """start()/stop() around uvicorn.Server; `port` is the bound port (useful with port 0)."""

    def __init__(
        self, app: App, host: str, port: int, stop_timeout: float = STOP_TIMEOUT, *, loopback: bool | None = None
    ) -> None:
        """`loopback`: whether the token rules treat the bind as loopback; by default, what `host` is (tests
        serve on 127.0.0.1 and say False to see the console as another address would)."""
        self.sock = _bind(host, port)
        self.port: int = self.sock.getsockname()[1]
        # never longer than the daemon's whole shutdown allowance
        self.stop_timeout = min(stop_timeout, app.config.settings.shutdown_timeout)
        config = uvicorn.Config(
            create_app(app, loopback=is_loopback(host) if loopback is None else loopback),
            log_config=None,  # our logging set-up stays; uvicorn's loggers propagate to it
            log_level="warning",  # its start/stop lines repeat ours
            access_log=False,
            lifespan="off",
            proxy_headers=False,  # behind a proxy, settings.web_base_url says where the console is
            server_header=False,
            timeout_graceful_shutdown=max(1, int(self.stop_timeout)),
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name="web-console"
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            log.error("web console did not start within %gs", START_TIMEOUT)

    def stop(self, timeout: float | None = None) -> None:
        """Stop serving: in-flight requests get `timeout` seconds (default: stop_timeout), then are dropped."""
        self.server.should_exit = True
        if self._thread.ident is not None:  # started
            self._thread.join(self.stop_timeout if timeout is None else max(timeout, 0.1))
            if self._thread.is_alive():  # a connection that would not finish: drop it
                self.server.force_exit = True
                self._thread.join(1.0)
        self.sock.close()
