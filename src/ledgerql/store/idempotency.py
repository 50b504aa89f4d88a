"""Durable idempotency records for writes, so a retried mutation never writes twice.

A record is keyed by (connection, idempotency key) and remembers the hash of the input, how far a
multi-step write got (`progress`, e.g. "purchase entry created: id X") and, once done, the id of
what was created. It outlives the process: it lives in the gateway's database (SQLite by default, PostgreSQL when
configured), so a retry after a lost response, a crash or on another gateway process finds it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledgerql.store.database import Database, SQLiteDatabase

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


MIGRATIONS: list[tuple[int, str]] = [
    (101, """
    CREATE TABLE ledgerql_write_records (
        connection_id TEXT NOT NULL, key TEXT NOT NULL, operation TEXT NOT NULL, input_hash TEXT NOT NULL,
        status TEXT NOT NULL, result_id TEXT, progress TEXT NOT NULL DEFAULT '{}',
        created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (connection_id, key))
    """),
]


class DatabaseIdempotencyStore:
    """The records in the gateway's database (SQLite or PostgreSQL, through `Database`)."""

    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        # `owns_db`: closing the store closes the database (not when it shares the gateway's).
        self.db = db
        self._owns_db = owns_db
        self._migrated = False

    async def _ready(self) -> Database:
        if not self._migrated:
            await self.db.migrate(MIGRATIONS)
            self._migrated = True
        return self.db

    async def begin(self, record: WriteRecord) -> WriteRecord:
        db = await self._ready()
        now = time.time()
        await db.execute(
            "INSERT INTO ledgerql_write_records (connection_id, key, operation, input_hash, status, result_id, "
            "progress, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING",
            record.connection_id, record.key, record.operation, record.input_hash, record.status,
            record.result_id, json.dumps(record.progress), now)
        row = await db.fetchrow(
            "SELECT operation, input_hash, status, result_id, progress FROM ledgerql_write_records "
            "WHERE connection_id = $1 AND key = $2", record.connection_id, record.key)
        assert row is not None
        return WriteRecord(record.connection_id, record.key, row["operation"], row["input_hash"], row["status"],
                           row["result_id"], json.loads(row["progress"]))

    async def save(self, record: WriteRecord) -> None:
        db = await self._ready()
        await db.execute(
            "UPDATE ledgerql_write_records SET status = $1, result_id = $2, progress = $3, updated_at = $4 "
            "WHERE connection_id = $5 AND key = $6", record.status, record.result_id, json.dumps(record.progress),
            time.time(), record.connection_id, record.key)

    async def aclose(self) -> None:
        if self._owns_db:
            await self.db.aclose()




def memory_idempotency_store() -> IdempotencyStore:
    return DatabaseIdempotencyStore(SQLiteDatabase(":memory:"), owns_db=True)
