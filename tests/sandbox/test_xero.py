"""The Xero emulator over HTTP, as a Xero client sees it."""

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

from ledgerql.sandbox.books import Books, BookSizes, generate_books
from ledgerql.sandbox.common import RateLimits, SandboxTenant
from ledgerql.sandbox.xero import XeroEmulator

API = "/api.xro/2.0"
MS_DATE = re.compile(r"^/Date\((\d+)\+0000\)/$")


def make_emulator(books: Books, limits: RateLimits | None = None, companies: int = 1) -> XeroEmulator:
    tenants = [SandboxTenant(XeroEmulator.tenant_id_for(i), books if i == 0 else generate_books(7 + i, books.sizes))
               for i in range(companies)]
    return XeroEmulator(tenants, limits=limits or RateLimits(enabled=False))


class Xero:
    """A thin Xero client: bearer token, tenant header, Decimal-exact JSON."""

    def __init__(self, emu: XeroEmulator, client: httpx.AsyncClient) -> None:
        self.emu = emu
        self.client = client
        info = emu.describe("http://sandbox")
        self.tenant = info["tenantId"]
        self.token = info["accessToken"]

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "xero-tenant-id": self.tenant,
                "Accept": "application/json", **extra}

    async def get(self, path: str, **extra: str) -> httpx.Response:
        return await self.client.get(API + path, headers=self.headers(**extra))

    async def send(self, method: str, path: str, body: Any, **extra: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
        return await self.client.request(method, API + path, content=content,
                                         headers=self.headers(**{"Content-Type": "application/json", **extra}))


def data(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


@pytest.fixture
async def xero(tiny_books: Books) -> AsyncIterator[Xero]:
    emu = make_emulator(generate_books(seed=7, sizes=BookSizes.tiny()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as client:
        yield Xero(emu, client)


@pytest.fixture
async def big(books: Books) -> AsyncIterator[Xero]:
    emu = make_emulator(generate_books(seed=7))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as client:
        yield Xero(emu, client)


def ms(value: str) -> datetime:
    match = MS_DATE.match(value)
    assert match, value
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


# --- identity ------------------------------------------------------------------------------------


def test_tenant_ids_are_deterministic_guids() -> None:
    first = XeroEmulator.tenant_id_for(0)
    assert first == XeroEmulator.tenant_id_for(0)
    assert first != XeroEmulator.tenant_id_for(1)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first)


async def test_describe_and_connections(xero: Xero) -> None:
    info = xero.emu.describe("http://sandbox/xero")
    assert info["baseUrl"] == "http://sandbox/xero"
    assert info["tokenUrl"] == "http://sandbox/xero/connect/token"
    assert info["tenants"] == [info["tenantId"]]
    for key in ("accessToken", "refreshToken", "clientId", "clientSecret"):
        assert info[key]
    response = await xero.client.get("/connections", headers={"Authorization": f"Bearer {xero.token}"})
    assert response.status_code == 200
    [connection] = response.json()
    assert connection["tenantId"] == xero.tenant
    assert connection["tenantType"] == "ORGANISATION"
    assert connection["tenantName"] == "Northwind Ledger"


async def test_missing_or_foreign_tenant_is_forbidden(xero: Xero) -> None:
    response = await xero.client.get(API + "/Invoices", headers={"Authorization": f"Bearer {xero.token}"})
    assert response.status_code == 403
    assert response.json()["Detail"] == "AuthenticationUnsuccessful"
    response = await xero.client.get(API + "/Invoices", headers={
        "Authorization": f"Bearer {xero.token}", "xero-tenant-id": XeroEmulator.tenant_id_for(5)})
    assert response.status_code == 403
    assert response.json() == {**response.json(), "Title": "Forbidden", "Status": 403}


async def test_each_tenant_sees_its_own_books() -> None:
    emu = make_emulator(generate_books(seed=7, sizes=BookSizes.tiny()), companies=2)
    second = XeroEmulator.tenant_id_for(1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as client:
        headers = {"Authorization": f"Bearer {emu.grants[second].access_token}", "xero-tenant-id": second}
        response = await client.get(API + "/Invoices?page=1", headers=headers)
        assert response.status_code == 200
        other = generate_books(8, BookSizes.tiny())
        assert [i["Total"] for i in data(response)["Invoices"] if i["Type"] == "ACCREC"] == \
            [i.total for i in other.invoices]
        # tenant 0's token does not open tenant 1
        headers["Authorization"] = f"Bearer {emu.grants[XeroEmulator.tenant_id_for(0)].access_token}"
        assert (await client.get(API + "/Invoices", headers=headers)).status_code == 403


async def test_expired_token_gets_xero_401(xero: Xero) -> None:
    assert (await xero.get("/Organisation")).status_code == 200
    xero.emu.oauth.expire_access_tokens()
    response = await xero.get("/Organisation")
    assert response.status_code == 401
    assert response.json()["Title"] == "Unauthorized"
    assert response.json()["Detail"] == "TokenExpired"
    assert response.json()["Status"] == 401


async def test_token_lifetime_is_thirty_minutes(xero: Xero) -> None:
    xero.emu.clock.advance(1799)
    assert (await xero.get("/Organisation")).status_code == 200
    xero.emu.clock.advance(2)
    assert (await xero.get("/Organisation")).status_code == 401


async def refresh(xero: Xero, token: str, secret: str | None = None) -> httpx.Response:
    emu = xero.emu
    basic = base64.b64encode(f"{emu.oauth.client_id}:{secret or emu.oauth.client_secret}".encode()).decode()
    return await xero.client.post("/connect/token", data={"grant_type": "refresh_token", "refresh_token": token},
                                  headers={"Authorization": f"Basic {basic}"})


async def test_refresh_rotates_with_thirty_minute_grace(xero: Xero) -> None:
    old = xero.emu.describe("x")["refreshToken"]
    xero.emu.oauth.expire_access_tokens()
    response = await refresh(xero, old)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert body["refresh_token"] != old
    assert xero.emu.describe("x")["refreshToken"] == body["refresh_token"]
    xero.token = body["access_token"]
    assert (await xero.get("/Organisation")).status_code == 200
    # The previous refresh token still works within the 30-minute grace period ...
    xero.emu.clock.advance(20 * 60)
    assert (await refresh(xero, old)).status_code == 200
    # ... and not after it.
    xero.emu.clock.advance(11 * 60)
    response = await refresh(xero, old)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}
    # The new one keeps working.
    assert (await refresh(xero, body["refresh_token"])).status_code == 200


async def test_refresh_needs_client_credentials(xero: Xero) -> None:
    response = await refresh(xero, xero.emu.describe("x")["refreshToken"], secret="wrong")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}
    response = await refresh(xero, "sbx-rt-unknown")
    assert response.json() == {"error": "invalid_grant"}


# --- reads ---------------------------------------------------------------------------------------


async def test_invoice_envelope_dates_and_numbers(xero: Xero, tiny_books: Books) -> None:
    response = await xero.get("/Invoices?page=1")
    assert response.status_code == 200
    body = data(response)
    assert body["Status"] == "OK"
    assert re.fullmatch(r"/Date\(\d+\)/", body["DateTimeUTC"])
    assert body["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 1, "itemCount": 24}
    first = tiny_books.invoices[0]
    invoice = next(i for i in body["Invoices"] if i["InvoiceNumber"] == first.number)
    assert invoice["Type"] == "ACCREC"
    assert ms(invoice["Date"]).date() == first.invoice_date
    assert invoice["DateString"] == f"{first.invoice_date.isoformat()}T00:00:00"
    assert ms(invoice["DueDate"]).date() == first.due_date
    assert ms(invoice["UpdatedDateUTC"]) == first.updated_at
    assert (invoice["SubTotal"], invoice["TotalTax"], invoice["Total"]) == (first.sub_total, first.total_tax,
                                                                          first.total)
    assert invoice["AmountDue"] == first.balance
    assert invoice["LineAmountTypes"] == "Exclusive"
    assert invoice["CurrencyCode"] == first.currency
    assert invoice["Contact"]["ContactNumber"] == first.customer_id
    # line values are exact and carry the tracking of the books
    for line, book_line in zip(invoice["LineItems"], first.line_items, strict=True):
        assert line["Description"] == book_line.description
        assert line["Quantity"] == book_line.quantity
        assert line["UnitAmount"] == book_line.unit_price
        assert line["LineAmount"] == book_line.total_amount
        assert line["TaxAmount"] == book_line.tax_amount
        assert line["AccountCode"] == book_line.account_id.removeprefix("acc-")  # type: ignore[union-attr]
        names = {(t["Name"], t["Option"]) for t in line["Tracking"]}
        assert len(names) == len(book_line.tracking_category_ids)
        assert any(name == "Department" for name, _ in names)
    # amounts are written as JSON numbers with their cents, never through float
    assert f'"Total":{first.total}' in response.text


async def test_statuses_and_balances_match_books(big: Xero, books: Books) -> None:
    response = await big.get("/Invoices?page=1&pageSize=1000")
    by_number = {i["InvoiceNumber"]: i for i in data(response)["Invoices"]}
    for doc in [*books.invoices, *books.bills]:
        record = by_number[doc.number]  # type: ignore[index]
        assert record["AmountDue"] == doc.balance
        assert record["Status"] == ("PAID" if doc.balance == 0 else "AUTHORISED")
        assert record["AmountPaid"] + record["AmountCredited"] == doc.total - doc.balance
        if doc.currency == "EUR":
            assert record["CurrencyRate"] == Decimal("1.1764705882")


async def test_paging_reaches_the_last_row_without_gaps(big: Xero, books: Books) -> None:
    seen: list[str] = []
    page = 1
    while True:
        body = data(await big.get(f"/Invoices?page={page}&pageSize=60"))
        assert body["pagination"]["itemCount"] == len(books.invoices) + len(books.bills)
        assert body["pagination"]["pageCount"] == -(-body["pagination"]["itemCount"] // 60)
        seen += [i["InvoiceID"] for i in body["Invoices"]]
        if len(body["Invoices"]) < 60:
            break
        page += 1
    assert page == body["pagination"]["pageCount"]
    assert len(seen) == len(set(seen)) == len(books.invoices) + len(books.bills)
    assert (await big.get(f"/Invoices?page={page + 1}&pageSize=60")).json()["Invoices"] == []


async def test_page_size_is_capped_at_1000(big: Xero) -> None:
    body = data(await big.get("/Invoices?page=1&pageSize=5000"))
    assert body["pagination"]["pageSize"] == 1000
    assert len(body["Invoices"]) == body["pagination"]["itemCount"] == 520


async def test_list_without_page_omits_line_items(xero: Xero) -> None:
    body = data(await xero.get("/Invoices"))
    assert "pagination" not in body
    assert len(body["Invoices"]) == 24
    assert all(i["LineItems"] == [] for i in body["Invoices"])
    invoice_id = body["Invoices"][0]["InvoiceID"]
    single = data(await xero.get(f"/Invoices/{invoice_id}"))["Invoices"]
    assert len(single) == 1 and single[0]["LineItems"]


async def test_batch_by_ids_and_by_number(xero: Xero) -> None:
    everything = data(await xero.get("/Invoices?page=1"))["Invoices"]
    wanted = [everything[1]["InvoiceID"], everything[5]["InvoiceID"], everything[20]["InvoiceID"]]
    body = data(await xero.get("/Invoices?IDs=" + ",".join(wanted)))
    assert sorted(i["InvoiceID"] for i in body["Invoices"]) == sorted(wanted)
    assert all(i["LineItems"] for i in body["Invoices"])
    body = data(await xero.get("/Invoices?InvoiceNumbers=INV-0002,BILL-0003"))
    assert sorted(i["InvoiceNumber"] for i in body["Invoices"]) == ["BILL-0003", "INV-0002"]
    body = data(await xero.get("/Invoices/INV-0004"))
    assert body["Invoices"][0]["InvoiceNumber"] == "INV-0004"
    contacts = data(await xero.get("/Contacts?page=1"))["Contacts"]
    ids = [c["ContactID"] for c in contacts[:2]]
    assert [c["ContactID"] for c in data(await xero.get("/Contacts?IDs=" + ",".join(ids)))["Contacts"]] == ids


async def test_where_filters(xero: Xero, tiny_books: Books) -> None:
    body = data(await xero.get('/Invoices?where=Type=="ACCPAY"'))
    assert len(body["Invoices"]) == len(tiny_books.bills)
    contact_id = body["Invoices"][0]["Contact"]["ContactID"]
    body = data(await xero.get(f'/Invoices?where=Contact.ContactID==Guid("{contact_id.upper()}") && '
                               'Type=="ACCPAY"'))
    supplier = body["Invoices"][0]["Contact"]["ContactNumber"]
    assert len(body["Invoices"]) == sum(1 for b in tiny_books.bills if b.supplier_id == supplier)
    body = data(await xero.get('/Invoices?where=Date>=DateTime(2025,07,01) AND Type=="ACCREC"'))
    assert len(body["Invoices"]) == sum(1 for i in tiny_books.invoices if i.invoice_date.month >= 7)
    body = data(await xero.get('/Invoices?where=Status=="PAID" OR Status=="AUTHORISED"&Statuses=PAID'))
    assert {i["Status"] for i in body["Invoices"]} == {"PAID"}
    body = data(await xero.get('/Accounts?where=Type=="BANK"'))
    assert {(a["Name"], a["BankAccountNumber"], a["CurrencyCode"]) for a in body["Accounts"]} == \
        {(b.name, b.account_number, b.currency) for b in tiny_books.bank_accounts}
    body = data(await xero.get("/Invoices?order=Total DESC&where=Type==\"ACCREC\""))
    totals = [i["Total"] for i in body["Invoices"]]
    assert totals == sorted(totals, reverse=True)


async def test_reference_data(xero: Xero, tiny_books: Books) -> None:
    rates = data(await xero.get("/TaxRates"))["TaxRates"]
    assert {(r["TaxComponents"][0]["Name"], r["Name"], r["EffectiveRate"]) for r in rates} == \
        {(t.code, t.name, t.rate) for t in tiny_books.tax_rates}
    categories = data(await xero.get("/TrackingCategories"))["TrackingCategories"]
    assert {c["Name"]: sorted(o["Name"] for o in c["Options"]) for c in categories} == {
        "Department": ["Administration", "Operations", "Sales"], "Location": ["London", "Manchester"]}
    accounts = data(await xero.get("/Accounts"))["Accounts"]
    assert {(a["Code"], a["Name"]) for a in accounts} == {(a.nominal_code, a.name) for a in tiny_books.ledger_accounts}
    contacts = data(await xero.get("/Contacts?page=1"))["Contacts"]
    customers = {c["ContactNumber"]: c for c in contacts if c["IsCustomer"]}
    assert {k: (c["Name"], c["EmailAddress"], c["DefaultCurrency"]) for k, c in customers.items()} == \
        {c.id: (c.display_name, c.email, c.currency) for c in tiny_books.customers}
    org = data(await xero.get("/Organisation"))["Organisations"][0]
    assert (org["Name"], org["BaseCurrency"], org["CountryCode"], org["FinancialYearEndMonth"]) == \
        ("Northwind Ledger", "GBP", "GB", 12)


async def test_payments_batches_overpayments_and_journals(big: Xero, books: Books) -> None:
    payments = data(await big.get("/Payments?page=1&pageSize=1000"))["Payments"]
    batches = data(await big.get("/BatchPayments"))["BatchPayments"]
    overpayments = data(await big.get("/Overpayments?page=1"))["Overpayments"]
    split = [p for p in books.payments if len(p.allocations) > 1]
    over = [p for p in books.payments if p.total_amount > sum(a.amount for a in p.allocations)]
    assert len(split) == 1 and len(over) == 1
    [batch] = [b for b in batches if b["Type"] == "RECBATCH"]
    assert batch["Reference"] == split[0].reference
    assert batch["TotalAmount"] == split[0].total_amount
    children = [p for p in payments if p.get("BatchPaymentID") == batch["BatchPaymentID"]]
    assert sorted(p["Invoice"]["InvoiceNumber"] for p in children) == sorted(a.document_id
                                                                            for a in split[0].allocations)
    [overpayment] = [o for o in overpayments if o["Type"] == "RECEIVE-OVERPAYMENT"]
    assert overpayment["Reference"] == over[0].reference
    assert overpayment["Total"] == over[0].total_amount
    assert overpayment["RemainingCredit"] == Decimal("25.00")
    assert overpayment["Allocations"][0]["Invoice"]["InvoiceNumber"] == over[0].allocations[0].document_id
    single = {p["Reference"]: p for p in payments if not p.get("BatchPaymentID")
              and p["PaymentType"] == "ACCRECPAYMENT"}
    for book in books.payments:
        if book in split or book in over:
            continue
        assert single[book.reference]["Amount"] == book.total_amount  # type: ignore[index]
        assert single[book.reference]["Invoice"]["InvoiceNumber"] == book.allocations[0].document_id  # type: ignore[index]
    journals = data(await big.get("/ManualJournals?page=1"))["ManualJournals"]
    assert len(journals) == len(books.journal_entries)
    for journal, entry in zip(journals, books.journal_entries, strict=True):
        assert journal["Narration"] == entry.description
        assert sum(line["LineAmount"] for line in journal["JournalLines"]) == 0
        assert [abs(line["LineAmount"]) for line in journal["JournalLines"]] == [ln.amount for ln in entry.line_items]
    expenses = data(await big.get('/BankTransactions?page=1&where=Type=="SPEND"'))["BankTransactions"]
    assert [(e["Reference"], e["Total"]) for e in expenses] == [(e.number, e.total_amount) for e in books.expenses]
    notes = data(await big.get("/CreditNotes?page=1"))["CreditNotes"]
    assert [(n["CreditNoteNumber"], n["RemainingCredit"]) for n in notes] == \
        [(n.number, n.balance) for n in books.credit_notes]
    orders = data(await big.get("/PurchaseOrders?page=1"))["PurchaseOrders"]
    assert [(o["PurchaseOrderNumber"], o["Total"]) for o in orders] == \
        [(o.number, o.total) for o in books.purchase_orders]


async def test_modified_since_header(xero: Xero, tiny_books: Books) -> None:
    instants = sorted(i.updated_at for i in [*tiny_books.invoices, *tiny_books.bills])  # type: ignore[type-var]
    cut = instants[len(instants) // 2]
    expected = sum(1 for i in [*tiny_books.invoices, *tiny_books.bills] if i.updated_at > cut)  # type: ignore[operator]
    body = data(await xero.get("/Invoices?page=1", **{"If-Modified-Since": cut.isoformat()}))
    assert len(body["Invoices"]) == expected
    assert all(ms(i["UpdatedDateUTC"]) > cut for i in body["Invoices"])
    # the RFC 1123 form works too
    rfc = cut.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert len(data(await xero.get("/Invoices?page=1", **{"If-Modified-Since": rfc}))["Invoices"]) == expected
    # a record written now shows up, and only it, after the last book instant
    last = instants[-1] + timedelta(seconds=1)
    created = await xero.send("PUT", "/Invoices", invoice_body())
    assert created.status_code == 200
    body = data(await xero.get("/Invoices?page=1", **{"If-Modified-Since": last.strftime("%Y-%m-%dT%H:%M:%S")}))
    assert [i["InvoiceID"] for i in body["Invoices"]] == [created.json()["Invoices"][0]["InvoiceID"]]


# --- errors --------------------------------------------------------------------------------------


async def test_bad_requests_answer_in_xero_format(xero: Xero) -> None:
    response = await xero.get("/Invoices?where=Foo==1")
    assert response.status_code == 400
    assert response.json() == {"ErrorNumber": 16, "Type": "QueryParseException",
                               "Message": "No property or field 'Foo' exists in type 'Invoice'"}
    response = await xero.get('/Invoices?where=Status=="PAID" AND (')
    assert response.status_code == 400 and response.json()["Type"] == "QueryParseException"
    response = await xero.get("/Invoices?IDs=not-a-guid")
    assert response.status_code == 400 and response.json()["ErrorNumber"] == 16
    response = await xero.get("/Widgets")
    assert response.status_code == 404 and response.json()["Title"] == "NotFound"
    response = await xero.get("/Invoices/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    response = await xero.get("/Invoices/NO-SUCH")
    assert response.status_code == 404
    response = await xero.send("PUT", "/Invoices", b"{not json")
    assert response.status_code == 400
    assert response.json()["Type"] == "PostDataInvalidException"
    response = await xero.send("PUT", "/Accounts", {"Accounts": [{"Code": "9"}]})
    assert response.status_code == 405


async def test_unknown_references_are_validation_errors_and_nothing_is_written(xero: Xero) -> None:
    before = len(data(await xero.get("/Invoices"))["Invoices"])
    body = invoice_body()
    body["Invoices"][0]["Contact"] = {"ContactID": "00000000-0000-0000-0000-000000000000"}
    body["Invoices"][0]["LineItems"][0]["AccountCode"] = "9999"
    response = await xero.send("PUT", "/Invoices", body)
    assert response.status_code == 400
    error = response.json()
    assert error["ErrorNumber"] == 10 and error["Type"] == "ValidationException"
    assert error["Message"] == "A validation exception occurred"
    messages = [m["Message"] for m in error["Elements"][0]["ValidationErrors"]]
    assert "Account code '9999' is not a valid code for this document." in messages
    assert any("could not be found" in m for m in messages)
    assert len(data(await xero.get("/Invoices"))["Invoices"]) == before
    # with summarizeErrors=false: 200, one element OK, one ERROR
    good = invoice_body()["Invoices"][0]
    response = await xero.send("PUT", "/Invoices?summarizeErrors=false", {"Invoices": [good, body["Invoices"][0]]})
    assert response.status_code == 200
    assert [i["StatusAttributeString"] for i in response.json()["Invoices"]] == ["OK", "ERROR"]
    assert len(data(await xero.get("/Invoices"))["Invoices"]) == before + 1


async def test_journal_must_balance(xero: Xero) -> None:
    response = await xero.send("PUT", "/ManualJournals", {"ManualJournals": [{
        "Narration": "Unbalanced", "Date": "2025-12-31", "JournalLines": [
            {"LineAmount": 100, "AccountCode": "6000"}, {"LineAmount": -10, "AccountCode": "2300"}]}]})
    assert response.status_code == 400
    assert response.json()["Elements"][0]["ValidationErrors"] == [
        {"Message": "The total debits (100.00) must equal total credits (-10.00)"}]


# --- writes --------------------------------------------------------------------------------------


def invoice_body(kind: str = "ACCREC", contact: str = "Aldgate Trading") -> dict[str, Any]:
    return {"Invoices": [{"Type": kind, "Contact": {"Name": contact}, "Date": "2025-12-30",
                          "DueDate": "2026-01-29", "Status": "AUTHORISED", "LineItems": [
                              {"Description": "Consulting", "Quantity": 1.5, "UnitAmount": 200.10,
                               "AccountCode": "4000", "TaxType": "TAX003",
                               "Tracking": [{"Name": "Department", "Option": "Sales"}]},
                              {"Description": "Kit", "Quantity": 3, "UnitAmount": 9.99, "AccountCode": "4010",
                               "TaxType": "TAX002"}]}]}


async def test_create_invoice_then_read_back(xero: Xero) -> None:
    response = await xero.send("PUT", "/Invoices", invoice_body())
    assert response.status_code == 200
    [created] = data(response)["Invoices"]
    assert created["StatusAttributeString"] == "OK"
    assert created["InvoiceNumber"] == "INV-0013"
    assert created["LineItems"][0]["LineAmount"] == Decimal("300.15")
    assert created["LineItems"][0]["TaxAmount"] == Decimal("60.03")
    assert created["LineItems"][1]["TaxAmount"] == Decimal("1.50")
    assert created["SubTotal"] == Decimal("330.12")
    assert created["Total"] == Decimal("391.65") == created["AmountDue"]
    assert created["LineItems"][0]["Tracking"][0]["Option"] == "Sales"
    book_instants = [d.updated_at for d in [*xero.emu.tenants[xero.tenant].books.invoices]]
    assert ms(created["UpdatedDateUTC"]) > max(book_instants)  # type: ignore[type-var]
    [read] = data(await xero.get(f"/Invoices/{created['InvoiceID']}"))["Invoices"]
    assert read["Total"] == Decimal("391.65")
    assert read["Date"] == "/Date(1767052800000+0000)/"


async def test_payment_flips_invoice_to_paid(xero: Xero) -> None:
    [invoice] = (await xero.send("PUT", "/Invoices", invoice_body())).json()["Invoices"]
    before = ms(invoice["UpdatedDateUTC"])
    xero.emu.clock.advance(5)
    part = await xero.send("PUT", "/Payments", {"Payments": [{
        "Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Account": {"Code": "1200"}, "Date": "2025-12-31",
        "Amount": "100.00", "Reference": "part"}]})
    assert part.status_code == 200
    assert part.json()["Payments"][0]["PaymentType"] == "ACCRECPAYMENT"
    [after_part] = data(await xero.get(f"/Invoices/{invoice['InvoiceID']}"))["Invoices"]
    assert after_part["AmountDue"] == Decimal("291.65") and after_part["Status"] == "AUTHORISED"
    too_much = await xero.send("PUT", "/Payments", {"Payments": [{
        "Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Account": {"Code": "1200"}, "Amount": 500}]})
    assert too_much.status_code == 400
    assert too_much.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Payment amount exceeds the amount outstanding on this document"
    rest = await xero.send("PUT", "/Payments", {"Payments": [{
        "Invoice": {"InvoiceNumber": invoice["InvoiceNumber"]}, "Account": {"Code": "1200"},
        "Date": "2025-12-31", "Amount": 291.65}]})
    assert rest.status_code == 200
    [paid] = data(await xero.get(f"/Invoices/{invoice['InvoiceID']}"))["Invoices"]
    assert paid["Status"] == "PAID"
    assert paid["AmountDue"] == 0 and paid["AmountPaid"] == Decimal("391.65")
    assert len(paid["Payments"]) == 2
    assert ms(paid["UpdatedDateUTC"]) > before
    assert paid["FullyPaidOnDate"] == "/Date(1767139200000+0000)/"
    # deleting a payment reopens the invoice
    payment_id = rest.json()["Payments"][0]["PaymentID"]
    deleted = await xero.send("POST", f"/Payments/{payment_id}", {"Payments": [{"Status": "DELETED"}]})
    assert deleted.status_code == 200 and deleted.json()["Payments"][0]["Status"] == "DELETED"
    [reopened] = data(await xero.get(f"/Invoices/{invoice['InvoiceID']}"))["Invoices"]
    assert reopened["Status"] == "AUTHORISED" and reopened["AmountDue"] == Decimal("291.65")


async def test_bill_payment_and_batch_payment(xero: Xero) -> None:
    bills = [(await xero.send("PUT", "/Invoices", invoice_body("ACCPAY", "Aldgate Supplies"))).json()["Invoices"][0]
             for _ in range(2)]
    assert bills[0]["InvoiceNumber"] == ""
    response = await xero.send("PUT", "/BatchPayments", {"BatchPayments": [{
        "Account": {"Code": "1210"}, "Reference": "BATCH-1", "Date": "2025-12-31",
        "Payments": [{"Invoice": {"InvoiceID": b["InvoiceID"]}, "Amount": b["Total"]} for b in bills]}]})
    assert response.status_code == 200
    [batch] = data(response)["BatchPayments"]
    assert batch["Type"] == "PAYBATCH" and batch["TotalAmount"] == Decimal("783.30")
    for bill in bills:
        [read] = data(await xero.get(f"/Invoices/{bill['InvoiceID']}"))["Invoices"]
        assert read["Status"] == "PAID" and read["AmountDue"] == 0
    payments = data(await xero.get(f'/Payments?where=BatchPaymentID==Guid("{batch["BatchPaymentID"]}")'))
    assert [p["PaymentType"] for p in payments["Payments"]] == ["ACCPAYPAYMENT", "ACCPAYPAYMENT"]


async def test_credit_note_allocation(xero: Xero) -> None:
    [invoice] = (await xero.send("PUT", "/Invoices", invoice_body())).json()["Invoices"]
    response = await xero.send("PUT", "/CreditNotes", {"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": invoice["Contact"]["ContactID"]}, "Date": "2025-12-31",
        "Status": "AUTHORISED", "LineItems": [{"Description": "Refund", "Quantity": 1, "UnitAmount": 50,
                                               "AccountCode": "4000", "TaxType": "TAX003"}]}]})
    assert response.status_code == 200
    [note] = data(response)["CreditNotes"]
    assert note["CreditNoteNumber"] == "CN-0004"
    assert note["Total"] == Decimal("60.00") == note["RemainingCredit"]
    too_much = await xero.send("PUT", f"/CreditNotes/{note['CreditNoteID']}/Allocations", {
        "Allocations": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 70, "Date": "2025-12-31"}]})
    assert too_much.status_code == 400 and too_much.json()["ErrorNumber"] == 10
    response = await xero.send("PUT", f"/CreditNotes/{note['CreditNoteID']}/Allocations", {
        "Allocations": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 60, "Date": "2025-12-31"}]})
    assert response.status_code == 200
    assert response.json()["Allocations"][0]["Amount"] == 60
    [read_note] = data(await xero.get(f"/CreditNotes/{note['CreditNoteID']}"))["CreditNotes"]
    assert read_note["Status"] == "PAID" and read_note["RemainingCredit"] == 0
    [read] = data(await xero.get(f"/Invoices/{invoice['InvoiceID']}"))["Invoices"]
    assert read["AmountCredited"] == Decimal("60.00")
    assert read["AmountDue"] == Decimal("331.65")
    assert read["CreditNotes"][0]["CreditNoteNumber"] == "CN-0004"


async def test_other_creates(xero: Xero) -> None:
    contact = await xero.send("PUT", "/Contacts", {"Contacts": [{"Name": "Zephyr Foods", "EmailAddress":
                                                                 "a@zephyr.example", "IsCustomer": True}]})
    assert contact.status_code == 200
    contact_id = contact.json()["Contacts"][0]["ContactID"]
    duplicate = await xero.send("PUT", "/Contacts", {"Contacts": [{"Name": "Zephyr Foods"}]})
    assert duplicate.status_code == 400
    assert "must be unique across all active contacts" in \
        duplicate.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    expense = await xero.send("PUT", "/BankTransactions", {"BankTransactions": [{
        "Type": "SPEND", "Contact": {"ContactID": contact_id}, "BankAccount": {"Code": "1200"},
        "Reference": "EXP-9999", "Date": "2025-12-31",
        "LineItems": [{"Description": "Taxi", "Quantity": 1, "UnitAmount": 12.5, "AccountCode": "6200",
                       "TaxType": "TAX003"}]}]})
    assert expense.status_code == 200
    assert expense.json()["BankTransactions"][0]["Total"] == 15
    order = await xero.send("PUT", "/PurchaseOrders", {"PurchaseOrders": [{
        "Contact": {"ContactID": contact_id}, "Date": "2025-12-31", "DeliveryDate": "2026-01-14",
        "LineItems": [{"Description": "Paper", "Quantity": 2, "UnitAmount": 4.25, "AccountCode": "6400"}]}]})
    assert order.status_code == 200
    assert order.json()["PurchaseOrders"][0]["PurchaseOrderNumber"] == "PO-0004"
    journal = await xero.send("PUT", "/ManualJournals", {"ManualJournals": [{
        "Narration": "Year-end accrual", "Date": "2025-12-31", "Status": "POSTED", "JournalLines": [
            {"LineAmount": "123.45", "AccountCode": "6500", "Description": "Audit",
             "Tracking": [{"Name": "Department", "Option": "Administration"}]},
            {"LineAmount": "-123.45", "AccountCode": "2300", "Description": "Audit"}]}]})
    assert journal.status_code == 200
    journal_id = journal.json()["ManualJournals"][0]["ManualJournalID"]
    [read] = data(await xero.get(f"/ManualJournals/{journal_id}"))["ManualJournals"]
    assert [line["LineAmount"] for line in read["JournalLines"]] == [Decimal("123.45"), Decimal("-123.45")]
    assert read["JournalLines"][0]["Tracking"][0]["Option"] == "Administration"


async def test_update_void_and_delete(xero: Xero) -> None:
    draft_body = invoice_body()
    draft_body["Invoices"][0]["Status"] = "DRAFT"
    [draft] = (await xero.send("PUT", "/Invoices", draft_body)).json()["Invoices"]
    updated = await xero.send("POST", f"/Invoices/{draft['InvoiceID']}", {"Invoices": [{"Reference": "PO 77"}]})
    assert updated.status_code == 200 and updated.json()["Invoices"][0]["Reference"] == "PO 77"
    deleted = await xero.send("POST", "/Invoices", {"Invoices": [{"InvoiceID": draft["InvoiceID"],
                                                                  "Status": "DELETED"}]})
    assert deleted.status_code == 200 and deleted.json()["Invoices"][0]["Status"] == "DELETED"
    [authorised] = (await xero.send("PUT", "/Invoices", invoice_body())).json()["Invoices"]
    refused = await xero.send("POST", f"/Invoices/{authorised['InvoiceID']}", {"Status": "DELETED"})
    assert refused.status_code == 400
    assert refused.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Invoice not of valid status for modification"
    voided = await xero.send("POST", f"/Invoices/{authorised['InvoiceID']}", {"Status": "VOIDED"})
    assert voided.status_code == 200 and voided.json()["Invoices"][0]["Status"] == "VOIDED"
    # a PUT cannot update
    again = await xero.send("PUT", "/Invoices", {"Invoices": [{"InvoiceID": authorised["InvoiceID"]}]})
    assert again.status_code == 400


async def test_idempotent_replay(xero: Xero) -> None:
    before = len(data(await xero.get("/Invoices"))["Invoices"])
    first = await xero.send("PUT", "/Invoices", invoice_body(), **{"Idempotency-Key": "key-1"})
    second = await xero.send("PUT", "/Invoices", invoice_body(), **{"Idempotency-Key": "key-1"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(data(await xero.get("/Invoices"))["Invoices"]) == before + 1
    other = await xero.send("PUT", "/Invoices", invoice_body("ACCREC", "Birchwood Retail"),
                            **{"Idempotency-Key": "key-1"})
    assert other.status_code == 400
    third = await xero.send("PUT", "/Invoices", invoice_body(), **{"Idempotency-Key": "key-2"})
    assert third.json()["Invoices"][0]["InvoiceID"] != first.json()["Invoices"][0]["InvoiceID"]


# --- rate limits and counting --------------------------------------------------------------------


async def test_rate_limit_headers_and_429() -> None:
    emu = make_emulator(generate_books(seed=7, sizes=BookSizes.tiny()),
                        limits=RateLimits(per_minute=3, per_day=5000, concurrent=5))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as client:
        xero = Xero(emu, client)
        remaining = []
        for _ in range(3):
            response = await xero.get("/Organisation")
            assert response.status_code == 200
            remaining.append(int(response.headers["X-MinLimit-Remaining"]))
            assert int(response.headers["X-DayLimit-Remaining"]) > 4990
            assert int(response.headers["X-AppMinLimit-Remaining"]) > 9000
        assert remaining == [2, 1, 0]
        response = await xero.get("/Organisation")
        assert response.status_code == 429
        assert response.headers["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(response.headers["Retry-After"]) <= 61
        assert response.json()["Status"] == 429
        emu.clock.advance(61)
        assert (await xero.get("/Organisation")).status_code == 200


def test_default_limits_are_xeros() -> None:
    limits = XeroEmulator.default_limits
    assert (limits.per_minute, limits.per_day, limits.concurrent) == (60, 5000, 5)
    assert XeroEmulator.token_policy.access_ttl == 1800
    assert XeroEmulator.token_policy.refresh_grace == 1800


async def test_request_kinds(xero: Xero) -> None:
    xero.emu.counter.reset()
    await xero.get("/Invoices")
    await xero.get("/Invoices/INV-0001")
    await xero.send("PUT", "/Payments", {"Payments": []})
    assert xero.emu.counter.by_kind == {"GET Invoices": 1, "GET Invoices/{id}": 1, "PUT Payments": 1}


# --- summary -------------------------------------------------------------------------------------


def test_summary_matches_books(books: Books) -> None:
    summary = make_emulator(generate_books(seed=7)).summary()

    def sums(records: list[Any], amount: str) -> dict[str, str]:
        totals: dict[str, Decimal] = {}
        for record in records:
            totals[record.currency] = totals.get(record.currency, Decimal("0.00")) + getattr(record, amount)
        return {c: str(v) for c, v in sorted(totals.items())}

    for name, records, amount in [
        ("invoices", books.invoices, "total"), ("bills", books.bills, "total"),
        ("payments", books.payments, "total_amount"), ("bill_payments", books.bill_payments, "total_amount"),
        ("credit_notes", books.credit_notes, "total"), ("expenses", books.expenses, "total_amount"),
        ("purchase_orders", books.purchase_orders, "total"),
    ]:
        assert summary[name] == {"count": len(records), "totals": sums(records, amount)}, name
    debit_sum = sum((ln.amount for e in books.journal_entries for ln in e.line_items if ln.type == "DEBIT"),
                    Decimal("0.00"))
    assert summary["journal_entries"] == {"count": len(books.journal_entries), "totals": {"GBP": str(debit_sum)}}
    assert summary["customers"] == {"count": len(books.customers)}
    assert summary["suppliers"] == {"count": len(books.suppliers)}
    assert summary["ledger_accounts"] == {"count": len(books.ledger_accounts)}
    assert summary["tax_rates"] == {"count": len(books.tax_rates)}
    assert summary["bank_accounts"] == {"count": len(books.bank_accounts)}


def test_ids_are_deterministic() -> None:
    one = make_emulator(generate_books(seed=7, sizes=BookSizes.tiny()))
    two = make_emulator(generate_books(seed=7, sizes=BookSizes.tiny()))
    tenant = XeroEmulator.tenant_id_for(0)
    for name in ("Invoices", "Contacts", "Payments", "ManualJournals", "Accounts"):
        assert list(one.stores[tenant].data[name]) == list(two.stores[tenant].data[name])
