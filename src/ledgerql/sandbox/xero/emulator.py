"""The Xero Accounting API emulator (api.xro/2.0), its identity endpoints and OAuth2 token server."""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ledgerql.sandbox.common import (
    Emulator,
    RateDecision,
    RateLimits,
    TokenError,
    TokenPolicy,
    basic_credentials,
)
from ledgerql.sandbox.xero.convert import COLLECTIONS, Store, load_store
from ledgerql.sandbox.xero.query import QueryError, order_key, sort_records, where_predicate
from ledgerql.sandbox.xero.wire import (
    XeroJSON,
    XeroResponse,
    api_exception,
    envelope,
    is_guid,
    parse_body,
    parse_date,
    parse_instant,
    problem,
    utc_from_epoch,
    validation_error,
)
from ledgerql.sandbox.xero.writes import Plan, Writer, canonical

API = "/api.xro/2.0"
TOKEN_PATH = "/connect/token"
NOT_FOUND = "The resource you're looking for cannot be found"
SCOPE = ("openid profile email offline_access accounting.transactions accounting.contacts "
         "accounting.settings accounting.reports.read accounting.journals.read")
APP_MINUTE_LIMIT = 10_000
ZERO = Decimal("0.00")
#: collections whose records also carry `UpdatedDateUTCString`
STRING_STAMPED = ("Invoices", "CreditNotes", "Payments", "Overpayments")

#: collection → listing behaviour: paged (page/pageSize + pagination), IDs=, If-Modified-Since, where
LISTING: dict[str, dict[str, bool]] = {
    "Accounts": {"paged": False, "ids": False, "modified": True, "where": True},
    "Contacts": {"paged": True, "ids": True, "modified": True, "where": True},
    "TaxRates": {"paged": False, "ids": False, "modified": False, "where": True},
    "TrackingCategories": {"paged": False, "ids": False, "modified": False, "where": True},
    "Invoices": {"paged": True, "ids": True, "modified": True, "where": True},
    "CreditNotes": {"paged": True, "ids": False, "modified": True, "where": True},
    "Payments": {"paged": True, "ids": False, "modified": True, "where": True},
    "BatchPayments": {"paged": False, "ids": False, "modified": True, "where": True},
    "Overpayments": {"paged": True, "ids": False, "modified": True, "where": True},
    "BankTransactions": {"paged": True, "ids": False, "modified": True, "where": True},
    "PurchaseOrders": {"paged": True, "ids": False, "modified": True, "where": False},
    "ManualJournals": {"paged": True, "ids": False, "modified": True, "where": True},
}
#: collections that take PUT (create) and POST (create or update)
WRITABLE = ("Contacts", "Invoices", "CreditNotes", "Payments", "BatchPayments", "BankTransactions",
            "PurchaseOrders", "ManualJournals")
#: bank transaction types that are overpayments (created on BankTransactions, allocated on Overpayments)
OVERPAYMENT_TYPES = ("RECEIVE-OVERPAYMENT", "SPEND-OVERPAYMENT")
#: number fields that stand in for the id in GET /{collection}/{number}
NUMBERS = {"Invoices": "InvoiceNumber", "CreditNotes": "CreditNoteNumber", "PurchaseOrders": "PurchaseOrderNumber",
           "Contacts": "ContactNumber"}


class XeroEmulator(Emulator):
    """Xero: tenant in the `xero-tenant-id` header, collections under `/api.xro/2.0`."""

    provider = "XERO"
    token_policy = TokenPolicy(access_ttl=1800, refresh_ttl=60 * 24 * 3600, rotate_refresh=True,
                               refresh_grace=1800)
    default_limits = RateLimits(per_minute=60, per_day=5000, concurrent=5)
    public_paths = (TOKEN_PATH,)

    @classmethod
    def tenant_id_for(cls, index: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ledgerql-xero-{index}"))

    def load(self) -> None:
        self.stores: dict[str, Store] = {tid: load_store(tid, t.books) for tid, t in self.tenants.items()}
        self._app_minute: deque[float] = deque()

    # -- the pipeline hooks ----------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route(TOKEN_PATH, self.token, methods=["POST"]),
            Route("/connections", self.connections, methods=["GET"]),
            Route(f"{API}/Organisation", self.api(self.organisation), methods=["GET"]),
            Route(f"{API}/CreditNotes/{{record_id}}/Allocations", self.api(self.allocations), methods=["PUT"]),
            Route(f"{API}/Overpayments/{{record_id}}/Allocations", self.api(self.allocations), methods=["PUT"]),
            Route(f"{API}/{{collection}}", self.api(self.collection), methods=["GET", "PUT", "POST"]),
            Route(f"{API}/{{collection}}/{{record_id}}", self.api(self.item), methods=["GET", "POST"]),
        ]

    def request_kind(self, request: Request) -> str:
        path = request.url.path
        root = request.scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if path.startswith(API + "/"):
            parts = path[len(API) + 1:].strip("/").split("/")
            name = parts[0]
            if len(parts) > 1:
                name += "/{id}" + "".join(f"/{p}" for p in parts[2:])
            return f"{request.method} {name}"
        return f"{request.method} {path.strip('/')}"

    def tenant_of(self, request: Request) -> str | None:
        value = request.headers.get("xero-tenant-id")
        return value.strip().lower() if value else None

    def error_401(self, request: Request, detail: str) -> Response:
        header = request.headers.get("authorization", "")
        reason = "TokenExpired" if header.lower().startswith("bearer ") and header[7:].strip() else \
            "AuthenticationUnsuccessful"
        return problem(401, "Unauthorized", reason, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def error_403(self, request: Request, detail: str) -> Response:
        return problem(403, "Forbidden", "AuthenticationUnsuccessful")

    def error_404(self, request: Request, status_code: int = 404) -> Response:
        if status_code == 405:
            return api_exception(405, "MethodNotAllowedException",
                                 f"The method {request.method} is not allowed on this endpoint", status_code=405)
        return problem(status_code, "NotFound", NOT_FOUND)

    def error_5xx(self, request: Request) -> Response:
        return problem(503, "Service Unavailable", "The Xero API is temporarily unavailable. Please retry later.")

    def error_429(self, request: Request, decision: RateDecision) -> Response:
        headers = {"Retry-After": str(max(1, decision.retry_after)),
                   "X-Rate-Limit-Problem": decision.problem or "minute"}
        headers.update(self.rate_headers(decision, count=False))
        return problem(429, "Too Many Requests", f"You have exceeded the {decision.problem or 'minute'} rate limit",
                       headers=headers)

    def rate_headers(self, decision: RateDecision, count: bool = True) -> dict[str, str]:
        now = self.clock.now()
        while self._app_minute and self._app_minute[0] <= now - 60:
            self._app_minute.popleft()
        if count:
            self._app_minute.append(now)
        limits = self.limiter.limits
        minute = decision.minute_remaining if decision.minute_remaining is not None else limits.per_minute
        day = decision.day_remaining if decision.day_remaining is not None else limits.per_day
        return {"X-MinLimit-Remaining": str(minute if minute is not None else 60),
                "X-DayLimit-Remaining": str(day if day is not None else 5000),
                "X-AppMinLimit-Remaining": str(max(0, APP_MINUTE_LIMIT - len(self._app_minute)))}

    def describe(self, base_url: str) -> dict[str, Any]:
        tenant = self.tenant_id_for(0)
        grant = self.grants[tenant]
        return {"baseUrl": base_url, "accessToken": grant.access_token, "refreshToken": grant.refresh_token,
                "clientId": self.oauth.client_id, "clientSecret": self.oauth.client_secret,
                "tokenUrl": base_url + TOKEN_PATH, "tenantId": tenant, "tenants": list(self.tenants)}

    # -- identity --------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        client_id, client_secret = basic_credentials(request)
        if client_id is None:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not self.oauth.check_client(client_id, client_secret):
            return XeroResponse({"error": "invalid_client"}, status_code=400)
        if form.get("grant_type") != "refresh_token":
            return XeroResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            grant = self.oauth.refresh(form.get("refresh_token", ""))
        except TokenError:
            return XeroResponse({"error": "invalid_grant"}, status_code=400)
        self.grants[grant.tenant] = grant
        return XeroResponse({"access_token": grant.access_token,
                             "expires_in": int(grant.access_expires_at - self.clock.now() + 0.5),
                             "token_type": "Bearer", "refresh_token": grant.refresh_token, "scope": SCOPE},
                            headers={"Cache-Control": "no-store"})

    async def connections(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        grant = self.oauth.authenticate(header[7:] if header.lower().startswith("bearer ") else "")
        tenants = [grant.tenant] if grant else []
        result = []
        for tenant in tenants:
            store = self.stores[tenant]
            created = store.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f0") if store.created_at else ""
            result.append({"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ledgerql-xero-connection/{tenant}")),
                           "authEventId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ledgerql-xero-auth/{tenant}")),
                           "tenantId": tenant, "tenantType": "ORGANISATION", "tenantName": store.books.company.name,
                           "createdDateUtc": created, "updatedDateUtc": created})
        return XeroResponse(result)

    # -- accounting API --------------------------------------------------------------------------
    def api(self, handler: Callable[[Request, Store], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            tenant = self.tenant_of(request)
            if tenant is None or tenant not in self.stores:
                return self.error_403(request, "missing tenant")
            return await handler(request, self.stores[tenant])

        return endpoint

    def now(self) -> datetime:
        return utc_from_epoch(self.clock.now())

    def ok(self, collection: str, items: list[Any], pagination: dict[str, int] | None = None) -> Response:
        return XeroResponse(envelope(self.now(), collection, items, pagination))

    async def organisation(self, request: Request, store: Store) -> Response:
        return self.ok("Organisations", [store.organisation])

    async def collection(self, request: Request, store: Store) -> Response:
        name = request.path_params["collection"]
        if name not in LISTING:
            return self.error_404(request)
        if request.method == "GET":
            return self.listing(request, store, name)
        if name not in WRITABLE:
            return self.error_404(request, 405)
        return await self.write(request, store, name, None)

    async def item(self, request: Request, store: Store) -> Response:
        name = request.path_params["collection"]
        if name not in LISTING:
            return self.error_404(request)
        record = self.find(store, name, request.path_params["record_id"])
        if record is None:
            return self.error_404(request)
        if request.method == "GET":
            return self.ok(name, [self.render(name, record, True, store)])
        if name not in WRITABLE or name == "BatchPayments":
            return self.error_404(request, 405)
        return await self.write(request, store, name, record)

    @staticmethod
    def find(store: Store, name: str, record_id: str) -> dict[str, Any] | None:
        if name == "TaxRates" or is_guid(record_id):
            return store.get(name, record_id)
        field = NUMBERS.get(name)
        if field is None:
            return None
        return next((r for r in store.data[name].values() if r.get(field) == record_id), None)

    def render(self, name: str, record: dict[str, Any], lines: bool, store: Store | None = None) -> dict[str, Any]:
        """A record as Xero sends it: derived fields added, line items only where Xero sends them."""
        result = record if lines or "LineItems" not in record else {**record, "LineItems": []}
        if name in STRING_STAMPED and isinstance(record.get("UpdatedDateUTC"), datetime):
            result = {**result, "UpdatedDateUTCString": record["UpdatedDateUTC"].strftime("%Y-%m-%dT%H:%M:%SZ")}
        if name == "Contacts" and store is not None:
            result = {**result, "Balances": self.balances(store, record)}
        return result

    def balances(self, store: Store, contact: dict[str, Any]) -> dict[str, Any]:
        today = self.now().date()
        sums = {"ACCREC": [ZERO, ZERO], "ACCPAY": [ZERO, ZERO]}
        for invoice in store.data["Invoices"].values():
            if invoice["Contact"]["ContactID"] == contact["ContactID"] and invoice["Status"] == "AUTHORISED":
                due = invoice["AmountDue"]
                sums[invoice["Type"]][0] += due
                if invoice.get("DueDate") and invoice["DueDate"] < today:
                    sums[invoice["Type"]][1] += due
        return {"AccountsReceivable": {"Outstanding": sums["ACCREC"][0], "Overdue": sums["ACCREC"][1]},
                "AccountsPayable": {"Outstanding": sums["ACCPAY"][0], "Overdue": sums["ACCPAY"][1]}}

    def listing(self, request: Request, store: Store, name: str) -> Response:
        options = LISTING[name]
        params = request.query_params
        entity = COLLECTIONS[name][1]
        records = list(store.data[name].values())
        fields: set[str] = set()
        for record in records:
            fields.update(k for k in record if not k.startswith("_"))
        try:
            if options["modified"] and request.headers.get("if-modified-since"):
                since = parse_instant(request.headers["if-modified-since"])
                if since is not None:
                    records = [r for r in records if r.get("UpdatedDateUTC") and r["UpdatedDateUTC"] > since]
            if options["ids"] and params.get("IDs"):
                wanted = [v.strip().lower() for v in params["IDs"].split(",") if v.strip()]
                bad = [v for v in wanted if not is_guid(v)]
                if bad:
                    return api_exception(16, "QueryParseException", f"'{bad[0]}' is not a valid Guid")
                id_field = COLLECTIONS[name][0]
                records = [r for r in records if r[id_field] in set(wanted)]
            if name == "Invoices":
                records = self.invoice_filters(request, records)
            if name == "Contacts" and params.get("includeArchived", "").lower() != "true":
                records = [r for r in records if r["ContactStatus"] != "ARCHIVED"]
            if name == "PurchaseOrders":
                records = self.purchase_order_filters(request, records)
            if options["where"] and params.get("where"):
                predicate = where_predicate(params["where"], entity, fields)
                records = [r for r in records if predicate(r)]
            if params.get("order"):
                records = sort_records(records, order_key(params["order"], entity, fields))
        except QueryError as exc:
            return api_exception(16, "QueryParseException", str(exc))
        except ValueError as exc:
            return validation_error([{"ValidationErrors": [{"Message": str(exc)}]}])
        if not options["paged"] or "page" not in params:
            lines = name != "Invoices" or bool(params.get("IDs"))
            return self.ok(name, [self.render(name, r, lines, store) for r in records])
        try:
            page = int(params["page"])
            size = int(params.get("pageSize", 100))
        except ValueError:
            return validation_error([{"ValidationErrors": [{"Message": "page and pageSize must be whole numbers"}]}])
        page, size = max(1, page), min(1000, max(1, size))
        chunk = records[(page - 1) * size: page * size]
        pagination = {"page": page, "pageSize": size, "pageCount": math.ceil(len(records) / size),
                      "itemCount": len(records)}
        return self.ok(name, [self.render(name, r, True, store) for r in chunk], pagination)

    @staticmethod
    def invoice_filters(request: Request, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        params = request.query_params
        if params.get("InvoiceNumbers"):
            numbers = {v.strip() for v in params["InvoiceNumbers"].split(",")}
            records = [r for r in records if r["InvoiceNumber"] in numbers]
        if params.get("ContactIDs"):
            contacts = {v.strip().lower() for v in params["ContactIDs"].split(",")}
            records = [r for r in records if r["Contact"]["ContactID"] in contacts]
        if params.get("Statuses"):
            statuses = {v.strip().upper() for v in params["Statuses"].split(",")}
            records = [r for r in records if r["Status"] in statuses]
        return records

    @staticmethod
    def purchase_order_filters(request: Request, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        params = request.query_params
        if params.get("Status"):
            records = [r for r in records if r["Status"] == params["Status"].upper()]
        date_from = parse_date(params.get("DateFrom"))
        date_to = parse_date(params.get("DateTo"))
        if date_from:
            records = [r for r in records if r["Date"] >= date_from]
        if date_to:
            records = [r for r in records if r["Date"] <= date_to]
        return records

    # -- writes ----------------------------------------------------------------------------------
    async def write(self, request: Request, store: Store, name: str, existing: dict[str, Any] | None) -> Response:
        body = await request.body()
        key = request.headers.get("idempotency-key")
        if key:
            if len(key) > 128:
                return validation_error([{"ValidationErrors": [
                    {"Message": "The Idempotency-Key header must be at most 128 characters"}]}])
            cached = self.replay.get(store.tenant, key)
            if cached is not None:
                if self.replay.body_matches(store.tenant, key, body):
                    return cached
                return validation_error([{"ValidationErrors": [
                    {"Message": "The Idempotency-Key has already been used with a different request"}]}])
        response = self.perform(request, store, name, existing, body)
        if key:
            self.replay.put(store.tenant, key, body, response)
        return response

    def perform(self, request: Request, store: Store, name: str, existing: dict[str, Any] | None,
                body: bytes) -> Response:
        try:
            data = parse_body(body)
        except XeroJSON as exc:
            return api_exception(14, "PostDataInvalidException", f"Invalid Json data: {exc}")
        data = canonical(data)
        items = data.get(name, data) if isinstance(data, dict) else data
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            return api_exception(14, "PostDataInvalidException",
                                 f"The request must contain {name} as an object or a list of objects")
        summarize = request.query_params.get("summarizeErrors", "true").lower() != "false"
        writer = Writer(store, self.now())
        results: list[dict[str, Any]] = []
        if summarize:
            plans = [self.plan(writer, store, name, item, existing, request.method) for item in items]
            if any(errors for errors, _ in plans):
                return validation_error([self.echo(name, item, errors) for item, (errors, _) in zip(items, plans,
                                                                                                   strict=True)])
            for _, commit in plans:
                results.append({**self.render(name, commit(), True, store), "StatusAttributeString": "OK",
                                "ValidationErrors": []})
        else:
            for item in items:
                errors, commit = self.plan(writer, store, name, item, existing, request.method)
                if errors:
                    results.append({**self.echo(name, item, errors), "StatusAttributeString": "ERROR"})
                else:
                    results.append({**self.render(name, commit(), True, store), "StatusAttributeString": "OK",
                                "ValidationErrors": []})
        return self.ok(name, results)

    def plan(self, writer: Writer, store: Store, name: str, item: dict[str, Any], existing: dict[str, Any] | None,
             method: str) -> Plan:
        id_field = COLLECTIONS[name][0]
        if existing is None and item.get(id_field):
            if method == "PUT":
                return [f"{id_field} cannot be specified when creating a {COLLECTIONS[name][1]}; use POST to "
                        "update."], _reject
            raw_id = str(item[id_field])
            existing = store.get(name, raw_id) if is_guid(raw_id) else None
            if existing is None:
                return ["The document with the supplied id was not found for this endpoint."], _reject
        if name == "Payments":
            if existing is not None:
                return writer.plan_delete_payment(existing, item)
            return writer.plan_payment(item)
        if name == "BatchPayments":
            return writer.plan_batch_payment(item)
        if name == "Contacts":
            return writer.plan_contact(item, existing)
        if name == "ManualJournals":
            return writer.plan_manual_journal(item, existing)
        if name == "BankTransactions" and str(item.get("Type") or (existing or {}).get("Type")) in OVERPAYMENT_TYPES:
            return writer.plan_overpayment(item, existing)
        return writer.plan_document(name, item, existing)

    @staticmethod
    def echo(name: str, item: dict[str, Any], errors: list[str]) -> dict[str, Any]:
        """The submitted element echoed back with its errors (a new record's id is the zero GUID)."""
        id_field = COLLECTIONS[name][0]
        element = {id_field: item.get(id_field) or "00000000-0000-0000-0000-000000000000", **item}
        if name in ("Invoices", "CreditNotes", "PurchaseOrders"):
            element["HasErrors"] = bool(errors)
        element["HasValidationErrors"] = bool(errors)
        element["ValidationErrors"] = [{"Message": message} for message in errors]
        return element

    async def allocations(self, request: Request, store: Store) -> Response:
        """PUT CreditNotes/{id}/Allocations or Overpayments/{id}/Allocations: their credit applied to documents."""
        owner = "Overpayments" if "/Overpayments/" in request.url.path else "CreditNotes"
        note = self.find(store, owner, request.path_params["record_id"])
        if note is None:
            return self.error_404(request)
        body = await request.body()
        key = request.headers.get("idempotency-key")
        if key and (cached := self.replay.get(store.tenant, key)) is not None \
                and self.replay.body_matches(store.tenant, key, body):
            return cached
        try:
            data = parse_body(body)
        except XeroJSON as exc:
            return api_exception(14, "PostDataInvalidException", f"Invalid Json data: {exc}")
        data = canonical(data)
        items = data.get("Allocations", data) if isinstance(data, dict) else data
        items = [items] if isinstance(items, dict) else items
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            return api_exception(14, "PostDataInvalidException", "The request must contain Allocations")
        writer = Writer(store, self.now())
        pending: dict[str, Decimal] = {}
        plans = [writer.plan_allocation(note, item, pending) for item in items]
        if any(errors for errors, _ in plans):
            return validation_error([{**item, "ValidationErrors": [{"Message": m} for m in errors]}
                                     for item, (errors, _) in zip(items, plans, strict=True)])
        response = self.ok("Allocations", [commit() for _, commit in plans])
        if key:
            self.replay.put(store.tenant, key, body, response)
        return response

    # -- cross-provider summary ------------------------------------------------------------------
    def summary(self) -> dict[str, dict[str, Any]]:
        store = self.stores[self.tenant_id_for(0)]
        data = store.data

        def live(name: str) -> list[dict[str, Any]]:
            return [r for r in data[name].values() if r.get("Status") != "DELETED"]

        def docs(records: list[dict[str, Any]], amount: Callable[[dict[str, Any]], Decimal],
                 currency: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
            totals: dict[str, Decimal] = {}
            for record in records:
                totals[currency(record)] = totals.get(currency(record), Decimal("0.00")) + amount(record)
            return {"count": len(records), "totals": {c: str(v) for c, v in sorted(totals.items())}}

        def payments(kind: str) -> dict[str, Any]:
            batch_type = "RECBATCH" if kind == "ACCREC" else "PAYBATCH"
            over_type = "RECEIVE-OVERPAYMENT" if kind == "ACCREC" else "SPEND-OVERPAYMENT"
            single = [p for p in live("Payments") if p["Invoice"]["Type"] == kind and not p.get("BatchPaymentID")]
            rows = [(p["Amount"], p["Invoice"]["CurrencyCode"]) for p in single]
            for batch in live("BatchPayments"):
                if batch["Type"] == batch_type:
                    rows.append((batch["TotalAmount"], batch["Payments"][0]["Invoice"]["CurrencyCode"]))
            rows += [(o["Total"], o["CurrencyCode"]) for o in live("Overpayments") if o["Type"] == over_type]
            return docs([{"a": a, "c": c} for a, c in rows], lambda r: r["a"], lambda r: r["c"])

        invoices = [r for r in live("Invoices") if r["Type"] == "ACCREC"]
        bills = [r for r in live("Invoices") if r["Type"] == "ACCPAY"]
        total = lambda r: r["Total"]  # noqa: E731
        cur = lambda r: r["CurrencyCode"]  # noqa: E731
        contacts = [c for c in data["Contacts"].values() if c["ContactStatus"] != "ARCHIVED"]
        return {
            "invoices": docs(invoices, total, cur),
            "bills": docs(bills, total, cur),
            "payments": payments("ACCREC"),
            "bill_payments": payments("ACCPAY"),
            "credit_notes": docs([r for r in live("CreditNotes") if r["Type"] == "ACCRECCREDIT"], total, cur),
            "expenses": docs([r for r in live("BankTransactions") if r["Type"] == "SPEND"], total, cur),
            "purchase_orders": docs(live("PurchaseOrders"), total, cur),
            "journal_entries": docs(live("ManualJournals"),
                                    lambda r: sum((ln["LineAmount"] for ln in r["JournalLines"]
                                                   if ln["LineAmount"] > 0), Decimal("0.00")),
                                    lambda r: r.get("_currency", store.base_currency)),
            "customers": {"count": sum(1 for c in contacts if c["IsCustomer"])},
            "suppliers": {"count": sum(1 for c in contacts if c["IsSupplier"])},
            "ledger_accounts": {"count": sum(1 for a in data["Accounts"].values() if a["Status"] != "DELETED")},
            "tax_rates": {"count": sum(1 for t in data["TaxRates"].values() if t["Status"] != "DELETED")},
            "bank_accounts": {"count": sum(1 for a in data["Accounts"].values() if a["Type"] == "BANK")},
        }


def _reject() -> dict[str, Any]:
    raise AssertionError("commit of a rejected element")


__all__ = ["XeroEmulator"]
