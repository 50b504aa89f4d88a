"""One small async SQL interface over SQLite (the default) and PostgreSQL (when a URL is set).

Statements are written once, in PostgreSQL's `$1` placeholder style; SQLite reads them as its own
numbered `?1` parameters. Only portable SQL is used (TEXT, BIGINT, DOUBLE PRECISION, ON CONFLICT),
so the tenancy store has one implementation rather than one per engine.

Schema changes are numbered migrations applied in order and recorded in `ledgerql_migrations`;
PostgreSQL takes an advisory lock around them, so gateway processes starting together do not race.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

Row = dict[str, Any]

_PLACEHOLDER = re.compile(r"\$(\d+)")
_MIGRATION_LOCK = 0x4C51_0001  # an arbitrary constant naming "LedgerQL migrations" among advisory locks


class Database(Protocol):
    dialect: str

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    def transaction(self) -> Any:
        """`async with db.transaction() as tx:` — statements on `tx` commit together or not at all."""
        ...

    async def migrate(self, migrations: Sequence[tuple[int, str]]) -> None: ...

    async def aclose(self) -> None: ...


class SQLiteDatabase:
    """A SQLite file (or `:memory:`); statements run in a worker thread, one at a time."""

    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = asyncio.Lock()

    def _run(self, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        return self._db.execute(_PLACEHOLDER.sub(r"?\1", sql), tuple(args))

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._lock:
            return (await asyncio.to_thread(self._run, sql, args)).rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._lock:
            return await asyncio.to_thread(lambda: [dict(r) for r in self._run(sql, args).fetchall()])

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SQLiteTransaction]:
        async with self._lock:
            await asyncio.to_thread(self._db.execute, "BEGIN IMMEDIATE")
            try:
                yield _SQLiteTransaction(self)
            except BaseException:
                await asyncio.to_thread(self._db.execute, "ROLLBACK")
                raise
            await asyncio.to_thread(self._db.execute, "COMMIT")

    async def migrate(self, migrations: Sequence[tuple[int, str]]) -> None:
        async with self.transaction() as tx:
            await _apply(tx, migrations)

    async def aclose(self) -> None:
        self._db.close()


class _SQLiteTransaction:
    """Statements inside `SQLiteDatabase.transaction()`, which already holds the lock."""

    dialect = "sqlite"

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> int:
        return (await asyncio.to_thread(self._db._run, sql, args)).rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await asyncio.to_thread(lambda: [dict(r) for r in self._db._run(sql, args).fetchall()])

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None


class PostgresDatabase:
    """A pool of asyncpg connections, shared by the requests of one process."""

    dialect = "postgresql"

    def __init__(self, url: str, *, max_size: int = 10) -> None:
        self.url = url
        self.max_size = max_size
        self._pool: Any = None
        self._connecting = asyncio.Lock()

    async def pool(self) -> Any:
        if self._pool is None:
            async with self._connecting:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.max_size)
        return self._pool

    async def execute(self, sql: str, *args: Any) -> int:
        pool = await self.pool()
        async with pool.acquire() as conn:
            return _rowcount(await conn.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        pool = await self.pool()
        async with pool.acquire() as conn:
            return [dict(r) for r in await conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        pool = await self.pool()
        async with pool.acquire() as conn:
            row = await conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTransaction]:
        pool = await self.pool()
        async with pool.acquire() as conn, conn.transaction():
            yield _PostgresTransaction(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A raw connection held for a while, e.g. for a session-level advisory lock."""
        pool = await self.pool()
        async with pool.acquire() as conn:
            yield conn

    async def migrate(self, migrations: Sequence[tuple[int, str]]) -> None:
        async with self.transaction() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await _apply(tx, migrations)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class _PostgresTransaction:
    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        return _rowcount(await self._conn.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [dict(r) for r in await self._conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row = await self._conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None


def _rowcount(status: str) -> int:
    """asyncpg answers a status line such as `UPDATE 3`; its last word is the row count."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


async def _apply(tx: _SQLiteTransaction | _PostgresTransaction, migrations: Sequence[tuple[int, str]]) -> None:
    """Run the migrations not yet recorded, in order, inside the caller's transaction."""
    await tx.execute("CREATE TABLE IF NOT EXISTS ledgerql_migrations (version BIGINT PRIMARY KEY)")
    done = {r["version"] for r in await tx.fetch("SELECT version FROM ledgerql_migrations")}
    for version, script in migrations:
        if version not in done:
            for statement in [s.strip() for s in script.split(";") if s.strip()]:
                await tx.execute(statement)
            await tx.execute("INSERT INTO ledgerql_migrations (version) VALUES ($1)", version)


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgres://", "postgresql://"))


def open_database(url: str | None, data_dir: Path) -> Database:
    """PostgreSQL for a postgres:// URL; otherwise a SQLite file (`sqlite:///path`, default in the data dir)."""
    if url and is_postgres_url(url):
        return PostgresDatabase(url)
    path = url.removeprefix("sqlite:///") if url else str(data_dir / "ledgerql.sqlite3")
    return SQLiteDatabase(path)
