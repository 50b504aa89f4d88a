"""The gateway's long-lived state: tenancy, connections, their connectors, the vault and the caches.

One `Gateway` lives per process. Connectors (and their HTTP clients) are built once per connection
and shared by requests; everything per-request lives in `RequestContext`. What several processes
must agree on (accounts, keys, connections, tokens, idempotency records) lives in the store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import httpx

from ledgerql.connectors import connector_class
from ledgerql.connectors.base import ConnectionConfig, Connector
from ledgerql.connectors.cache import RecordCache
from ledgerql.connectors.http import Tokens
from ledgerql.connectors.ratelimit import MemoryRateStore, RateStore
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.schema.pagination import CursorCodec
from ledgerql.store.database import Database, SQLiteDatabase
from ledgerql.store.idempotency import IdempotencyStore, memory_idempotency_store
from ledgerql.store.tenancy import TenancyStore
from ledgerql.tenancy.crypto import SecretBox, derive_key
from ledgerql.tenancy.locks import LocalLocks, Locks
from ledgerql.tenancy.principal import Principal
from ledgerql.tenancy.service import Tenancy, config_of
from ledgerql.tenancy.vault import TokenVault


@dataclass
class Gateway:
    secret_key: bytes
    transport: httpx.AsyncBaseTransport | None = None  # in-process sandboxes; None = real network
    # Accounts, users, keys, connections and sealed tokens: SQLite in memory unless configured.
    database: Database = field(default_factory=lambda: SQLiteDatabase(":memory:"))
    box: SecretBox | None = None  # how secrets are sealed; derived from `secret_key` unless configured
    locks: Locks = field(default_factory=LocalLocks)  # token refresh, one at a time per connection
    idempotency: IdempotencyStore = field(default_factory=memory_idempotency_store)
    # Keep each connection within its provider's declared rate limits (off only for benchmarks).
    rate_limits: bool = True
    # Reference data shared across requests (memory here; Redis when configured); None = no cache.
    cache: RecordCache | None = field(default_factory=RecordCache.memory)
    # Where the connections' rate budgets live: this process (default) or Redis, shared by all processes.
    rate_store: RateStore = field(default_factory=MemoryRateStore)
    connections: dict[str, ConnectionConfig] = field(default_factory=dict)  # loaded from the store on demand
    _connectors: dict[str, Connector] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cursors = CursorCodec(hashlib.sha256(b"cursor:" + self.secret_key).digest())
        box = self.box or SecretBox([derive_key(self.secret_key)])
        self.store = TenancyStore(self.database)
        self.tenancy = Tenancy(self.store, box, hashlib.sha256(b"api-key:" + self.secret_key).digest())
        self.tokens = TokenVault(self.store, box, self.locks)
        self._started = False

    async def start(self) -> None:
        """Bring the store's schema up to date (idempotent; safe from several processes at once)."""
        if not self._started:
            await self.store.migrate()
            self._started = True

    # -- who is asking -----------------------------------------------------------------------------
    async def authenticate(self, key: str | None, account_id: str | None = None) -> Principal:
        await self.start()
        principal = await self.tenancy.authenticate(key, account_id)
        await self.load_connections(principal.connection_ids)
        return principal

    # -- connections -----------------------------------------------------------------------------
    async def add_connection(self, config: ConnectionConfig, tokens: Tokens, *, account_id: str) -> None:
        """Register (or re-register) a connection of an account with its tokens, sealed in the store."""
        await self.start()
        await self.tenancy.register_connection(account_id, config, tokens)
        self.tokens.forget(config.id)
        await self._use(config)

    async def load_connections(self, connection_ids: frozenset[str]) -> None:
        """Make the configs of these connections known to this process (another may have registered them)."""
        for connection_id in connection_ids - self.connections.keys():
            row = await self.store.connection(connection_id)
            if row is not None:
                await self._use(config_of(row))

    async def _use(self, config: ConnectionConfig) -> None:
        self.connections[config.id] = config
        old = self._connectors.pop(config.id, None)
        if old is not None:
            await old.aclose()

    def connector(self, connection_id: str) -> Connector:
        connector = self._connectors.get(connection_id)
        if connector is None:
            config = self.connections.get(connection_id)
            if config is None:
                raise LedgerQLError(ErrorCode.NOT_FOUND, f"No connection with id {connection_id!r}")
            connector = connector_class(config.provider).build(config, self.tokens, self.transport,
                                                               rate_limits=self.rate_limits)
            connector.cache = self.cache
            connector.http.governor.use(self.rate_store)
            self._connectors[connection_id] = connector
        return connector

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            await connector.aclose()
        self._connectors.clear()
        await self.idempotency.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        await self.rate_store.aclose()
        await self.store.aclose()
        closer = getattr(self.locks, "aclose", None)
        if closer is not None:
            await closer()
