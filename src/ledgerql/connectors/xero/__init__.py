"""The Xero connector (Accounting API, api.xro/2.0).

How LedgerQL's questions become Xero calls:
- lists page with `page`/`pageSize` (one call per page, line items included because `page` is
  sent); `updated_since` is the `If-Modified-Since` header; type, status, date range and party are
  pushed into `where` (`Type=="ACCPAY" AND Status!="DELETED" AND Date>=DateTime(2025,01,01) ...`);
  `pagination.itemCount` gives totals and native counts for free;
- by id: `IDs=` on Invoices and Contacts, `where=XID==Guid("..") OR ...` elsewhere (split to stay
  under Xero's URL limit); unpaged reference data (Accounts, TaxRates, TrackingCategories,
  Organisation) is read whole, and by-id lookups on it are answered from that one listing, which the
  gateway's shared cache keeps for the resource's `cache_ttl` (the connector keeps no cache of its own);
- payments: a Payment on one document is one unified payment; the Payments of one BatchPayment
  are ONE unified payment (id = BatchPaymentID) with one allocation per document; an Overpayment
  is one unified payment whose total exceeds its allocations. Reverse lookups (invoice → payments,
  bill → payments, invoice → credit notes) list the payment endpoints once, bounded by the payment
  dates the documents themselves carry, and skip endpoints no document refers to.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from ledgerql.connectors.base import ConnectionConfig, ListFilter, Page
from ledgerql.connectors.http import Tokens, decimal_json, oauth_error
from ledgerql.connectors.xero.convert import Converter, Resolver, ms_date, needs_lookup
from ledgerql.connectors.xero.writes import XeroWrites
from ledgerql.model import entities as m
from ledgerql.model.enums import DocumentStatus, Operation, Provider, Resource, Source
from ledgerql.model.errors import ErrorCode, LedgerQLError

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Paged document endpoints: resource → (path, collection, id field).
_PAGED: dict[Resource, tuple[str, str, str]] = {
    Resource.CUSTOMERS: ("/Contacts", "Contacts", "ContactID"),
    Resource.SUPPLIERS: ("/Contacts", "Contacts", "ContactID"),
    Resource.INVOICES: ("/Invoices", "Invoices", "InvoiceID"),
    Resource.BILLS: ("/Invoices", "Invoices", "InvoiceID"),
    Resource.CREDIT_NOTES: ("/CreditNotes", "CreditNotes", "CreditNoteID"),
    Resource.EXPENSES: ("/BankTransactions", "BankTransactions", "BankTransactionID"),
    Resource.PURCHASE_ORDERS: ("/PurchaseOrders", "PurchaseOrders", "PurchaseOrderID"),
    Resource.JOURNAL_ENTRIES: ("/ManualJournals", "ManualJournals", "ManualJournalID"),
}
_DOCUMENT_TYPES = {Resource.INVOICES: "ACCREC", Resource.BILLS: "ACCPAY", Resource.CREDIT_NOTES: "ACCRECCREDIT",
                   Resource.EXPENSES: "SPEND"}
_PAYMENT_TYPES = {Resource.PAYMENTS: ("ACCRECPAYMENT", "RECEIVE-OVERPAYMENT"),
                  Resource.BILL_PAYMENTS: ("ACCPAYPAYMENT", "SPEND-OVERPAYMENT")}
# Unpaged reference endpoints, read whole: path → (collection, resource whose cache_ttl applies).
_WHOLE: dict[str, tuple[str, Resource]] = {
    "/Accounts": ("Accounts", Resource.LEDGER_ACCOUNTS),
    "/TaxRates": ("TaxRates", Resource.TAX_RATES),
    "/TrackingCategories": ("TrackingCategories", Resource.TRACKING_CATEGORIES),
    "/Organisation": ("Organisations", Resource.COMPANY_INFO),
}
# How long what a document says about its payments is trusted to skip a lookup (seconds).
_LINK_TTL = 60.0


def _guid(value: str) -> bool:
    return bool(_GUID.match(value))


def _datetime_literal(day: date) -> str:
    return f"DateTime({day.year},{day.month:02d},{day.day:02d})"


def _since_header(since: datetime | None) -> dict[str, str]:
    if since is None:
        return {}
    moment = since if since.tzinfo else since.replace(tzinfo=UTC)
    # Truncated to the millisecond (Xero's resolution): a superset; the base re-checks strictly.
    return {"If-Modified-Since": moment.astimezone(UTC).isoformat(timespec="milliseconds")}


class XeroConnector(XeroWrites):
    provider = Provider.XERO

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.convert = Converter(self.mapping)
        self._base_currency: str | None = None
        self._created: dict[str, dict[str, Any]] = {}  # new id → its create response element (until used)
        # tracking option id → its category id: fixed in Xero (an option never moves), so learned once
        self._option_category: dict[str, str] = {}
        # document id → (expires, payment dates, has overpayments, has credit notes), from documents read
        self._links: dict[str, tuple[float, list[date], bool, bool]] = {}
        # document id → the OverpaymentIDs it names (read with `_links`, trusted only while its link is)
        self._overpaid_by: dict[str, list[str]] = {}
        quirks = self.mapping.quirks
        self.max_where = int(quirks.get("max_where_length", 1800))
        self.journal_id = str(quirks.get("derived_journal_id", "journal:manual"))
        self.journal_name = str(quirks.get("derived_journal_name", "General Journal"))
        self.hidden = [str(s) for s in quirks.get("hidden_statuses", ["DELETED"])]

    # -- build hooks -----------------------------------------------------------------------------
    @classmethod
    def api_root(cls, config: ConnectionConfig) -> str:
        return f"{config.base_url.rstrip('/')}/api.xro/2.0"

    @classmethod
    def default_headers(cls, config: ConnectionConfig) -> dict[str, str]:
        return {"xero-tenant-id": config.tenant_id}

    @classmethod
    async def refresh_tokens(cls, config: ConnectionConfig, client: httpx.AsyncClient, current: Tokens) -> Tokens:
        """Xero: POST the refresh token with the client's Basic credentials; the refresh token
        rotates on every use (the previous one keeps working for 30 minutes)."""
        if not config.token_url or not current.refresh_token:
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED, "The Xero connection cannot be refreshed: "
                                "no token endpoint or refresh token", connectionId=config.id)
        basic = base64.b64encode(f"{config.client_id or ''}:{current.client_secret or ''}".encode()).decode()
        response = await client.post(
            config.token_url, data={"grant_type": "refresh_token", "refresh_token": current.refresh_token},
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json",
                     "xero-tenant-id": ""})
        if response.status_code in (400, 401, 403):
            reason = cls.error_message(response) or str(response.status_code)
            raise LedgerQLError(ErrorCode.UPSTREAM_AUTH_EXPIRED,
                                f"Xero refused to refresh the connection's tokens ({reason}); reconnect it",
                                connectionId=config.id, oauthError=oauth_error(response))
        if not response.is_success:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE,
                                f"Xero's token endpoint failed ({response.status_code})", connectionId=config.id)
        body = response.json()
        return Tokens.from_grant(body, current, default_ttl=1800)

    @staticmethod
    def error_message(response: httpx.Response) -> str:
        """Xero answers in three shapes: API exceptions (`Message` + `Elements[].ValidationErrors`),
        gateway problems (`Title`/`Detail`) and OAuth errors (`error`)."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        if not isinstance(body, dict):
            return ""
        messages = [str(v["Message"]) for element in body.get("Elements") or [] if isinstance(element, dict)
                    for v in element.get("ValidationErrors") or [] if isinstance(v, dict) and v.get("Message")]
        if messages:
            return "; ".join(dict.fromkeys(messages))
        if body.get("Message"):
            return str(body["Message"])
        if body.get("Detail") or body.get("Title"):
            return str(body.get("Detail") or body.get("Title"))
        if body.get("error"):
            return str(body.get("error_description") or body["error"])
        return ""

    # -- calls -----------------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.http.request("GET", path, params=params, headers=headers)
        body = decimal_json(response)
        return body if isinstance(body, dict) else {}

    async def _whole(self, path: str) -> list[dict[str, Any]]:
        """An unpaged collection, read whole. Not kept here: the gateway's shared cache keeps the
        unified records of these resources for their `cache_ttl` (and forgets them on writes)."""
        collection, _ = _WHOLE[path]
        items = list((await self._get(path)).get(collection) or [])
        if path == "/Organisation" and items:
            self._base_currency = items[0].get("BaseCurrency") or self._base_currency
        return items

    async def _all(self, resource: Resource) -> list[m.Record]:
        """Every record of an unpaged reference resource, through the shared cache."""
        page = await self.list_page(resource, ListFilter(), None, self.mapping.paging.max_size)
        return page.records

    async def base_currency(self) -> str:
        """The organisation's base currency (fixed for the life of a Xero organisation, so learned once)."""
        if self._base_currency is None:
            companies = await self._all(Resource.COMPANY_INFO)
            company = companies[0] if companies else None
            self._base_currency = company.base_currency if isinstance(company, m.CompanyInfo) and \
                company.base_currency else ""
        return self._base_currency

    def _where_chunks(self, clauses: Sequence[str], suffix: str = "") -> list[str]:
        """`(a OR b OR ...)` filters, each short enough for Xero's URL limit."""
        chunks: list[str] = []
        current: list[str] = []
        for clause in clauses:
            if current and len(" OR ".join([*current, clause])) + len(suffix) + 8 > self.max_where:
                chunks.append(" OR ".join(current))
                current = []
            current.append(clause)
        if current:
            chunks.append(" OR ".join(current))
        return [f"({chunk}){suffix}" for chunk in chunks]

    async def _where_lookup(self, path: str, collection: str, clauses: Sequence[str], suffix: str = "",
                            paged: bool = True, tolerant: bool = False) -> list[dict[str, Any]]:
        """Records matching any clause; one call per URL-sized chunk, run concurrently."""
        async def one(where: str) -> list[dict[str, Any]]:
            params: dict[str, Any] = {"where": where}
            if paged:
                params.update(page=1, pageSize=self.mapping.paging.max_size)
            try:
                return list((await self._get(path, params)).get(collection) or [])
            except LedgerQLError as exc:
                # Xero answers a `where` on a field it has never seen with a QueryParseException.
                if tolerant and exc.code == ErrorCode.BAD_USER_INPUT and "No property" in exc.message:
                    return []
                raise

        results = await asyncio.gather(*(one(w) for w in self._where_chunks(clauses, suffix)))
        return [item for chunk in results for item in chunk]

    async def _resolver(self, records: list[dict[str, Any]], lines_key: str = "LineItems") -> Resolver:
        """What lines naming an account only by code or tracking only by name need (usually nothing)."""
        accounts, tracking = needs_lookup(records, lines_key)
        by_code: dict[str, str] = {}
        by_name: dict[tuple[str, str], str] = {}
        if accounts:
            by_code = {str(a.nominal_code): a.id for a in await self._all(Resource.LEDGER_ACCOUNTS)
                       if isinstance(a, m.LedgerAccount) and a.nominal_code}
        if tracking:
            entries = [t for t in await self._all(Resource.TRACKING_CATEGORIES) if isinstance(t, m.TrackingCategory)]
            names = {t.id: t.name for t in entries if not t.parent_id}
            for option in entries:
                if option.parent_id and option.parent_id in names:
                    by_name[(names[option.parent_id].lower(), option.name.lower())] = option.id
        return Resolver(by_code, by_name)

    def _learn(self, documents: list[dict[str, Any]]) -> None:
        """Remember what documents say about their payments (to bound reverse lookups), and the base
        currency (a document at CurrencyRate 1 is in it)."""
        expires = time.monotonic() + _LINK_TTL
        for doc in documents:
            doc_id = doc.get("InvoiceID")
            if doc_id:
                dates = [d for d in (ms_date(p.get("Date")) for p in doc.get("Payments") or []) if d]
                self._links[str(doc_id)] = (expires, dates, bool(doc.get("Overpayments")),
                                            bool(doc.get("CreditNotes")))
                self._overpaid_by[str(doc_id)] = [str(o["OverpaymentID"]) for o in doc.get("Overpayments") or []
                                                  if isinstance(o, dict) and o.get("OverpaymentID")]
            if self._base_currency is None and doc.get("CurrencyCode") and \
                    str(doc.get("CurrencyRate")) in ("1", "1.0", "1.000000", "1.0000000000"):
                self._base_currency = str(doc["CurrencyCode"])
        if len(self._links) > 20_000:
            now = time.monotonic()
            self._links = {k: v for k, v in self._links.items() if v[0] > now}
            self._overpaid_by = {k: v for k, v in self._overpaid_by.items() if k in self._links}

    # -- filters ---------------------------------------------------------------------------------
    def _where(self, resource: Resource, filter: ListFilter) -> str | None:
        """The `where` for a list; None when the filter can match nothing (a party id that is no GUID)."""
        clauses: list[str] = []
        kind = _DOCUMENT_TYPES.get(resource)
        if kind:
            clauses.append(f'Type=="{kind}"')
        if resource in (Resource.CUSTOMERS, Resource.SUPPLIERS):
            key = "customer_where" if resource == Resource.CUSTOMERS else "supplier_where"
            clauses.append(str(self.mapping.quirks.get(key, "IsCustomer==true")))
        if resource in (Resource.INVOICES, Resource.BILLS, Resource.CREDIT_NOTES, Resource.EXPENSES,
                        Resource.JOURNAL_ENTRIES):
            clauses += [f'Status!="{s}"' for s in self.hidden]
        if resource in (Resource.INVOICES, Resource.BILLS) and filter.status:
            wanted = {DocumentStatus.PAID.value: ['"PAID"'], DocumentStatus.AUTHORISED.value: ['"AUTHORISED"'],
                      DocumentStatus.PARTIALLY_PAID.value: ['"AUTHORISED"'],
                      DocumentStatus.DRAFT.value: ['"DRAFT"', '"SUBMITTED"'],
                      DocumentStatus.VOIDED.value: ['"VOIDED"']}.get(filter.status)
            if wanted:
                clauses.append("(" + " OR ".join(f"Status=={w}" for w in wanted) + ")")
        if resource in (Resource.INVOICES, Resource.BILLS, Resource.CREDIT_NOTES, Resource.EXPENSES,
                        Resource.JOURNAL_ENTRIES):
            if filter.date_from:
                clauses.append(f"Date>={_datetime_literal(filter.date_from)}")
            if filter.date_to:
                clauses.append(f"Date<={_datetime_literal(filter.date_to)}")
        party = filter.customer_id if resource in (Resource.INVOICES, Resource.CREDIT_NOTES) else \
            filter.supplier_id if resource in (Resource.BILLS, Resource.EXPENSES) else None
        if party:
            if not _guid(party):
                return None
            clauses.append(f'Contact.ContactID==Guid("{party}")')
        return " AND ".join(clauses)

    # -- reads -----------------------------------------------------------------------------------
    async def fetch_page(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                         limit: int) -> Page:
        if resource in _PAGED:
            return await self._document_page(resource, filter, state, limit)
        if resource in _PAYMENT_TYPES:
            return await self._payment_page(resource, filter, state, limit)
        records = await self._reference(resource, filter)
        return Page(records=records, state={"whole": 1}, next_state=None, page_size=max(1, len(records)),
                    total=len(records))

    async def _paged_call(self, path: str, collection: str, params: dict[str, Any], headers: dict[str, str],
                          state: dict[str, Any] | None, size: int) -> tuple[list[dict[str, Any]], dict[str, Any],
                                                                          dict[str, Any] | None, int | None]:
        page_no = int(state.get("page", 1)) if state else 1
        size = int(state.get("size", size)) if state else size
        body = await self._get(path, {**params, "page": page_no, "pageSize": size}, headers)
        items = list(body.get(collection) or [])
        pagination = body.get("pagination") or {}
        page_count = pagination.get("pageCount")
        more = len(items) >= size and (not isinstance(page_count, int) or page_no < page_count)
        here = {"page": page_no, "size": size}
        following = {"page": page_no + 1, "size": size} if more else None
        total = pagination.get("itemCount")
        return items, here, following, total if isinstance(total, int) else None

    async def _document_page(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                             limit: int) -> Page:
        path, collection, _ = _PAGED[resource]
        size = self.page_size(resource, limit)
        where = self._where(resource, filter)
        if where is None:
            return Page(records=[], state={"page": 1, "size": size}, next_state=None, page_size=size, total=0)
        params: dict[str, Any] = {}
        if resource == Resource.PURCHASE_ORDERS:  # no `where` on PurchaseOrders: its own parameters
            if filter.date_from:
                params["DateFrom"] = filter.date_from.isoformat()
            if filter.date_to:
                params["DateTo"] = filter.date_to.isoformat()
        elif where:
            params["where"] = where
        if resource in (Resource.CUSTOMERS, Resource.SUPPLIERS):
            params["includeArchived"] = "true"
        items, here, following, total = await self._paged_call(path, collection, params,
                                                               _since_header(filter.updated_since), state, size)
        records = await self._convert(resource, items)
        return Page(records=records, state=here, next_state=following, page_size=here["size"], total=total)

    async def _convert(self, resource: Resource, items: list[dict[str, Any]]) -> list[m.Record]:
        """Provider records of a paged resource → unified records (drops what the resource excludes)."""
        kind = _DOCUMENT_TYPES.get(resource)
        if kind and resource != Resource.EXPENSES:
            items = [i for i in items if i.get("Type") == kind]
        if resource == Resource.EXPENSES:
            items = [i for i in items if i.get("Type") == "SPEND"]
        items = [i for i in items if i.get("Status") not in self.hidden]
        if resource in (Resource.CUSTOMERS, Resource.SUPPLIERS):
            return [self.convert.contact(resource, i) for i in items]
        if resource == Resource.JOURNAL_ENTRIES:
            resolver, currency = await asyncio.gather(self._resolver(items, "JournalLines"), self.base_currency())
            return [self.convert.journal_entry(i, resolver, self.journal_id, currency) for i in items]
        if resource in (Resource.INVOICES, Resource.BILLS):
            self._learn(items)
        resolver = await self._resolver(items)
        if resource in (Resource.INVOICES, Resource.BILLS):
            return [self.convert.invoice(resource, i, resolver) for i in items]
        if resource == Resource.CREDIT_NOTES:
            return [self.convert.credit_note(i, resolver) for i in items]
        if resource == Resource.EXPENSES:
            return [self.convert.expense(i, resolver) for i in items]
        return [self.convert.purchase_order(i, resolver) for i in items]

    async def _reference(self, resource: Resource, filter: ListFilter) -> list[m.Record]:
        """Reference data from the unpaged endpoints (whole, cached; or changed-since, uncached)."""
        if resource in (Resource.LEDGER_ACCOUNTS, Resource.BANK_ACCOUNTS):
            if filter.updated_since:
                body = await self._get("/Accounts", None, _since_header(filter.updated_since))
                accounts = list(body.get("Accounts") or [])
            else:
                accounts = await self._whole("/Accounts")
            if resource == Resource.BANK_ACCOUNTS:
                return [self.convert.bank_account(a) for a in accounts if a.get("Type") == "BANK"]
            # An account without a CurrencyCode is in the base currency; until this connector has learnt it
            # (from documents, or the Organisation), that currency is deferred: read only when selected.
            return [self.convert.ledger_account(a, self._base_currency) for a in accounts]
        if resource == Resource.TAX_RATES:
            return [self.convert.tax_rate(r) for r in await self._whole("/TaxRates")
                    if r.get("Status") != "DELETED"]
        if resource == Resource.TRACKING_CATEGORIES:
            return list(self.convert.tracking(await self._whole("/TrackingCategories")))
        if resource in (Resource.DEPARTMENTS, Resource.LOCATIONS):
            key = "department_category" if resource == Resource.DEPARTMENTS else "location_category"
            name = str(self.mapping.quirks.get(key, "Department" if resource == Resource.DEPARTMENTS else "Location"))
            return self.convert.dimension_options(resource, await self._whole("/TrackingCategories"), name)
        if resource == Resource.JOURNALS:
            return [m.Journal(id=self.journal_id, name=self.journal_name, source=Source.DERIVED)]
        if resource == Resource.COMPANY_INFO:
            return [self.convert.company(o) for o in await self._whole("/Organisation")]
        raise LedgerQLError(ErrorCode.UNSUPPORTED_BY_PROVIDER, f"XERO does not serve {resource.value}",
                            provider="XERO", resource=resource.value)

    # -- payments --------------------------------------------------------------------------------
    def _payment_where(self, resource: Resource, filter: ListFilter, overpayment: bool) -> str | None:
        payment_type, over_type = _PAYMENT_TYPES[resource]
        clauses = [f'Type=="{over_type}"', 'Status!="VOIDED"', 'Status!="DELETED"'] if overpayment else \
            [f'PaymentType=="{payment_type}"', 'Status!="DELETED"']
        if filter.date_from:
            clauses.append(f"Date>={_datetime_literal(filter.date_from)}")
        if filter.date_to:
            clauses.append(f"Date<={_datetime_literal(filter.date_to)}")
        party = filter.customer_id if resource == Resource.PAYMENTS else filter.supplier_id
        if party:
            if not _guid(party):
                return None
            clauses.append(f'Contact.ContactID==Guid("{party}")' if overpayment
                           else f'Invoice.Contact.ContactID==Guid("{party}")')
        return " AND ".join(clauses)

    async def resolve_deferred(self, resource: Resource, name: str, records: Sequence[m.Record]) -> dict[str, Any]:
        if resource == Resource.LEDGER_ACCOUNTS and name == "currency":
            base = await self.base_currency()
            return {r.id: getattr(r, "currency", None) or base or None for r in records}
        return await super().resolve_deferred(resource, name, records)

    async def _payment_page(self, resource: Resource, filter: ListFilter, state: dict[str, Any] | None,
                            limit: int) -> Page:
        """Payments (batches grouped), then Overpayments: two phases of one paged list."""
        size = self.page_size(resource, limit)
        phase = str(state.get("phase", "p")) if state else "p"
        overpayment = phase == "o"
        where = self._payment_where(resource, filter, overpayment)
        if where is None:
            return Page(records=[], state={"phase": phase, "page": 1, "size": size}, next_state=None,
                        page_size=size, total=0)
        path, collection = ("/Overpayments", "Overpayments") if overpayment else ("/Payments", "Payments")
        items, here, following, _ = await self._paged_call(path, collection, {"where": where},
                                                           _since_header(filter.updated_since), state, size)
        here["phase"] = phase
        if following is not None:
            following["phase"] = phase
        elif phase == "p":
            following = {"phase": "o", "page": 1, "size": here["size"]}
        if overpayment:
            records = self.convert.payments(resource, [], {}, items)
        else:
            records = await self._assemble(resource, items)
        return Page(records=records, state=here, next_state=following, page_size=here["size"])

    async def _assemble(self, resource: Resource, payments: list[dict[str, Any]]) -> list[m.Record]:
        """Unified payments from one page of Xero Payments. A batch whose children are all on the page
        is built from them; one split over pages is read from /BatchPayments and emitted only on the
        page holding its first child, so it appears once in the whole list."""
        payment_type, _ = _PAYMENT_TYPES[resource]
        payments = [p for p in payments if p.get("PaymentType") == payment_type and p.get("Status") != "DELETED"]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for payment in payments:
            if payment.get("BatchPaymentID"):
                grouped.setdefault(str(payment["BatchPaymentID"]), []).append(payment)
        partial = [bid for bid, children in grouped.items() if not _complete(children)]
        batches: dict[str, dict[str, Any]] = {}
        if partial:
            found = await self._where_lookup("/BatchPayments", "BatchPayments",
                                             [f'BatchPaymentID==Guid("{b}")' for b in partial], paged=False)
            batches = {str(b["BatchPaymentID"]): b for b in found}

        def emit(batch_id: str, children: list[dict[str, Any]]) -> bool:
            batch = batches.get(batch_id)
            if batch is None or not batch.get("Payments"):
                return True
            leader = batch["Payments"][0].get("PaymentID")
            return any(c.get("PaymentID") == leader for c in children)

        return self.convert.payments(resource, payments, batches, [], emit)

    async def find_allocated_to(self, resource: Resource, document_ids: Sequence[str]) -> list[m.Record]:
        wanted = {d for d in document_ids if d}
        if not wanted:
            return []
        if resource in _PAYMENT_TYPES:
            records = await self._payments_of(resource, wanted)
        elif resource == Resource.CREDIT_NOTES:
            records = await self._credit_notes_of(wanted)
        else:
            return await super().find_allocated_to(resource, document_ids)
        return [r for r in records if any(a.document_id in wanted for a in getattr(r, "allocations", []))]

    def _known_links(self, ids: set[str]) -> dict[str, tuple[float, list[date], bool, bool]] | None:
        now = time.monotonic()
        known = {i: self._links[i] for i in ids if i in self._links and self._links[i][0] > now}
        return known if len(known) == len(ids) else None

    async def _payments_of(self, resource: Resource, ids: set[str]) -> list[m.Record]:
        """Payments and overpayments allocated to these documents: the Payments endpoint listed once
        (bounded by the payment dates the documents carry, when they were just read) and the
        Overpayments endpoint only when a document has one, asked for the overpayments the documents name."""
        known = self._known_links(ids)
        payment_type, over_type = _PAYMENT_TYPES[resource]
        want_payments = want_over = True
        payment_where = f'PaymentType=="{payment_type}" AND Status!="DELETED"'
        over_where = f'Type=="{over_type}" AND Status!="VOIDED" AND Status!="DELETED"'
        named: list[str] = []
        if known is not None:
            dates = [d for link in known.values() for d in link[1]]
            want_payments = bool(dates)
            want_over = any(link[2] for link in known.values())
            if dates:
                payment_where += f" AND Date>={_datetime_literal(min(dates))} AND Date<={_datetime_literal(max(dates))}"
            named = list(dict.fromkeys(o for i in known for o in self._overpaid_by.get(i, []) if _guid(o)))
        jobs: list[Awaitable[list[dict[str, Any]]]] = []
        if want_payments:
            jobs.append(self._list_all_raw("/Payments", "Payments", payment_where))
        if want_over and named:
            # One call for the few named (split only past Xero's URL limit), not every overpayment ever made.
            jobs.append(self._where_lookup("/Overpayments", "Overpayments",
                                           [f'OverpaymentID==Guid("{o}")' for o in named], f" AND {over_where}"))
        elif want_over:
            jobs.append(self._list_all_raw("/Overpayments", "Overpayments", over_where))
        results = await asyncio.gather(*jobs)
        payments = results[0] if want_payments else []
        overpayments = results[-1] if want_over else []
        payments = [p for p in payments if p.get("PaymentType") == payment_type]
        # Keep only the batches that touch a wanted document, with all their children (same date).
        return self.convert.payments(resource, payments, {}, overpayments)

    async def _credit_notes_of(self, ids: set[str]) -> list[m.Record]:
        known = self._known_links(ids)
        if known is not None and not any(link[3] for link in known.values()):
            return []
        items = await self._list_all_raw("/CreditNotes", "CreditNotes",
                                         'Type=="ACCRECCREDIT" AND Status!="DELETED" AND Status!="VOIDED"')
        items = [i for i in items if any(str((a.get("Invoice") or {}).get("InvoiceID")) in ids
                                         for a in i.get("Allocations") or [])]
        resolver = await self._resolver(items)
        return [self.convert.credit_note(i, resolver) for i in items]

    async def _list_all_raw(self, path: str, collection: str, where: str) -> list[dict[str, Any]]:
        size = self.mapping.paging.max_size
        result: list[dict[str, Any]] = []
        state: dict[str, Any] | None = None
        while True:
            items, _, following, _ = await self._paged_call(path, collection, {"where": where}, {}, state, size)
            result.extend(items)
            if following is None:
                return result
            state = following

    # -- by id -----------------------------------------------------------------------------------
    async def fetch_by_ids(self, resource: Resource, ids: list[str]) -> dict[str, m.Record]:
        records = await self._by_ids(resource, ids)
        wanted = set(ids)
        return {r.id: r for r in records if r.id in wanted}

    async def _by_ids(self, resource: Resource, ids: list[str]) -> list[m.Record]:
        guids = [i for i in ids if _guid(i)]
        if resource in (Resource.INVOICES, Resource.BILLS, Resource.CUSTOMERS, Resource.SUPPLIERS):
            if not guids:
                return []
            path, collection, _ = _PAGED[resource]
            params: dict[str, Any] = {"IDs": ",".join(guids)}
            if resource in (Resource.CUSTOMERS, Resource.SUPPLIERS):
                params["includeArchived"] = "true"
            items = list((await self._get(path, params)).get(collection) or [])
            return await self._convert(resource, items)
        if resource in (Resource.CREDIT_NOTES, Resource.EXPENSES, Resource.JOURNAL_ENTRIES):
            if not guids:
                return []
            path, collection, id_field = _PAGED[resource]
            items = await self._where_lookup(path, collection, [f'{id_field}==Guid("{g}")' for g in guids])
            return await self._convert(resource, items)
        if resource == Resource.PURCHASE_ORDERS:
            return await self._purchase_orders_by_id(guids)
        if resource in _PAYMENT_TYPES:
            return await self._payments_by_id(resource, guids)
        return await self._all(resource)

    async def _purchase_orders_by_id(self, guids: list[str]) -> list[m.Record]:
        """PurchaseOrders take no `IDs` nor `where`: a few ids are read one by one (concurrently),
        more by paging through the list until all are found."""
        if not guids:
            return []
        if len(guids) <= 3:
            async def one(guid: str) -> list[dict[str, Any]]:
                try:
                    return list((await self._get(f"/PurchaseOrders/{guid}")).get("PurchaseOrders") or [])
                except LedgerQLError as exc:
                    if exc.code == ErrorCode.NOT_FOUND:
                        return []
                    raise

            items = [i for chunk in await asyncio.gather(*(one(g) for g in guids)) for i in chunk]
            return await self._convert(Resource.PURCHASE_ORDERS, items)
        wanted = {g.lower() for g in guids}
        found: list[dict[str, Any]] = []
        state: dict[str, Any] | None = None
        while True:
            items, _, following, _ = await self._paged_call("/PurchaseOrders", "PurchaseOrders", {}, {}, state,
                                                            self.mapping.paging.max_size)
            found += [i for i in items if str(i.get("PurchaseOrderID")).lower() in wanted]
            if following is None or len(found) >= len(wanted):
                return await self._convert(Resource.PURCHASE_ORDERS, found)
            state = following

    async def _payments_by_id(self, resource: Resource, guids: list[str]) -> list[m.Record]:
        """A unified payment id is a PaymentID, a BatchPaymentID or an OverpaymentID."""
        if not guids:
            return []
        payment_type, over_type = _PAYMENT_TYPES[resource]
        payments = await self._where_lookup("/Payments", "Payments", [f'PaymentID==Guid("{g}")' for g in guids])
        payments = [p for p in payments if p.get("PaymentType") == payment_type and not p.get("BatchPaymentID")
                    and p.get("Status") != "DELETED"]  # a deleted payment is gone (deletePayment)
        found = {str(p["PaymentID"]).lower() for p in payments}
        missing = [g for g in guids if g.lower() not in found]
        batches: list[dict[str, Any]] = []
        overpayments: list[dict[str, Any]] = []
        if missing:
            batches, overpayments = await asyncio.gather(
                self._where_lookup("/BatchPayments", "BatchPayments",
                                   [f'BatchPaymentID==Guid("{g}")' for g in missing], paged=False, tolerant=True),
                self._where_lookup("/Overpayments", "Overpayments",
                                   [f'OverpaymentID==Guid("{g}")' for g in missing], tolerant=True))
            overpayments = [o for o in overpayments if o.get("Type") == over_type]
        children: list[dict[str, Any]] = []
        if batches:
            children = await self._where_lookup(
                "/Payments", "Payments", [f'BatchPaymentID==Guid("{b["BatchPaymentID"]}")' for b in batches])
            children = [c for c in children if c.get("PaymentType") == payment_type]
        by_batch = {str(b["BatchPaymentID"]): b for b in batches}
        return self.convert.payments(resource, payments + children, by_batch, overpayments)

    # -- counts ----------------------------------------------------------------------------------
    async def count(self, resource: Resource, filter: ListFilter) -> int:
        """Xero reports `pagination.itemCount`: one call with pageSize 1, when the upstream filter is
        exactly the unified one (partly paid vs authorised is decided locally, so not then)."""
        self.require(resource, Operation.LIST)
        exact = resource in _PAGED and resource != Resource.PURCHASE_ORDERS and filter.status not in (
            DocumentStatus.AUTHORISED.value, DocumentStatus.PARTIALLY_PAID.value) and filter.updated_since is None
        if not exact:
            return await super().count(resource, filter)
        page = await self._document_page(resource, filter, None, 1)
        if page.total is None:
            return await super().count(resource, filter)
        return page.total


def _complete(children: list[dict[str, Any]]) -> bool:
    """Whether the children at hand add up to their BatchPayment's total."""
    summary = children[0].get("BatchPayment") or {}
    total = summary.get("TotalAmount")
    if total in (None, ""):
        return False
    try:
        expected = Decimal(str(total))
    except ArithmeticError:
        return False
    return sum((Decimal(str(c.get("Amount") or 0)) for c in children), Decimal(0)) == expected
