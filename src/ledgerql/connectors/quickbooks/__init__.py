"""The QuickBooks Online connector (Accounting API v3).

Calls (all under `{base_url}/v3/company/{realmId}`, each with `?minorversion=75`):
- lists: `GET /query?query=select * from E where ... orderby Id startposition n maxresults m`; the
  paging state is `{"p": start position, "n": page size}`;
- by ids: `select * from E where Id in ('1','2')`, one query per chunk;
- counts: `select count(*) from E where ...`;
- several statements a page needs at once (the page itself and, when not fresh, the tax codes, tax
  rates and items that interpret its lines) go in one `POST /batch` of `Query` items.

Reverse references (invoice → payments, bill → bill payments, invoice → credit notes) follow the
documents' own `LinkedTxn`, remembered when the documents were read, so a whole page of documents
costs one `Id in (...)` query per target entity.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ledgerql.connectors.base import ConnectionConfig, Connector, ListFilter, Page, WriteProgress, matches
from ledgerql.connectors.http import Tokens, decimal_json, oauth_error
from ledgerql.connectors.quickbooks import query as q
from ledgerql.connectors.quickbooks.convert import (
    Converter,
    Raw,
    Tables,
    credit_memo_ids,
    header_links,
    is_credit_application,
)
from ledgerql.connectors.quickbooks.payloads import PayloadBuilder, request_id, sparse_update
from ledgerql.model import entities as m
from ledgerql.model.entities import Record
from ledgerql.model.enums import DocumentStatus, Operation, Provider, Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError

__all__ = ["QuickBooksConnector"]

#: resources served by one QBO entity, paged with the query language
PAGED = {Resource.LEDGER_ACCOUNTS, Resource.BANK_ACCOUNTS, Resource.CUSTOMERS, Resource.SUPPLIERS,
         Resource.TAX_RATES, Resource.DEPARTMENTS, Resource.LOCATIONS, Resource.INVOICES, Resource.BILLS,
         Resource.PAYMENTS, Resource.BILL_PAYMENTS, Resource.EXPENSES, Resource.CREDIT_NOTES,
         Resource.PURCHASE_ORDERS, Resource.JOURNAL_ENTRIES}
DOCUMENTS = {Resource.INVOICES, Resource.BILLS, Resource.CREDIT_NOTES, Resource.EXPENSES,
             Resource.PURCHASE_ORDERS}
PURCHASES = {Resource.BILLS, Resource.EXPENSES, Resource.PURCHASE_ORDERS}
DATED = DOCUMENTS | {Resource.PAYMENTS, Resource.BILL_PAYMENTS, Resource.JOURNAL_ENTRIES}
CUSTOMER_REF = {Resource.INVOICES, Resource.CREDIT_NOTES, Resource.PAYMENTS}
VENDOR_REF = {Resource.BILLS, Resource.BILL_PAYMENTS, Resource.PURCHASE_ORDERS}
MAX_RESULTS = 1000
LINK_MEMORY = 50_000
STALE_OBJECT = "5010"  # QBO's fault code for a SyncToken that is no longer current


class QuickBooksConnector(Connector):
    provider = Provider.QUICKBOOKS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        quirks = self.mapping.quirks
        self.minor_version = str(quirks.get("minor_version", "75"))
        self.max_batch_items = int(quirks.get("max_batch_items", 30))
        self.post_over = int(quirks.get("post_query_over_chars", 1500))
        self.reference_ttl = float(quirks.get("reference_ttl_seconds", 300))
        self.include_inactive = set(quirks.get("include_inactive", []))
        self.tables = Tables()
        self.convert = Converter(self.mapping, self.tables)
        self._tables_generation: str | None = None
        # "Invoice:12" → the document's LinkedTxn [(TxnId, TxnType)], as last read
        self._links: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()

    # -- build hooks -------------------------------------------------------------------------------
    @classmethod
    def api_root(cls, config: ConnectionConfig) -> str:
        return f"{config.base_url.rstrip('/')}/v3/company/{config.tenant_id}"

    @classmethod
    async def refresh_tokens(cls, config: ConnectionConfig, client: httpx.AsyncClient, current: Tokens) -> Tokens:
        """Intuit's token endpoint: form-encoded refresh grant, client credentials by HTTP Basic."""
        if not config.token_url or not current.refresh_token:
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED,
                                "QuickBooks credentials expired and cannot be refreshed; reconnect the company")
        response = await client.post(
            config.token_url, data={"grant_type": "refresh_token", "refresh_token": current.refresh_token},
            auth=httpx.BasicAuth(config.client_id or "", current.client_secret or ""),
            headers={"Accept": "application/json"})
        if response.status_code >= 500:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                f"QuickBooks token endpoint failed ({response.status_code})")
        if not response.is_success:
            reason = ""
            with contextlib.suppress(ValueError, AttributeError):
                reason = str(response.json().get("error") or "")
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED,
                                "QuickBooks refused to refresh the connection's tokens"
                                + (f" ({reason})" if reason else "") + "; reconnect the company",
                                connectionId=config.id, oauthError=oauth_error(response))
        body = response.json()
        # Intuit rolls the refresh token from time to time: `from_grant` keeps the newest one.
        return Tokens.from_grant(body, current)

    @staticmethod
    def error_message(response: httpx.Response) -> str:
        """`Fault.Error[0]` Message (and Detail); the 401 envelope is lowercase `fault.error`, whose
        detail quotes the token, so only its message is shown."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        fault = body.get("Fault")
        if isinstance(fault, dict) and fault.get("Error"):
            error = fault["Error"][0]
            message, detail = str(error.get("Message") or ""), str(error.get("Detail") or "")
            return f"{message}: {detail}" if detail and detail != message else message
        fault = body.get("fault")
        if isinstance(fault, dict) and fault.get("error"):
            return str(fault["error"][0].get("message") or "")
        if body.get("error"):
            return str(body["error"])
        return ""

    # -- upstream calls ----------------------------------------------------------------------------
    @property
    def _params(self) -> dict[str, str]:
        return {"minorversion": self.minor_version}

    async def _query(self, text: str) -> Raw:
        """One statement; the body of its `QueryResponse`."""
        if len(text) > self.post_over:
            response = await self.http.request("POST", "/query", params=self._params, content=text.encode(),
                                               headers={"Content-Type": "application/text"}, retry=True)  # a read
        else:
            response = await self.http.request("GET", "/query", params={**self._params, "query": text})
        body = decimal_json(response)
        result = body.get("QueryResponse") if isinstance(body, dict) else None
        return result if isinstance(result, dict) else {}

    async def _queries(self, texts: Sequence[str]) -> list[Raw]:
        """Several statements: one GET for one, else POST /batch (up to 30 queries per call)."""
        if not texts:
            return []
        if len(texts) == 1:
            return [await self._query(texts[0])]
        results: list[Raw] = []
        for start in range(0, len(texts), self.max_batch_items):
            chunk = texts[start:start + self.max_batch_items]
            items = [{"bId": f"q{start + i}", "Query": text} for i, text in enumerate(chunk)]
            response = await self.http.request("POST", "/batch", params=self._params,
                                               json_body={"BatchItemRequest": items}, retry=True)  # queries only
            body = decimal_json(response)
            answers = {str(a.get("bId")): a for a in (body or {}).get("BatchItemResponse") or []}
            for item in items:
                answer = answers.get(item["bId"])
                if answer is None:
                    raise LedgerQLError(ErrorCode.UPSTREAM_ERROR, "QuickBooks left a batch query unanswered",
                                        connectionId=self.config.id)
                if "Fault" in answer:
                    raise self._batch_fault(answer["Fault"])
                results.append(answer.get("QueryResponse") or {})
        return results

    def _batch_fault(self, fault: Raw) -> LedgerQLError:
        error = (fault.get("Error") or [{}])[0]
        code = str(error.get("code") or "")
        message = str(error.get("Message") or "") + (f": {error['Detail']}" if error.get("Detail") else "")
        if code.lstrip("0") == "3001":
            return LedgerQLError(ErrorCode.UPSTREAM_RATE_LIMITED, f"QUICKBOOKS rate limit reached: {message}",
                                 connectionId=self.config.id)
        return LedgerQLError(ErrorCode.UPSTREAM_ERROR, f"QUICKBOOKS rejected a query: {message}",
                             connectionId=self.config.id)

    # -- statements --------------------------------------------------------------------------------
    def _entity(self, resource: Resource) -> str:
        entity = self.mapping.resource(resource).entity
        assert entity, f"no QBO entity mapped for {resource.value}"
        return entity

    def _base_where(self, resource: Resource, entity: str) -> list[str]:
        where = [f"{name} = {q.quote(str(value))}" for name, value in self.mapping.resource(resource).filter.items()]
        if entity in self.include_inactive:
            where.append("Active in (true, false)")
        return where

    def _where(self, resource: Resource, entity: str, filter: ListFilter) -> list[str] | None:
        """The upstream conditions for a filter; None when nothing can match (no call needed)."""
        where = self._base_where(resource, entity)
        if filter.updated_since is not None:
            where.append(_since(filter.updated_since))
        if resource in DATED:
            if filter.date_from is not None:
                where.append(f"TxnDate >= {q.quote(filter.date_from)}")
            if filter.date_to is not None:
                where.append(f"TxnDate <= {q.quote(filter.date_to)}")
        if filter.customer_id is not None and resource in CUSTOMER_REF:
            if not filter.customer_id.isdigit():
                return None
            where.append(f"CustomerRef = {q.quote(filter.customer_id)}")
        if filter.supplier_id is not None and resource in VENDOR_REF:
            if not filter.supplier_id.isdigit():
                return None
            where.append(f"VendorRef = {q.quote(filter.supplier_id)}")
        if filter.status is not None and resource in (Resource.INVOICES, Resource.BILLS):
            status = DocumentStatus(filter.status)
            if status == DocumentStatus.PAID or (status == DocumentStatus.VOIDED and resource == Resource.INVOICES):
                where.append("Balance = '0'")  # a voided invoice owes nothing too: told apart locally
            elif status in (DocumentStatus.AUTHORISED, DocumentStatus.PARTIALLY_PAID):
                where.append("Balance > '0'")
            else:
                return None  # QBO has no draft sales/purchase documents; voids are not listed apart
        return where

    def _exact(self, resource: Resource, filter: ListFilter) -> bool:
        """Whether `_where` applies the filter exactly (so `count(*)` answers it)."""
        if filter.status is not None and (DocumentStatus(filter.status) != DocumentStatus.PAID
                                          or resource == Resource.INVOICES):  # Balance 0 holds voided ones
            return False
        if filter.customer_id is not None and resource not in CUSTOMER_REF:
            return False
        if filter.supplier_id is not None and resource not in VENDOR_REF:
            return False
        return not ((filter.date_from or filter.date_to) and resource not in DATED)

    # -- reference tables (tax codes, items) -------------------------------------------------------
    def _fresh(self, loaded_at: float | None) -> bool:
        return loaded_at is not None and time.monotonic() - loaded_at < self.reference_ttl

    def _all(self, entity: str) -> str:
        where = ["Active in (true, false)"] if entity in self.include_inactive else []
        return q.select(entity, where, start=1, size=MAX_RESULTS)

    async def _reference_generation(self) -> str | None:
        """The shared cache's generation of the data the tables mirror (tax rates, ledger accounts):
        a write through the gateway, in any process, bumps it, and the tables are then reloaded."""
        if self.cache is None:
            return None
        return "|".join([await self.cache.key(self.config.id, Resource.TAX_RATES.value, "qbo-tables"),
                         await self.cache.key(self.config.id, Resource.LEDGER_ACCOUNTS.value, "qbo-tables")])

    def forget_tables(self) -> None:
        """Treat the tax and item tables as stale: the next page reloads them (riding its batch)."""
        self.tables.tax_loaded_at = None
        self.tables.items_loaded_at = None
        self.tables.items_complete = False

    async def _table_queries(self, resource: Resource) -> list[str]:
        generation = await self._reference_generation()
        if generation != self._tables_generation:
            self.forget_tables()
            self._tables_generation = generation
        texts = []
        if resource in DOCUMENTS and not self._fresh(self.tables.tax_loaded_at):
            texts += [self._all("TaxCode"), self._all("TaxRate")]
        if resource in PURCHASES and not self._fresh(self.tables.items_loaded_at):
            texts.append(self._all("Item"))
        return texts

    def _apply_tables(self, texts: list[str], answers: list[Raw]) -> None:
        by_entity = {text.split()[3]: answer for text, answer in zip(texts, answers, strict=True)}
        now = time.monotonic()
        if "TaxCode" in by_entity:
            self.tables.set_tax(by_entity["TaxCode"].get("TaxCode") or [], by_entity["TaxRate"].get("TaxRate") or [],
                                now)
        if "Item" in by_entity:
            items = by_entity["Item"].get("Item") or []
            self.tables.set_items(items, now, complete=len(items) < MAX_RESULTS)

    async def _complete_tables(self, resource: Resource, rows: list[Raw]) -> None:
        """Fetch what the rows' lines name but the tables lack (new tax codes, new items): one call."""
        texts: list[str] = []
        codes = set().union(*(self.convert.tax_codes_of(r) for r in rows)) if rows else set()
        missing_codes = sorted(c for c in codes if c not in self.tables.tax_codes and c.isdigit())
        if missing_codes:
            texts += [q.select("TaxCode", [q.ids_in(missing_codes)], size=MAX_RESULTS, order=None),
                      self._all("TaxRate")]
        items = set().union(*(self.convert.item_ids_needing_lookup(r) for r in rows)) if rows else set()
        missing_items = sorted(i for i in items if i not in self.tables.items and i.isdigit())
        if missing_items:
            texts.append(q.select("Item", [q.ids_in(missing_items)], size=MAX_RESULTS, order=None))
        if not texts:
            return
        answers = await self._queries(texts)
        if missing_codes:
            self.tables.set_tax(answers[0].get("TaxCode") or [], answers[1].get("TaxRate") or [],
                                time.monotonic(), complete=False)
        if missing_items:
            self.tables.set_items(answers[-1].get("Item") or [])

    # -- reads -------------------------------------------------------------------------------------
    async def fetch_page(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                         limit: int) -> Page:
        if resource == Resource.JOURNALS:
            journal = self.convert.fallback_journal()
            return Page(records=[journal], state={}, next_state=None, page_size=1, total=1)
        if resource == Resource.COMPANY_INFO:
            company_info, preferences = await self._queries([q.select("CompanyInfo", order=None),
                                                            q.select("Preferences", order=None)])
            rows = company_info.get("CompanyInfo") or []
            prefs = (preferences.get("Preferences") or [None])[0]
            records: list[Record] = [self.convert.company_info(r, prefs) for r in rows]
            return Page(records=records, state={}, next_state=None, page_size=1, total=len(records))
        if resource == Resource.TRACKING_CATEGORIES:
            return await self._tracking_page(filter)
        if resource not in PAGED:
            raise LedgerQLError(ErrorCode.UNSUPPORTED_BY_PROVIDER, f"QUICKBOOKS does not list {resource.value}")

        size = int(state["n"]) if state else self.page_size(resource, limit)
        start = int(state["p"]) if state else 1
        this_state = {"p": start, "n": size}
        entity = self._entity(resource)
        where = self._where(resource, entity, filter)
        if where is None:
            return Page(records=[], state=this_state, next_state=None, page_size=size)
        main = q.select(entity, where, start=start, size=size)
        extra = await self._table_queries(resource) if resource != Resource.TAX_RATES else [self._all("TaxRate")]
        answers = await self._queries([main, *extra])
        rows = answers[0].get(entity) or []
        if resource == Resource.TAX_RATES:
            self.tables.set_tax(rows, answers[1].get("TaxRate") or [], time.monotonic(), complete=False)
        else:
            self._apply_tables(extra, answers[1:])
        records = await self._convert(resource, rows)
        next_state = {"p": start + size, "n": size} if len(rows) >= size else None
        return Page(records=records, state=this_state, next_state=next_state, page_size=size)

    async def _tracking_page(self, filter: ListFilter) -> Page:
        dims = (self.convert.department_dim, self.convert.location_dim)
        texts = []
        for dim in dims:
            where = self._base_where(Resource.TRACKING_CATEGORIES, dim["entity"])
            if filter.updated_since is not None:
                where.append(_since(filter.updated_since))
            texts.append(q.select(dim["entity"], where, start=1, size=MAX_RESULTS))
        answers = await self._queries(texts)
        # The dimensions themselves are synthesized (QBO has no record for them) and never change.
        records: list[Record] = [] if filter.updated_since else list(self.convert.roots())
        for dim, answer in zip(dims, answers, strict=True):
            records += [self.convert.tracking_option(dim["entity"], raw) for raw in answer.get(dim["entity"]) or []]
        return Page(records=records, state={}, next_state=None, page_size=max(1, len(records)),
                    total=len(records) if filter.is_empty() else None)

    async def fetch_by_ids(self, resource: Resource, ids: list[str]) -> dict[str, Record]:
        if resource == Resource.JOURNALS:
            journal = self.convert.fallback_journal()
            return {journal.id: journal} if journal.id in ids else {}
        if resource == Resource.COMPANY_INFO:
            page = await self.fetch_page(resource, ListFilter(), None, 1)
            return {r.id: r for r in page.records if r.id in ids}
        if resource in (Resource.TRACKING_CATEGORIES, Resource.DEPARTMENTS, Resource.LOCATIONS):
            return await self._tracking_by_ids(resource, ids)
        entity = self._entity(resource)
        wanted = sorted({i for i in ids if i.isdigit()}, key=int)  # QBO ids are numbers; others cannot exist
        if not wanted:
            return {}
        main = q.select(entity, [*self._base_where(resource, entity), q.ids_in(wanted)], size=len(wanted),
                        order=None)
        extra = await self._table_queries(resource) if resource != Resource.TAX_RATES else [self._all("TaxRate")]
        answers = await self._queries([main, *extra])
        rows = answers[0].get(entity) or []
        if resource == Resource.TAX_RATES:
            self.tables.set_tax(rows, answers[1].get("TaxRate") or [], time.monotonic(), complete=False)
        else:
            self._apply_tables(extra, answers[1:])
        return {r.id: r for r in await self._convert(resource, rows)}

    async def _tracking_by_ids(self, resource: Resource, ids: list[str]) -> dict[str, Record]:
        found: dict[str, Record] = {}
        wanted: dict[str, list[str]] = {}
        for unified_id in ids:
            split = self.convert.split_tracking_id(unified_id)
            if split is None:
                continue
            entity, qbo_id = split
            if entity == "":
                if resource == Resource.TRACKING_CATEGORIES:
                    found.update({r.id: r for r in self.convert.roots() if r.id == unified_id})
                continue
            if qbo_id.isdigit():
                wanted.setdefault(entity, []).append(qbo_id)
        if resource == Resource.DEPARTMENTS:
            wanted = {k: v for k, v in wanted.items() if k == self.convert.department_dim["entity"]}
        elif resource == Resource.LOCATIONS:
            wanted = {k: v for k, v in wanted.items() if k == self.convert.location_dim["entity"]}
        entities = list(wanted)
        texts = [q.select(e, [*self._base_where(resource, e), q.ids_in(wanted[e])], size=len(wanted[e]),
                          order=None) for e in entities]
        for entity, answer in zip(entities, await self._queries(texts), strict=True):
            for raw in answer.get(entity) or []:
                record: Record
                if resource == Resource.DEPARTMENTS:
                    record = self.convert.department(raw)
                elif resource == Resource.LOCATIONS:
                    record = self.convert.location(raw)
                else:
                    record = self.convert.tracking_option(entity, raw)
                found[record.id] = record
        return found

    async def _convert(self, resource: Resource, rows: list[Raw]) -> list[Record]:
        c = self.convert
        if resource in DOCUMENTS:
            await self._complete_tables(resource, rows)
        if resource in (Resource.INVOICES, Resource.BILLS):
            entity = self._entity(resource)
            for row in rows:
                self._remember_links(entity, row)
        simple = {
            Resource.LEDGER_ACCOUNTS: c.ledger_account, Resource.BANK_ACCOUNTS: c.bank_account,
            Resource.CUSTOMERS: c.customer, Resource.SUPPLIERS: c.supplier, Resource.TAX_RATES: c.tax_rate,
            Resource.DEPARTMENTS: c.department, Resource.LOCATIONS: c.location, Resource.INVOICES: c.invoice,
            Resource.BILLS: c.bill, Resource.BILL_PAYMENTS: c.bill_payment, Resource.EXPENSES: c.expense,
            Resource.PURCHASE_ORDERS: c.purchase_order, Resource.JOURNAL_ENTRIES: c.journal_entry,
        }
        if resource in simple:
            return [simple[resource](row) for row in rows]
        if resource == Resource.PAYMENTS:
            return [c.payment(row) for row in rows if not is_credit_application(row)]
        if resource == Resource.CREDIT_NOTES:
            return await self._credit_notes(rows, {})
        raise LedgerQLError(ErrorCode.UNSUPPORTED_BY_PROVIDER, f"QUICKBOOKS does not serve {resource.value}")

    async def _credit_notes(self, memos: list[Raw], known_payments: dict[str, Raw]) -> list[Record]:
        """Credit memos with their allocations: the credit-application Payments each memo links."""
        payment_ids = {txn for memo in memos for txn, kind in header_links(memo) if kind == "Payment"}
        missing = payment_ids - set(known_payments)
        if missing:
            for raw in await self._rows_by_ids("Payment", missing):
                known_payments[str(raw["Id"])] = raw
        applications = [p for p in known_payments.values() if is_credit_application(p)]
        result: list[Record] = []
        for memo in memos:
            memo_id = str(memo["Id"])
            result.append(self.convert.credit_note(memo, [p for p in applications if memo_id in credit_memo_ids(p)]))
        return result

    async def _rows_by_ids(self, entity: str, ids: Iterable[str], where: Sequence[str] = ()) -> list[Raw]:
        """Raw records by id, one `Id in (...)` per chunk, all chunks in one call."""
        wanted = sorted({i for i in ids if i.isdigit()}, key=int)
        size = max(1, self.mapping.batch_size)
        chunks = [wanted[i:i + size] for i in range(0, len(wanted), size)]
        texts = [q.select(entity, [*where, q.ids_in(chunk)], size=len(chunk), order=None) for chunk in chunks]
        rows: list[Raw] = []
        for answer in await self._queries(texts):
            rows += answer.get(entity) or []
        return rows

    # -- reverse references ------------------------------------------------------------------------
    def _remember_links(self, entity: str, row: Raw) -> None:
        key = f"{entity}:{row['Id']}"
        self._links[key] = header_links(row)
        self._links.move_to_end(key)
        while len(self._links) > LINK_MEMORY:
            self._links.popitem(last=False)

    async def _links_of(self, entity: str, document_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """The `LinkedTxn` of each document: as last read, or read now (one call) if never seen."""
        unknown = [d for d in document_ids if f"{entity}:{d}" not in self._links]
        if unknown:
            for row in await self._rows_by_ids(entity, unknown):
                self._remember_links(entity, row)
        return {d: self._links.get(f"{entity}:{d}", []) for d in document_ids}

    async def find_allocated_to(self, resource: Resource, document_ids: Sequence[str]) -> list[Record]:
        wanted = set(document_ids)
        if resource == Resource.PAYMENTS:
            links = await self._links_of("Invoice", list(wanted))
            ids = {txn for found in links.values() for txn, kind in found if kind == "Payment"}
            rows = await self._rows_by_ids("Payment", ids)
            records = await self._convert(Resource.PAYMENTS, rows)
        elif resource == Resource.BILL_PAYMENTS:
            links = await self._links_of("Bill", list(wanted))
            ids = {txn for found in links.values() for txn, kind in found if kind.startswith("BillPayment")}
            records = await self._convert(Resource.BILL_PAYMENTS, await self._rows_by_ids("BillPayment", ids))
        elif resource == Resource.CREDIT_NOTES:
            links = await self._links_of("Invoice", list(wanted))
            payment_ids = {txn for found in links.values() for txn, kind in found if kind == "Payment"}
            memo_ids = {txn for found in links.values() for txn, kind in found if kind == "CreditMemo"}
            payments = {str(p["Id"]): p for p in await self._rows_by_ids("Payment", payment_ids)}
            for payment in payments.values():
                if is_credit_application(payment):
                    memo_ids |= credit_memo_ids(payment)
            memos = await self._rows_by_ids("CreditMemo", memo_ids)
            await self._complete_tables(Resource.CREDIT_NOTES, memos)
            records = await self._credit_notes(memos, payments)
        else:
            return await super().find_allocated_to(resource, document_ids)
        return [r for r in records if any(a.document_id in wanted for a in getattr(r, "allocations", []))]

    # -- writes ------------------------------------------------------------------------------------
    async def invalidate(self, resource: Resource) -> None:
        """After a write: nothing remembered privately may answer for the books as they were. The
        tables mirror tax codes and (through items) ledger accounts; the link memory mirrors documents'
        `LinkedTxn`, which payments and credit applications change."""
        if resource in (Resource.TAX_RATES, Resource.LEDGER_ACCOUNTS):
            self.forget_tables()
        self._links.clear()
        await super().invalidate(resource)

    async def _post(self, entity: str, body: Raw, key: str | None, step: str = "") -> Raw:
        """One create; with a key it carries QBO's `requestid`, so a repeat answers the first result
        instead of writing again, and the call is then safe to retry."""
        params = dict(self._params)
        if key:
            params["requestid"] = request_id(key, step)
        response = await self.http.request("POST", f"/{entity.lower()}", params=params, json_body=body,
                                           retry=bool(key))
        answer = decimal_json(response)
        row = answer.get(entity) if isinstance(answer, dict) else None
        if not isinstance(row, dict) or row.get("Id") is None:
            raise LedgerQLError(ErrorCode.UPSTREAM_ERROR, f"QuickBooks answered a {entity} create without it",
                                connectionId=self.config.id)
        return row

    async def _items(self) -> dict[str, Raw]:
        """The realm's items (which name the ledger account of item lines): the table when it is
        fresh and complete, else one query."""
        if not (self._fresh(self.tables.items_loaded_at) and self.tables.items_complete):
            answer = await self._query(self._all("Item"))
            items = answer.get("Item") or []
            self.tables.set_items(items, time.monotonic(), complete=len(items) < MAX_RESULTS)
            self._tables_generation = await self._reference_generation()
        return self.tables.items

    async def _account_type(self, account_id: str | None) -> str:
        found = await self.get_many(Resource.LEDGER_ACCOUNTS, [account_id or ""])
        account = found.get(account_id or "")
        raw = account.raw if account is not None else None
        return str((raw or {}).get("AccountType") or "")

    async def create_record(self, resource: Resource, record: Record, *, idempotency_key: str | None,
                            progress: WriteProgress) -> Record:
        build = PayloadBuilder({}, self.convert.department_dim["prefix"], self.convert.location_dim["prefix"])
        if resource in (Resource.INVOICES, Resource.CREDIT_NOTES, Resource.BILLS, Resource.PURCHASE_ORDERS,
                        Resource.EXPENSES):
            build.items = await self._items()
        entity = self._entity(resource)
        body = _shared_body(build, record)
        if body is not None:
            pass  # a contact or document: the same body for create and update
        elif isinstance(record, m.Expense):
            body = build.purchase(record, await self._account_type(record.account_id))
        elif isinstance(record, m.Payment):
            body = build.payment(record)
        elif isinstance(record, m.BillPayment):
            body = build.bill_payment(record, await self._account_type(record.account_id))
        elif isinstance(record, m.CreditNote):
            return await self._create_credit_note(record, build, idempotency_key, progress)
        else:
            return await super().create_record(resource, record, idempotency_key=idempotency_key,
                                               progress=progress)
        row = await self._post(entity, body, idempotency_key)
        return await self._read_back(resource, row)

    async def _create_credit_note(self, record: m.CreditNote, build: PayloadBuilder, key: str | None,
                                  progress: WriteProgress) -> Record:
        """A CreditMemo, then (with allocations) the zero-amount Payment that applies it to the
        invoices. The memo's id is recorded between the steps, so a retry applies, never re-creates."""
        memo_id = progress.get("credit_memo_id")
        if memo_id is None:
            memo = await self._post("CreditMemo", build.credit_memo(record), key)
            memo_id = str(memo["Id"])
            await progress.mark("credit_memo_id", memo_id)
            if not record.allocations:
                return await self._read_back(Resource.CREDIT_NOTES, memo)
        if record.allocations and progress.get("credit_application_id") is None:
            application = await self._post("Payment", build.credit_application(
                record, memo_id, record.issue_date.isoformat()), key, step="apply")
            await progress.mark("credit_application_id", str(application["Id"]))
        found = await self.fetch_by_ids(Resource.CREDIT_NOTES, [memo_id])
        if memo_id not in found:
            raise LedgerQLError(ErrorCode.NOT_FOUND, "QuickBooks does not show the credit memo it created",
                                connectionId=self.config.id)
        return found[memo_id]

    async def _read_back(self, resource: Resource, row: Raw) -> Record:
        """The created record through the same conversion a read uses (the create answer is the
        full record, as a read returns it)."""
        records = await self._convert(resource, [row])
        if not records:
            found = await self.fetch_by_ids(resource, [str(row["Id"])])
            return found[str(row["Id"])]
        return records[0]

    # -- updates, voids, deletes -------------------------------------------------------------------
    async def update_record(self, resource: Resource, record: Record, current: Record, *, changed: frozenset[str],
                            idempotency_key: str | None) -> Record:
        """A sparse update under the SyncToken the record was read with. Stale (another app changed it
        since: QBO error 5010) → read the record again and retry once with its new SyncToken."""
        build = PayloadBuilder({}, self.convert.department_dim["prefix"], self.convert.location_dim["prefix"])
        if isinstance(record, m.Invoice | m.Bill | m.PurchaseOrder | m.CreditNote | m.Expense):
            build.items = await self._items()  # the body is built whole; lines are dropped when unchanged
        body = _shared_body(build, record)
        if body is not None:
            pass  # a contact or document: the same body for create and update
        elif isinstance(record, m.CreditNote):
            body = build.credit_memo(record)
        elif isinstance(record, m.Expense):
            # Header and lines only: the payment account and its PaymentType stay as they are.
            body = {k: v for k, v in build.purchase(record, "").items() if k not in ("AccountRef", "PaymentType")}
        elif isinstance(record, m.Payment | m.BillPayment):
            # Header fields only: a sparse update without `Line` and `TotalAmt` keeps what was applied.
            body = {"TxnDate": record.payment_date.isoformat()}
            if record.reference is not None:
                body["PaymentRefNum" if isinstance(record, m.Payment) else "DocNumber"] = record.reference
        else:
            return await super().update_record(resource, record, current, changed=changed,
                                               idempotency_key=idempotency_key)
        row = await self._change(self._entity(resource), current, None, idempotency_key,
                                 lambda token: sparse_update(body, current.id, token,
                                                             lines_changed="line_items" in changed))
        return await self._read_back(resource, row)

    async def void_record(self, resource: Resource, current: Record, *, idempotency_key: str | None) -> Record:
        """`?operation=void`: QBO keeps the transaction with its amounts zeroed (Invoice, Payment,
        BillPayment; a bill cannot be voided through the API)."""
        row = await self._change(self._entity(resource), current, "void", idempotency_key,
                                 lambda token: {"Id": current.id, "SyncToken": token})
        return await self._read_back(resource, row)

    async def delete_record(self, resource: Resource, current: Record, *, idempotency_key: str | None) -> None:
        await self._change(self._entity(resource), current, "delete", idempotency_key,
                           lambda token: {"Id": current.id, "SyncToken": token})

    async def _change(self, entity: str, current: Record, operation: str | None, key: str | None,
                      body_for: Callable[[str], Raw]) -> Raw:
        token = str((current.raw or {}).get("SyncToken") or "")
        if not token:  # a record read without its raw form: read the SyncToken
            token = await self._sync_token(entity, current.id)
        for attempt in ("first", "stale-retry"):
            params = dict(self._params)
            if operation:
                params["operation"] = operation
            if key:
                params["requestid"] = request_id(key, f"{operation or 'update'}:{attempt}")
            response = await self.http.request("POST", f"/{entity.lower()}", params=params,
                                               json_body=body_for(token), retry=bool(key), ok=(400,))
            answer = decimal_json(response)
            if response.status_code == 400:
                if _fault_code(answer) == STALE_OBJECT and attempt == "first":
                    token = await self._sync_token(entity, current.id)
                    continue
                error = self.http.error_for(response)
                if _fault_code(answer) == STALE_OBJECT:
                    raise LedgerQLError(ErrorCode.CONFLICT, "QuickBooks refused the change twice: another app "
                                        f"keeps changing {entity} {current.id} (stale SyncToken); try again",
                                        connectionId=self.config.id, upstreamStatus=400)
                raise error
            row = answer.get(entity) if isinstance(answer, dict) else None
            if not isinstance(row, dict):
                raise LedgerQLError(ErrorCode.UPSTREAM_ERROR, f"QuickBooks answered a {entity} "
                                    f"{operation or 'update'} without it", connectionId=self.config.id)
            return row
        raise AssertionError("unreachable")

    async def _sync_token(self, entity: str, record_id: str) -> str:
        rows = await self._rows_by_ids(entity, [record_id])
        if not rows:
            raise LedgerQLError(ErrorCode.NOT_FOUND, f"QuickBooks has no {entity} {record_id}",
                                connectionId=self.config.id)
        return str(rows[0].get("SyncToken") or "0")

    # -- counts ------------------------------------------------------------------------------------
    async def count(self, resource: Resource, filter: ListFilter) -> int:
        """`select count(*)` where the filter goes upstream exactly; otherwise page through."""
        self.require(resource, Operation.LIST)
        if resource in PAGED and resource != Resource.PAYMENTS and self._exact(resource, filter):
            entity = self._entity(resource)
            where = self._where(resource, entity, filter)
            if where is None:
                return 0
            answer = await self._query(q.select(entity, where, count=True))
            return int(answer.get("totalCount", 0))
        # Page through at the largest size, applying what the provider could not (the base's
        # default counts raw pages, so it would count e.g. partly paid and unpaid alike).
        total, state = 0, None
        while True:
            page = await self.fetch_page(resource, filter, state, self.mapping.paging.max_size)
            total += sum(1 for r in page.records if matches(r, filter))
            if page.next_state is None:
                return total
            state = page.next_state


def _fault_code(answer: Any) -> str | None:
    fault = answer.get("Fault") if isinstance(answer, dict) else None
    errors = fault.get("Error") if isinstance(fault, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code") or "")
    return None


def _since(moment: datetime) -> str:
    """`updated after moment` exactly, although QBO stamps whole seconds and compares them."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment.microsecond:
        ceiling = moment.replace(microsecond=0) + timedelta(seconds=1)
        return f"MetaData.LastUpdatedTime >= {q.quote(ceiling)}"
    return f"MetaData.LastUpdatedTime > {q.quote(moment)}"



def _shared_body(build: PayloadBuilder, record: Record) -> Raw | None:
    """The body of a contact or document that a create and a sparse update send alike; None for the
    records whose create and update bodies differ (payments, expenses, credit notes)."""
    if isinstance(record, m.Customer | m.Supplier):
        return build.contact(record)
    if isinstance(record, m.Invoice):
        return build.invoice(record)
    if isinstance(record, m.Bill):
        return build.bill(record)
    if isinstance(record, m.PurchaseOrder):
        return build.purchase_order(record)
    if isinstance(record, m.JournalEntry):
        return build.journal_entry(record)
    return None
