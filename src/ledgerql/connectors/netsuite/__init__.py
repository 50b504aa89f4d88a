"""The NetSuite connector: REST Web Services, read through SuiteQL.

- API root `{base_url}/services/rest` (the base URL already carries the account's host).
- OAuth 2.0: bearer access tokens; refresh at `config.token_url` with HTTP Basic client credentials and
  `grant_type=refresh_token`. NetSuite does not rotate the refresh token for confidential clients, so
  the old one is kept unless a new one is sent.
- Every list, batch by id, count and reverse reference is a SuiteQL statement
  (`POST /query/v1/suiteql?limit=&offset=`, `Prefer: transient`): the record API's collection GET
  answers ids only, which would cost one call per record.
- A page of documents is ONE statement (header + lines, or header + applications); credit memos take
  a second one for their applications. Batches by id are one statement per chunk of ids.
- Unified ids are NetSuite internal ids; tracking options are "department:<id>" / "location:<id>"
  under the synthesized roots "dimension:department" and "dimension:location"; journals are derived
  (one General Journal holds every journal entry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ledgerql.connectors.base import ConnectionConfig, ListFilter, Page, WriteProgress
from ledgerql.connectors.http import Tokens, UpstreamClient, decimal_json, oauth_error
from ledgerql.connectors.mapping import ProviderMapping
from ledgerql.connectors.netsuite import suiteql as q
from ledgerql.connectors.netsuite.convert import Converter, strip_links
from ledgerql.connectors.netsuite.suiteql import DOCUMENTS, REFERENCES, DocumentSpec
from ledgerql.connectors.netsuite.writes import (
    ENTITY_TABLES,
    RECORD_TYPES,
    NetSuiteWrites,
    build_payload,
    id_from_location,
    sql_text,
)
from ledgerql.model.entities import Record
from ledgerql.model.enums import Operation, Provider, Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError

__all__ = ["NetSuiteConnector"]

SUITEQL_PATH = "/query/v1/suiteql"


class NetSuiteConnector(NetSuiteWrites):
    provider = Provider.NETSUITE

    def __init__(self, config: ConnectionConfig, mapping: ProviderMapping, http: UpstreamClient) -> None:
        super().__init__(config, mapping, http)
        quirks = mapping.quirks
        self.max_rows = int(quirks.get("suiteql_max_rows", 1000))
        self.in_list_max = int(quirks.get("in_list_max", 1000))
        self.zone = ZoneInfo(str(quirks.get("account_timezone", "UTC")))
        journal = quirks.get("derived_journal") or {"id": "general", "name": "General Journal", "code": "GJ"}
        self.convert = Converter(mapping, {k: str(v) for k, v in journal.items()})
        self._currency_ids: dict[str, str] | None = None  # ISO code -> currency internal id

    # -- build hooks -----------------------------------------------------------------------------
    @classmethod
    def api_root(cls, config: ConnectionConfig) -> str:
        return f"{config.base_url.rstrip('/')}/services/rest"

    @classmethod
    async def refresh_tokens(cls, config: ConnectionConfig, client: httpx.AsyncClient, current: Tokens) -> Tokens:
        if not config.token_url or not current.refresh_token:
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED, "NETSUITE: the connection has no refresh token",
                                connectionId=config.id)
        response = await client.post(
            config.token_url, data={"grant_type": "refresh_token", "refresh_token": current.refresh_token},
            auth=(config.client_id or "", current.client_secret or ""),
            headers={"Accept": "application/json"})
        if response.status_code >= 500:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                f"NETSUITE's token endpoint failed ({response.status_code})", connectionId=config.id)
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not response.is_success or not isinstance(body, dict) or not body.get("access_token"):
            reason = body.get("error") if isinstance(body, dict) else None
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED,
                                "NETSUITE refused to refresh the connection's tokens"
                                + (f" ({reason})" if reason else "") + "; reconnect the account",
                                connectionId=config.id, upstreamStatus=response.status_code,
                                oauthError=oauth_error(response))
        # NetSuite does not rotate its refresh token: `from_grant` keeps the current one.
        return Tokens.from_grant(body, current)

    @staticmethod
    def error_message(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        details = body.get("o:errorDetails")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            detail = details[0].get("detail")
            code = details[0].get("o:errorCode")
            if detail:
                return f"{detail} ({code})" if code else str(detail)
        if body.get("title"):
            return str(body["title"])
        return str(body.get("error_description") or body.get("error") or "")

    # -- SuiteQL ---------------------------------------------------------------------------------
    async def _suiteql(self, statement: str, limit: int, offset: int = 0) -> dict[str, Any]:
        response = await self.http.request("POST", SUITEQL_PATH, params={"limit": limit, "offset": offset},
                                           json_body={"q": statement}, headers={"Prefer": "transient"},
                                           retry=True)  # a read, though sent as POST
        body = decimal_json(response)
        return body if isinstance(body, dict) else {}

    async def _all_rows(self, statement: str) -> list[dict[str, Any]]:
        """Every row of a statement, at the largest page (one call unless it exceeds `max_rows`)."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = await self._suiteql(statement, self.max_rows, offset)
            items = [strip_links(item) for item in body.get("items") or []]
            rows.extend(items)
            if not body.get("hasMore") or not items:
                return rows
            offset += len(items)

    def _chunks(self, ids: list[int]) -> list[list[int]]:
        size = max(1, self.in_list_max)
        return [ids[i:i + size] for i in range(0, len(ids), size)]

    # -- lists -----------------------------------------------------------------------------------
    async def fetch_page(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                         limit: int) -> Page:
        if state is None:
            state = {"o": 0, "n": self.page_size(resource, limit)}
        offset, size = int(state["o"]), int(state["n"])
        if resource in DOCUMENTS:
            return await self._document_page(resource, DOCUMENTS[resource], filter, state, offset, size)
        if resource == Resource.TRACKING_CATEGORIES:
            records = await self._tracking_categories(filter)
            return Page(records=records, state=state, next_state=None, page_size=size, total=len(records))
        if resource == Resource.JOURNALS:
            journals = [] if filter.updated_since else [self.convert.general_journal()]
            return Page(records=list(journals), state=state, next_state=None, page_size=size, total=len(journals))
        spec = REFERENCES[resource]
        statement = q.reference_select(spec, q.reference_conditions(spec, filter, self.zone))
        if resource == Resource.COMPANY_INFO:
            size = 1  # the root subsidiary (lowest internal id) stands for the company
        body = await self._suiteql(statement, size, offset)
        items = body.get("items") or []
        total = body.get("totalResults")
        records = [self.convert.reference(resource, row) for row in items]
        more = bool(body.get("hasMore")) and resource != Resource.COMPANY_INFO
        next_state = {"o": offset + size, "n": size} if more and items else None
        return Page(records=records, state=state, next_state=next_state, page_size=size,
                    total=int(total) if total is not None and resource != Resource.COMPANY_INFO else None)

    async def _document_page(self, resource: Resource, spec: DocumentSpec, filter: ListFilter,
                             state: dict[str, Any], offset: int, size: int) -> Page:
        conditions = q.document_conditions(spec, filter, self.zone)
        rows = await self._all_rows(q.document_page(spec, conditions, offset, size))
        total = int(rows[0]["ndocs"]) if rows else (0 if offset == 0 else None)
        records = await self._documents(resource, spec, rows)
        more = total is not None and offset + size < total
        return Page(records=records, state=state, next_state={"o": offset + size, "n": size} if more else None,
                    page_size=size, total=total)

    async def _documents(self, resource: Resource, spec: DocumentSpec, rows: list[dict[str, Any]]) -> list[Record]:
        links: dict[str, list[dict[str, Any]]] | None = None
        if spec.extra_links and rows:
            ids = q.int_ids(str(r["id"]) for r in rows)
            links = {}
            for chunk in self._chunks(ids):
                for row in await self._all_rows(q.applications(spec, chunk)):
                    links.setdefault(str(row["a_next"]), []).append(
                        {"doc": row.get("a_doc"), "amount": row.get("a_amount")})
        return self.convert.documents(resource, spec, rows, links)

    async def _tracking_categories(self, filter: ListFilter) -> list[Record]:
        conditions: dict[str, list[str]] = {}
        for table in q.DIMENSION_TABLES:
            where = []
            if filter.updated_since:
                where.append(f"r.lastmodifieddate > {q.timestamp_literal(filter.updated_since, self.zone)}")
            conditions[table] = where
        rows = await self._all_rows(q.dimension_options(conditions))
        # The two roots are synthesized (NetSuite has no record for a dimension) and never change.
        roots: list[Record] = [] if filter.updated_since else list(self.convert.tracking_roots())
        return roots + [self.convert.tracking_option(row) for row in rows]

    # -- batches by id ---------------------------------------------------------------------------
    async def fetch_by_ids(self, resource: Resource, ids: list[str]) -> dict[str, Record]:
        found: dict[str, Record] = {}
        if resource == Resource.JOURNALS:
            journal = self.convert.general_journal()
            return {journal.id: journal} if journal.id in ids else {}
        if resource == Resource.TRACKING_CATEGORIES:
            return await self._tracking_by_ids(ids)
        wanted = q.int_ids(ids)
        if not wanted:
            return found
        if resource in DOCUMENTS:
            spec = DOCUMENTS[resource]
            conditions = [f"t.type = '{spec.type_code}'", f"t.id IN {q.in_list(wanted)}"]
            rows = await self._all_rows(q.document_rows(spec, conditions))
            records = await self._documents(resource, spec, rows)
        else:
            ref = REFERENCES[resource]
            conditions = [*q.reference_conditions(ref, ListFilter(), self.zone), f"r.id IN {q.in_list(wanted)}"]
            rows = await self._all_rows(q.reference_select(ref, conditions))
            records = [self.convert.reference(resource, row) for row in rows]
        return {r.id: r for r in records}

    async def _tracking_by_ids(self, ids: Sequence[str]) -> dict[str, Record]:
        found: dict[str, Record] = {r.id: r for r in self.convert.tracking_roots() if r.id in ids}
        by_table: dict[str, list[int]] = {}
        for value in ids:
            dimension, _, internal = str(value).partition(":")
            if dimension in q.DIMENSION_TABLES and internal:
                by_table.setdefault(dimension, []).extend(q.int_ids([internal]))
        by_table = {t: v for t, v in by_table.items() if v}
        if by_table:
            statement = q.dimension_options({t: [f"r.id IN {q.in_list(v)}"] for t, v in by_table.items()})
            for row in await self._all_rows(statement):
                option = self.convert.tracking_option(row)
                found[option.id] = option
        return found

    # -- counts ----------------------------------------------------------------------------------
    async def count(self, resource: Resource, filter: ListFilter) -> int:
        """NetSuite's `totalResults` of a one-row SuiteQL page: one call, whatever the size."""
        self.require(resource, Operation.LIST)
        if resource in DOCUMENTS:
            statement = q.document_count(q.document_conditions(DOCUMENTS[resource], filter, self.zone))
        elif resource in REFERENCES and resource != Resource.COMPANY_INFO:
            spec = REFERENCES[resource]
            statement = q.reference_count(spec, q.reference_conditions(spec, filter, self.zone))
        else:
            return await super().count(resource, filter)
        body = await self._suiteql(statement, 1, 0)
        return int(body.get("totalResults") or 0)

    # -- reverse references ----------------------------------------------------------------------
    async def find_allocated_to(self, resource: Resource, document_ids: Sequence[str]) -> list[Record]:
        """Payments / bill payments / credit memos applied to any of these documents: one statement
        (plus one for credit memos' applications) per chunk of document ids."""
        spec = DOCUMENTS.get(resource)
        if spec is None or spec.applies_to is None:
            return await super().find_allocated_to(resource, document_ids)
        self.require(resource, Operation.LIST)
        targets = q.int_ids(document_ids)
        records: dict[str, Record] = {}
        for chunk in self._chunks(targets):
            conditions = [f"t.type = '{spec.type_code}'", q.applied_to(spec, chunk)]
            rows = await self._all_rows(q.document_rows(spec, conditions))
            for record in await self._documents(resource, spec, rows):
                records.setdefault(record.id, record)
        return list(records.values())


    # -- writes ----------------------------------------------------------------------------------
    async def create_record(self, resource: Resource, record: Record, *, idempotency_key: str | None,
                            progress: WriteProgress) -> Record:
        """POST /record/v1/{type} (204 + Location), then read the new record back through SuiteQL.

        With a key: `X-NetSuite-Idempotency-Key` (so the POST may be retried: NetSuite runs it once) and
        `externalId` = the key (so `find_created` finds the record after a lost answer, and NetSuite
        refuses a second record with the same external id)."""
        record_type = RECORD_TYPES.get(resource)
        if record_type is None:
            return await super().create_record(resource, record, idempotency_key=idempotency_key,
                                               progress=progress)
        created_id = progress.get("netsuiteId")
        if created_id is None:
            await self._load_currencies()
            payload = build_payload(resource, record, self._currency_ref)
            headers: dict[str, str] = {}
            if idempotency_key:
                payload["externalId"] = idempotency_key
                headers["X-NetSuite-Idempotency-Key"] = idempotency_key
            try:
                response = await self.http.request("POST", f"/record/v1/{record_type}", json_body=payload,
                                                   headers=headers, retry=bool(idempotency_key))
            except LedgerQLError as error:
                # The same external id exists already: an earlier attempt wrote it; answer that record.
                duplicate = error.code == ErrorCode.BAD_USER_INPUT and "external id" in error.message.lower()
                if idempotency_key and duplicate:
                    earlier = await self.find_created(resource, idempotency_key)
                    if earlier is not None:
                        return earlier
                raise
            location = response.headers.get("location")
            if not location:
                raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                    f"NETSUITE created a {record_type} but did not say where (no Location)",
                                    connectionId=self.config.id)
            created_id = id_from_location(location)
            await progress.mark("netsuiteId", created_id)
        created = (await self.fetch_by_ids(resource, [str(created_id)])).get(str(created_id))
        if created is None:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                f"NETSUITE created {record_type} {created_id} but it cannot be read back yet",
                                connectionId=self.config.id)
        return created

    async def find_created(self, resource: Resource, idempotency_key: str) -> Record | None:
        """The record an earlier attempt with this key created: its `externalId` is the key."""
        if not idempotency_key:
            return None
        if resource in DOCUMENTS:
            statement = (f"SELECT t.id FROM transaction t WHERE t.type = '{DOCUMENTS[resource].type_code}' "
                         f"AND t.externalid = {sql_text(idempotency_key)}")
        elif resource in ENTITY_TABLES:
            statement = f"SELECT r.id FROM {ENTITY_TABLES[resource]} r WHERE r.externalid = {sql_text(idempotency_key)}"
        else:
            return None
        rows = await self._all_rows(statement)
        ids = [str(row["id"]) for row in rows if row.get("id") is not None]
        if not ids:
            return None
        found = await self.fetch_by_ids(resource, ids[:1])
        return found.get(ids[0])

    async def _load_currencies(self) -> None:
        if self._currency_ids is None:
            rows = await self._all_rows("SELECT id, symbol FROM currency ORDER BY id")
            self._currency_ids = {str(row["symbol"]).upper(): str(row["id"]) for row in rows if row.get("symbol")}

    def _currency_ref(self, code: str) -> dict[str, str]:
        internal = (self._currency_ids or {}).get(code.upper())
        if internal is None:
            raise LedgerQLError(ErrorCode.BAD_USER_INPUT,
                                f"NETSUITE: the currency {code} is not enabled in this account",
                                inputPath=["input", "currency"])
        return {"id": internal}
