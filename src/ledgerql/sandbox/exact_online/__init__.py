"""Exact Online emulator: the REST API (`/api/v1/{division}/...`, OData v2 JSON) over the shared books.

Wire format (providers.md §3): divisions are integers in the path (`3100001 + i`); `/api/v1/current/Me`
names the token's division; tokens come from `/api/oauth2/token` (form post with `client_id` and
`client_secret`, `expires_in` the string "600", the refresh token rotates, and a refresh sooner than
570 s after the access token was issued, while it is still valid, is refused). Lists answer
`{"d":{"results":[...],"__next":"<absolute url with $skiptoken=guid'<last key>'>"}}` with 60 rows a
page, single records `{"d":{...}}`; dates are `/Date(<epoch ms>)/`; amounts are exact JSON numbers.
Errors are `{"error":{"code":"","message":{"lang":"","value":"..."}}}`. Limits: 60 calls a minute and
5,000 a day per division, with `X-RateLimit-*` and `X-RateLimit-Minutely-*` headers (resets in epoch
ms); 429 when exceeded, with only the headers of the exhausted budget. Exact has no idempotency keys.

How the books are expressed (what a connector reads back):
- Ledger accounts: `financial/GLAccounts` (`Code` = nominal code, `Description` = name, `Type` int).
  Customers and suppliers: `crm/Accounts` (`Code` = the books' key right-aligned to 18 characters,
  `Name` = display name, `IsSales`/`IsSupplier`, `Status` "C" for customers and "A" for suppliers,
  `SalesCurrency`/`PurchaseCurrency`). Tax rates: `vat/VATCodes` (`Code`, `Description`,
  `Percentage` as a fraction: 20 % → 0.2). Department → `hrm/Costcenters` (line `CostCenter` code),
  Location → `hrm/Costunits` (line `CostUnit` code); `Description` is the option name.
- Journals: `financial/Journals`; "GJ" (Type 90) is the general journal of the manual entries, "70"
  sales, "60" purchase, and one bank journal (Type 12: "20", "21", "22") per bank account, carrying
  `GLAccount`, `Currency`, `BankAccountIBAN` (the account number), `BankName`, `BankAccountDescription`.
- Invoices: `salesentry/SalesEntries` Type 20; credit notes: Type 21 with negative amounts.
  `YourRef` (and `Description`) keep the business number ("INV-0001", "CN-0001"), `EntryNumber` =
  `InvoiceNumber` is Exact's integer number. `AmountFC` is the total including VAT, `VATAmountFC` the
  tax; lines carry `AmountFC` (net), `Quantity` (unit price = AmountFC / Quantity, exact), `VATCode`,
  `VATPercentage`, `VATAmountFC`. `Rate` is 1 for the base currency (the books have no rate there).
  Lines are a navigation property: deferred unless `$expand=SalesEntryLines`, also served at
  `salesentry/SalesEntryLines` (filter on `EntryID`). Bills: `purchaseentry/PurchaseEntries` Type 30.
- Expenses: Exact has no expense object. Each book expense is a purchase entry with
  `DueDate` = `EntryDate` (`YourRef` "EXP-0001"), settled at once by a bank entry of the paying bank
  journal. Neither counts as a bill or a bill payment.
- Payments and bill payments: `financialtransaction/BankEntries` (one entry per payment, in the bank
  journal of the paying account) with `BankEntryLines`: `Account` = the customer/supplier,
  `GLAccount` = receivables (1100) or payables (2100), `OurRef` = the `EntryNumber` of the invoice or
  bill paid, `AmountFC` signed as the posting on that control account (debit +, credit −): a receipt
  from a customer is negative, a payment to a supplier positive. `Description` keeps the payment
  reference ("PAY-0001"). An overpayment is one more line without `OurRef`. One payment may have
  several lines (a split payment).
- Open items and balances: `cashflow/Receivables` (sales entries) and `cashflow/Payments` (purchase
  entries), one row per entry: `EntryID`/`TransactionEntryID` = the entry, `TransactionAmountFC` = its
  total, `AmountFC` = what is still open (same sign as the entry), `IsFullyPaid`, `Status` 20 open /
  50 matched, `LastPaymentDate`. A bank entry line with `OurRef` lowers the open item and bumps the
  `Modified` of the item and of the entry.
- Credit note allocation: a credit note is matched with one invoice. The credit note's
  `PaymentReference` is the invoice's `EntryNumber` (as a string; an unmatched credit note carries its
  own number), and its receivable carries the invoice's `YourRef`. The amount allocated is
  |`TransactionAmountFC`| − |`AmountFC`| of the credit note's receivable; the invoice's receivable is
  lowered by the same amount. On create, a Type 21 entry whose `PaymentReference` names an open invoice
  of the customer is matched for min(credit total, invoice open amount).
- Purchase orders: `purchaseorder/PurchaseOrders` (`OrderNumber` int, `YourRef` = "PO-0001",
  `AmountFC` incl. VAT, `VATAmount`, `OrderStatus` 10 open / 30 complete) with `PurchaseOrderLines`
  (`Quantity`, `UnitPrice`/`NetPrice`, net `AmountFC`, `VATCode`, `VATAmount`, cost centre/unit).
  Exact derives a line's G/L account from its item; the sandbox has no items and shows the account on
  the line as `GLAccount`/`GLAccountCode` (an emulator addition).
- Journal entries: `generaljournalentry/GeneralJournalEntries` in journal "GJ", lines with signed
  `AmountFC` (debit +, credit −), `Notes` = the business number ("JE-0001").
- Creates answer 201 with `{"d":{...}}`; the full record only with `Prefer: return=representation`
  (otherwise only the key is filled in, as Exact does). PUT and DELETE answer 204.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ledgerql.sandbox.common import Emulator, RateDecision, RateLimits, TokenError, TokenPolicy
from ledgerql.sandbox.exact_online import writes
from ledgerql.sandbox.exact_online.ledger import SANDBOX_USER, SANDBOX_USER_NAME, Ledger
from ledgerql.sandbox.exact_online.odata import (
    ODataError,
    day_start,
    parse_filter,
    parse_guid,
    parse_int_option,
    parse_orderby,
    render,
    sort_records,
)
from ledgerql.sandbox.exact_online.schema import SETS, EntitySet

__all__ = ["ExactOnlineEmulator"]

PAGE_SIZE = 60
MAX_URL_LENGTH = 6000
FIRST_DIVISION = 3100001
TOKEN_PATH = "/api/oauth2/token"
_SYSTEM_OPTIONS = {"$filter", "$select", "$orderby", "$top", "$skip", "$skiptoken", "$inlinecount", "$expand",
                   "$format"}
_API_RE = re.compile(r"^/api/v1/([^/]+)/")
_RESOURCE_RE = re.compile(r"^(?P<service>[A-Za-z]+)/(?P<entity>[A-Za-z]+)(?:\((?P<key>[^)]*)\))?(?:/(?P<tail>.+))?$")
_SETS_LOWER = {path.lower(): spec for path, spec in SETS.items()}


def error_body(message: str) -> dict[str, Any]:
    return {"error": {"code": "", "message": {"lang": "", "value": message}}}


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_body(message), status_code=status, headers=headers)


def odata_response(payload: Any, status: int = 200) -> Response:
    return Response(render(payload), status_code=status, media_type="application/json")


class ExactOnlineEmulator(Emulator):
    provider = "EXACT_ONLINE"
    token_policy = TokenPolicy(access_ttl=600, refresh_ttl=30 * 24 * 3600, rotate_refresh=True, refresh_grace=0,
                               min_refresh_interval=570)
    default_limits = RateLimits(per_minute=60, per_day=5000)
    public_paths = (TOKEN_PATH,)

    ledgers: dict[str, Ledger]

    @classmethod
    def tenant_id_for(cls, index: int) -> str:
        return str(FIRST_DIVISION + index)

    # -- loading ------------------------------------------------------------------------------------
    def load(self) -> None:
        self.ledgers = {}
        for tenant_id, tenant in self.tenants.items():
            ledger = Ledger(int(tenant_id), tenant.books)
            ledger.load()
            self.ledgers[tenant_id] = ledger
        divisions = []
        for index, (tenant_id, tenant) in enumerate(self.tenants.items()):
            company = tenant.books.company
            created = company.updated_at or day_start(datetime(2025, 1, 1).date())
            divisions.append({"Code": int(tenant_id), "Description": company.name, "CustomerName": company.legal_name,
                              "Currency": company.base_currency, "Country": company.country, "HID": int(tenant_id),
                              "Main": index == 0, "StartDate": created, "Created": created, "Modified": created})
        for ledger in self.ledgers.values():
            ledger.sets["system/Divisions"] = {str(d["Code"]): dict(d) for d in divisions}

    def now(self) -> datetime:
        """The emulator clock as an instant with millisecond precision (what `/Date(ms)/` can carry)."""
        stamp = datetime.fromtimestamp(self.clock.now(), tz=UTC)
        return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)

    # -- routing --------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route(TOKEN_PATH, self.token, methods=["POST"]),
            Route("/api/v1/current/Me", self.me, methods=["GET"]),
            Route("/api/v1/{division}/{rest:path}", self.api, methods=["GET", "POST", "PUT", "DELETE"]),
        ]

    @staticmethod
    def _relative(request: Request) -> str:
        path = request.scope.get("path", "")
        root = request.scope.get("root_path", "")
        return path[len(root):] if root and path.startswith(root) else path

    @staticmethod
    def _root_url(request: Request) -> str:
        """Scheme, host and mount point of the emulator: what replaces Exact's host."""
        return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}".rstrip("/")

    def tenant_of(self, request: Request) -> str | None:
        match = _API_RE.match(self._relative(request))
        if not match or match.group(1) == "current":
            return None
        return match.group(1)

    def request_kind(self, request: Request) -> str:
        relative = self._relative(request)
        if relative == TOKEN_PATH:
            return "POST oauth2/token"
        if relative.startswith("/api/v1/current/"):
            return f"{request.method} current/{relative.rsplit('/', 1)[-1]}"
        match = _API_RE.match(relative)
        if match:
            rest = relative[match.end():]
            parsed = _RESOURCE_RE.match(rest)
            if parsed:
                spec = _SETS_LOWER.get(f"{parsed['service']}/{parsed['entity']}".lower())
                if spec:
                    return f"{request.method} {spec.path}"
            return f"{request.method} {rest}"
        return f"{request.method} {relative}"

    # -- errors and headers ----------------------------------------------------------------------------
    def error_401(self, request: Request, detail: str) -> Response:
        return error_response("Unauthorized", 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def error_403(self, request: Request, detail: str) -> Response:
        return error_response("Forbidden - WrongDivision", 403)

    def error_404(self, request: Request, status_code: int = 404) -> Response:
        if status_code == 405:
            return error_response(f"The method '{request.method}' is not allowed on this resource.", 405)
        relative = self._relative(request)
        segment = relative.rstrip("/").rsplit("/", 1)[-1] or relative
        return error_response(f"Resource not found for the segment '{segment}'.", status_code)

    def error_5xx(self, request: Request) -> Response:
        return error_response("Service Unavailable", 503)

    def error_429(self, request: Request, decision: RateDecision) -> Response:
        headers = self.rate_headers(decision)
        if decision.problem == "day":
            headers = {k: v for k, v in headers.items() if "Minutely" not in k}
            message = "API rate limit exceeded: the daily limit for this division has been reached."
        else:
            headers = {k: v for k, v in headers.items() if "Minutely" in k}
            message = "API rate limit exceeded: too many calls in the current minute."
        return error_response(message, 429, headers)

    def rate_headers(self, decision: RateDecision) -> dict[str, str]:
        limits = self.limiter.limits
        now = self.clock.now()
        headers: dict[str, str] = {}
        if limits.per_day is not None:
            headers["X-RateLimit-Limit"] = str(limits.per_day)
            headers["X-RateLimit-Remaining"] = str(decision.day_remaining if decision.day_remaining is not None
                                                   else limits.per_day)
            headers["X-RateLimit-Reset"] = str(int((decision.day_reset or now + 86400) * 1000))
        if limits.per_minute is not None:
            remaining = decision.minute_remaining if decision.minute_remaining is not None else limits.per_minute
            if decision.problem == "minute":
                remaining = 0
            headers["X-RateLimit-Minutely-Limit"] = str(limits.per_minute)
            headers["X-RateLimit-Minutely-Remaining"] = str(remaining)
            headers["X-RateLimit-Minutely-Reset"] = str(int((decision.minute_reset or now + 60) * 1000))
        return headers

    # -- OAuth ------------------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        if not self.oauth.check_client(form.get("client_id"), form.get("client_secret")):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if grant_type != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            grant = self.oauth.refresh(form.get("refresh_token", ""))
        except TokenError as exc:
            if exc.reason == "too_early":
                return JSONResponse({"error": "invalid_request",
                                     "error_description": "Access token is not expired yet: a new access token can "
                                                          "be requested once it is at least 570 seconds old."},
                                    status_code=400)
            return JSONResponse({"error": "invalid_grant", "error_description": exc.detail}, status_code=400)
        self.grants[grant.tenant] = grant
        return JSONResponse({"access_token": grant.access_token, "token_type": "bearer",
                             "expires_in": str(self.token_policy.access_ttl), "refresh_token": grant.refresh_token})

    # -- describe / summary --------------------------------------------------------------------------------
    def describe(self, base_url: str) -> dict[str, Any]:
        tenants = list(self.tenants)
        first = tenants[0]
        grant = self.grants[first]
        return {"baseUrl": base_url, "accessToken": grant.access_token, "refreshToken": grant.refresh_token,
                "clientId": self.oauth.client_id, "clientSecret": self.oauth.client_secret,
                "tokenUrl": base_url.rstrip("/") + TOKEN_PATH, "division": first, "tenants": tenants}

    def summary(self) -> dict[str, dict[str, Any]]:
        return self.ledgers[next(iter(self.tenants))].summary()

    # -- current/Me ------------------------------------------------------------------------------------------
    async def me(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        grant = self.oauth.authenticate(header[7:])
        division = grant.tenant if grant else next(iter(self.tenants))
        base = self._root_url(request)
        record = {"__metadata": {"uri": f"{base}/api/v1/current/Me(guid'{SANDBOX_USER}')",
                                 "type": "Exact.Web.Api.System.Me"},
                  "UserID": SANDBOX_USER, "UserName": "sandbox@ledgerql.example", "FullName": SANDBOX_USER_NAME,
                  "Email": "sandbox@ledgerql.example", "CurrentDivision": int(division),
                  "DivisionCustomerName": self.tenants[division].books.company.name, "LanguageCode": "en-GB"}
        select = dict(parse_qsl(request.url.query)).get("$select")
        if select:
            wanted = {s.strip() for s in select.split(",")}
            record = {k: v for k, v in record.items() if k in wanted or k == "__metadata"}
        return odata_response({"d": {"results": [record]}})

    # -- the REST resources ----------------------------------------------------------------------------------
    async def api(self, request: Request) -> Response:
        try:
            return await self._api(request)
        except ODataError as exc:
            return error_response(exc.message, exc.status)

    async def _api(self, request: Request) -> Response:
        if len(str(request.url)) > MAX_URL_LENGTH:
            raise ODataError(f"The request URL is too long: at most {MAX_URL_LENGTH} characters are allowed.")
        division = request.path_params["division"]
        ledger = self.ledgers.get(division)
        if ledger is None:
            return error_response("Forbidden - WrongDivision", 403)
        rest = request.path_params["rest"]
        match = _RESOURCE_RE.match(rest)
        spec = _SETS_LOWER.get(f"{match['service']}/{match['entity']}".lower()) if match else None
        if match is None or spec is None:
            segment = rest.split("(")[0].rsplit("/", 1)[-1] or rest
            return error_response(f"Resource not found for the segment '{segment}'.", 404)
        if request.method not in spec.methods:
            return error_response(f"The method '{request.method}' is not allowed on '{spec.path}'.", 405)
        key = self._key(spec, match["key"]) if match["key"] is not None else None
        tail = match["tail"]
        base = f"{self._root_url(request)}/api/v1/{division}"
        if request.method == "GET":
            return self._get(request, ledger, spec, key, tail, base)
        if tail is not None:
            return error_response(f"Resource not found for the segment '{tail}'.", 404)
        if request.method == "POST":
            if key is not None:
                raise ODataError("POST is not allowed on a single entity; post to the entity set.", 405)
            return await self._post(request, ledger, spec, base)
        if key is None:
            raise ODataError(f"{request.method} needs the key of the entity: {spec.path}(guid'...')")
        record = ledger.table(spec.path).get(key)
        if record is None:
            return error_response(f"Resource not found for the segment '{match['entity']}'.", 404)
        if request.method == "PUT":
            body = await self._body(request)
            writes.update(ledger, spec.path, record, body, self.now())
        else:
            writes.delete(ledger, spec.path, record)
        return Response(status_code=204)

    @staticmethod
    def _key(spec: EntitySet, raw: str) -> str:
        raw = raw.strip()
        if spec.path == "system/Divisions":
            if not raw.isdigit():
                raise ODataError(f"Bad Request - Error in query syntax: invalid key '{raw}'.")
            return raw
        if not (raw.startswith("guid'") and raw.endswith("'")):
            raise ODataError(f"Bad Request - Error in query syntax: the key of {spec.type_name} is a GUID, "
                             f"written guid'...'")
        return parse_guid(raw[5:-1])

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"null", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise ODataError("Error processing request stream. The request should be a valid top-level resource "
                             "object.")
        return body

    # -- reading -------------------------------------------------------------------------------------------
    def records(self, ledger: Ledger, spec: EntitySet) -> list[dict[str, Any]]:
        if spec.parent is None:
            return list(ledger.table(spec.path).values())
        parent_path, nav = spec.parent
        return [line for parent in ledger.table(parent_path).values() for line in parent[nav]]

    def _get(self, request: Request, ledger: Ledger, spec: EntitySet, key: str | None, tail: str | None,
             base: str) -> Response:
        options = self._options(request)
        expand = self._expand(spec, options.get("$expand"))
        select = self._select(spec, options.get("$select"))
        if key is not None:
            if spec.parent is None:
                record = ledger.table(spec.path).get(key)
            else:
                record = next((r for r in self.records(ledger, spec) if str(r[spec.key]) == key), None)
            if record is None:
                return error_response(f"Resource not found for the segment '{spec.path.split('/')[1]}'.", 404)
            if tail is None:
                return odata_response({"d": self.render_record(spec, record, base, select, expand)})
            if tail not in spec.nav:
                return error_response(f"Resource not found for the segment '{tail}'.", 404)
            line_spec = SETS[spec.nav[tail]]
            return self._list(request, options, line_spec, list(record[tail]), base)
        if tail == "$count":
            rows = self._filtered(options, spec, self.records(ledger, spec))
            return Response(str(len(rows)), media_type="text/plain")
        if tail is not None:
            return error_response(f"Resource not found for the segment '{tail}'.", 404)
        return self._list(request, options, spec, self.records(ledger, spec), base)

    @staticmethod
    def _options(request: Request) -> dict[str, str]:
        options: dict[str, str] = {}
        for name, value in parse_qsl(request.url.query, keep_blank_values=True):
            if name.startswith("$") and name not in _SYSTEM_OPTIONS:
                raise ODataError(f"The query parameter '{name}' begins with a system-reserved '$' character but "
                                 f"is not recognized.")
            if name in options:
                raise ODataError(f"Query option '{name}' was specified more than once, but it must be specified at "
                                 f"most once.")
            options[name] = value
        return options

    @staticmethod
    def _expand(spec: EntitySet, text: str | None) -> set[str]:
        if not text:
            return set()
        names = {part.strip() for part in text.split(",") if part.strip()}
        for name in names:
            if name not in spec.nav:
                raise ODataError(f"Could not find a property named '{name}' on type '{spec.qualified_type}'.")
        return names

    @staticmethod
    def _select(spec: EntitySet, text: str | None) -> set[str] | None:
        if not text or text.strip() == "*":
            return None
        names = {part.strip() for part in text.split(",") if part.strip()}
        for name in names:
            if name not in spec.fields:
                raise ODataError(f"Could not find a property named '{name}' on type '{spec.qualified_type}'.")
        return names

    @staticmethod
    def _filtered(options: dict[str, str], spec: EntitySet, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        text = options.get("$filter")
        if text:
            predicate = parse_filter(text, spec.filter_fields(), spec.qualified_type)
            rows = [r for r in rows if predicate(r)]
        return rows

    def _list(self, request: Request, options: dict[str, str], spec: EntitySet, rows: list[dict[str, Any]],
              base: str) -> Response:
        expand = self._expand(spec, options.get("$expand"))
        select = self._select(spec, options.get("$select"))
        rows = self._filtered(options, spec, rows)
        total = len(rows)
        if options.get("$orderby"):
            rows = sort_records(rows, parse_orderby(options["$orderby"], spec.filter_fields(), spec.qualified_type))
        else:
            rows = sorted(rows, key=lambda r: str(r[spec.key]) if spec.key != "Code" else int(r[spec.key]))
        token = options.get("$skiptoken")
        if token:
            last = self._skiptoken(spec, token)
            index = next((i for i, r in enumerate(rows) if str(r[spec.key]) == last), None)
            if index is not None:
                rows = rows[index + 1:]
            elif not options.get("$orderby"):
                rows = [r for r in rows if str(r[spec.key]) > last]
            else:
                raise ODataError("The $skiptoken does not name a row of this result.")
        if options.get("$skip"):
            rows = rows[parse_int_option("$skip", options["$skip"]):]
        top = parse_int_option("$top", options["$top"]) if options.get("$top") else None
        size = PAGE_SIZE if top is None else min(top, PAGE_SIZE)
        page = rows[:size]
        inline = options.get("$inlinecount")
        if inline not in (None, "", "allpages", "none"):
            raise ODataError(f"Invalid value '{inline}' for $inlinecount query option found. Valid values are "
                             f"'allpages' and 'none'.")
        payload: dict[str, Any] = {"results": [self.render_record(spec, r, base, select, expand) for r in page]}
        if inline == "allpages":
            payload["__count"] = str(total)
        more = len(rows) > len(page) and (top is None or top > len(page))
        if more and page:
            query = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True)
                     if k not in ("$skiptoken", "$skip", "$top", "$inlinecount")]
            if top is not None:
                query.append(("$top", str(top - len(page))))
            last_key = page[-1][spec.key]
            query.append(("$skiptoken", str(last_key) if spec.key == "Code" else f"guid'{last_key}'"))
            payload["__next"] = str(request.url.replace(query=urlencode(query)))
        return odata_response({"d": payload})

    @staticmethod
    def _skiptoken(spec: EntitySet, token: str) -> str:
        token = token.strip()
        if spec.key == "Code":
            if not token.isdigit():
                raise ODataError(f"Invalid $skiptoken '{token}'.")
            return token
        if token.startswith("guid'") and token.endswith("'"):
            return parse_guid(token[5:-1])
        raise ODataError(f"Invalid $skiptoken '{token}'.")

    def render_record(self, spec: EntitySet, record: dict[str, Any], base: str, select: set[str] | None,
                      expand: set[str], keys_only: bool = False) -> dict[str, Any]:
        key = record[spec.key]
        key_text = str(key) if spec.key == "Code" else f"guid'{key}'"
        uri = f"{base}/{spec.path}({key_text})"
        result: dict[str, Any] = {"__metadata": {"uri": uri, "type": spec.qualified_type}}
        for name in spec.fields:
            if select is not None and name not in select:
                continue
            if name in spec.nav:
                if name in expand or keys_only:
                    line_spec = SETS[spec.nav[name]]
                    result[name] = {"results": [self.render_record(line_spec, line, base, None, set())
                                                for line in record[name]]}
                else:
                    result[name] = {"__deferred": {"uri": f"{uri}/{name}"}}
                continue
            result[name] = record[name] if not keys_only or name == spec.key else None
        return result

    # -- writing ---------------------------------------------------------------------------------------------
    async def _post(self, request: Request, ledger: Ledger, spec: EntitySet, base: str) -> Response:
        body = await self._body(request)
        now = self.now()
        creators = {
            "crm/Accounts": lambda: writes.create_account(ledger, body, now),
            "salesentry/SalesEntries": lambda: writes.create_entry(ledger, "sales", body, now),
            "purchaseentry/PurchaseEntries": lambda: writes.create_entry(ledger, "purchase", body, now),
            "financialtransaction/BankEntries": lambda: writes.create_bank_entry(ledger, body, now),
            "generaljournalentry/GeneralJournalEntries": lambda: writes.create_journal_entry(ledger, body, now),
            "purchaseorder/PurchaseOrders": lambda: writes.create_purchase_order(ledger, body, now),
        }
        create = creators.get(spec.path)
        if create is None:
            raise ODataError(f"The method 'POST' is not allowed on '{spec.path}'.", 405)
        guid = create()
        record = ledger.table(spec.path)[guid]
        representation = "return=representation" in request.headers.get("prefer", "").lower()
        rendered = self.render_record(spec, record, base, None, set(spec.nav), keys_only=not representation)
        if not representation:
            for name in spec.nav:
                rendered[name] = {"__deferred": {"uri": f"{rendered['__metadata']['uri']}/{name}"}}
        key_text = f"guid'{guid}'"
        return Response(render({"d": rendered}), status_code=201, media_type="application/json",
                        headers={"Location": f"{base}/{spec.path}({key_text})"})
