"""The NetSuite REST Web Services emulator (record/v1, query/v1 SuiteQL, OAuth 2.0 token endpoint).

The account id lives in the real hostname (`{account}.suitetalk.api.netsuite.com`); here it is the first
path segment, so `baseUrl = {mount}/{account}` and NetSuite's own paths follow unchanged:

- `POST /{account}/services/rest/auth/oauth2/v1/token` (HTTP Basic client auth,
  `grant_type=refresh_token`): access tokens last 3600 s; the refresh token is not rotated and expires
  7 days after it was issued (confidential client), whatever the number of refreshes.
- `GET|POST /{account}/services/rest/record/v1/{type}` and `GET|PATCH|DELETE .../{type}/{id}`.
- `POST /{account}/services/rest/query/v1/suiteql` (header `Prefer: transient`).

Company info is served as the root subsidiary, `GET .../record/v1/subsidiary/1` (name, legalName,
currency, country, plus `fiscalMonth` = first month of the fiscal year, from the company information
page). Expenses are `expenseReport` records whose `entity` is the supplier (a vendor) and whose `account`
is the bank account that paid; lines are in the `expense` sublist (`expenseaccount`, `amount`,
`quantity`, `rate`, `taxCode`, `tax1Amt`, `department`, `location`). Invoice and credit memo item lines
carry the income `account` directly (no item records); bill and purchase order lines are in the
`expense` sublist with `quantity` and `rate` kept.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ledgerql.sandbox.common import Emulator, RateDecision, RateLimits, TokenError, TokenPolicy, basic_credentials
from ledgerql.sandbox.netsuite.recordq import parse_q
from ledgerql.sandbox.netsuite.store import (
    RECORD_TYPES,
    SUBLISTS,
    TRANSACTION_TYPES,
    Store,
)
from ledgerql.sandbox.netsuite.suiteql import SuiteQLDb, SuiteQLError
from ledgerql.sandbox.netsuite.wire import NS_COLLECTION, NsError, json_response, ns_error
from ledgerql.sandbox.netsuite.writes import WRITABLE, Writer

REST = "/services/rest"
TOKEN_PATH = f"{REST}/auth/oauth2/v1/token"
REFRESH_TTL = 7 * 24 * 3600
MAX_LIMIT = 1000
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_TYPES = {t.lower(): t for t in RECORD_TYPES}
#: unified resource → (record type, total field) for summary()
SUMMARY = {
    "invoices": ("invoice", "total"), "bills": ("vendorBill", "total"), "payments": ("customerPayment", "payment"),
    "bill_payments": ("vendorPayment", "total"), "credit_notes": ("creditMemo", "total"),
    "expenses": ("expenseReport", "total"), "purchase_orders": ("purchaseOrder", "total"),
    "journal_entries": ("journalEntry", None), "customers": ("customer", None), "suppliers": ("vendor", None),
    "ledger_accounts": ("account", None), "tax_rates": ("salesTaxItem", None), "bank_accounts": ("account", None),
}


def account_slug(account_id: str) -> str:
    """The hostname form of an account id: lowercase, `_` → `-` (`1234567_SB1` → `1234567-sb1`)."""
    return account_id.lower().replace("_", "-")


class NetSuiteEmulator(Emulator):
    provider = "NETSUITE"
    token_policy = TokenPolicy(access_ttl=3600, refresh_ttl=REFRESH_TTL, rotate_refresh=False)
    # Account-wide concurrency (shared/default tier: 5 concurrent requests); no frequency limits.
    default_limits = RateLimits(concurrent=5)

    @classmethod
    def tenant_id_for(cls, index: int) -> str:
        return f"TSTDRV{1000001 + index}"

    # -- loading ----------------------------------------------------------------------------------------
    def load(self) -> None:
        self.stores: dict[str, Store] = {}
        self.dbs: dict[str, SuiteQLDb] = {}
        self.slugs: dict[str, str] = {}
        for tenant_id, tenant in self.tenants.items():
            store = Store(tenant_id, tenant.books, self.clock.now)
            self.stores[tenant_id] = store
            self.dbs[tenant_id] = SuiteQLDb(store)
            self.slugs[account_slug(tenant_id)] = tenant_id
        self.public_paths = tuple(f"/{slug}{TOKEN_PATH}" for slug in self.slugs)
        # NetSuite's refresh token keeps its first expiry: refreshing does not extend it.
        self.refresh_expiry = {g.refresh_token: (g.tenant, g.refresh_expires_at) for g in self.grants.values()}

    # -- pipeline hooks -----------------------------------------------------------------------------------
    @staticmethod
    def _relative(request: Request) -> str:
        path = request.scope.get("path", "")
        root = request.scope.get("root_path", "")
        return path[len(root):] if root and path.startswith(root) else path

    def tenant_of(self, request: Request) -> str | None:
        segment = self._relative(request).strip("/").split("/", 1)[0]
        return self.slugs.get(segment.lower(), segment or None)

    def request_kind(self, request: Request) -> str:
        parts = self._relative(request).strip("/").split("/")
        rest = parts[1:]
        if rest[:4] == ["services", "rest", "record", "v1"] and len(rest) >= 5:
            name = _TYPES.get(rest[4].lower(), rest[4])
            return f"{request.method} {name}" + ("/id" if len(rest) >= 6 else "")
        if rest[:4] == ["services", "rest", "query", "v1"]:
            return f"{request.method} suiteql"
        if rest[:3] == ["services", "rest", "auth"]:
            return f"{request.method} token"
        return f"{request.method} {'/'.join(rest) or '/'}"

    def error_401(self, request: Request, detail: str) -> Response:
        return ns_error(401, "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite "
                             "UI at Setup > Users/Roles > User Management > View Login Audit Trail.", "INVALID_LOGIN")

    def error_429(self, request: Request, decision: RateDecision) -> Response:
        return ns_error(429, "Concurrent request limit exceeded. Request blocked.", "CONCURRENCY_LIMIT_EXCEEDED")

    def error_5xx(self, request: Request) -> Response:
        return ns_error(503, "The service is temporarily unavailable. Try again later.", "UNEXPECTED_ERROR")

    def error_404(self, request: Request, status_code: int = 404) -> Response:
        if status_code == 405:
            return ns_error(405, f"The HTTP method {request.method} is not allowed for this resource.",
                            "METHOD_NOT_ALLOWED", errorUrl=request.url.path)
        return ns_error(status_code, f"The requested resource {request.url.path} was not found.", "NONEXISTENT_ID",
                        errorUrl=request.url.path)

    # -- routes ---------------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        # Every method is routed so that a wrong one gets NetSuite's 405 body (the bare router would
        # answer it in plain text).
        return [
            Route("/{account}" + TOKEN_PATH, self._only("POST", self.token), methods=ALL_METHODS),
            Route("/{account}" + REST + "/query/v1/suiteql", self._only("POST", self.suiteql), methods=ALL_METHODS),
            Route("/{account}" + REST + "/record/v1/{rtype}", self._only("GET POST", self.collection),
                  methods=ALL_METHODS),
            Route("/{account}" + REST + "/record/v1/{rtype}/{rid}", self._only("GET PATCH DELETE", self.instance),
                  methods=ALL_METHODS),
        ]

    def _only(self, methods: str, handler: Any) -> Any:
        allowed = methods.split()

        async def guarded(request: Request) -> Response:
            if request.method not in allowed and not (request.method == "HEAD" and "GET" in allowed):
                return self.error_404(request, 405)
            response: Response = await handler(request)
            return response

        return guarded

    def _store(self, request: Request) -> tuple[str, Store]:
        tenant = self.slugs.get(request.path_params["account"].lower())
        if tenant is None:
            raise NsError(401, "Invalid login attempt.", "INVALID_LOGIN")
        return tenant, self.stores[tenant]

    def _rest_base(self, request: Request) -> str:
        return f"{str(request.base_url).rstrip('/')}/{request.path_params['account']}{REST}"

    @staticmethod
    def _record_type(request: Request) -> str:
        name = request.path_params["rtype"]
        found = _TYPES.get(name.lower())
        if found is None:
            raise NsError(404, f"Record type '{name}' does not exist.", "INVALID_RCRD_TYPE",
                          errorUrl=request.url.path)
        return found

    @staticmethod
    def _paging(request: Request) -> tuple[int, int]:
        params = request.query_params
        try:
            limit = int(params.get("limit", MAX_LIMIT))
        except ValueError:
            raise NsError(400, f"Invalid value for query parameter limit: {params.get('limit')}.",
                          "INVALID_PARAMETER", errorQueryParam="limit") from None
        try:
            offset = int(params.get("offset", 0))
        except ValueError:
            raise NsError(400, f"Invalid value for query parameter offset: {params.get('offset')}.",
                          "INVALID_PARAMETER", errorQueryParam="offset") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise NsError(400, f"Invalid value for query parameter limit: {limit}. The value must be between 1 "
                               f"and {MAX_LIMIT}.", "INVALID_PARAMETER", errorQueryParam="limit")
        if offset < 0:
            raise NsError(400, f"Invalid value for query parameter offset: {offset}.", "INVALID_PARAMETER",
                          errorQueryParam="offset")
        return limit, offset

    @staticmethod
    def _flag(request: Request, name: str) -> bool:
        return request.query_params.get(name, "").lower() == "true"

    @staticmethod
    def _page_links(url: str, params: dict[str, str], limit: int, offset: int, total: int) -> list[dict[str, str]]:
        def href(at: int) -> str:
            return f"{url}?{urlencode({**params, 'limit': limit, 'offset': at})}"

        last = max(0, ((total - 1) // limit) * limit) if total else 0
        links = [{"rel": "first", "href": href(0)}]
        if offset > 0:
            links.append({"rel": "prev", "href": href(max(0, offset - limit))})
        if offset + limit < total:
            links.append({"rel": "next", "href": href(offset + limit)})
        links.append({"rel": "last", "href": href(last)})
        links.append({"rel": "self", "href": href(offset)})
        return links

    # -- rendering ------------------------------------------------------------------------------------
    def render(self, request: Request, record_type: str, record: dict[str, Any], expand: bool) -> dict[str, Any]:
        self_href = f"{self._rest_base(request)}/record/v1/{record_type}/{record['id']}"
        out: dict[str, Any] = {"links": [{"rel": "self", "href": self_href}]}
        for key, value in record.items():
            if key in SUBLISTS.get(record_type, ()) and isinstance(value, dict):
                items = value.get("items", [])
                sub_links = [{"rel": "self", "href": f"{self_href}/{key}"}]
                if expand:
                    out[key] = {"links": sub_links, "count": len(items), "hasMore": False, "offset": 0,
                                "totalResults": len(items), "items": [{"links": [], **item} for item in items]}
                else:
                    out[key] = {"links": sub_links}
            else:
                out[key] = value
        for sublist in SUBLISTS.get(record_type, ()):
            if sublist not in out:
                out[sublist] = {"links": [{"rel": "self", "href": f"{self_href}/{sublist}"}]}
        return out

    # -- handlers -------------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        tenant = self.slugs.get(request.path_params["account"].lower())
        client_id, client_secret = basic_credentials(request)
        # Form-encoded body, parsed by hand (python-multipart is not a dependency).
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("latin-1")).items()}
        if client_id is None:
            client_id = str(form.get("client_id") or "") or None
            client_secret = str(form.get("client_secret") or "") or None
        if not self.oauth.check_client(client_id, client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant_type = form.get("grant_type")
        if grant_type != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        refresh_token = str(form.get("refresh_token") or "")
        if not refresh_token:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        info = self.refresh_expiry.get(refresh_token)
        if tenant is None or info is None or info[0] != tenant or info[1] <= self.clock.now():
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        try:
            grant = self.oauth.refresh(refresh_token)
        except TokenError as exc:
            return JSONResponse({"error": "invalid_grant", "error_description": exc.detail}, status_code=400)
        grant.refresh_expires_at = info[1]
        self.grants[tenant] = grant
        return JSONResponse({"access_token": grant.access_token, "expires_in": str(self.token_policy.access_ttl),
                             "token_type": "bearer"})

    async def collection(self, request: Request) -> Response:
        try:
            tenant, store = self._store(request)
            record_type = self._record_type(request)
            if request.method == "POST":
                return await self._create(request, tenant, store, record_type)
            return self._list(request, store, record_type)
        except NsError as exc:
            return exc.response()

    def _list(self, request: Request, store: Store, record_type: str) -> Response:
        limit, offset = self._paging(request)
        records = sorted(store.records[record_type].values(), key=lambda r: int(r["id"]))
        params = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}
        ids = request.query_params.get("ids")
        if ids is not None:
            wanted = [i.strip() for i in ids.split(",") if i.strip()]
            found = []
            for key in wanted:
                if not key.startswith("eid:") and not key.isdigit():
                    raise NsError(400, f"Invalid record instance identifier '{key}'. Provide a valid record "
                                       "instance ID.", "INVALID_ID", errorQueryParam="ids")
                record = store.find(record_type, key)
                if record is not None and record not in found:
                    found.append(record)
            records = sorted(found, key=lambda r: int(r["id"]))
        q = request.query_params.get("q")
        if q:
            predicate = parse_q(q)
            records = [r for r in records if predicate(r)]
        total = len(records)
        page = records[offset:offset + limit]
        expand = self._flag(request, "expandRecords")
        base = self._rest_base(request)
        items = []
        for record in page:
            if expand:
                items.append(self.render(request, record_type, record, self._flag(request, "expandSubResources")))
            else:
                items.append({"links": [{"rel": "self", "href": f"{base}/record/v1/{record_type}/{record['id']}"}],
                              "id": record["id"]})
        body = {"links": self._page_links(f"{base}/record/v1/{record_type}", params, limit, offset, total),
                "count": len(page), "hasMore": offset + len(page) < total, "items": items, "offset": offset,
                "totalResults": total}
        return json_response(body, media_type=NS_COLLECTION)

    def _instance_record(self, request: Request, store: Store, record_type: str) -> dict[str, Any]:
        rid = request.path_params["rid"]
        if not rid.startswith("eid:") and (not rid.isdigit() or int(rid) <= 0 or rid.startswith("0")):
            raise NsError(400, f"Invalid record instance identifier '{rid}'. Provide a valid record instance ID.",
                          "INVALID_ID", errorUrl=request.url.path)
        record = store.find(record_type, rid)
        if record is None:
            raise NsError(404, "The record instance does not exist. Provide a valid record instance ID.",
                          "NONEXISTENT_ID", errorUrl=request.url.path)
        return record

    async def instance(self, request: Request) -> Response:
        try:
            tenant, store = self._store(request)
            record_type = self._record_type(request)
            record = self._instance_record(request, store, record_type)
            if request.method in ("GET", "HEAD"):
                return json_response(self.render(request, record_type, record,
                                                 self._flag(request, "expandSubResources")))
            if record_type not in WRITABLE:
                raise NsError(405, f"The HTTP method {request.method} is not allowed for record type "
                                   f"'{record_type}' in this sandbox.", "METHOD_NOT_ALLOWED")
            writer = Writer(store, self.clock.now())
            if request.method == "PATCH":
                body = await self._body(request)
                touched = writer.update(record_type, record, body)
            else:
                touched = writer.delete(record_type, record)
            for touched_type, touched_id in touched:
                self.dbs[tenant].sync(touched_type, touched_id)
            return Response(status_code=204)
        except NsError as exc:
            return exc.response()

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw, parse_float=Decimal) if raw else None
        except (ValueError, UnicodeDecodeError):
            raise NsError(400, "Invalid content in the request body: the JSON could not be parsed.",
                          "INVALID_CONTENT") from None
        if not isinstance(body, dict):
            raise NsError(400, "Invalid content in the request body: a JSON object is expected.", "INVALID_CONTENT")
        return body

    async def _create(self, request: Request, tenant: str, store: Store, record_type: str) -> Response:
        if record_type not in WRITABLE:
            raise NsError(405, f"The HTTP method POST is not allowed for record type '{record_type}' in this "
                               "sandbox.", "METHOD_NOT_ALLOWED")
        raw = await request.body()
        key = request.headers.get("x-netsuite-idempotency-key")
        if key:
            if not self.replay.body_matches(tenant, key, raw):
                raise NsError(409, "The idempotency key was already used with a different request.",
                              "DUPLICATE_IDEMPOTENCY_KEY", errorHeader="X-NetSuite-Idempotency-Key")
            cached = self.replay.get(tenant, key)
            if cached is not None:
                return cached
        body = await self._body(request)
        record, touched = Writer(store, self.clock.now()).create(record_type, body)
        for touched_type, touched_id in touched:
            self.dbs[tenant].sync(touched_type, touched_id)
        location = f"{self._rest_base(request)}/record/v1/{record_type}/{record['id']}"
        response = Response(status_code=204, headers={"Location": location})
        if key:
            self.replay.put(tenant, key, raw, response)
        return response

    async def suiteql(self, request: Request) -> Response:
        try:
            tenant, _ = self._store(request)
            if "transient" not in request.headers.get("prefer", "").lower():
                raise NsError(400, "Invalid request: SuiteQL queries require the header 'Prefer: transient'.",
                              "INVALID_HEADER", errorHeader="Prefer")
            limit, offset = self._paging(request)
            body = await self._body(request)
            sql = body.get("q")
            if not isinstance(sql, str) or not sql.strip():
                raise NsError(400, "Invalid search query. Provide a query in the 'q' property.", "INVALID_PARAMETER")
            try:
                rows, total = self.dbs[tenant].query(sql, limit, offset)
            except SuiteQLError as exc:
                raise NsError(400, "Invalid search query. Detailed unprocessed description follows. "
                                   f"Search error occurred: {exc}", "INVALID_PARAMETER") from None
            url = f"{self._rest_base(request)}/query/v1/suiteql"
            body_out = {"links": self._page_links(url, {}, limit, offset, total), "count": len(rows),
                        "hasMore": offset + len(rows) < total, "items": [{"links": [], **row} for row in rows],
                        "offset": offset, "totalResults": total}
            return json_response(body_out, media_type=NS_COLLECTION)
        except NsError as exc:
            return exc.response()

    # -- describe and summary ------------------------------------------------------------------------------
    def describe(self, base_url: str) -> dict[str, Any]:
        tenant = self.tenant_id_for(0) if self.tenant_id_for(0) in self.tenants else next(iter(self.tenants))
        grant = self.grants[tenant]
        root = f"{base_url.rstrip('/')}/{account_slug(tenant)}"
        return {"baseUrl": root, "accessToken": grant.access_token, "refreshToken": grant.refresh_token,
                "clientId": self.oauth.client_id, "clientSecret": self.oauth.client_secret,
                "tokenUrl": f"{root}{TOKEN_PATH}", "accountId": tenant, "tenants": list(self.tenants)}

    def summary(self) -> dict[str, dict[str, Any]]:
        tenant = self.tenant_id_for(0) if self.tenant_id_for(0) in self.tenants else next(iter(self.tenants))
        store = self.stores[tenant]
        out: dict[str, dict[str, Any]] = {}
        for resource, (record_type, total_field) in SUMMARY.items():
            records = list(store.records[record_type].values())
            if resource == "bank_accounts":
                records = [r for r in records if r["acctType"]["id"] == "Bank"]
            entry: dict[str, Any] = {"count": len(records)}
            if record_type in TRANSACTION_TYPES:
                totals: dict[str, Decimal] = {}
                for r in records:
                    currency = (r.get("currency") or r.get("expensereportcurrency") or {}).get("refName", "")
                    if total_field is None:  # journal entry: the sum of its debits
                        amount = sum((line.get("debit", Decimal(0)) for line in r["line"]["items"]), Decimal("0.00"))
                    else:
                        amount = r[total_field]
                    totals[currency] = totals.get(currency, Decimal("0.00")) + amount
                entry["totals"] = {k: str(v) for k, v in sorted(totals.items())}
            out[resource] = entry
        return out


__all__ = ["NetSuiteEmulator", "account_slug"]
