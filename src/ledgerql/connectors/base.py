"""The connector protocol: what the schema and loaders ask of every provider.

A connector turns unified questions ("a page of bills updated since T", "these 40 suppliers by
id", "the payments of these invoices") into its provider's calls, and the answers into unified
models. Paging state is the provider's own (a start position, a page number, a skip token, an
offset) carried as a small JSON-able dict inside our opaque cursors, so a cursor never expires.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from ledgerql.connectors.cache import RecordCache
from ledgerql.connectors.http import Tokens, TokenStore, UpstreamClient, current_stats
from ledgerql.connectors.mapping import ProviderMapping, load_mapping
from ledgerql.connectors.resilience import RateGovernor
from ledgerql.model.entities import ENTITY_TYPES, CompanyInfo, Record
from ledgerql.model.enums import DocumentStatus, Operation, Provider, Resource, Support
from ledgerql.model.errors import ErrorCode, LedgerQLError, unsupported
from ledgerql.model.rules import derived_status

# Set for a request whose client asked for fresh data: the cache is neither read nor filled.
cache_bypass: contextvars.ContextVar[bool] = contextvars.ContextVar("ledgerql_cache_bypass", default=False)


def note_cache_hit(count: int = 1) -> None:
    stats = current_stats.get()
    if stats is not None:
        stats.cache_hits += count


class ConnectionConfig(BaseModel):
    """Where and as whom to reach one provider company. Secrets are kept by the token store."""

    model_config = ConfigDict(extra="forbid")

    id: str
    provider: Provider
    name: str
    base_url: str
    tenant_id: str
    token_url: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class ListFilter:
    """Unified list filters. Connectors push what their provider can filter and check the rest."""

    updated_since: datetime | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    customer_id: str | None = None
    supplier_id: str | None = None

    def fingerprint(self) -> str:
        """Stable short hash: a cursor is only valid for the filter it was made with."""
        data = json.dumps(asdict(self), default=str, sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:12]

    def is_empty(self) -> bool:
        return not any(asdict(self).values())


@dataclass
class Page:
    """One upstream page. `next_state` is None on the last page."""

    records: list[Record]
    state: dict[str, Any]
    next_state: dict[str, Any] | None
    page_size: int
    total: int | None = None  # when the provider reports it for free


class WriteProgress:
    """The persisted steps of one write (backed by its idempotency record)."""

    def __init__(self, steps: dict[str, Any] | None = None,
                 saver: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> None:
        self.steps: dict[str, Any] = dict(steps or {})
        self._saver = saver

    def get(self, step: str) -> Any:
        return self.steps.get(step)

    async def mark(self, step: str, value: Any) -> None:
        self.steps[step] = value
        if self._saver is not None:
            await self._saver(self.steps)


@dataclass
class Coverage:
    resource: Resource
    operations: dict[Operation, Support] = field(default_factory=dict)
    fallback: str | None = None


class Connector(ABC):
    """Base of the four connectors. Subclasses implement `fetch_page`, `fetch_by_ids` and mapping."""

    provider: Provider

    def __init__(self, config: ConnectionConfig, mapping: ProviderMapping, http: UpstreamClient) -> None:
        self.config = config
        self.mapping = mapping
        self.http = http
        self.cache: RecordCache | None = None  # set by the gateway; reference data only

    def _cache_ttl(self, resource: Resource) -> int | None:
        if self.cache is None or cache_bypass.get():
            return None
        return self.mapping.resource(resource).cache_ttl

    @classmethod
    def build(cls, config: ConnectionConfig, tokens: TokenStore,
              transport: httpx.AsyncBaseTransport | None = None, *, rate_limits: bool = True) -> Connector:
        """A connector for one connection, its HTTP client rooted at the provider's API. With
        `rate_limits` the client keeps within the provider's declared limits."""
        mapping = load_mapping(cls.provider)
        limits = mapping.rate_limits
        governor = RateGovernor(per_second=limits.per_second, per_minute=limits.per_minute,
                                per_day=limits.per_day, concurrent=limits.concurrent) if rate_limits else \
            RateGovernor(concurrent=limits.concurrent)

        async def refresh(client: httpx.AsyncClient, current: Tokens) -> Tokens:
            return await cls.refresh_tokens(config, client, current)

        http = UpstreamClient(connection_id=config.id, provider=cls.provider.value,
                              base_url=cls.api_root(config), tokens=tokens, refresh=refresh,
                              error_message=cls.error_message, timeout=mapping.timeout_seconds,
                              transport=transport, default_headers=cls.default_headers(config),
                              governor=governor)
        return cls(config, mapping, http)

    # -- provider hooks for `build` ----------------------------------------------------------------
    @classmethod
    @abstractmethod
    def api_root(cls, config: ConnectionConfig) -> str:
        """The URL every API path is relative to (e.g. `{base}/v3/company/{realm}`)."""

    @classmethod
    def default_headers(cls, config: ConnectionConfig) -> dict[str, str]:
        """Headers on every call (e.g. Xero's `xero-tenant-id`)."""
        return {}

    @classmethod
    @abstractmethod
    async def refresh_tokens(cls, config: ConnectionConfig, client: httpx.AsyncClient, current: Tokens) -> Tokens:
        """Exchange the refresh token at the provider's token endpoint, as that provider does it.
        Raise `LedgerQLError(UPSTREAM_AUTH_EXPIRED)` when the provider refuses the refresh token."""

    @staticmethod
    @abstractmethod
    def error_message(response: httpx.Response) -> str:
        """The human message inside the provider's error envelope (never tokens or secrets)."""

    # -- capability ------------------------------------------------------------------------------
    def support(self, resource: Resource, operation: Operation) -> Support:
        return self.mapping.support(resource, operation)

    def require(self, resource: Resource, operation: Operation) -> Support:
        """Raise UNSUPPORTED_BY_PROVIDER before any upstream call when the provider cannot do it."""
        support = self.support(resource, operation)
        if support == Support.UNSUPPORTED:
            raise unsupported(self.provider.value, resource.value, operation.value)
        return support

    def coverage(self) -> list[Coverage]:
        """Generated from the mapping: never hand-kept."""
        result = []
        for resource in Resource:
            mapped = self.mapping.resource(resource)
            result.append(Coverage(resource=resource,
                                   operations={op: mapped.support(op) for op in Operation},
                                   fallback=mapped.fallback))
        return result

    def page_size(self, resource: Resource, requested: int) -> int:
        return self.mapping.page_size(resource, requested)

    # -- reads -----------------------------------------------------------------------------------
    async def list_page(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                        limit: int) -> Page:
        """One upstream page of `resource`. `state` None starts at the beginning with `limit` rows
        per page (clamped to what the provider allows); a state from an earlier `Page` resumes.

        Whatever filter the provider could not apply upstream is applied here, so every connector
        answers a filter exactly (a page may then hold fewer rows than asked for).
        """
        self.require(resource, Operation.LIST)
        ttl = self._cache_ttl(resource)
        if ttl and self.cache is not None:
            cache = self.cache
            key = await cache.key(self.config.id, resource.value, "page", filter.fingerprint(),
                                  json.dumps(state, sort_keys=True), str(limit))
            return await cache.single_flight(key, lambda: self._cached_page(cache, key, ttl, resource, filter,
                                                                             state, limit))
        return await self._fetch_filtered(resource, filter, state, limit)

    async def _fetch_filtered(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                              limit: int) -> Page:
        page = await self.fetch_page(resource, filter, state, limit)
        if not filter.is_empty():
            page.records = [r for r in page.records if matches(r, filter)]
        return page

    async def _cached_page(self, cache: RecordCache, key: str, ttl: int, resource: Resource, filter: ListFilter,
                           state: dict[str, Any] | None, limit: int) -> Page:
        meta = await cache.backend.get(key + ":meta")
        records = await cache.get_records(key, resource.value) if meta is not None else None
        if records is not None and meta is not None:
            note_cache_hit()
            info = json.loads(meta)
            return Page(records=records, state=info["state"], next_state=info["next"], page_size=info["size"],
                        total=info["total"])
        page = await self._fetch_filtered(resource, filter, state, limit)
        await cache.set_records(key, page.records, ttl)
        await cache.backend.set(key + ":meta", json.dumps({"state": page.state, "next": page.next_state,
                                                           "size": page.page_size, "total": page.total}), ttl=ttl)
        return page

    async def get_many(self, resource: Resource, ids: Sequence[str]) -> dict[str, Record]:
        """Records by id, in as few calls as the provider allows; missing ids are absent."""
        self.require(resource, Operation.GET)
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        found: dict[str, Record] = {}
        ttl = self._cache_ttl(resource)
        keys: dict[str, str] = {}
        if ttl and self.cache is not None:
            for ident in wanted:
                keys[ident] = await self.cache.key(self.config.id, resource.value, "id", ident)
            for ident, key in keys.items():
                cached = await self.cache.get_records(key, resource.value)
                if cached:
                    found[ident] = cached[0]
            if found:
                note_cache_hit(len(found))
            wanted = [i for i in wanted if i not in found]
        size = max(1, self.mapping.batch_size)
        for start in range(0, len(wanted), size):
            fetched = await self.fetch_by_ids(resource, wanted[start:start + size])
            found.update(fetched)
            if ttl and self.cache is not None:
                for ident, record in fetched.items():
                    await self.cache.set_records(keys[ident], [record], ttl)
        return found

    async def fetch_balances(self, resource: Resource, ids: Sequence[str]) -> dict[str, Decimal]:
        """Open balances of documents whose records came without them (`Document.balance_deferred`).
        A connector that defers balances overrides this with its provider's open-items call."""
        found = await self.get_many(resource, ids)
        return {i: found[i].balance for i in ids if i in found}  # type: ignore[attr-defined]

    async def resolve_deferred(self, resource: Resource, name: str, records: Sequence[Record]) -> dict[str, Any]:
        """Values of a field this connector deferred (`Record.deferred`), by record id, for a batch of
        records. The schema calls it only when a client selects the field; a connector that defers a
        field overrides this for it. Open balances of documents go to `fetch_balances`."""
        if name == "balance":
            return dict(await self.fetch_balances(resource, [r.id for r in records]))
        raise LedgerQLError(ErrorCode.INTERNAL, f"{self.provider.value} deferred {resource.value}.{name} "
                                                "but cannot resolve it")

    async def count(self, resource: Resource, filter: ListFilter) -> int:
        """How many records match. The default pages through; providers with a count override."""
        self.require(resource, Operation.LIST)
        total, state = 0, None
        while True:
            page = await self._fetch_filtered(resource, filter, state, self.mapping.paging.max_size)
            if page.total is not None and filter.is_empty():
                return page.total
            total += len(page.records)
            if page.next_state is None:
                return total
            state = page.next_state

    async def company_info(self) -> CompanyInfo | None:
        """The company this connection reads (one call, or none when cached)."""
        self.require(Resource.COMPANY_INFO, Operation.GET)
        page = await self.list_page(Resource.COMPANY_INFO, ListFilter(), None, 1)
        company = page.records[0] if page.records else None
        return company if isinstance(company, CompanyInfo) else None

    async def list_all(self, resource: Resource, filter: ListFilter | None = None) -> list[Record]:
        """Every record of a resource, page by page at the largest page size."""
        self.require(resource, Operation.LIST)
        records: list[Record] = []
        state: dict[str, Any] | None = None
        while True:
            page = await self.fetch_page(resource, filter or ListFilter(), state, self.mapping.paging.max_size)
            records.extend(page.records)
            if page.next_state is None:
                return records
            state = page.next_state

    async def find_allocated_to(self, resource: Resource, document_ids: Sequence[str]) -> list[Record]:
        """Payments, bill payments or credit notes allocated to any of these documents.

        Reverse references (invoice → payments) are answered from one listing, not per row. The
        default lists every record once; a provider that can filter by document overrides this.
        """
        wanted = set(document_ids)
        return [r for r in await self.list_all(resource)
                if any(a.document_id in wanted for a in getattr(r, "allocations", []))]

    # -- writes ----------------------------------------------------------------------------------
    async def create(self, resource: Resource, record: Record, *, idempotency_key: str | None,
                     progress: WriteProgress) -> Record:
        """Create `record` (validated, totals computed, references as this connection's ids) and return
        it as the provider now holds it. Raises UNSUPPORTED_BY_PROVIDER before any call when the
        provider cannot. `idempotency_key` goes to the provider's own mechanism where it has one;
        `progress` persists the steps of a multi-step write so a retry resumes instead of repeating."""
        self.require(resource, Operation.CREATE)
        created = await self.create_record(resource, record, idempotency_key=idempotency_key, progress=progress)
        await self.invalidate(resource)
        return created

    async def invalidate(self, resource: Resource) -> None:
        """Forget cached records of a resource after a write changed it (in every process sharing the cache)."""
        if self.cache is not None:
            await self.cache.invalidate(self.config.id, resource.value)

    async def create_record(self, resource: Resource, record: Record, *, idempotency_key: str | None,
                            progress: WriteProgress) -> Record:
        raise unsupported(self.provider.value, resource.value, Operation.CREATE.value)

    def check_write(self, resource: Resource, operation: Operation, data: dict[str, Any],
                    current: Record | None = None) -> None:
        """Refuse (raise) an input this provider would store as something else, before any write: `data`
        is the create input, or for an update the input merged over `current`. Default: nothing to refuse."""
        return None

    # Unified input fields (snake_case) an update may change, per resource; None: every field.
    # A provider whose API cannot change a field says so here, so it is refused before any call.
    def updatable_fields(self, resource: Resource) -> frozenset[str] | None:
        return None

    async def update(self, resource: Resource, record: Record, current: Record, *, changed: frozenset[str],
                     idempotency_key: str | None) -> Record:
        """Replace `current` by `record` (validated, totals computed; `changed` names the unified input
        fields the client gave) and return it as the provider now holds it."""
        self.require(resource, Operation.UPDATE)
        updated = await self.update_record(resource, record, current, changed=changed,
                                           idempotency_key=idempotency_key)
        await self.invalidate(resource)
        return updated

    async def void(self, resource: Resource, current: Record, *, idempotency_key: str | None) -> Record:
        """Void a document or payment (it stays, with status VOIDED / nothing owed) and return it."""
        self.require(resource, Operation.VOID)
        voided = await self.void_record(resource, current, idempotency_key=idempotency_key)
        await self.invalidate_after_change(resource)
        return voided

    async def delete(self, resource: Resource, current: Record, *, idempotency_key: str | None) -> None:
        """Delete a record; raise NOT_FOUND when the provider no longer has it."""
        self.require(resource, Operation.DELETE)
        await self.delete_record(resource, current, idempotency_key=idempotency_key)
        await self.invalidate_after_change(resource)

    async def invalidate_after_change(self, resource: Resource) -> None:
        """A void or delete also moves the balances of the documents a payment or credit note pointed at."""
        await self.invalidate(resource)
        for related in _RELATED.get(resource, ()):
            await self.invalidate(related)

    async def update_record(self, resource: Resource, record: Record, current: Record, *, changed: frozenset[str],
                            idempotency_key: str | None) -> Record:
        raise unsupported(self.provider.value, resource.value, Operation.UPDATE.value)

    async def void_record(self, resource: Resource, current: Record, *, idempotency_key: str | None) -> Record:
        raise unsupported(self.provider.value, resource.value, Operation.VOID.value)

    async def delete_record(self, resource: Resource, current: Record, *, idempotency_key: str | None) -> None:
        raise unsupported(self.provider.value, resource.value, Operation.DELETE.value)

    async def find_created(self, resource: Resource, idempotency_key: str) -> Record | None:
        """The record an earlier attempt with this key created, for providers without native
        idempotency (the key is written into the record); None when there is none."""
        return None

    # -- provider specifics ------------------------------------------------------------------------
    @abstractmethod
    async def fetch_page(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                         limit: int) -> Page: ...

    @abstractmethod
    async def fetch_by_ids(self, resource: Resource, ids: list[str]) -> dict[str, Record]: ...

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def entity_type(resource: Resource) -> type[Record]:
        return ENTITY_TYPES[resource.value]


# What else a void or delete of a resource changes (documents' balances).
_RELATED: dict[Resource, tuple[Resource, ...]] = {
    Resource.PAYMENTS: (Resource.INVOICES, Resource.CUSTOMERS),
    Resource.BILL_PAYMENTS: (Resource.BILLS, Resource.SUPPLIERS),
    Resource.CREDIT_NOTES: (Resource.INVOICES, Resource.CUSTOMERS),
    Resource.INVOICES: (Resource.PAYMENTS, Resource.CREDIT_NOTES, Resource.CUSTOMERS),
    Resource.BILLS: (Resource.BILL_PAYMENTS, Resource.SUPPLIERS),
}


def fill_deferred(record: Record, values: dict[str, Any]) -> Record:
    """A copy of `record` with deferred fields set (a document's status follows its filled balance);
    the connector's own copy, which may be cached, is left as it was."""
    if not values:
        return record
    update = dict(values)
    update["deferred"] = record.deferred - set(values)
    if "balance" in values and getattr(record, "balance_deferred", False):
        update["balance_deferred"] = False
        # As the schema answers a deferred status: the status placeholder says nothing.
        update["status"] = derived_status(DocumentStatus.AUTHORISED, record.total,  # type: ignore[attr-defined]
                                          values["balance"])
    return record.model_copy(update=update)


def matches(record: Record, filter: ListFilter) -> bool:
    """Whether a unified record satisfies a filter (fields a record lacks do not filter it)."""
    if filter.updated_since and record.updated_at and record.updated_at <= filter.updated_since:
        return False
    if filter.status and getattr(record, "status", None) not in (None, filter.status):
        return False
    when = _record_date(record)
    if when is not None:
        if filter.date_from and when < filter.date_from:
            return False
        if filter.date_to and when > filter.date_to:
            return False
    if filter.customer_id and getattr(record, "customer_id", filter.customer_id) != filter.customer_id:
        return False
    return not (filter.supplier_id and getattr(record, "supplier_id", filter.supplier_id) != filter.supplier_id)


_DATE_FIELDS = ("invoice_date", "bill_date", "issue_date", "order_date", "payment_date", "transaction_date",
                "posting_date")


def _record_date(record: Record) -> date | None:
    for name in _DATE_FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            return value
    return None
