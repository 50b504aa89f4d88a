"""The QuickBooks Online emulator, driven over HTTP as a QBO client would."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerql.sandbox.books import Books, BookSizes, generate_books, line_tax
from ledgerql.sandbox.common import RateLimits, SandboxTenant
from ledgerql.sandbox.quickbooks import QuickBooksEmulator

REALM = QuickBooksEmulator.tenant_id_for(0)
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def make(books: list[Books], **limits: Any) -> QuickBooksEmulator:
    tenants = [SandboxTenant(QuickBooksEmulator.tenant_id_for(i), b) for i, b in enumerate(books)]
    return QuickBooksEmulator(tenants, limits=RateLimits(**{"enabled": False, **limits}))


class Client:
    """A thin QBO client: bearer token, realm paths, Decimal-exact JSON."""

    def __init__(self, emu: QuickBooksEmulator, http: httpx.AsyncClient, realm: str = REALM) -> None:
        self.emu, self.http, self.realm = emu, http, realm

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.emu.grants[self.realm].access_token}",
                "Accept": "application/json"}

    def path(self, rest: str) -> str:
        return f"/v3/company/{self.realm}/{rest}"

    async def query(self, text: str, status: int = 200) -> dict[str, Any]:
        response = await self.http.get(self.path("query"), params={"query": text, "minorversion": "75"},
                                       headers=self.headers)
        assert response.status_code == status, response.text
        return json.loads(response.text, parse_float=Decimal)

    async def all(self, entity: str, where: str = "") -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            page = (await self.query(f"select * from {entity} {where} STARTPOSITION {start} MAXRESULTS 1000"))
            batch = page["QueryResponse"].get(entity, [])
            rows += batch
            if len(batch) < 1000:
                return rows
            start += 1000

    async def get(self, entity: str, record_id: str, status: int = 200) -> dict[str, Any]:
        response = await self.http.get(self.path(f"{entity.lower()}/{record_id}"), headers=self.headers)
        assert response.status_code == status, response.text
        return json.loads(response.text, parse_float=Decimal)

    async def post(self, entity: str, body: Any, status: int = 200, **params: str) -> dict[str, Any]:
        content = body if isinstance(body, str) else json.dumps(body, default=str)
        response = await self.http.post(self.path(entity.lower()), content=content, params=params,
                                        headers={**self.headers, "Content-Type": "application/json"})
        assert response.status_code == status, response.text
        return json.loads(response.text, parse_float=Decimal)


@pytest.fixture
def tiny_emu(tiny_books: Books) -> QuickBooksEmulator:
    return make([generate_books(seed=7, sizes=BookSizes.tiny())])


@pytest.fixture
async def qbo(tiny_emu: QuickBooksEmulator) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tiny_emu.build_app()),
                                 base_url="http://sandbox") as http:
        yield Client(tiny_emu, http)


@pytest.fixture(scope="module")
def full_emu() -> QuickBooksEmulator:
    return make([generate_books(seed=7)])


@pytest.fixture
async def full(full_emu: QuickBooksEmulator) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=full_emu.build_app()),
                                 base_url="http://sandbox") as http:
        yield Client(full_emu, http)


def fault_code(body: dict[str, Any]) -> str:
    return str(body["Fault"]["Error"][0]["code"])


async def open_invoice(qbo: Client, minimum: Decimal = Decimal("1")) -> dict[str, Any]:
    invoices = await qbo.all("Invoice", f"where Balance > '{minimum}'")
    assert invoices
    return invoices[0]


# --- reads ----------------------------------------------------------------------------------------


async def test_query_envelope_formats_and_exact_values(qbo: Client) -> None:
    response = await qbo.http.get(qbo.path("query"), params={"query": "select * from Invoice MAXRESULTS 5"},
                                  headers=qbo.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "intuit_tid" in response.headers
    body = json.loads(response.text, parse_float=Decimal)
    assert set(body) == {"QueryResponse", "time"} and TIME.match(body["time"])
    page = body["QueryResponse"]
    assert page["startPosition"] == 1 and page["maxResults"] == 5 and len(page["Invoice"]) == 5
    book = {inv.number: inv for inv in qbo.emu.tenants[REALM].books.invoices}
    for invoice in page["Invoice"]:
        assert invoice["Id"].isdigit() and invoice["SyncToken"] == "0" and invoice["domain"] == "QBO"
        assert STAMP.match(invoice["MetaData"]["LastUpdatedTime"]) and DAY.match(invoice["TxnDate"])
        expected = book[invoice["DocNumber"]]
        assert invoice["TxnDate"] == expected.invoice_date.isoformat()
        assert invoice["DueDate"] == expected.due_date.isoformat()  # type: ignore[union-attr]
        assert invoice["TotalAmt"] == expected.total and invoice["Balance"] == expected.balance
        assert invoice["TxnTaxDetail"]["TotalTax"] == expected.total_tax
        assert invoice["CurrencyRef"]["value"] == expected.currency
        assert invoice.get("ExchangeRate") == expected.exchange_rate
        updated = datetime.fromisoformat(invoice["MetaData"]["LastUpdatedTime"])
        assert updated == expected.updated_at
        lines = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
        assert invoice["Line"][-1]["DetailType"] == "SubTotalLineDetail"
        for line, book_line in zip(lines, expected.line_items, strict=True):
            detail = line["SalesItemLineDetail"]
            assert line["Amount"] == book_line.total_amount and line["Description"] == book_line.description
            assert detail["Qty"] == book_line.quantity and detail["UnitPrice"] == book_line.unit_price
    # numbers are JSON numbers with their cents, never strings or floats gone astray
    assert re.search(r'"TotalAmt":\d+\.\d\d[,}]', response.text)


async def test_count_and_empty_result(qbo: Client) -> None:
    books = qbo.emu.tenants[REALM].books
    body = await qbo.query("SELECT COUNT(*) FROM Invoice")
    assert body["QueryResponse"] == {"totalCount": len(books.invoices)}
    body = await qbo.query("select count(*) from Vendor where DisplayName LIKE '%" +
                           books.suppliers[0].display_name.split()[0] + "%'")
    assert body["QueryResponse"]["totalCount"] >= 1
    empty = await qbo.query("select * from Invoice where DocNumber = 'NOPE-1'")
    assert empty["QueryResponse"] == {} and "time" in empty


async def test_paging_reaches_the_last_row_without_gaps(full: Client) -> None:
    expected = len(full.emu.tenants[REALM].books.invoices)
    seen: list[str] = []
    start = 1
    while True:
        page = (await full.query(f"select * from Invoice STARTPOSITION {start} MAXRESULTS 100"))["QueryResponse"]
        rows = page.get("Invoice", [])
        if not rows:
            assert page == {}
            break
        assert page["startPosition"] == start and page["maxResults"] == len(rows)
        seen += [row["Id"] for row in rows]
        start += 100
    assert len(seen) == expected == len(set(seen))
    assert seen == sorted(seen, key=int)
    # MAXRESULTS is capped at 1000 and ORDERBY is honoured
    capped = await full.query("select * from Invoice ORDERBY TxnDate DESC MAXRESULTS 5000")
    dates = [row["TxnDate"] for row in capped["QueryResponse"]["Invoice"]]
    assert len(dates) == expected and dates == sorted(dates, reverse=True)


async def test_batch_by_ids_and_filters(qbo: Client) -> None:
    invoices = await qbo.all("Invoice")
    wanted = [invoices[0]["Id"], invoices[2]["Id"], invoices[5]["Id"]]
    body = await qbo.query("select * from Invoice where Id in (" + ", ".join(f"'{i}'" for i in wanted) + ")")
    assert [row["Id"] for row in body["QueryResponse"]["Invoice"]] == wanted
    customer = invoices[0]["CustomerRef"]["value"]
    mine = await qbo.all("Invoice", f"where CustomerRef = '{customer}' AND TxnDate >= '2025-01-01'")
    assert mine and {row["CustomerRef"]["value"] for row in mine} == {customer}
    assert len(mine) == sum(1 for row in invoices if row["CustomerRef"]["value"] == customer)
    banks = await qbo.all("Account", "where AccountType = 'Bank'")
    books = qbo.emu.tenants[REALM].books
    assert sorted((a["Name"], a["AcctNum"], a["BankNum"]) for a in banks) == sorted(
        (b.name, b.ledger_account_id[4:], b.account_number) for b in books.bank_accounts)  # type: ignore[index]


async def test_reference_data_keeps_business_keys(qbo: Client) -> None:
    books = qbo.emu.tenants[REALM].books
    accounts = await qbo.all("Account")
    assert sorted((a["AcctNum"], a["Name"]) for a in accounts) == sorted(
        (a.nominal_code, a.name) for a in books.ledger_accounts)
    codes = await qbo.all("TaxCode")
    rates = {r["Id"]: r for r in await qbo.all("TaxRate")}
    recovered = sorted((c["Name"], c["Description"],
                        rates[c["SalesTaxRateList"]["TaxRateDetail"][0]["TaxRateRef"]["value"]]["RateValue"])
                       for c in codes)
    assert recovered == sorted((t.code, t.name, t.rate) for t in books.tax_rates)
    assert sorted(c["Name"] for c in await qbo.all("Class")) == sorted(d.name for d in books.departments)
    assert sorted(d["Name"] for d in await qbo.all("Department")) == sorted(d.name for d in books.locations)
    customers = await qbo.all("Customer")
    assert sorted(c["DisplayName"] for c in customers) == sorted(c.display_name for c in books.customers)
    vendors = await qbo.all("Vendor")
    assert sorted((v["DisplayName"], v["PrimaryEmailAddr"]["Address"]) for v in vendors) == sorted(
        (s.display_name, s.email) for s in books.suppliers)
    company = await qbo.get("CompanyInfo", "1")
    assert company["CompanyInfo"]["CompanyName"] == books.company.name
    prefs = await qbo.http.get(qbo.path("preferences"), headers=qbo.headers)
    assert prefs.json()["Preferences"]["CurrencyPrefs"]["HomeCurrency"]["value"] == "GBP"


async def test_lines_keep_account_tax_and_tracking(qbo: Client) -> None:
    books = qbo.emu.tenants[REALM].books
    accounts = {a["Id"]: a for a in await qbo.all("Account")}
    items = {i["Id"]: i for i in await qbo.all("Item")}
    codes = {c["Id"]: c["Name"] for c in await qbo.all("TaxCode")}
    classes = {c["Id"]: c["Name"] for c in await qbo.all("Class")}
    locations = {d["Id"]: d["Name"] for d in await qbo.all("Department")}
    names = {t.id: t.name for t in books.tracking_categories}
    for bill in await qbo.all("Bill"):
        expected = next(b for b in books.bills if b.number == bill["DocNumber"])
        for line, book_line in zip(bill["Line"], expected.line_items, strict=True):
            detail = line["ItemBasedExpenseLineDetail"]
            item = items[detail["ItemRef"]["value"]]
            assert "acc-" + accounts[item["ExpenseAccountRef"]["value"]]["AcctNum"] == book_line.account_id
            assert "tax-" + codes[detail["TaxCodeRef"]["value"]] == book_line.tax_rate_id
            assert detail["Qty"] == book_line.quantity and detail["UnitPrice"] == book_line.unit_price
            tracking = [classes[detail["ClassRef"]["value"]]]
            if "DepartmentRef" in bill:
                tracking.append(locations[bill["DepartmentRef"]["value"]])
            assert tracking == [names[t] for t in book_line.tracking_category_ids]
    for entry in await qbo.all("JournalEntry"):
        expected_entry = next(j for j in books.journal_entries if j.number == entry["DocNumber"])
        for line, jline in zip(entry["Line"], expected_entry.line_items, strict=True):
            detail = line["JournalEntryLineDetail"]
            assert detail["PostingType"].upper() == jline.type and line["Amount"] == jline.amount
            assert "acc-" + accounts[detail["AccountRef"]["value"]]["AcctNum"] == jline.account_id
            tracking = [classes[detail["ClassRef"]["value"]]] if "ClassRef" in detail else []
            assert tracking == [names[t] for t in jline.tracking_category_ids]


async def test_get_by_id_and_read_errors(qbo: Client) -> None:
    invoice = await open_invoice(qbo)
    body = await qbo.get("Invoice", invoice["Id"])
    assert set(body) == {"Invoice", "time"} and body["Invoice"]["Id"] == invoice["Id"]
    missing = await qbo.get("Invoice", "987654", status=400)
    assert fault_code(missing) == "610" and missing["Fault"]["type"] == "ValidationFault"
    bad = await qbo.get("Invoice", "1.5", status=400)
    assert fault_code(bad) == "2030" and bad["Fault"]["Error"][0]["element"] == "Id"
    unknown = await qbo.http.get(qbo.path("widget/1"), headers=qbo.headers)
    assert unknown.status_code == 400 and fault_code(unknown.json()) == "500"
    for text, code in (("select * from Invoice where", "4000"), ("select * from Widget", "4001"),
                       ("select * from Invoice where Nope = '1'", "4001"), ("selec * from Invoice", "4000"),
                       ("select * from Invoice where Id = '1' OR Id = '2'", "4000")):
        assert fault_code(await qbo.query(text, status=400)) == code, text


# --- auth, limits ---------------------------------------------------------------------------------


async def test_expired_token_gets_the_lowercase_fault(qbo: Client) -> None:
    qbo.emu.oauth.expire_access_tokens()
    response = await qbo.http.get(qbo.path("customer/1"), headers=qbo.headers)
    assert response.status_code == 401
    body = response.json()
    assert body["fault"]["type"] == "AUTHENTICATION" and body["fault"]["error"][0]["code"] == "3200"
    assert body["queryResponse"] is None and isinstance(body["time"], int)
    assert "invalid_token" in response.headers["www-authenticate"]
    none = await qbo.http.get(qbo.path("customer/1"))
    assert none.status_code == 401


async def test_clock_expiry_and_refresh_rotation(qbo: Client) -> None:
    emu = qbo.emu
    qbo.emu.clock.advance(3601)
    assert (await qbo.http.get(qbo.path("customer/1"), headers=qbo.headers)).status_code == 401
    old_refresh = emu.grants[REALM].refresh_token
    basic = "Basic " + base64.b64encode(f"{emu.oauth.client_id}:{emu.oauth.client_secret}".encode()).decode()
    response = await qbo.http.post("/oauth2/v1/tokens/bearer", headers={"Authorization": basic},
                                   data={"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    assert token["x_refresh_token_expires_in"] == 8726400 and token["refresh_token"] != old_refresh
    ok = await qbo.http.get(qbo.path("customer/1"), headers={"Authorization": f"Bearer {token['access_token']}"})
    assert ok.status_code == 200
    # the rolled-over refresh token is refused; a wrong client is refused
    again = await qbo.http.post("/oauth2/v1/tokens/bearer", headers={"Authorization": basic},
                                data={"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    wrong = await qbo.http.post("/oauth2/v1/tokens/bearer",
                                headers={"Authorization": "Basic " + base64.b64encode(b"x:y").decode()},
                                data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    describe = emu.describe("http://host/quickbooks")
    assert describe["refreshToken"] == token["refresh_token"] and describe["realmId"] == REALM
    assert describe["tokenUrl"] == "http://host/quickbooks/oauth2/v1/tokens/bearer"


async def test_throttle_answers_429_fault_without_retry_after(tiny_books: Books) -> None:
    emu = make([tiny_books], per_minute=3, enabled=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as http:
        qbo = Client(emu, http)
        for _ in range(3):
            assert (await http.get(qbo.path("customer/1"), headers=qbo.headers)).status_code == 200
        response = await http.get(qbo.path("customer/1"), headers=qbo.headers)
        assert response.status_code == 429
        body = response.json()
        assert body["Fault"]["type"] == "SERVICE" and body["Fault"]["Error"][0]["code"] == "3001"
        assert "ThrottleExceeded" in body["Fault"]["Error"][0]["Message"]
        assert "retry-after" not in response.headers and "intuit_tid" in response.headers
        emu.clock.advance(61)
        assert (await http.get(qbo.path("customer/1"), headers=qbo.headers)).status_code == 200


async def test_per_second_limit(tiny_books: Books) -> None:
    emu = make([tiny_books], per_second=10, per_minute=500, enabled=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as http:
        qbo = Client(emu, http)
        statuses = [(await http.get(qbo.path("customer/1"), headers=qbo.headers)).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]


async def test_tenants_are_separate(tiny_books: Books) -> None:
    emu = make([tiny_books, generate_books(seed=8, sizes=BookSizes.tiny())])
    second = QuickBooksEmulator.tenant_id_for(1)
    assert emu.describe("http://x")["tenants"] == [REALM, second]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as http:
        first = Client(emu, http)
        other = Client(emu, http, second)
        names = {c["DisplayName"] for c in await other.all("Customer")}
        assert len(names) == len(tiny_books.customers)
        cross = await http.get(other.path("customer/1"), headers=first.headers)
        assert cross.status_code == 403 and cross.json()["Fault"]["type"] == "AUTHORIZATION"


# --- writes ---------------------------------------------------------------------------------------


async def test_create_invoice_then_read_back(qbo: Client) -> None:
    books = qbo.emu.tenants[REALM].books
    customer = (await qbo.query("select * from Customer where CurrencyRef = 'GBP' MAXRESULTS 1"))[
        "QueryResponse"]["Customer"][0]
    item = (await qbo.query("select * from Item where Name = 'Sales - Products'"))["QueryResponse"]["Item"][0]
    code = (await qbo.query("select * from TaxCode where Name = 'S'"))["QueryResponse"]["TaxCode"][0]
    klass = (await qbo.all("Class"))[0]
    location = (await qbo.all("Department"))[0]
    before = max(datetime.fromisoformat(i["MetaData"]["LastUpdatedTime"]) for i in await qbo.all("Invoice"))
    body = {"CustomerRef": {"value": customer["Id"]}, "TxnDate": "2025-12-30",
            "DepartmentRef": {"value": location["Id"]},
            "Line": [{"Amount": Decimal("15.15"), "Description": "Widgets", "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": Decimal("1.5"),
                                              "UnitPrice": Decimal("10.10"), "TaxCodeRef": {"value": code["Id"]},
                                              "ClassRef": {"value": klass["Id"]}}}]}
    created = (await qbo.post("invoice", body))["Invoice"]
    assert created["SyncToken"] == "0" and created["Id"].isdigit()
    assert created["DocNumber"] == f"INV-{len(books.invoices) + 1:04d}"
    assert created["TotalAmt"] == Decimal("15.15") + line_tax(Decimal("15.15"), Decimal(20)) == Decimal("18.18")
    assert created["Balance"] == created["TotalAmt"] and created["DueDate"] == "2026-01-29"
    assert created["Line"][0]["SalesItemLineDetail"]["ItemAccountRef"]["value"] == item["IncomeAccountRef"]["value"]
    assert datetime.fromisoformat(created["MetaData"]["LastUpdatedTime"]) > before
    again = (await qbo.get("invoice", created["Id"]))["Invoice"]
    assert again == created
    text = (await qbo.http.get(qbo.path(f"invoice/{created['Id']}"), headers=qbo.headers)).text
    assert '"Qty":1.5' in text and '"UnitPrice":10.10' in text and '"TotalAmt":18.18' in text


async def test_create_validation_writes_nothing(qbo: Client) -> None:
    count = (await qbo.query("select count(*) from Invoice"))["QueryResponse"]["totalCount"]
    line = {"Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}
    cases = [
        ({"CustomerRef": {"value": "99999"}, "Line": [line]}, "2500"),
        ({"Line": [line]}, "2020"),
        ({"CustomerRef": {"value": "1"}}, "2020"),
        ({"CustomerRef": {"value": "1"}, "Line": [line], "BadJson": True}, "2010"),
        ({"CustomerRef": {"value": "1"}, "Line": [{**line, "SalesItemLineDetail": {
            "ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": 3}}]}, "6070"),
        ({"CustomerRef": {"value": "1"}, "Line": [{**line, "SalesItemLineDetail": {
            "ItemRef": {"value": "1"}, "TaxCodeRef": {"value": "777"}}}]}, "2500"),
    ]
    for body, code in cases:
        assert fault_code(await qbo.post("invoice", body, status=400)) == code, body
    broken = await qbo.post("invoice", '{"CustomerRef": {"value": "1"}, ', status=400)
    assert fault_code(broken) == "2010"
    assert (await qbo.query("select count(*) from Invoice"))["QueryResponse"]["totalCount"] == count


async def test_payment_flips_invoice_to_paid(qbo: Client) -> None:
    invoice = await open_invoice(qbo)
    customer = invoice["CustomerRef"]["value"]
    bank = (await qbo.query(f"select * from Account where AccountType = 'Bank' AND CurrencyRef = "
                            f"'{invoice['CurrencyRef']['value']}'"))["QueryResponse"]["Account"][0]
    half = (invoice["Balance"] / 2).quantize(Decimal("0.01"))
    partial = (await qbo.post("payment", {
        "CustomerRef": {"value": customer}, "TotalAmt": half, "PaymentRefNum": "TEST-1",
        "DepositToAccountRef": {"value": bank["Id"]},
        "Line": [{"Amount": half, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}))["Payment"]
    assert partial["UnappliedAmt"] == 0 and partial["PaymentRefNum"] == "TEST-1"
    after = (await qbo.get("invoice", invoice["Id"]))["Invoice"]
    assert after["Balance"] == invoice["Balance"] - half and after["SyncToken"] == "1"
    rest = after["Balance"]
    too_much = await qbo.post("payment", {
        "CustomerRef": {"value": customer}, "TotalAmt": rest + 1,
        "Line": [{"Amount": rest + 1, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}, status=400)
    assert fault_code(too_much) == "6000"
    full = (await qbo.post("payment", {
        "CustomerRef": {"value": customer}, "TotalAmt": rest + 5,
        "Line": [{"Amount": rest, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}))["Payment"]
    assert full["UnappliedAmt"] == Decimal(5)
    paid = (await qbo.get("invoice", invoice["Id"]))["Invoice"]
    assert paid["Balance"] == 0
    assert {"TxnId": full["Id"], "TxnType": "Payment"} in paid["LinkedTxn"]
    assert {"TxnId": partial["Id"], "TxnType": "Payment"} in paid["LinkedTxn"]
    assert paid["MetaData"]["LastUpdatedTime"] == full["MetaData"]["LastUpdatedTime"]
    # voiding the payment gives the balance back
    voided = (await qbo.post("payment", {"Id": full["Id"], "SyncToken": full["SyncToken"]},
                             operation="void"))["Payment"]
    assert voided["TotalAmt"] == 0 and voided["PrivateNote"] == "Voided"
    assert (await qbo.get("invoice", invoice["Id"]))["Invoice"]["Balance"] == rest


async def test_credit_memo_applied_through_zero_payment(qbo: Client) -> None:
    invoice = await open_invoice(qbo, Decimal("50"))
    customer = invoice["CustomerRef"]["value"]
    payments_before = qbo.emu.summary()["payments"]
    memo = (await qbo.post("creditmemo", {
        "CustomerRef": {"value": customer}, "Line": [{"Amount": 20, "DetailType": "SalesItemLineDetail",
                                                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}))[
        "CreditMemo"]
    assert memo["RemainingCredit"] == memo["TotalAmt"] == Decimal(20)
    application = (await qbo.post("payment", {
        "CustomerRef": {"value": customer}, "TotalAmt": 0,
        "Line": [{"Amount": 15, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
                 {"Amount": 15, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}]}))["Payment"]
    assert application["TotalAmt"] == 0 and application["UnappliedAmt"] == 0
    assert (await qbo.get("invoice", invoice["Id"]))["Invoice"]["Balance"] == invoice["Balance"] - 15
    memo_after = (await qbo.get("creditmemo", memo["Id"]))["CreditMemo"]
    assert memo_after["RemainingCredit"] == memo_after["Balance"] == Decimal(5)
    assert qbo.emu.summary()["payments"] == payments_before  # a credit application moves no money
    over = await qbo.post("payment", {
        "CustomerRef": {"value": customer}, "TotalAmt": 0,
        "Line": [{"Amount": 6, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
                 {"Amount": 6, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}]}, status=400)
    assert fault_code(over) == "6000"


async def test_bill_and_bill_payment(qbo: Client) -> None:
    vendor = (await qbo.query("select * from Vendor where CurrencyRef = 'GBP' MAXRESULTS 1"))[
        "QueryResponse"]["Vendor"][0]
    rent = (await qbo.query("select * from Account where AcctNum = '6000'"))["QueryResponse"]["Account"][0]
    bank = (await qbo.query("select * from Account where AcctNum = '1200'"))["QueryResponse"]["Account"][0]
    bill = (await qbo.post("bill", {
        "VendorRef": {"value": vendor["Id"]}, "TxnDate": "2025-12-01", "DocNumber": "SUP-991",
        "Line": [{"Amount": 200, "DetailType": "AccountBasedExpenseLineDetail",
                  "AccountBasedExpenseLineDetail": {"AccountRef": {"value": rent["Id"]}}}]}))["Bill"]
    assert bill["DocNumber"] == "SUP-991" and bill["TotalAmt"] == bill["Balance"] == Decimal(200)
    assert bill["DueDate"] == "2025-12-31"
    missing_bank = await qbo.post("billpayment", {"VendorRef": {"value": vendor["Id"]}, "PayType": "Check",
                                                  "TotalAmt": 200}, status=400)
    assert fault_code(missing_bank) == "2020"
    payment = (await qbo.post("billpayment", {
        "VendorRef": {"value": vendor["Id"]}, "PayType": "Check", "TotalAmt": 200, "DocNumber": "BPY-TEST",
        "CheckPayment": {"BankAccountRef": {"value": bank["Id"]}},
        "Line": [{"Amount": 200, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]}))["BillPayment"]
    assert payment["DocNumber"] == "BPY-TEST"
    paid = (await qbo.get("bill", bill["Id"]))["Bill"]
    assert paid["Balance"] == 0 and paid["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "BillPaymentCheck"}]


async def test_expense_purchase_order_and_journal_entry(qbo: Client) -> None:
    bank = (await qbo.query("select * from Account where AcctNum = '1200'"))["QueryResponse"]["Account"][0]
    travel = (await qbo.query("select * from Account where AcctNum = '6200'"))["QueryResponse"]["Account"][0]
    accruals = (await qbo.query("select * from Account where AcctNum = '2300'"))["QueryResponse"]["Account"][0]
    receivable = (await qbo.query("select * from Account where AcctNum = '1100'"))["QueryResponse"]["Account"][0]
    expense_line = {"Amount": 42, "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": travel["Id"]}}}
    purchase = (await qbo.post("purchase", {"AccountRef": {"value": bank["Id"]}, "PaymentType": "Cash",
                                            "EntityRef": {"value": "5", "type": "Vendor"},
                                            "Line": [expense_line]}))["Purchase"]
    assert purchase["TotalAmt"] == Decimal(42) and purchase["EntityRef"]["type"] == "Vendor"
    assert fault_code(await qbo.post("purchase", {"AccountRef": {"value": travel["Id"]}, "PaymentType": "Cash",
                                                  "Line": [expense_line]}, status=400)) == "6000"
    order = (await qbo.post("purchaseorder", {"VendorRef": {"value": "5"}, "Line": [expense_line]}))["PurchaseOrder"]
    assert order["POStatus"] == "Open" and order["DocNumber"].startswith("PO-")

    def jline(kind: str, account: str, amount: int, **extra: Any) -> dict[str, Any]:
        return {"Amount": amount, "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {"PostingType": kind, "AccountRef": {"value": account}, **extra}}

    unbalanced = await qbo.post("journalentry", {"Line": [jline("Debit", travel["Id"], 100),
                                                          jline("Credit", accruals["Id"], 90)]}, status=400)
    assert fault_code(unbalanced) == "6000"
    no_entity = await qbo.post("journalentry", {"Line": [jline("Debit", receivable["Id"], 100),
                                                         jline("Credit", accruals["Id"], 100)]}, status=400)
    assert fault_code(no_entity) == "6000"
    entry = (await qbo.post("journalentry", {"DocNumber": "JE-TEST", "TxnDate": "2025-12-31",
                                             "Line": [jline("Debit", travel["Id"], 100),
                                                      jline("Credit", accruals["Id"], 100)]}))["JournalEntry"]
    assert entry["DocNumber"] == "JE-TEST" and entry["TotalAmt"] == Decimal(100)
    summary = qbo.emu.summary()
    books = qbo.emu.tenants[REALM].books
    assert summary["journal_entries"]["count"] == len(books.journal_entries) + 1
    assert summary["expenses"]["count"] == len(books.expenses) + 1


async def test_customer_create_update_and_idempotent_replay(qbo: Client) -> None:
    count = len(await qbo.all("Customer"))
    first = await qbo.http.post(qbo.path("customer"), params={"requestid": "req-0001"},
                                json={"DisplayName": "Replay Ltd", "PrimaryEmailAddr": {"Address": "a@b.example"}},
                                headers=qbo.headers)
    second = await qbo.http.post(qbo.path("customer"), params={"requestid": "req-0001"},
                                 json={"DisplayName": "Replay Ltd", "PrimaryEmailAddr": {"Address": "a@b.example"}},
                                 headers=qbo.headers)
    assert first.status_code == second.status_code == 200 and first.content == second.content
    assert len(await qbo.all("Customer")) == count + 1
    customer = first.json()["Customer"]
    assert customer["CurrencyRef"]["value"] == "GBP" and customer["SyncToken"] == "0"
    duplicate = await qbo.post("customer", {"DisplayName": "replay ltd"}, status=400)
    assert fault_code(duplicate) == "6240"
    stale = await qbo.post("customer", {"Id": customer["Id"], "SyncToken": "7", "sparse": True,
                                        "CompanyName": "X"}, status=400)
    assert fault_code(stale) == "5010"
    updated = (await qbo.post("customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True,
                                           "CompanyName": "Replay Holdings"}))["Customer"]
    assert updated["SyncToken"] == "1" and updated["CompanyName"] == "Replay Holdings"
    assert updated["PrimaryEmailAddr"] == {"Address": "a@b.example"}
    vendor = (await qbo.post("vendor", {"DisplayName": "New Supplier", "CurrencyRef": {"value": "EUR"}}))["Vendor"]
    assert vendor["CurrencyRef"]["value"] == "EUR" and vendor["Vendor1099"] is False


async def test_modified_since_returns_exactly_the_changed_records(qbo: Client) -> None:
    invoices = await qbo.all("Invoice")
    times = sorted(datetime.fromisoformat(i["MetaData"]["LastUpdatedTime"]) for i in invoices)
    pivot = times[len(times) // 2]
    literal = pivot.isoformat()
    changed = await qbo.all("Invoice", f"where MetaData.LastUpdatedTime > '{literal}'")
    expected = {i["Id"] for i in invoices if datetime.fromisoformat(i["MetaData"]["LastUpdatedTime"]) > pivot}
    assert {i["Id"] for i in changed} == expected and expected
    # a write after every book instant: only what it touched is newer
    qbo.emu.clock.advance(5)
    times += [datetime.fromisoformat(p["MetaData"]["LastUpdatedTime"]) for p in await qbo.all("Payment")]
    times.sort()
    latest = times[-1].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = await open_invoice(qbo)
    payment = (await qbo.post("payment", {
        "CustomerRef": target["CustomerRef"], "TotalAmt": target["Balance"],
        "Line": [{"Amount": target["Balance"], "LinkedTxn": [{"TxnId": target["Id"], "TxnType": "Invoice"}]}]}))[
        "Payment"]
    newer = await qbo.all("Invoice", f"where MetaData.LastUpdatedTime > '{latest}'")
    assert [i["Id"] for i in newer] == [target["Id"]]
    new_payments = await qbo.all("Payment", f"where MetaData.LastUpdatedTime > '{latest}'")
    assert [p["Id"] for p in new_payments] == [payment["Id"]]
    # CDC answers the same question, with deletions
    delete = await qbo.post("invoice", {"Id": target["Id"], "SyncToken": target["SyncToken"]},
                            operation="delete", status=400)  # stale: the payment bumped it
    assert fault_code(delete) == "5010"
    current = (await qbo.get("invoice", target["Id"]))["Invoice"]
    deleted = (await qbo.post("invoice", {"Id": target["Id"], "SyncToken": current["SyncToken"]},
                              operation="delete"))["Invoice"]
    assert deleted == {"domain": "QBO", "status": "Deleted", "Id": target["Id"]}
    assert fault_code(await qbo.get("invoice", target["Id"], status=400)) == "610"
    after_books = (times[-1] + timedelta(seconds=1)).isoformat()
    response = await qbo.http.get(qbo.path("cdc"), params={"entities": "Invoice,Payment", "changedSince": after_books},
                                  headers=qbo.headers)
    assert response.status_code == 200
    cdc = json.loads(response.text, parse_float=Decimal)["CDCResponse"][0]["QueryResponse"]
    assert [(i["Id"], i.get("status")) for i in cdc[0]["Invoice"]] == [(target["Id"], "Deleted")]
    # the new payment, and the older payments of the deleted invoice, were detached from it
    detached = {link["TxnId"] for link in target["LinkedTxn"]}
    assert {p["Id"] for p in cdc[1]["Payment"]} == {payment["Id"]} | detached
    mine = next(p for p in cdc[1]["Payment"] if p["Id"] == payment["Id"])
    assert mine["UnappliedAmt"] == target["Balance"] and mine["Line"] == []


async def test_void_invoice(qbo: Client) -> None:
    invoice = await open_invoice(qbo)
    voided = (await qbo.post("invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]},
                             operation="void"))["Invoice"]
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0 and voided["PrivateNote"] == "Voided"
    assert voided["SyncToken"] == str(int(invoice["SyncToken"]) + 1)
    refused = await qbo.post("bill", {"Id": "1", "SyncToken": "0"}, operation="void", status=400)
    assert fault_code(refused) == "500"


async def test_batch_and_post_query(qbo: Client) -> None:
    response = await qbo.http.post(qbo.path("batch"), headers=qbo.headers, json={"BatchItemRequest": [
        {"bId": "bid1", "operation": "create", "Vendor": {"DisplayName": "Batch Vendor"}},
        {"bId": "bid2", "operation": "delete", "Invoice": {"Id": "99999", "SyncToken": "0"}},
        {"bId": "bid3", "Query": "select * from Customer MAXRESULTS 2"}]})
    assert response.status_code == 200
    items = response.json()["BatchItemResponse"]
    assert [i["bId"] for i in items] == ["bid1", "bid2", "bid3"]
    assert items[0]["Vendor"]["DisplayName"] == "Batch Vendor"
    assert items[1]["Fault"]["Error"][0]["code"] == "610"
    assert len(items[2]["QueryResponse"]["Customer"]) == 2
    too_many = await qbo.http.post(qbo.path("batch"), headers=qbo.headers, json={"BatchItemRequest": [
        {"bId": f"b{i}", "Query": "select * from Customer"} for i in range(31)]})
    assert too_many.status_code == 400
    posted = await qbo.http.post(qbo.path("query"), content="select * from Vendor MAXRESULTS 3",
                                 headers={**qbo.headers, "Content-Type": "application/text"})
    assert posted.status_code == 200 and len(posted.json()["QueryResponse"]["Vendor"]) == 3
    kinds = qbo.emu.counter.by_kind
    assert kinds["POST batch"] == 2 and kinds["query Vendor"] == 1 and "query" not in kinds


async def test_reports(qbo: Client) -> None:
    response = await qbo.http.get(qbo.path("reports/ProfitAndLoss"), headers=qbo.headers,
                                  params={"start_date": "2025-01-01", "end_date": "2025-12-31"})
    assert response.status_code == 200
    report = response.json()
    groups = [row["group"] for row in report["Rows"]["Row"]]
    assert groups[0] == "Income" and groups[-1] == "NetIncome"
    books = qbo.emu.tenants[REALM].books
    income = sum(((line.total_amount * (inv.exchange_rate or 1)).quantize(Decimal("0.01"))
                  for inv in books.invoices for line in inv.line_items), Decimal(0))
    income -= sum(((line.total_amount * (cn.exchange_rate or 1)).quantize(Decimal("0.01"))
                   for cn in books.credit_notes for line in cn.line_items), Decimal(0))
    assert Decimal(report["Rows"]["Row"][0]["Summary"]["ColData"][1]["value"]) == income
    sheet = (await qbo.http.get(qbo.path("reports/BalanceSheet"), headers=qbo.headers,
                                params={"end_date": "2025-12-31"})).json()
    assets, both = sheet["Rows"]["Row"]
    assert assets["Summary"]["ColData"][1]["value"] == both["Summary"]["ColData"][1]["value"]


async def test_summary_matches_the_books(full_emu: QuickBooksEmulator, books: Books) -> None:
    summary = full_emu.summary()

    def sums(rows: list[Any], amount: Any) -> dict[str, str]:
        result: dict[str, Decimal] = {}
        for row in rows:
            result[row.currency] = result.get(row.currency, Decimal(0)) + amount(row)
        return {c: str(v) for c, v in sorted(result.items())}

    expected = {
        "invoices": (books.invoices, lambda d: d.total), "bills": (books.bills, lambda d: d.total),
        "credit_notes": (books.credit_notes, lambda d: d.total),
        "purchase_orders": (books.purchase_orders, lambda d: d.total),
        "payments": (books.payments, lambda p: p.total_amount),
        "bill_payments": (books.bill_payments, lambda p: p.total_amount),
        "expenses": (books.expenses, lambda e: e.total_amount),
        "journal_entries": (books.journal_entries,
                            lambda j: sum((ln.amount for ln in j.line_items if ln.type == "DEBIT"), Decimal(0))),
    }
    for name, (rows, amount) in expected.items():
        assert summary[name] == {"count": len(rows), "totals": sums(rows, amount)}, name
    assert summary["customers"] == {"count": len(books.customers)}
    assert summary["suppliers"] == {"count": len(books.suppliers)}
    assert summary["ledger_accounts"] == {"count": len(books.ledger_accounts)}
    assert summary["tax_rates"] == {"count": len(books.tax_rates)}
    assert summary["bank_accounts"] == {"count": len(books.bank_accounts)}


async def test_same_books_same_ids(tiny_books: Books) -> None:
    one = make([generate_books(seed=7, sizes=BookSizes.tiny())])
    two = make([generate_books(seed=7, sizes=BookSizes.tiny())])
    for entity in ("Invoice", "Payment", "Customer", "Account", "BillPayment"):
        assert one.stores[REALM].records[entity] == two.stores[REALM].records[entity]
