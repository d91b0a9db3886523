"""What every engine must provide beneath the shared SQL (store.py), and how a database is named.

The shared code in `SqlStore` speaks the SQL both SQLite and PostgreSQL understand (`?` placeholders, `ON CONFLICT`,
`RETURNING`); an engine supplies connections and transactions, full-text search, and work sharing between daemons.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ..errors import StoreError

# sqlite3.Row or a psycopg dict row: both are read by column name, never by position.
Row = Any


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """An open transaction: sqlite3.Connection, or the PostgreSQL adapter that turns `?` into `%s`."""

    def execute(self, sql: str, params: Any = (), /) -> Any: ...


def new_owner() -> str:
    """Who this process is to others sharing the database (its claims name it): host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str) -> bool:
    """False only when `owner` names a process of this machine that no longer runs; other machines' are alive
    as far as we can tell (their claims expire by their lease)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


def ts(value: datetime | None) -> str | None:
    # Fixed width, so that text comparison in SQL is time comparison (on both engines: times are TEXT columns).
    return value.isoformat(timespec="microseconds") if value is not None else None


def dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def dt_req(value: str) -> datetime:
    """A NOT NULL timestamp column."""
    return datetime.fromisoformat(value)


class StoreBase(ABC):
    """The engine's part. Work sharing defaults to "this process does everything" (SQLite: one daemon per file)."""

    # who this process is to other daemons sharing the database: host, pid and a random tag
    owner: str = ""
    # where the data is, for messages: the SQLite file, or the PostgreSQL URL without its password
    path: Path | str = ""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """Everything inside commits together or not at all; a unique-key race is StoreConflict."""

    @abstractmethod
    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """A read outside any transaction."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def checkpoint(self, timeout: float, mode: str = "TRUNCATE") -> bool:
        """Make the database compact and self-contained (at a stop, or PASSIVE now and then); False when it could
        not (nothing is lost either way)."""

    @abstractmethod
    def search_rows(self, text: str, limit: int) -> list[Row]:
        """Item rows matching a full-text query, best first; a syntax error is a QueryError."""

    # -- bulk copy (treatywatch migrate) ---------------------------------------------------------------------------
    def _insert_many(self, tx: Tx, table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        for row in rows:
            tx.execute(sql, row)

    def _forget_shared_state(self, tx: Tx) -> None:
        """Before a copy replaces the contents: the engine's own bookkeeping of the old rows goes too."""
        return None

    def _after_copy(self, tx: Tx) -> None:
        """After rows came in with their ids: new rows must get ids after them."""
        return None

    # -- work sharing (store/claims.py, store/deliveries.py) -------------------------------------------------------
    def release_all(self) -> None:
        """A clean stop: hand every claim back at once instead of letting them expire."""
        return None

    def _void_dead_claims(self, table: str) -> int:
        """Claims on `table`'s rows (its claimed_by, claim_expires) of processes of this machine that no longer run
        (killed mid-work) are void at once, not when they expire; returns how many processes' claims went."""
        rows = self._rows(
            f"SELECT DISTINCT claimed_by FROM {table} WHERE claimed_by IS NOT NULL AND claimed_by <> ?", [self.owner]
        )
        dead = [r["claimed_by"] for r in rows if not owner_alive(r["claimed_by"])]
        if dead:
            with self.transaction() as tx:
                tx.execute(
                    f"UPDATE {table} SET claimed_by = NULL, claim_expires = NULL WHERE claimed_by IN"
                    f" ({', '.join('?' * len(dead))})",
                    dead,
                )
        return len(dead)


@dataclass(frozen=True)
class DatabaseURL:
    """`sqlite:///path`, a bare SQLite file name (inside the state directory) or `postgresql://user@host:port/db`."""

    engine: str  # sqlite | postgresql
    path: Path | None = None
    dsn: str = ""

    def __str__(self) -> str:
        return f"sqlite:///{self.path}" if self.engine == "sqlite" else redact(self.dsn)


def parse_database(value: str, state_dir: Path) -> DatabaseURL:
    if value.startswith(("postgresql://", "postgres://")):
        return DatabaseURL("postgresql", dsn=value)
    if value.startswith("sqlite:///"):
        return DatabaseURL("sqlite", path=Path(value[len("sqlite:///") :]))
    if "://" in value:
        raise StoreError(f"database '{redact(value)}': use sqlite:///path or postgresql://user@host:port/db")
    return DatabaseURL("sqlite", path=state_dir / value)


_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")
_KEYWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)


def redact(text: str) -> str:
    """A connection string or error message with any password replaced, the environment's included."""
    out = _KEYWORD.sub(r"\1***", _PASSWORD.sub(r"\1***\3", text))
    for name in ("PGPASSWORD", "TREATYWATCH_DATABASE_PASSWORD"):
        secret = os.environ.get(name)
        if secret:
            out = out.replace(secret, "***")
    return out
