"""QuickBooks Online Accounting API v3 emulator.

Paths follow Intuit's: `/v3/company/{realmId}/query`, `/v3/company/{realmId}/{entity}[/{id}]`,
`/v3/company/{realmId}/batch`, `/cdc`, `/reports/{name}`, `/preferences`, and the OAuth2 token
endpoint `/oauth2/v1/tokens/bearer`. Answers use QBO's envelopes, `Fault` errors (the lowercase
`fault` envelope on 401) and its id, date and number formats.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ledgerql.sandbox.common import (
    Emulator,
    RateDecision,
    RateLimiter,
    RateLimits,
    TokenError,
    TokenPolicy,
    basic_credentials,
)
from ledgerql.sandbox.quickbooks import query as qbo_query
from ledgerql.sandbox.quickbooks.render import (
    QBOFault,
    format_time,
    malformed,
    not_found,
    parse_datetime,
    render,
    stamp,
    unsupported_operation,
)
from ledgerql.sandbox.quickbooks.reports import REPORTS, build_report
from ledgerql.sandbox.quickbooks.store import (
    BY_PATH,
    ZERO,
    RealmStore,
    is_credit_application,
    journal_total,
    load_books,
)
from ledgerql.sandbox.quickbooks.writes import ALLOWED, Writer

__all__ = ["QuickBooksEmulator", "RealmStore"]

TOKEN_PATH = "/oauth2/v1/tokens/bearer"
FIRST_REALM = 9130357766900001
MAX_BATCH_ITEMS = 30
_COMPANY = re.compile(r"/v3/company/([^/]+)(?:/(.*))?$")


class QuickBooksEmulator(Emulator):
    provider = "QUICKBOOKS"
    # Access tokens live an hour; the refresh token rolls on each refresh (the old one is refused)
    # and lives 8 726 400 s (about 101 days).
    token_policy = TokenPolicy(access_ttl=3600, refresh_ttl=8_726_400, rotate_refresh=True)
    # 500 requests a minute per realm and 10 a second (Intuit's published throttles).
    default_limits = RateLimits(per_second=10, per_minute=500)
    public_paths = (TOKEN_PATH,)
    #: batch requests allowed per minute per realm (on top of the general limits)
    batch_per_minute = 40

    @classmethod
    def tenant_id_for(cls, index: int) -> str:
        return str(FIRST_REALM + index)

    # -- loading --------------------------------------------------------------------------------
    def load(self) -> None:
        self.stores: dict[str, RealmStore] = {
            realm: load_books(realm, tenant.books) for realm, tenant in self.tenants.items()}
        self.batch_limiter = RateLimiter(RateLimits(per_minute=self.batch_per_minute), self.clock)
        self.known_fields: dict[str, set[str]] = {}
        for store in self.stores.values():
            for entity, records in store.records.items():
                known = self.known_fields.setdefault(entity, {"id", "metadata", "synctoken"})
                known.update(key.lower() for key in ALLOWED.get(entity, ()))
                for record in records.values():
                    known.update(key.lower() for key in record)

    # -- routes -----------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return [Route(TOKEN_PATH, self.token, methods=methods),
                Route("/v3/{rest:path}", self.dispatch, methods=methods)]

    def tenant_of(self, request: Request) -> str | None:
        match = _COMPANY.search(request.url.path)
        return match.group(1) if match else None

    def request_kind(self, request: Request) -> str:
        path = request.url.path
        if path.endswith(TOKEN_PATH):
            return "POST token"
        match = _COMPANY.search(path)
        if not match:
            return f"{request.method} {path}"
        parts = [p for p in (match.group(2) or "").split("/") if p]
        if not parts:
            return f"{request.method} company"
        head = parts[0].lower()
        if head == "query":
            if request.method == "GET":
                entity = qbo_query.entity_of(request.query_params.get("query", ""))
                return f"query {entity}" if entity else "query"
            return "query"
        if head == "batch":
            return "POST batch"
        if head == "cdc":
            return "GET cdc"
        if head == "reports" and len(parts) > 1:
            return f"GET report {parts[1]}"
        return f"{request.method} {head}"

    # -- answers ----------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"intuit_tid": f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}", "Qbo-Version": "1990.200"}

    def respond(self, body: dict[str, Any], status: int = 200, with_time: bool = True) -> Response:
        if with_time:
            body = {**body, "time": format_time(self.clock.now())}
        return Response(render(body), status_code=status, headers=self._headers(),
                        media_type="application/json;charset=utf-8")

    def fault_response(self, fault: QBOFault) -> Response:
        return self.respond({"Fault": fault.fault()}, status=fault.status)

    def error_401(self, request: Request, detail: str) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        body: dict[str, Any] = {"warnings": None, "intuitObject": None, "fault": {"error": [{
            "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "detail": f"Token expired: {token[:40]}" if token else "Token invalid: no bearer token",
            "code": "3200", "element": None}], "type": "AUTHENTICATION"}, "report": None,
            "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
            "syncErrorResponse": None, "requestId": None, "time": int(self.clock.now() * 1000),
            "status": None, "cdcresponse": []}
        return Response(render(body), status_code=401, media_type="application/json",
                        headers={**self._headers(),
                                 "WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})

    def error_403(self, request: Request, detail: str) -> Response:
        return self.fault_response(QBOFault(
            "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            f"{detail}", "003100", status=403, kind="AUTHORIZATION"))

    def error_429(self, request: Request, decision: RateDecision) -> Response:
        # QBO sends no Retry-After; clients wait (Intuit advises 60 s) and retry.
        return self.fault_response(QBOFault(
            "message=ThrottleExceeded; errorCode=003001; statusCode=429", "The request limit was reached.",
            "3001", status=429, kind="SERVICE"))

    def error_5xx(self, request: Request) -> Response:
        return self.fault_response(QBOFault(
            "An application error has occurred while processing your request",
            "System Failure Error: The service is temporarily unavailable.", "10000", status=503,
            kind="SystemFault"))

    def error_404(self, request: Request, status_code: int = 404) -> Response:
        path = request.url.path
        fault = unsupported_operation(path)
        if "/v3/" not in path:
            fault.status = status_code
        return self.fault_response(fault)

    def rate_headers(self, decision: RateDecision) -> dict[str, str]:
        return {}

    # -- OAuth2 -----------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        if request.method != "POST":
            return JSONResponse({"error": "invalid_request"}, status_code=405)
        client_id, client_secret = basic_credentials(request)
        if not self.oauth.check_client(client_id, client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        # Form-encoded body, parsed here (python-multipart is not a dependency).
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        grant_type = form.get("grant_type")
        if grant_type != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        try:
            grant = self.oauth.refresh(refresh_token)
        except TokenError:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.grants[grant.tenant] = grant
        now = self.clock.now()
        return JSONResponse({"token_type": "bearer", "expires_in": round(grant.access_expires_at - now),
                             "refresh_token": grant.refresh_token,
                             "x_refresh_token_expires_in": round(grant.refresh_expires_at - now),
                             "access_token": grant.access_token})

    # -- dispatch ---------------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except QBOFault as fault:
            return self.fault_response(fault)

    async def _dispatch(self, request: Request) -> Response:
        match = _COMPANY.search(request.url.path)
        if not match:
            raise unsupported_operation(request.url.path)
        realm = match.group(1)
        store = self.stores.get(realm)
        if store is None:
            raise unsupported_operation(request.url.path)
        parts = [p for p in (match.group(2) or "").split("/") if p]
        method = request.method
        if not parts:
            raise unsupported_operation(request.url.path)
        head = parts[0].lower()
        if head == "query" and len(parts) == 1 and method in ("GET", "POST"):
            return await self.query(request, store)
        if head == "cdc" and len(parts) == 1 and method == "GET":
            return self.cdc(request, store)
        if head == "batch" and len(parts) == 1 and method == "POST":
            return await self.batch(request, store)
        if head == "reports" and len(parts) == 2 and method == "GET":
            if parts[1] not in REPORTS:
                raise unsupported_operation(request.url.path)
            return self.respond(build_report(store, parts[1], dict(request.query_params),
                                             self.clock.now()), with_time=False)
        if head == "preferences" and len(parts) == 1 and method == "GET":
            return self.respond({"Preferences": store.records["Preferences"]["1"]})
        entity = BY_PATH.get(head)
        if entity is None or entity == "Preferences":
            raise unsupported_operation(request.url.path)
        if len(parts) == 2 and method == "GET":
            record_id = parts[1]
            if not record_id.isdigit():
                raise QBOFault("Invalid ID", f"Id should be a valid number. Supplied value:{record_id}", "2030",
                               element="Id")
            record = store.get(entity, record_id)
            if record is None:
                raise not_found()
            return self.respond({entity: record})
        if len(parts) == 1 and method == "POST":
            return await self.write(request, store, entity)
        raise unsupported_operation(request.url.path)

    # -- reads ------------------------------------------------------------------------------------
    def run_query(self, store: RealmStore, text: str) -> dict[str, Any]:
        parsed = qbo_query.parse(text)
        records = list(store.records[parsed.entity].values())
        return qbo_query.run(parsed, records, self.known_fields.get(parsed.entity, set()))

    async def query(self, request: Request, store: RealmStore) -> Response:
        if request.method == "GET":
            text = request.query_params.get("query")
        else:
            text = (await request.body()).decode("utf-8", errors="replace")
            entity = qbo_query.entity_of(text)
            if entity:  # the kind was not known before the body was read
                self.counter.by_kind["query"] -= 1
                if self.counter.by_kind["query"] <= 0:
                    del self.counter.by_kind["query"]
                self.counter.add(f"query {entity}")
        if not text or not text.strip():
            raise qbo_query.parse_error("Encountered \"<EOF>\" at line 1, column 1. Was expecting: \"select\"")
        return self.respond({"QueryResponse": self.run_query(store, text)})

    def cdc(self, request: Request, store: RealmStore) -> Response:
        names = request.query_params.get("entities")
        since_text = request.query_params.get("changedSince")
        if not names:
            raise QBOFault("Required param missing, need to supply the required value for the API",
                           "Required parameter entities is missing in the request", "2020", element="entities")
        if not since_text:
            raise QBOFault("Required param missing, need to supply the required value for the API",
                           "Required parameter changedSince is missing in the request", "2020",
                           element="changedSince")
        try:
            since = parse_datetime(since_text)
        except ValueError as exc:
            raise malformed(f"changedSince {since_text} is not a valid date time") from exc
        responses: list[dict[str, Any]] = []
        budget = 1000
        for name in names.split(","):
            entity = BY_PATH.get(name.strip().lower())
            if entity is None:
                raise QBOFault("Invalid query", f"QueryValidationError: Entity not found : {name}", "4001")
            rows = [r for r in store.records[entity].values() if r["MetaData"]["LastUpdatedTime"] >= since]
            rows += [t for t in store.tombstones[entity].values() if t["MetaData"]["LastUpdatedTime"] >= since]
            rows = rows[:budget]
            budget -= len(rows)
            responses.append({entity: rows, "startPosition": 1, "maxResults": len(rows)} if rows else {})
        return self.respond({"CDCResponse": [{"QueryResponse": responses}]})

    # -- writes -----------------------------------------------------------------------------------
    async def _json(self, request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw or b"null", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise malformed(f"Request body is not valid JSON ({str(exc).split(':')[0]})") from exc

    async def write(self, request: Request, store: RealmStore, entity: str) -> Response:
        request_id = request.query_params.get("requestid") or None
        if request_id and (cached := self.replay.get(store.realm, request_id)) is not None:
            return cached
        body = await self._json(request)
        if not isinstance(body, dict):
            raise malformed(f"the request body must be a {entity} object")
        result = self.perform(store, entity, request.query_params.get("operation"), body)
        response = self.respond({entity: result})
        if request_id:
            self.replay.put(store.realm, request_id, await request.body(), response)
        return response

    def perform(self, store: RealmStore, entity: str, operation: str | None, body: dict[str, Any]) -> Any:
        writer = Writer(store, stamp(self.clock.now()))
        op = (operation or ("update" if "Id" in body else "create")).lower()
        if op == "create":
            return writer.create(entity, body)
        if op == "update":
            return writer.update(entity, body)
        if op == "delete":
            return writer.delete(entity, body)
        if op == "void":
            return writer.void(entity, body)
        raise unsupported_operation(f"/{entity.lower()}?operation={operation}")

    async def batch(self, request: Request, store: RealmStore) -> Response:
        limits = self.limiter.limits
        self.batch_limiter.limits = RateLimits(per_minute=self.batch_per_minute, enabled=limits.enabled)
        decision = self.batch_limiter.acquire(store.realm)
        self.batch_limiter.release(store.realm)
        if not decision.allowed:
            return self.error_429(request, decision)
        request_id = request.query_params.get("requestid") or None
        if request_id and (cached := self.replay.get(store.realm, request_id)) is not None:
            return cached
        body = await self._json(request)
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise QBOFault("Required param missing, need to supply the required value for the API",
                           "Required parameter BatchItemRequest is missing in the request", "2020",
                           element="BatchItemRequest")
        if len(items) > MAX_BATCH_ITEMS:
            raise QBOFault("Request has invalid or unsupported property",
                           f"Property Name:BatchItemRequest holds {len(items)} items; at most "
                           f"{MAX_BATCH_ITEMS} are allowed in one batch", "2010")
        answers = []
        for item in items:
            answers.append(self.batch_item(store, item))
        response = self.respond({"BatchItemResponse": answers})
        if request_id:
            self.replay.put(store.realm, request_id, await request.body(), response)
        return response

    def batch_item(self, store: RealmStore, item: Any) -> dict[str, Any]:
        bid = item.get("bId") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict) or not bid:
                raise QBOFault("Required param missing, need to supply the required value for the API",
                               "Required parameter bId is missing in the request", "2020", element="bId")
            if "Query" in item:
                return {"QueryResponse": self.run_query(store, str(item["Query"])), "bId": bid}
            keys = [k for k in item if k not in ("bId", "operation", "optionsData")]
            if len(keys) != 1 or BY_PATH.get(keys[0].lower()) is None or not isinstance(item[keys[0]], dict):
                raise malformed("batch item must hold exactly one entity object or a Query")
            entity = BY_PATH[keys[0].lower()]
            operation = str(item.get("operation") or "create")
            if operation not in ("create", "update", "delete", "void"):
                raise unsupported_operation(f"batch operation {operation}")
            result = self.perform(store, entity, operation, item[keys[0]])
            return {entity: result, "bId": bid}
        except QBOFault as fault:
            return {"Fault": fault.fault(), "bId": bid}

    # -- describe and summary ---------------------------------------------------------------------
    def describe(self, base_url: str) -> dict[str, Any]:
        realms = list(self.tenants)
        grant = self.grants[realms[0]]
        return {"baseUrl": base_url, "accessToken": grant.access_token, "refreshToken": grant.refresh_token,
                "clientId": self.oauth.client_id, "clientSecret": self.oauth.client_secret,
                "tokenUrl": base_url + TOKEN_PATH, "realmId": realms[0], "tenants": realms,
                "minorVersion": "75"}

    def summary(self) -> dict[str, dict[str, Any]]:
        store = self.stores[next(iter(self.tenants))]
        records = store.records

        def totals(rows: list[dict[str, Any]], amount: Any) -> dict[str, Any]:
            sums: dict[str, Decimal] = {}
            for row in rows:
                currency = row["CurrencyRef"]["value"]
                sums[currency] = sums.get(currency, ZERO) + Decimal(amount(row))
            return {"count": len(rows), "totals": {c: str(v) for c, v in sorted(sums.items())}}

        def total_amt(row: dict[str, Any]) -> Any:
            return row["TotalAmt"]

        money_payments = [p for p in records["Payment"].values() if not is_credit_application(p)]
        return {
            "invoices": totals(list(records["Invoice"].values()), total_amt),
            "bills": totals(list(records["Bill"].values()), total_amt),
            "payments": totals(money_payments, total_amt),
            "bill_payments": totals(list(records["BillPayment"].values()), total_amt),
            "credit_notes": totals(list(records["CreditMemo"].values()), total_amt),
            "expenses": totals(list(records["Purchase"].values()), total_amt),
            "purchase_orders": totals(list(records["PurchaseOrder"].values()), total_amt),
            "journal_entries": totals(list(records["JournalEntry"].values()), journal_total),
            "customers": {"count": len(records["Customer"])},
            "suppliers": {"count": len(records["Vendor"])},
            "ledger_accounts": {"count": len(records["Account"])},
            "tax_rates": {"count": len(records["TaxCode"])},
            "bank_accounts": {"count": sum(1 for a in records["Account"].values() if a["AccountType"] == "Bank")},
        }
