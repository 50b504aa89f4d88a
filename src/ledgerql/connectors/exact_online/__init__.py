"""The Exact Online connector: REST API `api/v1/{division}`, OData v2.

Lists follow Exact's 60-row pages (`__next` / `$skiptoken`; the state keeps only the skip token);
by-id reads chain `ID eq guid'..' or ...` under the 6,000-character URL limit; modified-since is
`Modified ge datetime'..'`. A page of documents comes with its lines (`$expand`) and its open
amounts (`cashflow/Receivables` / `cashflow/Payments`, one call per page). Payments and bill payments
are bank entries whose lines post on the receivables / payables control accounts, allocated by
`OurRef` (the document's entry number). Expenses are a fallback: purchase entries with due date =
entry date, settled at once. See providers/exact_online.yaml for what is native.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from ledgerql.connectors.base import ConnectionConfig, ListFilter, Page, WriteProgress
from ledgerql.connectors.exact_online import convert as cv
from ledgerql.connectors.exact_online import odata as q
from ledgerql.connectors.exact_online import writes as wr
from ledgerql.connectors.http import Tokens, decimal_json, oauth_error
from ledgerql.model import entities as m
from ledgerql.model.entities import Customer, Department, Location, Record, Supplier, TrackingCategory
from ledgerql.model.enums import Operation, Provider, Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError

__all__ = ["ExactOnlineConnector"]

R = Resource
SALES, PURCHASE = "sales", "purchase"
BANK_ENTRIES = "financialtransaction/BankEntries"
BANK_ENTRY_LINES = "financialtransaction/BankEntryLines"
SALES_ENTRIES = "salesentry/SalesEntries"
PURCHASE_ENTRIES = "purchaseentry/PurchaseEntries"
RECEIVABLES = "cashflow/Receivables"
PAYABLES = "cashflow/Payments"
JOURNALS = "financial/Journals"
GL_ACCOUNTS = "financial/GLAccounts"
DIVISIONS = "system/Divisions"
COST_CENTERS = "hrm/Costcenters"
COST_UNITS = "hrm/Costunits"

# Resources keyed by a GUID field (the rest are keyed by a code).
GUID_KEYS = {R.LEDGER_ACCOUNTS: "ID", R.CUSTOMERS: "ID", R.SUPPLIERS: "ID", R.INVOICES: "EntryID",
             R.CREDIT_NOTES: "EntryID", R.BILLS: "EntryID", R.EXPENSES: "EntryID", R.PAYMENTS: "EntryID",
             R.BILL_PAYMENTS: "EntryID", R.PURCHASE_ORDERS: "PurchaseOrderID", R.JOURNAL_ENTRIES: "EntryID"}
CODE_KEYS = {R.TAX_RATES: "Code", R.JOURNALS: "Code", R.BANK_ACCOUNTS: "Code", R.DEPARTMENTS: "Code",
             R.LOCATIONS: "Code", R.COMPANY_INFO: "Code"}
EXPAND = {R.INVOICES: "SalesEntryLines", R.CREDIT_NOTES: "SalesEntryLines", R.BILLS: "PurchaseEntryLines",
          R.EXPENSES: "PurchaseEntryLines", R.PAYMENTS: "BankEntryLines", R.BILL_PAYMENTS: "BankEntryLines",
          R.PURCHASE_ORDERS: "PurchaseOrderLines", R.JOURNAL_ENTRIES: "GeneralJournalEntryLines"}
# Header date field (pushed for date ranges) and party field (pushed for customer/supplier filters).
DATE_FIELD = {R.INVOICES: "EntryDate", R.CREDIT_NOTES: "EntryDate", R.BILLS: "EntryDate", R.EXPENSES: "EntryDate",
              R.PURCHASE_ORDERS: "OrderDate"}
PARTY_FIELD = {R.INVOICES: "Customer", R.CREDIT_NOTES: "Customer", R.BILLS: "Supplier", R.EXPENSES: "Supplier",
               R.PURCHASE_ORDERS: "Supplier"}
# Small reference sets: a by-id read loads the whole set once per `cache_ttl` and answers from it.
WHOLE_SET_CACHE = {R.LEDGER_ACCOUNTS, R.TAX_RATES, R.JOURNALS, R.BANK_ACCOUNTS, R.DEPARTMENTS, R.LOCATIONS}
# Larger reference sets: records read by id are kept per id for `cache_ttl`.
PER_ID_CACHE = {R.CUSTOMERS, R.SUPPLIERS}
# Lists whose every row is one unified record (so Exact's counts are ours).
NATIVE_COUNT = {R.LEDGER_ACCOUNTS, R.CUSTOMERS, R.SUPPLIERS, R.TAX_RATES, R.DEPARTMENTS, R.LOCATIONS, R.INVOICES,
                R.CREDIT_NOTES, R.PURCHASE_ORDERS, R.JOURNAL_ENTRIES, R.JOURNALS, R.BANK_ACCOUNTS, R.BILLS,
                R.EXPENSES}


@dataclass(frozen=True)
class EntryInfo:
    """What is known of a sales or purchase entry by its number (entry numbers never change)."""

    id: str
    number: int
    entry_date: Any
    due_date: Any
    amount: Decimal | None


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def _rows(d: Any) -> list[dict[str, Any]]:
    if isinstance(d, dict):
        results = d.get("results")
        if isinstance(results, list):
            return results
        return [d]
    return d if isinstance(d, list) else []


class ExactOnlineConnector(wr.ExactWrites):
    provider = Provider.EXACT_ONLINE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        quirks = self.mapping.quirks
        self.dims = cv.Dimensions(quirks)
        self.number_field: str = quirks.get("document_number_field", "YourRef")
        self.gl_types: dict[str, list[str]] = {str(k): v for k, v in quirks.get("gl_types", {}).items()}
        self.max_url = int(quirks.get("max_url_length", 5500))
        self._entries: dict[str, EntryInfo] = {}
        self._by_number: dict[tuple[str, int], str] = {}
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_locks: dict[str, asyncio.Lock] = {}
        self._by_id_cache: dict[tuple[Resource, str], tuple[float, Record]] = {}

    # -- hooks for `build` -------------------------------------------------------------------------
    @classmethod
    def api_root(cls, config: ConnectionConfig) -> str:
        return f"{config.base_url.rstrip('/')}/api/v1/{config.tenant_id}"

    @classmethod
    async def refresh_tokens(cls, config: ConnectionConfig, client: httpx.AsyncClient, current: Tokens) -> Tokens:
        """Exact: form post of client id + secret + refresh token; `expires_in` is a string; the refresh token
        rotates. Never retried: Exact blocks an app after 10 errors an hour."""
        if not config.token_url or not current.refresh_token:
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED, "EXACT_ONLINE connection has no refresh token")
        response = await client.post(config.token_url, data={
            "grant_type": "refresh_token", "refresh_token": current.refresh_token,
            "client_id": config.client_id or "", "client_secret": current.client_secret or ""},
            headers={"Accept": "application/json"})
        if response.status_code >= 500:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                f"EXACT_ONLINE token endpoint failed ({response.status_code})")
        if response.status_code != 200:
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED,
                                f"EXACT_ONLINE refused to refresh the connection's token: {_oauth_error(response)}",
                                connectionId=config.id, upstreamStatus=response.status_code,
                                oauthError=oauth_error(response))
        body = response.json()
        # Exact sends `expires_in` as a string ("600").
        return Tokens.from_grant(body, current, default_ttl=600)

    @staticmethod
    def error_message(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, dict):
                return str(message.get("value") or "")
            return str(message or "")
        return ""

    # -- low level ---------------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, str]) -> Any:
        response = await self.http.request("GET", f"/{path}", params=params)
        body = decimal_json(response)
        return body.get("d") if isinstance(body, dict) else body

    async def _page(self, path: str, expr: str | None, token: str | None, *, expand: str | None = None,
                    select: str | None = None, inline: bool = False
                    ) -> tuple[list[dict[str, Any]], str | None, int | None]:
        params: dict[str, str] = {}
        if expr:
            params["$filter"] = expr
        if expand:
            params["$expand"] = expand
        if select:
            params["$select"] = select
        if inline and not token:
            params["$inlinecount"] = "allpages"
        if token:
            params["$skiptoken"] = token
        d = await self._get(path, params)
        total = None
        if isinstance(d, dict) and d.get("__count") is not None:
            total = int(d["__count"])
        next_url = d.get("__next") if isinstance(d, dict) else None
        return _rows(d), q.skiptoken_of(next_url), total

    async def _all(self, path: str, expr: str | None, *, expand: str | None = None, select: str | None = None
                   ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page, token, _ = await self._page(path, expr, token, expand=expand, select=select)
            rows.extend(page)
            if not token:
                return rows

    async def _where_in(self, path: str, field: str, values: Sequence[Any], render: Callable[[Any], str], *,
                        extra: str | None = None, expand: str | None = None, select: str | None = None
                        ) -> list[dict[str, Any]]:
        """Rows whose `field` is any of `values`, in as few calls as the URL limit allows."""
        values = list(dict.fromkeys(values))
        if not values:
            return []
        fixed = len(self.http.base_url) + len(path) + 40 + sum(
            q.encoded_length(x) + 12 for x in (extra, expand, select) if x)
        chunks = q.chunk_or(field, values, render, max(500, self.max_url - fixed))
        results = await asyncio.gather(*(self._all(path, q.all_of(extra, chunk), expand=expand, select=select)
                                         for chunk in chunks))
        return [row for rows in results for row in rows]

    async def _cached(self, key: str, ttl: int, load: Callable[[], Awaitable[Any]]) -> Any:
        """Reference data shared by this connection's requests for `ttl` seconds (single flight)."""
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        lock = self._cache_locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._cache.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            value = await load()
            self._cache[key] = (time.monotonic() + ttl, value)
            return value

    def _ttl(self, resource: Resource) -> int:
        return self.mapping.resource(resource).cache_ttl or 300

    async def _journals(self) -> dict[str, dict[str, Any]]:
        async def load() -> dict[str, dict[str, Any]]:
            return {str(j.get("Code") or "").strip(): j for j in await self._all(JOURNALS, None)}
        result: dict[str, dict[str, Any]] = await self._cached("journals", self._ttl(R.JOURNALS), load)
        return result

    async def _division(self) -> dict[str, Any]:
        async def load() -> dict[str, Any]:
            code = self.config.tenant_id
            rows = await self._all(DIVISIONS, f"Code eq {int(code)}" if code.isdigit() else None)
            return rows[0] if rows else {}
        result: dict[str, Any] = await self._cached("division", self._ttl(R.COMPANY_INFO), load)
        return result

    async def _control_accounts(self) -> tuple[set[str], set[str]]:
        """GUIDs of the receivables and payables control accounts (how bank lines are told apart)."""
        receivable = int(self.mapping.quirks.get("receivable_gl_type", 20))
        payable = int(self.mapping.quirks.get("payable_gl_type", 22))
        # The raw rows say the type (read once per cache_ttl, shared with the converted set).
        types = {str(row.get("ID")): row.get("Type") for row in await self._gl_rows()}
        return ({k for k, t in types.items() if t == receivable}, {k for k, t in types.items() if t == payable})

    async def _gl_rows(self) -> list[dict[str, Any]]:
        """The GL accounts as Exact sends them: one read per `cache_ttl`, shared by the converted set and
        the control accounts."""
        async def load() -> list[dict[str, Any]]:
            return await self._all(self._path(R.LEDGER_ACCOUNTS), self._base_filter(R.LEDGER_ACCOUNTS))
        rows: list[dict[str, Any]] = await self._cached("rows:ledger_accounts", self._ttl(R.LEDGER_ACCOUNTS), load)
        return rows

    # -- filters -----------------------------------------------------------------------------------
    def _base_filter(self, resource: Resource) -> str | None:
        parts = []
        for name, value in self.mapping.resource(resource).filter.items():
            if isinstance(value, list):
                parts.append(q.any_of(name, value))
            else:
                parts.append(f"{name} eq {q.literal(value)}")
        # Bills and the expense fallback are told apart upstream, by the dates alone (DESIGN: an expense is a
        # purchase entry due on its entry date), so a page holds only what it lists and costs no open items.
        if resource == R.EXPENSES:
            parts.append(q.EXPENSE_DATES)
        elif resource == R.BILLS:
            parts.append(q.BILL_DATES)
        return q.all_of(*parts)

    def _pushed(self, resource: Resource, filter: ListFilter) -> tuple[str | None, bool]:
        """The upstream part of a filter, and whether all of it could be pushed."""
        parts: list[str] = []
        complete = filter.status is None
        if filter.updated_since and resource not in (R.TRACKING_CATEGORIES, R.COMPANY_INFO):
            parts.append(f"Modified ge {q.dt(filter.updated_since)}")
        date_field = DATE_FIELD.get(resource)
        if filter.date_from or filter.date_to:
            if date_field:
                if filter.date_from:
                    parts.append(f"{date_field} ge {q.dt(filter.date_from)}")
                if filter.date_to:
                    parts.append(f"{date_field} le {q.dt(filter.date_to)}")
            else:
                complete = False
        party = filter.customer_id or filter.supplier_id
        if party:
            field = PARTY_FIELD.get(resource)
            if field and _is_guid(party):
                parts.append(f"{field} eq {q.guid(party)}")
            else:
                complete = False
        return q.all_of(*parts), complete

    # -- reads -------------------------------------------------------------------------------------
    async def fetch_page(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                         limit: int) -> Page:
        size = int(state.get("n", 0)) if state else 0
        size = size or self.page_size(resource, limit)
        if resource == R.TRACKING_CATEGORIES:
            records: list[Record] = await self._tracking_all()
            return Page(records=records, state=state or {"n": size}, next_state=None, page_size=size,
                        total=len(records))
        if resource == R.COMPANY_INFO:
            division = await self._division()
            company = [self._company(division)] if division else []
            return Page(records=list(company), state=state or {"n": size}, next_state=None, page_size=size,
                        total=len(company))
        path = self._path(resource)
        pushed, _ = self._pushed(resource, filter)
        expr = q.all_of(self._base_filter(resource), pushed)
        token = state.get("t") if state else None
        rows, next_token, total = await self._page(path, expr, token, expand=EXPAND.get(resource),
                                                   inline=resource in NATIVE_COUNT)
        # Open amounts are read only when asked for (`fetch_balances`), except where the status filter needs
        # them now (the base class re-checks `status` on every record of the page).
        deferred = resource in (R.INVOICES, R.BILLS) and filter.status is None
        converted = await self._convert(resource, rows, deferred=deferred)
        return Page(records=converted, state=state or {"n": size},
                    next_state={"t": next_token, "n": size} if next_token else None, page_size=size,
                    total=total if resource in NATIVE_COUNT else None)

    async def fetch_by_ids(self, resource: Resource, ids: list[str]) -> dict[str, Record]:
        if resource == R.TRACKING_CATEGORIES:
            every = await self._cached("tracking", self._ttl(resource), self._tracking_all)
            return {r.id: r for r in every if r.id in ids}
        if resource in WHOLE_SET_CACHE:
            whole = await self._whole_set(resource)
            return {i: whole[i] for i in ids if i in whole}
        if resource in PER_ID_CACHE:
            now = time.monotonic()
            found = {i: hit[1] for i in ids if (hit := self._by_id_cache.get((resource, i))) and hit[0] > now}
            missing = [i for i in ids if i not in found]
            if missing:
                fetched = await self._fetch_by_ids(resource, missing)
                expires = now + self._ttl(resource)
                for key, record in fetched.items():
                    self._by_id_cache[(resource, key)] = (expires, record)
                found.update(fetched)
            return found
        return await self._fetch_by_ids(resource, ids)

    async def _whole_set(self, resource: Resource) -> dict[str, Record]:
        async def load() -> dict[str, Record]:
            if resource == R.LEDGER_ACCOUNTS:
                rows = await self._gl_rows()  # their currency is deferred (`resolve_deferred`)
            else:
                rows = await self._all(self._path(resource), self._base_filter(resource))
            return {r.id: r for r in await self._convert(resource, rows)}
        result: dict[str, Record] = await self._cached(f"set:{resource.value}", self._ttl(resource), load)
        return result

    async def _fetch_by_ids(self, resource: Resource, ids: list[str]) -> dict[str, Record]:
        if resource == R.TRACKING_CATEGORIES:
            return await self._tracking_by_ids(ids)
        if resource == R.COMPANY_INFO:
            division = await self._division()
            company = self._company(division) if division else None
            return {company.id: company} if company and company.id in ids else {}
        path = self._path(resource)
        if resource in GUID_KEYS:
            wanted = [i for i in ids if _is_guid(i)]
            rows = await self._where_in(path, GUID_KEYS[resource], wanted, q.guid,
                                        extra=self._base_filter(resource), expand=EXPAND.get(resource))
        else:
            codes = [c for c in (self._code_of(resource, i) for i in ids) if c]
            rows = await self._where_in(path, CODE_KEYS[resource], codes, q.string,
                                        extra=self._base_filter(resource))
        records = await self._convert(resource, rows)
        return {r.id: r for r in records if r.id in ids}

    async def count(self, resource: Resource, filter: ListFilter) -> int:
        self.require(resource, Operation.LIST)
        pushed, complete = self._pushed(resource, filter)
        if resource not in NATIVE_COUNT or not complete:
            return await super().count(resource, filter)
        params: dict[str, str] = {}
        expr = q.all_of(self._base_filter(resource), pushed)
        if expr:
            params["$filter"] = expr
        response = await self.http.request("GET", f"/{self._path(resource)}/$count", params=params)
        text = response.text.strip()
        try:
            return int(text)
        except ValueError:
            return int(decimal_json(response)["d"])  # some endpoints wrap the count

    async def find_allocated_to(self, resource: Resource, document_ids: Sequence[str]) -> list[Record]:
        docs = [d for d in dict.fromkeys(document_ids) if _is_guid(d)]
        if not docs:
            return []
        if resource == R.CREDIT_NOTES:
            numbers = await self._numbers_of(SALES, docs)
            rows = await self._where_in(SALES_ENTRIES, "PaymentReference", [str(n) for n in numbers], q.string,
                                        extra=self._base_filter(R.CREDIT_NOTES), expand=EXPAND[R.CREDIT_NOTES])
            return await self._convert(R.CREDIT_NOTES, rows)
        if resource in (R.PAYMENTS, R.BILL_PAYMENTS):
            kind = SALES if resource == R.PAYMENTS else PURCHASE
            numbers = await self._numbers_of(kind, docs)

            async def entries() -> list[dict[str, Any]]:
                lines = await self._where_in(BANK_ENTRY_LINES, "OurRef", numbers, q.literal, select="EntryID,OurRef")
                entry_ids = [line["EntryID"] for line in lines if line.get("EntryID")]
                return await self._where_in(BANK_ENTRIES, "EntryID", entry_ids, q.guid, expand="BankEntryLines")

            # Converting bank entries needs the control accounts: read while the entries are.
            rows, _ = await asyncio.gather(entries(), self._control_accounts())
            return await self._convert(resource, rows)
        return await super().find_allocated_to(resource, document_ids)

    # -- writes ------------------------------------------------------------------------------------
    async def _post(self, path: str, body: dict[str, Any], key_field: str) -> str:
        response = await self.http.request("POST", f"/{path}", json_body=body, headers={"Accept": "application/json"})
        d = decimal_json(response).get("d") or {}
        created = d.get(key_field) if isinstance(d, dict) else None
        if not created:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE, f"Exact Online answered no {key_field} on create")
        return str(created)

    async def _read_back(self, resource: Resource, ident: str) -> Record:
        found = await self._fetch_by_ids(resource, [ident])
        record = found.get(ident)
        if record is None:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                f"Exact Online does not show the created {resource.value} {ident}")
        return record

    async def _bank_journal(self, gl_account: str | None) -> str:
        for code, journal in (await self._journals()).items():
            if journal.get("GLAccount") == gl_account and journal.get("Type") in (10, 12, 14, 16):
                return code
        raise LedgerQLError(ErrorCode.BAD_USER_INPUT, f"ledger account {gl_account} is not a bank account in "
                                                      "Exact Online (no bank journal posts on it)",
                            inputPath=["input", "accountId"])

    async def create_record(self, resource: Resource, record: Record, *, idempotency_key: str | None,
                            progress: WriteProgress) -> Record:
        key = idempotency_key
        if isinstance(record, m.Invoice | m.Bill):
            sales = isinstance(record, m.Invoice)
            body = wr.entry(party_field="Customer" if sales else "Supplier",
                            party=record.customer_id if isinstance(record, m.Invoice) else record.supplier_id,
                            entry_date=record.invoice_date if isinstance(record, m.Invoice) else record.bill_date,
                            due_date=record.due_date if isinstance(record, m.Invoice) else
                            self.bill_due_date(record.bill_date, record.due_date),
                            currency=record.currency, rate=record.exchange_rate,
                            number=record.number, lines=record.line_items,
                            lines_name="SalesEntryLines" if sales else "PurchaseEntryLines", dims=self.dims, key=key)
            ident = await self._post(SALES_ENTRIES if sales else PURCHASE_ENTRIES, body, "EntryID")
            return await self._read_back(resource, ident)
        if isinstance(record, m.CreditNote):
            await self.check_credit_allocations(record)
            reference = None
            if record.allocations:
                numbers = await self._numbers_of(SALES, [record.allocations[0].document_id])
                reference = str(numbers[0]) if numbers else None
            body = wr.entry(party_field="Customer", party=record.customer_id, entry_date=record.issue_date,
                            due_date=record.issue_date, currency=record.currency, rate=record.exchange_rate,
                            number=record.number, lines=record.line_items, lines_name="SalesEntryLines",
                            dims=self.dims, key=key, entry_type=21, payment_reference=reference)
            ident = await self._post(SALES_ENTRIES, body, "EntryID")
            return await self._read_back(resource, ident)
        if isinstance(record, m.Payment | m.BillPayment):
            receipt = isinstance(record, m.Payment)
            party = record.customer_id if isinstance(record, m.Payment) else record.supplier_id
            kind = SALES if receipt else PURCHASE
            sign = -1 if receipt else 1
            journal = await self._bank_journal(record.account_id)
            await self._numbers_of(kind, [a.document_id for a in record.allocations])
            lines = []
            allocated = Decimal(0)
            for allocation in record.allocations:
                info = self._entries.get(allocation.document_id)
                lines.append(wr.bank_line(party=party, our_ref=info.number if info else None,
                                          amount=allocation.amount * sign, on=record.payment_date,
                                          description=record.reference, key=key))
                allocated += allocation.amount
            if record.total_amount - allocated or not lines:
                lines.append(wr.bank_line(party=party, our_ref=None, amount=(record.total_amount - allocated) * sign,
                                          on=record.payment_date, description=record.reference, key=key))
            ident = await self._post(BANK_ENTRIES, wr.bank_entry(journal_code=journal, currency=record.currency,
                                                                 lines=lines), "EntryID")
            return await self._read_back(resource, ident)
        if isinstance(record, m.Expense):
            return await self._create_expense(record, key, progress)
        if isinstance(record, m.JournalEntry):
            code = record.journal_id
            if not code:
                general = [c for c, j in (await self._journals()).items() if j.get("Type") == 90]
                code = general[0] if general else "GJ"
            ident = await self._post("generaljournalentry/GeneralJournalEntries",
                                     wr.journal_entry(record, code, self.dims, key), "EntryID")
            return await self._read_back(resource, ident)
        if isinstance(record, m.PurchaseOrder):
            ident = await self._post(self._path(R.PURCHASE_ORDERS), wr.purchase_order(record, self.dims, key),
                                     "PurchaseOrderID")
            return await self._read_back(resource, ident)
        if isinstance(record, m.Customer | m.Supplier):
            ident = await self._post("crm/Accounts", wr.account(record, isinstance(record, m.Customer), key), "ID")
            return await self._read_back(resource, ident)
        return await super().create_record(resource, record, idempotency_key=key, progress=progress)

    async def _create_expense(self, record: m.Expense, key: str | None, progress: WriteProgress) -> Record:
        """The fallback: a purchase entry due on its entry date (step "entry"), settled at once by a bank
        entry from the paying account (step "settled"). A retry resumes at the step it reached."""
        journal = await self._bank_journal(record.account_id)
        entry_id = progress.get("entry")
        if not entry_id and key is not None:  # the entry may exist though its answer was lost
            rows = await self._all(PURCHASE_ENTRIES, f"Description eq {q.string(wr.marker(key) or '')}")
            entry_id = rows[0]["EntryID"] if rows else None
            if entry_id:
                await progress.mark("entry", entry_id)
        if not entry_id:
            body = wr.entry(party_field="Supplier", party=record.supplier_id, entry_date=record.transaction_date,
                            due_date=record.transaction_date, currency=record.currency, rate=None,
                            number=record.number, lines=record.line_items, lines_name="PurchaseEntryLines",
                            dims=self.dims, key=key)
            entry_id = await self._post(PURCHASE_ENTRIES, body, "EntryID")
            await progress.mark("entry", entry_id)
        if not progress.get("settled"):
            items = await self._open_amounts(PURCHASE, [entry_id])
            item = items.get(entry_id)
            if item is None or not item.get("IsFullyPaid"):
                numbers = await self._numbers_of(PURCHASE, [entry_id])
                number = numbers[0] if numbers else None
                amount = cv.decimal(item.get("AmountFC")) if item else record.total_amount
                line = wr.bank_line(party=record.supplier_id, our_ref=number, amount=amount or record.total_amount,
                                    on=record.transaction_date, description=record.number, key=key)
                await self._post(BANK_ENTRIES, wr.bank_entry(journal_code=journal, currency=record.currency,
                                                             lines=[line]), "EntryID")
            await progress.mark("settled", True)
        return await self._read_back(R.EXPENSES, entry_id)

    async def find_created(self, resource: Resource, idempotency_key: str) -> Record | None:
        """The record an earlier attempt wrote with this key (one `$filter` call on the key's field)."""
        key = q.string(wr.marker(idempotency_key) or "")
        if resource in (R.INVOICES, R.BILLS, R.CREDIT_NOTES, R.PURCHASE_ORDERS):
            path = self._path(resource)
            id_field = "PurchaseOrderID" if resource == R.PURCHASE_ORDERS else "EntryID"
            rows = await self._all(path, f"Description eq {key}", select=id_field)
            if not rows:
                return None
            return (await self._fetch_by_ids(resource, [rows[0][id_field]])).get(rows[0][id_field])
        if resource in (R.PAYMENTS, R.BILL_PAYMENTS, R.JOURNAL_ENTRIES):
            path = BANK_ENTRY_LINES if resource != R.JOURNAL_ENTRIES else \
                "generaljournalentry/GeneralJournalEntryLines"
            rows = await self._all(path, f"Notes eq {key}", select="EntryID")
            if not rows:
                return None
            return (await self._fetch_by_ids(resource, [rows[0]["EntryID"]])).get(rows[0]["EntryID"])
        if resource in (R.CUSTOMERS, R.SUPPLIERS):
            rows = await self._all("crm/Accounts", f"Remarks eq {key}", select="ID")
            if not rows:
                return None
            return (await self._fetch_by_ids(resource, [rows[0]["ID"]])).get(rows[0]["ID"])
        # Expenses resume through their recorded steps.
        return None

    # -- helpers: resources ----------------------------------------------------------------------
    def _path(self, resource: Resource) -> str:
        path = self.mapping.resource(resource).path
        if not path:
            raise LedgerQLError(ErrorCode.INTERNAL, f"no Exact Online path mapped for {resource.value}")
        return path

    def _specs(self, resource: Resource) -> cv.Specs:
        return self.mapping.resource(resource).field_specs()

    def _code_of(self, resource: Resource, unified_id: str) -> str | None:
        if resource == R.DEPARTMENTS:
            return unified_id.removeprefix(self.dims.center_prefix) \
                if unified_id.startswith(self.dims.center_prefix) else None
        if resource == R.LOCATIONS:
            return unified_id.removeprefix(self.dims.unit_prefix) \
                if unified_id.startswith(self.dims.unit_prefix) else None
        return unified_id

    def _company(self, division: dict[str, Any]) -> Any:
        month = self.mapping.quirks.get("fiscal_year_start_month")
        return cv.company(division, self._specs(R.COMPANY_INFO), int(month) if month else None)

    async def _tracking_all(self) -> list[Record]:
        centers, units = await asyncio.gather(self._all(COST_CENTERS, None), self._all(COST_UNITS, None))
        specs = self._specs(R.TRACKING_CATEGORIES)
        records: list[Record] = list(self.dims.roots())
        records += [cv.tracking_option(r, specs, self.dims.center_prefix, self.dims.department_id, TrackingCategory)
                    for r in centers]
        records += [cv.tracking_option(r, specs, self.dims.unit_prefix, self.dims.location_id, TrackingCategory)
                    for r in units]
        return records

    async def _tracking_by_ids(self, ids: list[str]) -> dict[str, Record]:
        found: dict[str, Record] = {r.id: r for r in self.dims.roots() if r.id in ids}
        centers = [i.removeprefix(self.dims.center_prefix) for i in ids if i.startswith(self.dims.center_prefix)]
        units = [i.removeprefix(self.dims.unit_prefix) for i in ids if i.startswith(self.dims.unit_prefix)]
        center_rows, unit_rows = await asyncio.gather(
            self._where_in(COST_CENTERS, "Code", centers, q.string),
            self._where_in(COST_UNITS, "Code", units, q.string))
        specs = self._specs(R.TRACKING_CATEGORIES)
        for row in center_rows:
            rec = cv.tracking_option(row, specs, self.dims.center_prefix, self.dims.department_id, TrackingCategory)
            found[rec.id] = rec
        for row in unit_rows:
            rec = cv.tracking_option(row, specs, self.dims.unit_prefix, self.dims.location_id, TrackingCategory)
            found[rec.id] = rec
        return {k: v for k, v in found.items() if k in ids}

    # -- entry numbers (OurRef and PaymentReference name documents by number) --------------------------
    def _remember(self, kind: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            number, entry_id = row.get("EntryNumber"), row.get("EntryID")
            if number is None or not entry_id:
                continue
            info = EntryInfo(id=entry_id, number=int(number), entry_date=row.get("EntryDate"),
                             due_date=row.get("DueDate"), amount=cv.decimal(row.get("AmountFC")))
            self._entries[entry_id] = info
            self._by_number[(kind, info.number)] = entry_id

    async def _learn(self, kind: str, field: str, values: list[Any], render: Callable[[Any], str]) -> None:
        path = SALES_ENTRIES if kind == SALES else PURCHASE_ENTRIES
        rows = await self._where_in(path, field, values, render,
                                    select="EntryID,EntryNumber,EntryDate,DueDate,AmountFC")
        self._remember(kind, rows)

    async def _numbers_of(self, kind: str, entry_ids: list[str]) -> list[int]:
        missing = [i for i in entry_ids if i not in self._entries]
        if missing:
            await self._learn(kind, "EntryID", missing, q.guid)
        return [self._entries[i].number for i in entry_ids if i in self._entries]

    async def _ids_of(self, kind: str, numbers: set[int]) -> dict[int, str]:
        missing = sorted(n for n in numbers if (kind, n) not in self._by_number)
        if missing:
            await self._learn(kind, "EntryNumber", missing, q.literal)
        return {n: self._by_number[(kind, n)] for n in numbers if (kind, n) in self._by_number}

    async def _open_amounts(self, kind: str, entry_ids: list[str]) -> dict[str, dict[str, Any]]:
        path = RECEIVABLES if kind == SALES else PAYABLES
        rows = await self._where_in(path, "EntryID", entry_ids, q.guid,
                                    select="EntryID,AmountFC,TransactionAmountFC,IsFullyPaid")
        return {row["EntryID"]: row for row in rows if row.get("EntryID")}

    # -- conversion --------------------------------------------------------------------------------
    async def fetch_balances(self, resource: Resource, ids: Sequence[str]) -> dict[str, Decimal]:
        """Open balances of invoices / bills read from a page: one open-items call per batch."""
        if resource not in (R.INVOICES, R.BILLS, R.CREDIT_NOTES):
            return await super().fetch_balances(resource, ids)
        wanted = [i for i in dict.fromkeys(ids) if _is_guid(i)]
        kind = PURCHASE if resource == R.BILLS else SALES
        items = await self._open_amounts(kind, wanted)
        missing = [i for i in wanted if i not in items]
        result: dict[str, Decimal] = {}
        for ident, item in items.items():
            amount = cv.decimal(item.get("AmountFC")) or cv.ZERO
            result[ident] = cv.signed(amount, -1 if (cv.decimal(item.get("TransactionAmountFC")) or 0) < 0 else 1)
        if missing:  # no open item: the document is owed in full (read it)
            found = await self.get_many(resource, missing)
            result.update({i: found[i].balance for i in missing if i in found})  # type: ignore[attr-defined]
        return result

    async def _convert(self, resource: Resource, rows: list[dict[str, Any]], *, deferred: bool = False
                       ) -> list[Record]:
        records = await self._convert_rows(resource, rows, deferred=deferred)
        mapping = self.mapping.resource(resource)
        if mapping.shown:
            for record in records:
                cv.show(record, record.raw or {}, mapping, EXPAND.get(resource))
        return records

    async def _convert_rows(self, resource: Resource, rows: list[dict[str, Any]], *, deferred: bool = False
                            ) -> list[Record]:
        specs = self._specs(resource)
        if resource == R.LEDGER_ACCOUNTS:
            # A GL account does not say its currency: a bank journal's account has the journal's, any other
            # the division's. Two more calls most queries never need: the currency is deferred.
            return [cv.ledger_account(r, specs, self.gl_types, None, deferred=True) for r in rows]
        if resource in (R.CUSTOMERS, R.SUPPLIERS):
            kind = Customer if resource == R.CUSTOMERS else Supplier
            return [cv.contact(r, specs, kind) for r in rows]
        if resource == R.TAX_RATES:
            return [cv.tax_rate(r, specs) for r in rows]
        if resource == R.DEPARTMENTS:
            return [cv.tracking_option(r, specs, self.dims.center_prefix, self.dims.department_id, Department)
                    for r in rows]
        if resource == R.LOCATIONS:
            return [cv.tracking_option(r, specs, self.dims.unit_prefix, self.dims.location_id, Location)
                    for r in rows]
        if resource == R.JOURNALS:
            return [cv.journal(r, specs) for r in rows]
        if resource == R.BANK_ACCOUNTS:
            return [cv.bank_account(r, specs) for r in rows]
        if resource == R.PURCHASE_ORDERS:
            closed = int(self.mapping.quirks.get("purchase_order_closed_status", 30))
            return [cv.purchase_order(r, specs, self.dims, closed) for r in rows]
        if resource == R.JOURNAL_ENTRIES:
            return [cv.journal_entry(r, specs, self.dims) for r in rows]
        if resource in (R.INVOICES, R.CREDIT_NOTES):
            return await self._sales(resource, rows, deferred=deferred)
        if resource in (R.BILLS, R.EXPENSES):
            return await self._purchases(resource, rows, deferred=deferred)
        if resource in (R.PAYMENTS, R.BILL_PAYMENTS):
            return await self._bank_entries(resource, rows)
        raise LedgerQLError(ErrorCode.INTERNAL, f"Exact Online cannot convert {resource.value}")

    async def _sales(self, resource: Resource, rows: list[dict[str, Any]], *, deferred: bool = False
                     ) -> list[Record]:
        if not rows:
            return []
        self._remember(SALES, rows)
        ids = [r["EntryID"] for r in rows]
        refs: set[int] = set()
        for r in rows:
            ref = str(r.get("PaymentReference") or "").strip()
            if r.get("Type") == 21 and ref.isdigit() and int(ref) != r.get("EntryNumber"):
                refs.add(int(ref))
        defer = deferred and all(r.get("Type") != 21 for r in rows)
        open_items, invoice_ids = await asyncio.gather(
            self._open_amounts(SALES, [] if defer else ids), self._ids_of(SALES, refs))
        specs = self._specs(resource)
        result: list[Record] = []
        for r in rows:
            item = open_items.get(r["EntryID"])
            ref = str(r.get("PaymentReference") or "").strip()
            target = invoice_ids.get(int(ref)) if ref.isdigit() else None
            open_amount = cv.decimal(item.get("AmountFC")) if item else None
            record = cv.sales_entry(r, specs, EXPAND[R.INVOICES], open_amount, self.dims, self.number_field,
                                    allocated_to=target)
            if defer:
                record.balance_deferred = True
            result.append(record)
        return result

    async def _purchases(self, resource: Resource, rows: list[dict[str, Any]], *, deferred: bool = False
                         ) -> list[Record]:
        if not rows:
            return []
        self._remember(PURCHASE, rows)
        specs = self._specs(resource)
        nav = EXPAND[R.BILLS]
        if resource == R.BILLS:
            # The upstream filter already left the expense fallback out; the check stands for rows read otherwise.
            rows = [r for r in rows if not cv.is_expense_entry(r)]
            # Open amounts only when the caller cannot wait for them (`fetch_balances` reads them per batch).
            open_items = {} if deferred else await self._open_amounts(PURCHASE, [r["EntryID"] for r in rows])
            bills: list[Record] = []
            for r in rows:
                item = open_items.get(r["EntryID"])
                bill = cv.purchase_entry(r, specs, nav, cv.decimal(item.get("AmountFC")) if item else None,
                                         self.dims, self.number_field)
                bill.balance_deferred = deferred
                bills.append(bill)
            return bills
        expenses = [r for r in rows if cv.is_expense_entry(r)]
        accounts = await self._settling_accounts([int(r["EntryNumber"]) for r in expenses])
        return [cv.expense(r, specs, nav, self.dims, self.number_field, accounts.get(int(r["EntryNumber"])))
                for r in expenses]

    async def _settling_accounts(self, numbers: list[int]) -> dict[int, str]:
        """The bank ledger account that settled each purchase entry (by entry number)."""
        if not numbers:
            return {}
        # The lines, the control accounts and the journals do not depend on each other: one round.
        lines, (_, payable), journals = await asyncio.gather(
            self._where_in(BANK_ENTRY_LINES, "OurRef", numbers, q.literal, select="EntryID,OurRef,GLAccount"),
            self._control_accounts(), self._journals())
        lines = [line for line in lines if line.get("GLAccount") in payable]
        entries = await self._where_in(BANK_ENTRIES, "EntryID", [line["EntryID"] for line in lines], q.guid,
                                       select="EntryID,JournalCode")
        journal_of = {e["EntryID"]: str(e.get("JournalCode") or "").strip() for e in entries}
        result: dict[int, str] = {}
        for line in lines:
            journal = journals.get(journal_of.get(line["EntryID"], ""))
            if journal and journal.get("GLAccount"):
                result.setdefault(int(line["OurRef"]), journal["GLAccount"])
        return result

    async def _bank_entries(self, resource: Resource, rows: list[dict[str, Any]]) -> list[Record]:
        if not rows:
            return []
        receivable, payable = await self._control_accounts()
        receipts = resource == R.PAYMENTS
        control = receivable if receipts else payable
        kind = SALES if receipts else PURCHASE
        picked = [r for r in rows
                  if any(line.get("GLAccount") in control for line in cv.nav_rows(r, "BankEntryLines"))]
        numbers = {int(line["OurRef"]) for r in picked for line in cv.nav_rows(r, "BankEntryLines")
                   if line.get("OurRef") not in (None, "")}
        ids = await self._ids_of(kind, numbers)
        specs = self._specs(resource)
        result: list[Record] = []
        for r in picked:
            if not receipts and self._settles_expense(r):
                continue
            # The bank account is the entry's journal's GL account: the journals are read only when asked for.
            result.append(cv.bank_entry(r, specs, receipts, ids, None, deferred=True))
        return result

    async def resolve_deferred(self, resource: Resource, name: str, records: Sequence[Record]) -> dict[str, Any]:
        """A ledger account's currency and a payment's bank account: both from the journals (a bank
        journal names its GL account and currency), the currency otherwise the division's."""
        if resource == R.LEDGER_ACCOUNTS and name == "currency":
            journals, division = await asyncio.gather(self._journals(), self._division())
            bank_currency = {j.get("GLAccount"): j.get("Currency") for j in journals.values() if j.get("GLAccount")}
            return {r.id: bank_currency.get(r.id) or division.get("Currency") for r in records}
        if resource in (R.PAYMENTS, R.BILL_PAYMENTS) and name == "account_id":
            journals = await self._journals()
            return {r.id: (journals.get(str((r.raw or {}).get("JournalCode") or "").strip()) or {}).get("GLAccount")
                    for r in records}
        return await super().resolve_deferred(resource, name, records)

    def _settles_expense(self, entry: dict[str, Any]) -> bool:
        """A bank entry that pays purchase entries with due date = entry date in full, at once: the
        settlement of an expense (part of the expense, not a bill payment)."""
        lines = cv.nav_rows(entry, "BankEntryLines")
        refs = [line for line in lines if line.get("OurRef") not in (None, "")]
        if not refs or len(refs) != len(lines):
            return False
        for line in refs:
            entry_id = self._by_number.get((PURCHASE, int(line["OurRef"])))
            info = self._entries.get(entry_id or "")
            if info is None or not info.due_date or info.due_date != info.entry_date:
                return False
            if info.amount is None or cv.decimal(line.get("AmountFC")) != info.amount:
                return False
        return True


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code)
    if isinstance(body, dict):
        return str(body.get("error_description") or body.get("error") or response.status_code)
    return str(response.status_code)
