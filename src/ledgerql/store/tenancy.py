"""Tenancy records: partners, accounts, users, API keys, access groups, memberships, connections
and their sealed secrets. One implementation over `Database` (SQLite or PostgreSQL).

Nothing secret is stored in the clear: API keys only as HMAC hashes (and a short prefix to tell
them apart), provider tokens and client secrets only sealed by `SecretBox`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ledgerql.store.database import Database, Row

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE ledgerql_partners (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL);
    CREATE TABLE ledgerql_accounts (
        id TEXT PRIMARY KEY, partner_id TEXT REFERENCES ledgerql_partners (id), name TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL);
    CREATE TABLE ledgerql_users (
        id TEXT PRIMARY KEY, owner_kind TEXT NOT NULL CHECK (owner_kind IN ('partner', 'account')),
        owner_id TEXT NOT NULL, name TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL);
    CREATE TABLE ledgerql_api_keys (
        key_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES ledgerql_users (id),
        key_prefix TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION);
    CREATE TABLE ledgerql_access_groups (
        id TEXT PRIMARY KEY, owner_kind TEXT NOT NULL, owner_id TEXT NOT NULL, name TEXT NOT NULL,
        permissions TEXT NOT NULL, connection_ids TEXT, created_at DOUBLE PRECISION NOT NULL,
        UNIQUE (owner_kind, owner_id, name));
    CREATE TABLE ledgerql_memberships (
        user_id TEXT NOT NULL REFERENCES ledgerql_users (id),
        group_id TEXT NOT NULL REFERENCES ledgerql_access_groups (id), PRIMARY KEY (user_id, group_id));
    CREATE TABLE ledgerql_connections (
        id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES ledgerql_accounts (id),
        provider TEXT NOT NULL, name TEXT NOT NULL, base_url TEXT NOT NULL, tenant_id TEXT NOT NULL,
        token_url TEXT, client_id TEXT, state TEXT NOT NULL, state_reason TEXT,
        created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
    CREATE TABLE ledgerql_connection_secrets (
        connection_id TEXT PRIMARY KEY REFERENCES ledgerql_connections (id), sealed TEXT NOT NULL,
        version BIGINT NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
    CREATE INDEX ledgerql_users_owner ON ledgerql_users (owner_kind, owner_id);
    CREATE INDEX ledgerql_api_keys_user ON ledgerql_api_keys (user_id);
    CREATE INDEX ledgerql_connections_account ON ledgerql_connections (account_id)
    """),
]

PARTNER = "partner"
ACCOUNT = "account"


@dataclass(frozen=True)
class Owner:
    """Who owns a user or an access group: a partner or an account."""

    kind: str
    id: str


@dataclass
class GroupRow:
    id: str
    owner: Owner
    name: str
    permissions: frozenset[str]
    connection_ids: frozenset[str] | None  # None: every connection of the account(s)


@dataclass
class ConnectionRow:
    id: str
    account_id: str
    provider: str
    name: str
    base_url: str
    tenant_id: str
    token_url: str | None
    client_id: str | None
    state: str
    state_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SealedSecret:
    sealed: str
    version: int


class TenancyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate(MIGRATIONS)

    async def aclose(self) -> None:
        await self.db.aclose()

    # -- partners and accounts ---------------------------------------------------------------------
    async def create_partner(self, partner_id: str, name: str) -> None:
        await self.db.execute("INSERT INTO ledgerql_partners (id, name, created_at) VALUES ($1, $2, $3)",
                              partner_id, name, time.time())

    async def partner(self, partner_id: str) -> Row | None:
        return await self.db.fetchrow("SELECT id, name FROM ledgerql_partners WHERE id = $1", partner_id)

    async def create_account(self, account_id: str, name: str, partner_id: str | None) -> None:
        await self.db.execute(
            "INSERT INTO ledgerql_accounts (id, partner_id, name, created_at) VALUES ($1, $2, $3, $4)",
            account_id, partner_id, name, time.time())

    async def account(self, account_id: str) -> Row | None:
        return await self.db.fetchrow("SELECT id, partner_id, name FROM ledgerql_accounts WHERE id = $1", account_id)

    async def accounts_of_partner(self, partner_id: str) -> list[Row]:
        return await self.db.fetch(
            "SELECT id, partner_id, name FROM ledgerql_accounts WHERE partner_id = $1 ORDER BY id", partner_id)

    # -- users and keys ----------------------------------------------------------------------------
    async def create_user(self, user_id: str, owner: Owner, name: str) -> None:
        await self.db.execute(
            "INSERT INTO ledgerql_users (id, owner_kind, owner_id, name, created_at) VALUES ($1, $2, $3, $4, $5)",
            user_id, owner.kind, owner.id, name, time.time())

    async def user(self, user_id: str) -> Row | None:
        return await self.db.fetchrow(
            "SELECT id, owner_kind, owner_id, name FROM ledgerql_users WHERE id = $1", user_id)

    async def users_of(self, owner: Owner) -> list[Row]:
        return await self.db.fetch(
            "SELECT id, owner_kind, owner_id, name FROM ledgerql_users WHERE owner_kind = $1 AND owner_id = $2 "
            "ORDER BY id", owner.kind, owner.id)

    async def add_key(self, key_hash: str, user_id: str, prefix: str) -> None:
        await self.db.execute(
            "INSERT INTO ledgerql_api_keys (key_hash, user_id, key_prefix, created_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (key_hash) DO NOTHING", key_hash, user_id, prefix, time.time())

    async def user_by_key(self, key_hash: str) -> Row | None:
        return await self.db.fetchrow(
            "SELECT u.id, u.owner_kind, u.owner_id, u.name FROM ledgerql_api_keys k "
            "JOIN ledgerql_users u ON u.id = k.user_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL", key_hash)

    async def revoke_keys(self, user_id: str) -> int:
        return await self.db.execute(
            "UPDATE ledgerql_api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            time.time(), user_id)

    # -- access groups -----------------------------------------------------------------------------
    async def create_group(self, group: GroupRow) -> None:
        await self.db.execute(
            "INSERT INTO ledgerql_access_groups (id, owner_kind, owner_id, name, permissions, connection_ids, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            group.id, group.owner.kind, group.owner.id, group.name, json.dumps(sorted(group.permissions)),
            None if group.connection_ids is None else json.dumps(sorted(group.connection_ids)), time.time())

    async def group(self, group_id: str) -> GroupRow | None:
        row = await self.db.fetchrow("SELECT * FROM ledgerql_access_groups WHERE id = $1", group_id)
        return _group(row) if row else None

    async def group_named(self, owner: Owner, name: str) -> GroupRow | None:
        row = await self.db.fetchrow(
            "SELECT * FROM ledgerql_access_groups WHERE owner_kind = $1 AND owner_id = $2 AND name = $3",
            owner.kind, owner.id, name)
        return _group(row) if row else None

    async def groups_of_owner(self, owner: Owner) -> list[GroupRow]:
        rows = await self.db.fetch(
            "SELECT * FROM ledgerql_access_groups WHERE owner_kind = $1 AND owner_id = $2 ORDER BY name",
            owner.kind, owner.id)
        return [_group(r) for r in rows]

    async def groups_of_user(self, user_id: str) -> list[GroupRow]:
        rows = await self.db.fetch(
            "SELECT g.* FROM ledgerql_memberships m JOIN ledgerql_access_groups g ON g.id = m.group_id "
            "WHERE m.user_id = $1 ORDER BY g.name", user_id)
        return [_group(r) for r in rows]

    async def add_membership(self, user_id: str, group_id: str) -> None:
        await self.db.execute(
            "INSERT INTO ledgerql_memberships (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            user_id, group_id)

    async def remove_membership(self, user_id: str, group_id: str) -> int:
        return await self.db.execute(
            "DELETE FROM ledgerql_memberships WHERE user_id = $1 AND group_id = $2", user_id, group_id)

    # -- connections -------------------------------------------------------------------------------
    async def save_connection(self, row: ConnectionRow, sealed: str) -> None:
        """Register (or re-register) a connection and its secrets together: never one without the other."""
        now = time.time()
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO ledgerql_connections (id, account_id, provider, name, base_url, tenant_id, token_url, "
                "client_id, state, state_reason, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $10) ON CONFLICT (id) DO UPDATE SET "
                "provider = excluded.provider, name = excluded.name, base_url = excluded.base_url, "
                "tenant_id = excluded.tenant_id, token_url = excluded.token_url, client_id = excluded.client_id, "
                "state = excluded.state, state_reason = NULL, updated_at = excluded.updated_at",
                row.id, row.account_id, row.provider, row.name, row.base_url, row.tenant_id, row.token_url,
                row.client_id, row.state, now)
            await tx.execute(
                "INSERT INTO ledgerql_connection_secrets (connection_id, sealed, version, updated_at) "
                "VALUES ($1, $2, 1, $3) ON CONFLICT (connection_id) DO UPDATE SET sealed = excluded.sealed, "
                "version = ledgerql_connection_secrets.version + 1, updated_at = excluded.updated_at",
                row.id, sealed, now)

    async def connection(self, connection_id: str) -> ConnectionRow | None:
        row = await self.db.fetchrow("SELECT * FROM ledgerql_connections WHERE id = $1", connection_id)
        return _connection(row) if row else None

    async def connections_of(self, account_ids: list[str]) -> list[ConnectionRow]:
        if not account_ids:
            return []
        marks = ", ".join(f"${i + 1}" for i in range(len(account_ids)))
        rows = await self.db.fetch(
            f"SELECT * FROM ledgerql_connections WHERE account_id IN ({marks}) ORDER BY id", *account_ids)
        return [_connection(r) for r in rows]

    async def set_state(self, connection_id: str, state: str, reason: str | None = None) -> None:
        await self.db.execute(
            "UPDATE ledgerql_connections SET state = $1, state_reason = $2, updated_at = $3 WHERE id = $4",
            state, reason, time.time(), connection_id)

    async def secret(self, connection_id: str) -> SealedSecret | None:
        row = await self.db.fetchrow(
            "SELECT sealed, version FROM ledgerql_connection_secrets WHERE connection_id = $1", connection_id)
        return SealedSecret(row["sealed"], int(row["version"])) if row else None

    async def put_secret(self, connection_id: str, sealed: str) -> None:
        await self.db.execute(
            "UPDATE ledgerql_connection_secrets SET sealed = $1, version = version + 1, updated_at = $2 "
            "WHERE connection_id = $3", sealed, time.time(), connection_id)

    async def all_secrets(self) -> list[tuple[str, SealedSecret]]:
        rows = await self.db.fetch("SELECT connection_id, sealed, version FROM ledgerql_connection_secrets")
        return [(r["connection_id"], SealedSecret(r["sealed"], int(r["version"]))) for r in rows]

    async def replace_secret(self, connection_id: str, expected: SealedSecret, sealed: str) -> bool:
        """Swap a sealed secret only if nobody changed it meanwhile (used by key rotation)."""
        changed = await self.db.execute(
            "UPDATE ledgerql_connection_secrets SET sealed = $1, version = version + 1, updated_at = $2 "
            "WHERE connection_id = $3 AND version = $4", sealed, time.time(), connection_id, expected.version)
        return changed == 1


def _group(row: Row) -> GroupRow:
    connections = row["connection_ids"]
    return GroupRow(id=row["id"], owner=Owner(row["owner_kind"], row["owner_id"]), name=row["name"],
                    permissions=frozenset(json.loads(row["permissions"])),
                    connection_ids=None if connections is None else frozenset(json.loads(connections)))


def _connection(row: Row) -> ConnectionRow:
    return ConnectionRow(id=row["id"], account_id=row["account_id"], provider=row["provider"], name=row["name"],
                         base_url=row["base_url"], tenant_id=row["tenant_id"], token_url=row["token_url"],
                         client_id=row["client_id"], state=row["state"], state_reason=row["state_reason"])
