"""Local servers for the demo and the tests: fixture files over HTTP and an SMTP sink. Loopback only."""

from __future__ import annotations

import contextlib
import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# A route answers (status, headers, body); tests add routes for 304s, 429s, slow and huge bodies.
# A body given as an iterator of chunks is sent with chunked encoding (no Content-Length to trust).
Body = bytes | Iterator[bytes]
Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], Body]]


class FixtureServer:
    """Serves files of a folder at their relative paths, the pravo API shape at /pravo/api/Documents, and any
    extra routes a test adds. Records every request so tests can assert on headers."""

    CONTENT_TYPES: ClassVar[dict[str, str]] = {
        ".xml": "application/xml",
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
    }

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in separate writes: without TCP_NODELAY each response waits ~40-80 ms on
            # the client's delayed ACK
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                outer.requests.append((self.path, dict(self.headers)))
                status, headers, body = outer.respond(self)
                # a client that gave up (timeout, size cap) closes the socket: that is the test passing, not an error
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(status, headers, body)

            def _send(self, status: int, headers: dict[str, str], body: Body) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if not isinstance(body, bytes):
                    self.send_header("Transfer-Encoding", "chunked")
                elif "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status == 304:
                    return
                if isinstance(body, bytes):
                    self.wfile.write(body)
                    return
                for chunk in body:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def respond(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], Body]:
        path = urlsplit(handler.path).path
        if path in self.routes:
            return self.routes[path](handler)
        if self.root is None:
            return 404, {}, b"not found"
        if path.endswith("/api/Documents"):
            file = self.root / "pravo" / "documents.json"
        else:
            file = (self.root / path.lstrip("/")).resolve()
            if self.root.resolve() not in file.parents or not file.is_file():
                return 404, {}, b"not found"
        return 200, {"Content-Type": self.CONTENT_TYPES.get(file.suffix, "application/octet-stream")}, file.read_bytes()

    def __enter__(self) -> FixtureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts."""

    messages: list[EmailMessage] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0

    class _Handler:
        def __init__(self, sink: SmtpSink) -> None:
            self.sink = sink

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            raw = envelope.content  # type: ignore[attr-defined]
            msg = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default)
            self.sink.messages.append(msg)  # type: ignore[arg-type]
            return "250 OK"

    def __enter__(self) -> SmtpSink:
        import socket

        if not self.port:
            with socket.socket() as s:
                s.bind((self.host, 0))
                self.port = s.getsockname()[1]
        self._controller = Controller(
            self._Handler(self),
            hostname=self.host,
            port=self.port,
            auth_require_tls=False,  # a loopback sink: accept any login, as a relay with credentials would
            authenticator=lambda *args: AuthResult(success=True),
        )
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def url(self, to: str = "desk@example.org") -> str:
        return f"mailto://{self.host}:{self.port}?from=treatywatch@localhost&to={to}"
