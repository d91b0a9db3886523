"""A real PostgreSQL server for the test session: initdb into a temporary folder, postgres on a free 127.0.0.1 port
(its unix socket in that folder too), stopped at the end. Tests that need it skip, saying why, when no initdb is
installed (Debian: apt-get install postgresql). Loaded from conftest.py through pytest_plugins.

When the tests run as root (containers, CI), the server runs as the `postgres` user (or `nobody`): PostgreSQL
refuses to run as root.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BIN_DIRS = ("/usr/local/bin", *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))


def find_bin(name: str) -> str | None:
    """A PostgreSQL program on PATH, in /usr/local/bin or in Debian's /usr/lib/postgresql/<version>/bin."""
    for d in BIN_DIRS:
        path = Path(d) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unprivileged() -> dict[str, Any]:
    """subprocess arguments that drop root for initdb and postgres; none when we are not root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


@dataclass
class PgServer:
    """One server for the session; each test gets a database of its own (new_database)."""

    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def admin_url(self) -> str:
        return f"postgresql://tw@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str) -> str:
        return f"postgresql://tw@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        initdb, postgres = find_bin("initdb"), find_bin("postgres")
        assert initdb and postgres
        drop = _unprivileged()
        data, sock = self.root / "data", self.root / "sock"
        sock.mkdir(parents=True)
        if drop:
            for p in (self.root, sock):
                os.chown(p, drop["user"], drop["group"])
        subprocess.run(
            [initdb, "-D", str(data), "-U", "tw", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"],
            check=True,
            capture_output=True,
            **drop,
        )
        self.port = free_port()
        self._launch()

    def _launch(self) -> None:
        postgres, drop, data = find_bin("postgres"), _unprivileged(), self.root / "data"
        assert postgres
        sock = self.root / "sock"
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - the server writes it until stop()
        self.proc = subprocess.Popen(
            [
                postgres, "-D", str(data), "-p", str(self.port), "-k", str(sock), "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200", "-c", "shared_buffers=32MB",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            **drop,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.admin_url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if (self.proc is not None and self.proc.poll() is not None) or time.monotonic() > deadline:
                    raise RuntimeError((self.root / "postgres.log").read_text(errors="replace")) from None
                time.sleep(0.1)

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def restart(self, down: float) -> None:
        """An outage: the server stops (fast shutdown: every connection is cut), stays away `down` seconds, and
        comes back on the same port with its data."""
        self.stop()
        time.sleep(down)
        self._launch()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if find_bin("initdb") is None or find_bin("postgres") is None:
        pytest.skip("PostgreSQL server not installed (no initdb/postgres; Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="tw-pg-"))
    server = PgServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of an empty database of this test's own."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """settings.database for each engine: a test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'treatywatch.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()
