"""Durable idempotency records for writes, so a retried mutation never writes twice.

A record is keyed by (connection, idempotency key) and remembers the hash of the input, how far a
multi-step write got (`progress`, e.g. "purchase entry created: id X") and, once done, the id of
what was created. It outlives the process: SQLite by default, PostgreSQL when configured, so a
retry after a lost response, a crash or on another gateway process finds it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

PENDING = "PENDING"
DONE = "DONE"


@dataclass
class WriteRecord:
    connection_id: str
    key: str
    operation: str
    input_hash: str
    status: str = PENDING
    result_id: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)


class IdempotencyStore(Protocol):
    async def begin(self, record: WriteRecord) -> WriteRecord:
        """Insert the record if the key is new; return what is stored for the key either way."""
        ...

    async def save(self, record: WriteRecord) -> None:
        """Persist progress or completion."""
        ...

    async def aclose(self) -> None: ...


class SQLiteIdempotencyStore:
    """One SQLite file; calls run in a worker thread so the event loop never blocks on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS idempotency (connection_id TEXT NOT NULL, key TEXT NOT NULL, "
            "operation TEXT NOT NULL, input_hash TEXT NOT NULL, status TEXT NOT NULL, result_id TEXT, "
            "progress TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL, updated_at REAL NOT NULL, "
            "PRIMARY KEY (connection_id, key))")
        self._lock = asyncio.Lock()

    async def begin(self, record: WriteRecord) -> WriteRecord:
        async with self._lock:
            return await asyncio.to_thread(self._begin, record)

    def _begin(self, record: WriteRecord) -> WriteRecord:
        now = time.time()
        self._db.execute(
            "INSERT OR IGNORE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.connection_id, record.key, record.operation, record.input_hash, record.status,
             record.result_id, json.dumps(record.progress), now, now))
        row = self._db.execute(
            "SELECT operation, input_hash, status, result_id, progress FROM idempotency "
            "WHERE connection_id = ? AND key = ?", (record.connection_id, record.key)).fetchone()
        return WriteRecord(record.connection_id, record.key, row[0], row[1], row[2], row[3], json.loads(row[4]))

    async def save(self, record: WriteRecord) -> None:
        async with self._lock:
            await asyncio.to_thread(
                self._db.execute,
                "UPDATE idempotency SET status = ?, result_id = ?, progress = ?, updated_at = ? "
                "WHERE connection_id = ? AND key = ?",
                (record.status, record.result_id, json.dumps(record.progress), time.time(), record.connection_id,
                 record.key))

    async def aclose(self) -> None:
        self._db.close()


class PostgresIdempotencyStore:
    """The same records in PostgreSQL, shared by every gateway process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: Any = None

    async def _connect(self) -> Any:
        if self._pool is None:
            import asyncpg

            self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=5)
            async with self._pool.acquire() as conn:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS ledgerql_idempotency (connection_id TEXT NOT NULL, key TEXT NOT NULL, "
                    "operation TEXT NOT NULL, input_hash TEXT NOT NULL, status TEXT NOT NULL, result_id TEXT, "
                    "progress JSONB NOT NULL DEFAULT '{}', created_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
                    "updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (connection_id, key))")
        return self._pool

    async def begin(self, record: WriteRecord) -> WriteRecord:
        pool = await self._connect()
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO ledgerql_idempotency (connection_id, key, operation, input_hash, status, result_id, "
                "progress) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING",
                record.connection_id, record.key, record.operation, record.input_hash, record.status,
                record.result_id, json.dumps(record.progress))
            row = await conn.fetchrow(
                "SELECT operation, input_hash, status, result_id, progress::text AS progress FROM "
                "ledgerql_idempotency WHERE connection_id = $1 AND key = $2", record.connection_id, record.key)
        return WriteRecord(record.connection_id, record.key, row["operation"], row["input_hash"], row["status"],
                           row["result_id"], json.loads(row["progress"]))

    async def save(self, record: WriteRecord) -> None:
        pool = await self._connect()
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE ledgerql_idempotency SET status = $1, result_id = $2, progress = $3::jsonb, updated_at = now() "
                "WHERE connection_id = $4 AND key = $5", record.status, record.result_id, json.dumps(record.progress),
                record.connection_id, record.key)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()


def open_idempotency_store(database_url: str | None, data_dir: Path) -> IdempotencyStore:
    if database_url and database_url.startswith(("postgres://", "postgresql://")):
        return PostgresIdempotencyStore(database_url)
    path = database_url.removeprefix("sqlite:///") if database_url else str(data_dir / "ledgerql.sqlite3")
    return SQLiteIdempotencyStore(path)
