"""The durable idempotency records, on SQLite and on the machine's real PostgreSQL.

The PostgreSQL test runs when LEDGERQL_TEST_DATABASE_URL is set (CI sets it) and then FAILS if the
server cannot be reached; it is skipped only where no URL is configured at all.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from ledgerql.store.database import PostgresDatabase, SQLiteDatabase
from ledgerql.store.idempotency import (
    DONE,
    DatabaseIdempotencyStore,
    IdempotencyStore,
    WriteRecord,
)


async def exercise(store: IdempotencyStore) -> None:
    key = f"key-{uuid.uuid4()}"
    first = await store.begin(WriteRecord("conn-a", key, "create:bills", "hash-1"))
    assert first.status == "PENDING" and first.input_hash == "hash-1"
    first.progress = {"attempted": True, "entry": "E-1"}
    await store.save(first)
    again = await store.begin(WriteRecord("conn-a", key, "create:bills", "hash-2"))
    assert again.input_hash == "hash-1", "the first input wins; a second begin does not overwrite it"
    assert again.progress == {"attempted": True, "entry": "E-1"}
    again.status, again.result_id = DONE, "B-42"
    await store.save(again)
    done = await store.begin(WriteRecord("conn-a", key, "create:bills", "hash-1"))
    assert (done.status, done.result_id) == (DONE, "B-42")
    other = await store.begin(WriteRecord("conn-b", key, "create:bills", "hash-9"))
    assert other.status == "PENDING" and other.input_hash == "hash-9", "keys are per connection"


async def test_sqlite_store_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledgerql.sqlite3"
    store = DatabaseIdempotencyStore(SQLiteDatabase(path), owns_db=True)
    await exercise(store)
    record = await store.begin(WriteRecord("conn-a", "persist", "create:bills", "h"))
    record.status, record.result_id = DONE, "X-1"
    await store.save(record)
    await store.aclose()
    reopened = DatabaseIdempotencyStore(SQLiteDatabase(path), owns_db=True)
    found = await reopened.begin(WriteRecord("conn-a", "persist", "create:bills", "h"))
    assert (found.status, found.result_id) == (DONE, "X-1")
    await reopened.aclose()


async def test_postgres_store(postgres_url: str) -> None:
    store = DatabaseIdempotencyStore(PostgresDatabase(postgres_url), owns_db=True)
    try:
        await exercise(store)
    finally:
        await store.aclose()
