"""The token vault through GraphQL: refresh rules, REAUTH_REQUIRED, a lost refresh response, key rotation,
and no secret in the store in plaintext (SQLite file and PostgreSQL tables).

The PostgreSQL cases run against LEDGERQL_TEST_DATABASE_URL (CI sets it) in a schema of their own, and
FAIL if the server cannot be reached; they are skipped only where no URL is configured.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerql.app import create_app
from ledgerql.demo import build_demo, setup_demo
from ledgerql.gateway import Gateway
from ledgerql.sandbox import SandboxSet
from ledgerql.sandbox.books import BookSizes
from ledgerql.store.database import Database, PostgresDatabase, SQLiteDatabase
from ledgerql.tenancy.crypto import SecretBox
from ledgerql.tenancy.locks import PostgresLocks
from tests.harness import SANDBOX_BASE, GatewayHarness, connection_id

TAX_RATES = 'query($c: ID!) { connection(id: $c) { state taxRates { nodes { code } } } }'
STATE = 'query($c: ID!) { connection(id: $c) { state } }'


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


@pytest.mark.parametrize("provider", ["QUICKBOOKS", "XERO"])
async def test_a_dead_refresh_token_moves_the_connection_to_reauth_required(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        cid = connection_id(provider)
        emulator = gw.sandboxes.emulators[provider]
        vault = gw.demo.gateway.tokens
        tokens = await vault.get(cid)
        tokens.refresh_token = "revoked-by-the-user"
        await vault.put(cid, tokens)
        emulator.oauth.expire_access_tokens()

        body = await gw.execute(TAX_RATES, {"c": cid})
        assert _codes(body) == ["UPSTREAM_AUTH_EXPIRED"]
        assert body["errors"][0]["extensions"]["connectionState"] == "REAUTH_REQUIRED"
        assert "revoked-by-the-user" not in str(body)
        assert (await gw.query(STATE, {"c": cid}))["connection"]["state"] == "REAUTH_REQUIRED"

        # From now on: the same clear error at once, without bothering the provider.
        gw.reset_counts()
        body = await gw.execute(TAX_RATES, {"c": cid})
        assert _codes(body) == ["UPSTREAM_AUTH_EXPIRED"] and body["extensions"]["upstreamCalls"] == 0
        assert gw.upstream_calls(provider) == 0

        # Registering it again with good tokens brings it back.
        grant = emulator.oauth.issue(emulator.tenant_id_for(0))
        config = gw.demo.gateway.connections[cid]
        data = await gw.query("""mutation($i: ConnectionInput!) { registerConnection(input: $i) { state } }""", {"i": {
            "id": cid, "provider": provider, "name": config.name, "baseUrl": config.base_url,
            "tenantId": config.tenant_id, "tokenUrl": config.token_url, "clientId": config.client_id,
            "clientSecret": tokens.client_secret, "accessToken": grant.access_token,
            "refreshToken": grant.refresh_token}})
        assert data["registerConnection"]["state"] == "ACTIVE"
        data = await gw.query(TAX_RATES, {"c": cid})
        assert data["connection"]["state"] == "ACTIVE" and len(data["connection"]["taxRates"]["nodes"]) == 3


class LoseFirstTokenResponse(httpx.AsyncBaseTransport):
    """Delivers the first token request to the provider, then drops its answer on the floor."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "token" in request.url.path and request.method == "POST" and self.lost == 0:
            await response.aread()
            self.lost += 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


async def test_a_lost_refresh_response_is_recovered_within_xeros_grace() -> None:
    """Xero rotated the refresh token but the answer never arrived: asking again with the old refresh token
    within Xero's 30-minute grace gets the new grant, and the connection keeps working."""
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        gateway = gw.demo.gateway
        lossy = LoseFirstTokenResponse(gateway.transport)  # type: ignore[arg-type]
        gateway.transport = lossy
        gateway._connectors.clear()
        emulator = gw.sandboxes.emulators["XERO"]
        before = emulator.oauth.refresh_count
        emulator.oauth.expire_access_tokens()

        data = await gw.query(TAX_RATES, {"c": connection_id("XERO")})
        assert lossy.lost == 1
        assert len(data["connection"]["taxRates"]["nodes"]) == 3 and data["connection"]["state"] == "ACTIVE"
        assert emulator.oauth.refresh_count == before + 1  # one rotation; the retry was answered from the grace
        stored = await gateway.tokens.get(connection_id("XERO"))
        assert emulator.oauth.authenticate(stored.access_token) is not None


async def test_exact_refusing_an_early_refresh_does_not_kill_the_connection() -> None:
    """Exact answers `invalid_request` to a refresh before the access token is 570 s old: the query fails,
    but the connection stays ACTIVE (only `invalid_grant` and friends mean the user must reconnect)."""
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        cid = connection_id("EXACT_ONLINE")
        vault = gw.demo.gateway.tokens
        tokens = await vault.get(cid)
        tokens.access_token = "not-accepted"
        await vault.put(cid, tokens)
        body = await gw.execute(TAX_RATES, {"c": cid})
        assert _codes(body) == ["UPSTREAM_AUTH_EXPIRED"]
        assert body["data"]["connection"]["state"] == "ACTIVE"


# --- at rest --------------------------------------------------------------------------------------


async def _scratch_schema(url: str) -> tuple[str, str]:
    import asyncpg

    schema = f"lq_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    separator = "&" if "?" in url else "?"
    return schema, f"{url}{separator}search_path={schema}"


async def _drop_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Database, Any]]:
    """A durable store, and how to read everything it holds as raw text."""
    if request.param == "sqlite":
        path = tmp_path / "ledgerql.sqlite3"

        def dump_sqlite() -> str:
            return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("ledgerql")).decode(
                "latin-1")

        yield SQLiteDatabase(path), dump_sqlite
        return
    base = request.getfixturevalue("postgres_url")
    schema, url = await _scratch_schema(base)
    database = PostgresDatabase(url)

    async def dump_postgres() -> str:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            tables = [r["tablename"] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)]
            assert "ledgerql_connection_secrets" in tables
            rows = [str(dict(r)) for t in tables for r in await conn.fetch(f"SELECT * FROM {schema}.{t}")]
        finally:
            await conn.close()
        return "\n".join(rows)

    try:
        yield database, dump_postgres
    finally:
        await _drop_schema(base, schema)


async def test_the_store_holds_no_token_secret_or_key_in_plaintext(store: tuple[Database, Any]) -> None:
    database, dump = store
    sandboxes = SandboxSet(sizes=BookSizes.tiny(), rate_limits=False)
    demo = await build_demo(sandboxes, base_url=SANDBOX_BASE, secret_key=b"at-rest-secret", api_key="lq_at_rest_key",
                            rate_limits=False, database=database)
    demo.gateway.cache = None
    app = create_app(demo.gateway)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test",
                                 headers={"Authorization": "Bearer lq_at_rest_key"}) as client:
        for emulator in sandboxes.emulators.values():
            emulator.oauth.expire_access_tokens()  # every connection refreshes: rotated tokens get stored too
        for provider in ("QUICKBOOKS", "XERO", "EXACT_ONLINE", "NETSUITE"):
            body = (await client.post("/graphql", json={"query": TAX_RATES,
                                                        "variables": {"c": connection_id(provider)}})).json()
            assert not body.get("errors"), body
        secrets = {"lq_at_rest_key"}
        for emulator in sandboxes.emulators.values():
            secrets |= set(emulator.oauth._by_access) | set(emulator.oauth._by_refresh)
            secrets.add(emulator.oauth.client_secret)
        raw = dump()
        if not isinstance(raw, str):
            raw = await raw
        assert "ledgerql_connection_secrets" in raw or "gAAAA" in raw  # the dump did read the tables
        leaked = sorted(s for s in secrets if s and s in raw)
        assert leaked == [], f"{len(leaked)} secrets in plaintext"
    await demo.gateway.aclose()


async def test_rotating_the_encryption_key(tmp_path: Path) -> None:
    """A new key first, the old one after it: everything still opens; `rotate-keys` re-encrypts under the new
    key, after which the old key can go."""
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    path = tmp_path / "ledgerql.sqlite3"
    env = {**os.environ, "LEDGERQL_DATA_DIR": str(tmp_path), "LEDGERQL_SECRET_KEY": "rotation-test",
           "LEDGERQL_ENCRYPTION_KEYS": old}
    env.pop("LEDGERQL_DATABASE_URL", None)
    sandboxes = SandboxSet(sizes=BookSizes.tiny(), rate_limits=False)
    gateway = Gateway(secret_key=b"rotation-test", database=SQLiteDatabase(path), box=SecretBox([old.encode()]),
                      transport=httpx.ASGITransport(app=sandboxes.app()))
    await setup_demo(gateway, sandboxes, base_url=SANDBOX_BASE, api_key="k")
    expected = {p: (await gateway.tokens.get(connection_id(p))).access_token for p in ("XERO", "QUICKBOOKS")}
    await gateway.aclose()

    import subprocess
    import sys

    env["LEDGERQL_ENCRYPTION_KEYS"] = f"{new},{old}"
    done = subprocess.run([sys.executable, "-m", "ledgerql.cli", "rotate-keys"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 4 connection secrets" in done.stdout

    only_new = SecretBox([new.encode()])
    database = SQLiteDatabase(path)
    rows = await database.fetch("SELECT connection_id, sealed FROM ledgerql_connection_secrets")
    await database.aclose()
    opened = {r["connection_id"]: only_new.open(r["sealed"]) for r in rows}
    for provider, token in expected.items():
        assert opened[connection_id(provider)]["access_token"] == token


async def test_postgres_locks_are_exclusive_across_connections(postgres_url: str) -> None:
    """Two holders of the same name never overlap (the lock that makes refresh single-flight across
    processes); different names do not wait for each other."""
    import asyncio

    a, b = PostgresDatabase(postgres_url), PostgresDatabase(postgres_url)
    locks_a, locks_b = PostgresLocks(a), PostgresLocks(b)
    name = f"test:{uuid.uuid4().hex}"
    inside: list[str] = []
    overlaps = 0

    async def work(locks: PostgresLocks, who: str) -> None:
        nonlocal overlaps
        async with locks.hold(name):
            inside.append(who)
            if len(inside) > 1:
                overlaps += 1
            await asyncio.sleep(0.05)
            inside.remove(who)

    try:
        await asyncio.gather(*(work(locks_a if i % 2 else locks_b, str(i)) for i in range(6)))
        assert overlaps == 0
        async with locks_a.hold(name):
            async with asyncio.timeout(2):
                async with locks_b.hold(name + ":other"):
                    pass
    finally:
        await a.aclose()
        await b.aclose()
