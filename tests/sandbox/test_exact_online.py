"""The Exact Online emulator, driven over HTTP the way an Exact client drives the real API."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerql.model.enums import PostingType
from ledgerql.sandbox.books import Books, BookSizes, generate_books
from ledgerql.sandbox.common import RateLimits, SandboxTenant
from ledgerql.sandbox.exact_online import ExactOnlineEmulator

DATE_RE = re.compile(r"^/Date\((\d+)\)/$")
DIV = "3100001"
API = f"/api/v1/{DIV}"


def make_emulator(books: list[Books] | None = None, limits: RateLimits | None = None) -> ExactOnlineEmulator:
    books = books or [generate_books(seed=7, sizes=BookSizes.tiny())]
    tenants = [SandboxTenant(ExactOnlineEmulator.tenant_id_for(i), b) for i, b in enumerate(books)]
    return ExactOnlineEmulator(tenants, limits=limits or RateLimits(per_minute=60, per_day=5000, enabled=False))


def client_for(emu: ExactOnlineEmulator, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Accept": "application/json"}
    if token is None:
        token = emu.describe("http://sandbox")["accessToken"]
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()), base_url="http://sandbox",
                             headers=headers)


def body(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def ms(value: str) -> datetime:
    match = DATE_RE.match(value)
    assert match, value
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    data = response.json()
    assert set(data) == {"error"}
    assert data["error"]["code"] == "" and data["error"]["message"]["lang"] == ""
    message = data["error"]["message"]["value"]
    assert isinstance(message, str) and message
    return message


async def fetch_all(client: httpx.AsyncClient, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    response = await client.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        d = body(response)["d"]
        assert len(d["results"]) <= 60
        rows += d["results"]
        if "__next" not in d:
            return rows
        assert "$skiptoken=guid" in d["__next"].replace("%24", "$").replace("%27", "'")
        response = await client.get(d["__next"])


@pytest.fixture
def emu() -> ExactOnlineEmulator:
    return make_emulator()


@pytest.fixture(scope="module")
def big() -> ExactOnlineEmulator:
    return make_emulator([generate_books(seed=7)])


# --- envelopes and formats -----------------------------------------------------------------------


async def test_list_envelope_dates_and_exact_numbers(emu: ExactOnlineEmulator, tiny_books: Books) -> None:
    async with client_for(emu) as client:
        response = await client.get(f"{API}/salesentry/SalesEntries", params={"$filter": "Type eq 20"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    d = body(response)["d"]
    assert set(d) == {"results"}
    entries = {e["YourRef"]: e for e in d["results"]}
    assert set(entries) == {inv.number for inv in tiny_books.invoices}
    invoice = tiny_books.invoices[0]
    entry = entries[invoice.number]
    assert entry["__metadata"]["type"] == "Exact.Web.Api.Models.SalesEntry"
    assert entry["__metadata"]["uri"].endswith(f"/api/v1/{DIV}/salesentry/SalesEntries(guid'{entry['EntryID']}')")
    assert re.fullmatch(r"[0-9a-f-]{36}", entry["EntryID"])
    assert isinstance(entry["EntryNumber"], int) and entry["InvoiceNumber"] == entry["EntryNumber"]
    assert ms(entry["EntryDate"]).date() == invoice.invoice_date
    assert ms(entry["DueDate"]).date() == invoice.due_date
    assert ms(entry["Modified"]) == invoice.updated_at
    assert entry["AmountFC"] == invoice.total and entry["VATAmountFC"] == invoice.total_tax
    assert entry["Currency"] == invoice.currency
    assert entry["SalesEntryLines"] == {"__deferred": {"uri": entry["__metadata"]["uri"] + "/SalesEntryLines"}}
    assert entry["Division"] == int(DIV)


async def test_single_entity_with_expanded_lines_keeps_every_book_value(big: ExactOnlineEmulator) -> None:
    emu, books = big, big.tenants[DIV].books
    invoice = next(i for i in books.invoices if i.currency == "EUR" and len(i.line_items) > 2)
    guid = emu.ledgers[DIV].by_business[invoice.id]
    async with client_for(emu) as client:
        response = await client.get(f"{API}/salesentry/SalesEntries(guid'{guid}')",
                                    params={"$expand": "SalesEntryLines"})
        accounts = body(await client.get(f"{API}/financial/GLAccounts"))["d"]["results"]
        vat = body(await client.get(f"{API}/vat/VATCodes"))["d"]["results"]
        centres = body(await client.get(f"{API}/hrm/Costcenters"))["d"]["results"]
        units = body(await client.get(f"{API}/hrm/Costunits"))["d"]["results"]
        customer = body(await client.get(f"{API}/crm/Accounts(guid'{body(response)['d']['Customer']}')"))["d"]
    assert response.status_code == 200
    entry = body(response)["d"]
    assert "results" not in entry and entry["EntryID"] == guid
    assert entry["Rate"] == Decimal("0.8500") and entry["Currency"] == "EUR"
    assert customer["Code"].strip() == invoice.customer_id and len(customer["Code"]) == 18
    assert customer["IsSales"] is True and customer["Status"] == "C"
    gl_code = {a["ID"]: a["Code"] for a in accounts}
    vat_rate = {v["Code"]: v["Percentage"] for v in vat}
    option = {c["Code"]: c["Description"] for c in [*centres, *units]}
    names = {t.id: t.name for t in books.tracking_categories}
    lines = entry["SalesEntryLines"]["results"]
    assert len(lines) == len(invoice.line_items)
    for line, book in zip(lines, invoice.line_items, strict=True):
        assert line["Description"] == book.description
        assert line["Quantity"] == book.quantity
        assert line["AmountFC"] == book.total_amount
        assert line["AmountFC"] / line["Quantity"] == book.unit_price
        assert line["VATAmountFC"] == book.tax_amount
        assert f"acc-{gl_code[line['GLAccount']]}" == book.account_id == f"acc-{line['GLAccountCode']}"
        assert f"tax-{line['VATCode']}" == book.tax_rate_id
        assert vat_rate[line["VATCode"]] * 100 == books.tax_rate(book.tax_rate_id or "").rate
        tracked = [option[line["CostCenter"]]] + ([option[line["CostUnit"]]] if line["CostUnit"] else [])
        assert tracked == [names[t] for t in book.tracking_category_ids]


async def test_reference_data(emu: ExactOnlineEmulator, tiny_books: Books) -> None:
    async with client_for(emu) as client:
        journals = body(await client.get(f"{API}/financial/Journals"))["d"]["results"]
        vat = body(await client.get(f"{API}/vat/VATCodes", params={"$orderby": "Code"}))["d"]["results"]
        gl = body(await client.get(f"{API}/financial/GLAccounts", params={"$filter": "Code eq '1220'"}))["d"]
        divisions = body(await client.get(f"{API}/system/Divisions"))["d"]["results"]
    banks = {j["Description"]: j for j in journals if j["Type"] == 12}
    assert set(banks) == {b.name for b in tiny_books.bank_accounts}
    for bank in tiny_books.bank_accounts:
        journal = banks[bank.name]
        assert journal["BankAccountIBAN"] == bank.account_number and journal["Currency"] == bank.currency
        assert journal["BankName"] == bank.institution_name
        assert f"acc-{journal['GLAccountCode']}" == bank.ledger_account_id
    assert any(j["Code"] == "GJ" and j["Type"] == 90 and j["Description"] == "General Journal" for j in journals)
    assert [(v["Code"], v["Description"], v["Percentage"]) for v in vat] == [
        ("R", "Reduced rate 5%", Decimal("0.05")), ("S", "Standard rate 20%", Decimal("0.2")),
        ("Z", "Zero rated 0%", Decimal("0"))]
    assert [(a["Code"], a["Description"], a["Type"]) for a in gl["results"]] == [("1220", "Euro Account", 12)]
    assert [d["Code"] for d in divisions] == [int(DIV)] and divisions[0]["Description"] == "Northwind Ledger"


async def test_select_returns_only_the_named_fields(emu: ExactOnlineEmulator) -> None:
    async with client_for(emu) as client:
        response = await client.get(f"{API}/crm/Accounts", params={"$select": "ID,Name", "$top": "2"})
        me = await client.get("/api/v1/current/Me", params={"$select": "CurrentDivision"})
    rows = body(response)["d"]["results"]
    assert len(rows) == 2 and all(set(r) == {"__metadata", "ID", "Name"} for r in rows)
    assert body(me)["d"]["results"][0]["CurrentDivision"] == int(DIV)
    assert set(body(me)["d"]["results"][0]) == {"__metadata", "CurrentDivision"}


# --- paging, counts, batch-by-ids, filters -------------------------------------------------------


async def test_paging_to_the_last_row(big: ExactOnlineEmulator) -> None:
    books = big.tenants[DIV].books
    async with client_for(big) as client:
        rows = await fetch_all(client, f"{API}/salesentry/SalesEntries", {"$select": "EntryID,YourRef,Type"})
        count = await client.get(f"{API}/salesentry/SalesEntries/$count")
        inline = body(await client.get(f"{API}/salesentry/SalesEntries", params={"$inlinecount": "allpages"}))
        page_sizes = []
        response = await client.get(f"{API}/purchaseentry/PurchaseEntries", params={"$top": "100"})
        topped: list[str] = []
        while True:
            d = body(response)["d"]
            page_sizes.append(len(d["results"]))
            topped += [r["EntryID"] for r in d["results"]]
            if "__next" not in d:
                break
            response = await client.get(d["__next"])
    expected = len(books.invoices) + len(books.credit_notes)
    ids = [r["EntryID"] for r in rows]
    assert len(ids) == expected == len(set(ids))
    assert {r["YourRef"] for r in rows} == {d.number for d in [*books.invoices, *books.credit_notes]}
    assert int(count.text) == expected and inline["d"]["__count"] == str(expected)
    assert len(inline["d"]["results"]) == 60 and "__next" in inline["d"]
    assert page_sizes == [60, 40] and len(set(topped)) == 100


async def test_skiptoken_pages_are_ordered_by_key_without_gaps(big: ExactOnlineEmulator) -> None:
    async with client_for(big) as client:
        rows = await fetch_all(client, f"{API}/cashflow/Payments")
    ids = [r["ID"] for r in rows]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    books = big.tenants[DIV].books
    assert len(ids) == len(books.bills) + len(books.expenses)


async def test_batch_by_ids_and_url_length_cap(big: ExactOnlineEmulator) -> None:
    ledger = big.ledgers[DIV]
    wanted = [ledger.by_business[f"INV-{n:04d}"] for n in (3, 17, 101, 250)]
    async with client_for(big) as client:
        response = await client.get(f"{API}/salesentry/SalesEntries", params={
            "$filter": " or ".join(f"EntryID eq guid'{g}'" for g in wanted)})
        many = list(ledger.table("salesentry/SalesEntries"))[:150]
        too_long = await client.get(f"{API}/salesentry/SalesEntries", params={
            "$filter": " or ".join(f"EntryID eq guid'{g}'" for g in many)})
    assert sorted(r["EntryID"] for r in body(response)["d"]["results"]) == sorted(wanted)
    assert "too long" in assert_error(too_long, 400)


async def test_filter_syntax(big: ExactOnlineEmulator) -> None:
    books = big.tenants[DIV].books
    async with client_for(big) as client:
        eur_open = await fetch_all(client, f"{API}/cashflow/Receivables", {
            "$filter": "(Currency eq 'EUR' or Currency eq 'GBP') and IsFullyPaid eq false and TransactionType eq 20"})
        by_code = body(await client.get(f"{API}/crm/Accounts", params={"$filter": "trim(Code) eq 'SUP-003'"}))
        named = body(await client.get(f"{API}/crm/Accounts", params={
            "$filter": "substringof('Kestrel', Name) and IsSupplier eq true"}))
        dated = await fetch_all(client, f"{API}/salesentry/SalesEntries", {
            "$filter": "EntryDate ge datetime'2025-03-01' and EntryDate lt datetime'2025-04-01T00:00:00' "
                       "and Type ne 21",
            "$orderby": "EntryDate desc,EntryNumber"})
    assert len(eur_open) == sum(1 for i in books.invoices if i.balance > 0)
    assert [a["Name"] for a in by_code["d"]["results"]] == [books.suppliers[2].display_name]
    assert [a["Name"] for a in named["d"]["results"]] == [s.display_name for s in books.suppliers
                                                          if "Kestrel" in s.display_name]
    march = sorted((i for i in books.invoices if i.invoice_date.month == 3), key=lambda i: i.invoice_date,
                   reverse=True)
    assert [ms(r["EntryDate"]).date() for r in dated] == [i.invoice_date for i in march]


async def test_lines_endpoint_and_navigation(emu: ExactOnlineEmulator, tiny_books: Books) -> None:
    bill = tiny_books.bills[2]
    guid = emu.ledgers[DIV].by_business[bill.id]
    async with client_for(emu) as client:
        lines = body(await client.get(f"{API}/purchaseentry/PurchaseEntryLines",
                                      params={"$filter": f"EntryID eq guid'{guid}'", "$orderby": "LineNumber"})
                     )["d"]["results"]
        nav = body(await client.get(f"{API}/purchaseentry/PurchaseEntries(guid'{guid}')/PurchaseEntryLines"))
    assert [line["AmountFC"] for line in lines] == [line.total_amount for line in bill.line_items]
    assert sorted(line["ID"] for line in nav["d"]["results"]) == sorted(line["ID"] for line in lines)


async def test_modified_since_includes_a_record_written_by_the_test(emu: ExactOnlineEmulator,
                                                                    tiny_books: Books) -> None:
    since = datetime(2025, 6, 1, tzinfo=UTC)
    expected = {i.number for i in tiny_books.invoices if i.updated_at and i.updated_at >= since}
    expected |= {c.number for c in tiny_books.credit_notes if c.updated_at and c.updated_at >= since}
    params = {"$filter": "Modified ge datetime'2025-06-01T00:00:00'", "$select": "YourRef"}
    async with client_for(emu) as client:
        before = body(await client.get(f"{API}/salesentry/SalesEntries", params=params))["d"]["results"]
        assert {r["YourRef"] for r in before} == expected
        # Pay an invoice last touched before the instant: it must now show up.
        untouched = next(i for i in tiny_books.invoices if i.updated_at and i.updated_at < since and i.balance > 0)
        entry = emu.ledgers[DIV].table("salesentry/SalesEntries")[emu.ledgers[DIV].by_business[untouched.id]]
        written_at = emu.now()
        paid = await client.post(f"{API}/financialtransaction/BankEntries", json={
            "JournalCode": "22" if untouched.currency == "EUR" else "20",
            "BankEntryLines": [{"Account": entry["Customer"], "OurRef": entry["EntryNumber"],
                                "AmountFC": str(-Decimal("1.00")), "Date": "2025-12-30"}]})
        assert paid.status_code == 201, paid.text
        after = body(await client.get(f"{API}/salesentry/SalesEntries", params=params))["d"]["results"]
        recent = body(await client.get(f"{API}/salesentry/SalesEntries", params={
            "$filter": f"Modified ge datetime'{written_at.strftime('%Y-%m-%dT%H:%M:%S')}'"}))["d"]["results"]
    assert {r["YourRef"] for r in after} == expected | {untouched.number}
    assert [r["YourRef"] for r in recent] == [untouched.number]


# --- errors ----------------------------------------------------------------------------------------


async def test_errors_in_exact_format(emu: ExactOnlineEmulator) -> None:
    async with client_for(emu) as client:
        assert "Resource not found" in assert_error(await client.get(f"{API}/salesentry/Nonsense"), 404)
        assert "Resource not found" in assert_error(await client.get("/api/v2/whatever"), 404)
        assert "Syntax error" in assert_error(
            await client.get(f"{API}/crm/Accounts", params={"$filter": "Name eq 'x' and"}), 400)
        assert "Syntax error" in assert_error(
            await client.get(f"{API}/crm/Accounts", params={"$filter": "Name eq 'x' %% 3"}), 400)
        assert "No property 'Colour'" in assert_error(
            await client.get(f"{API}/crm/Accounts", params={"$filter": "Colour eq 'red'"}), 400)
        assert "Edm.Guid" in assert_error(await client.get(f"{API}/crm/Accounts(guid'not-a-guid')"), 400)
        assert_error(await client.get(f"{API}/crm/Accounts(42)"), 400)
        assert_error(await client.get(f"{API}/crm/Accounts(guid'00000000-0000-0000-0000-000000000001')"), 404)
        assert "$bogus" in assert_error(await client.get(f"{API}/crm/Accounts", params={"$bogus": "1"}), 400)
        assert_error(await client.get(f"{API}/crm/Accounts", params={"$top": "ten"}), 400)
        assert_error(await client.get(f"{API}/crm/Accounts", params={"$skiptoken": "guid'zzz'"}), 400)
        assert "Error processing request stream" in assert_error(
            await client.post(f"{API}/crm/Accounts", content=b"{not json",
                              headers={"Content-Type": "application/json"}),
            400)
        assert_error(await client.post(f"{API}/crm/Accounts", json=["a list"]), 400)
        assert "does not exist" in assert_error(await client.post(f"{API}/crm/Accounts", json={"Nme": "x"}), 400)
        assert_error(await client.put(f"{API}/financial/GLAccounts(guid'00000000-0000-0000-0000-000000000001')",
                                      json={}), 405)
        assert_error(await client.post(f"{API}/cashflow/Receivables", json={}), 405)


async def test_other_division_is_forbidden(tiny_books: Books) -> None:
    emu = make_emulator([tiny_books, generate_books(seed=8, sizes=BookSizes.tiny())])
    second = emu.grants["3100002"].access_token
    async with client_for(emu) as client:
        assert "WrongDivision" in assert_error(await client.get("/api/v1/3100002/crm/Accounts"), 403)
        mine = await client.get("/api/v1/current/Me")
    async with client_for(emu, second) as client:
        other = await client.get("/api/v1/3100002/crm/Accounts")
        me = await client.get("/api/v1/current/Me")
    assert body(mine)["d"]["results"][0]["CurrentDivision"] == 3100001
    assert other.status_code == 200 and body(me)["d"]["results"][0]["CurrentDivision"] == 3100002
    assert emu.describe("http://x/exact")["tenants"] == ["3100001", "3100002"]


# --- auth ------------------------------------------------------------------------------------------


async def test_expired_and_missing_tokens_get_401(emu: ExactOnlineEmulator) -> None:
    async with client_for(emu, "") as client:
        assert_error(await client.get(f"{API}/crm/Accounts"), 401)
    async with client_for(emu) as client:
        assert (await client.get(f"{API}/crm/Accounts")).status_code == 200
        emu.clock.advance(601)
        assert_error(await client.get(f"{API}/crm/Accounts"), 401)


async def test_refresh_rotation_and_minimum_interval(emu: ExactOnlineEmulator) -> None:
    info = emu.describe("http://sandbox")
    assert set(info) >= {"baseUrl", "accessToken", "refreshToken", "clientId", "clientSecret", "tokenUrl",
                         "division", "tenants"}
    assert info["division"] == DIV and info["tokenUrl"] == "http://sandbox/api/oauth2/token"
    form = {"grant_type": "refresh_token", "refresh_token": info["refreshToken"], "client_id": info["clientId"],
            "client_secret": info["clientSecret"]}
    async with client_for(emu, "") as client:
        early = await client.post("/api/oauth2/token", data=form)
        assert early.status_code == 400 and early.json()["error"] == "invalid_request"
        bad_client = await client.post("/api/oauth2/token", data={**form, "client_secret": "wrong"})
        assert bad_client.status_code == 401
        emu.clock.advance(575)
        fresh = await client.post("/api/oauth2/token", data=form)
        assert fresh.status_code == 200, fresh.text
        token = fresh.json()
        assert token["expires_in"] == "600" and token["token_type"] == "bearer"
        assert token["refresh_token"] != info["refreshToken"]
        emu.clock.advance(600)
        reused = await client.post("/api/oauth2/token", data=form)
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        rotated = await client.post("/api/oauth2/token", data={**form, "refresh_token": token["refresh_token"]})
        assert rotated.status_code == 200
        new_access = rotated.json()["access_token"]
        assert (await client.get(f"{API}/crm/Accounts", headers={"Authorization": f"Bearer {new_access}"})
                ).status_code == 200
    assert emu.describe("http://sandbox")["accessToken"] == new_access


async def test_expired_access_token_may_be_refreshed_at_once(emu: ExactOnlineEmulator) -> None:
    info = emu.describe("http://sandbox")
    emu.oauth.expire_access_tokens()
    async with client_for(emu, "") as client:
        response = await client.post("/api/oauth2/token", data={
            "grant_type": "refresh_token", "refresh_token": info["refreshToken"], "client_id": info["clientId"],
            "client_secret": info["clientSecret"]})
    assert response.status_code == 200


# --- rate limits -----------------------------------------------------------------------------------


async def test_minutely_limit_gives_429_with_exact_headers() -> None:
    emu = make_emulator(limits=RateLimits(per_minute=3, per_day=100))
    async with client_for(emu) as client:
        answers = [await client.get(f"{API}/vat/VATCodes") for _ in range(4)]
    ok = answers[0]
    assert ok.headers["X-RateLimit-Limit"] == "100" and ok.headers["X-RateLimit-Remaining"] == "99"
    assert ok.headers["X-RateLimit-Minutely-Limit"] == "3" and ok.headers["X-RateLimit-Minutely-Remaining"] == "2"
    assert int(ok.headers["X-RateLimit-Minutely-Reset"]) > emu.clock.now() * 1000
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[3]
    assert_error(limited, 429)
    assert limited.headers["X-RateLimit-Minutely-Remaining"] == "0"
    assert "X-RateLimit-Remaining" not in limited.headers
    emu.clock.advance(61)
    async with client_for(emu, emu.grants[DIV].access_token) as client:
        assert (await client.get(f"{API}/vat/VATCodes")).status_code == 200


async def test_daily_limit_gives_429() -> None:
    emu = make_emulator(limits=RateLimits(per_minute=60, per_day=2))
    async with client_for(emu) as client:
        answers = [await client.get(f"{API}/vat/VATCodes") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Minutely-Remaining" not in answers[2].headers


# --- writes ----------------------------------------------------------------------------------------


async def test_create_invoice_and_read_it_back(emu: ExactOnlineEmulator) -> None:
    ledger = emu.ledgers[DIV]
    customer = ledger.by_business["CUS-002"]
    sales = ledger.gl_by_code("4000")
    assert sales is not None
    new = {"Customer": customer, "EntryDate": "2026-02-03", "DueDate": "2026-03-05", "YourRef": "INV-9001",
           "Description": "INV-9001", "Journal": "70",
           "SalesEntryLines": [
               {"GLAccount": sales["ID"], "AmountFC": Decimal("100.10"), "VATCode": "S", "Quantity": 2,
                "Description": "Consulting", "CostCenter": "100", "CostUnit": "LDN"},
               {"GLAccount": sales["ID"], "AmountFC": Decimal("0.05"), "VATCode": "R", "Description": "Rounding"}]}
    async with client_for(emu) as client:
        created = await client.post(f"{API}/salesentry/SalesEntries", content=_dumps(new),
                                    headers={"Prefer": "return=representation", "Content-Type": "application/json"})
        assert created.status_code == 201, created.text
        d = body(created)["d"]
        assert d["YourRef"] == "INV-9001" and d["AmountFC"] == Decimal("120.17")
        assert d["VATAmountFC"] == Decimal("20.02")
        assert ms(d["Modified"]) > max(i.updated_at for i in emu.tenants[DIV].books.invoices if i.updated_at)
        read = body(await client.get(f"{API}/salesentry/SalesEntries(guid'{d['EntryID']}')",
                                     params={"$expand": "SalesEntryLines"}))["d"]
        receivable = body(await client.get(f"{API}/cashflow/Receivables", params={
            "$filter": f"EntryID eq guid'{d['EntryID']}'"}))["d"]["results"]
        bare = await client.post(f"{API}/salesentry/SalesEntries", json={**_plain(new), "YourRef": "INV-9002"})
    assert [line["AmountFC"] for line in read["SalesEntryLines"]["results"]] == [Decimal("100.10"), Decimal("0.05")]
    assert read["SalesEntryLines"]["results"][0]["CostUnit"] == "LDN"
    assert ms(read["EntryDate"]).date().isoformat() == "2026-02-03"
    assert receivable[0]["AmountFC"] == Decimal("120.17") and receivable[0]["IsFullyPaid"] is False
    assert bare.status_code == 201
    bare_d = bare.json()["d"]
    assert bare_d["EntryID"] and bare_d["YourRef"] is None  # no Prefer header: only the key comes back
    assert ledger.table("salesentry/SalesEntries")[bare_d["EntryID"]]["YourRef"] == "INV-9002"


async def test_validation_errors_write_nothing(emu: ExactOnlineEmulator) -> None:
    ledger = emu.ledgers[DIV]
    sales = ledger.gl_by_code("4000")
    assert sales is not None
    before = {path: len(records) for path, records in ledger.sets.items()}
    line = {"GLAccount": sales["ID"], "AmountFC": 10, "VATCode": "S"}
    nobody = "5f1c0000-0000-0000-0000-000000000000"
    bad_requests = [
        ("salesentry/SalesEntries", {"Customer": nobody, "SalesEntryLines": [line]}),
        ("salesentry/SalesEntries", {"Customer": ledger.by_business["SUP-001"], "SalesEntryLines": [line]}),
        ("salesentry/SalesEntries", {"Customer": ledger.by_business["CUS-001"],
                                     "SalesEntryLines": [{**line, "GLAccount": nobody}]}),
        ("salesentry/SalesEntries", {"Customer": ledger.by_business["CUS-001"],
                                     "SalesEntryLines": [{**line, "VATCode": "Q"}]}),
        ("salesentry/SalesEntries", {"Customer": ledger.by_business["CUS-001"], "SalesEntryLines": []}),
        ("purchaseentry/PurchaseEntries", {"Supplier": ledger.by_business["SUP-001"],
                                           "PurchaseEntryLines": [{**line, "CostCenter": "999"}]}),
        ("generaljournalentry/GeneralJournalEntries", {"JournalCode": "GJ", "GeneralJournalEntryLines": [
            {"GLAccount": sales["ID"], "AmountFC": 10}, {"GLAccount": sales["ID"], "AmountFC": -9.99}]}),
        ("financialtransaction/BankEntries", {"JournalCode": "20", "BankEntryLines": [
            {"Account": ledger.by_business["CUS-001"], "AmountFC": -5, "OurRef": 1}]}),
        ("financialtransaction/BankEntries", {"JournalCode": "70", "BankEntryLines": [
            {"Account": ledger.by_business["CUS-001"], "AmountFC": -5}]}),
        ("crm/Accounts", {"Email": "no-name@example.com"}),
        ("purchaseorder/PurchaseOrders", {"Supplier": ledger.by_business["CUS-001"],
                                          "PurchaseOrderLines": [{"UnitPrice": 1, "Quantity": 1}]}),
    ]
    async with client_for(emu) as client:
        for path, payload in bad_requests:
            response = await client.post(f"{API}/{path}", json=payload)
            assert_error(response, 400)
    assert {path: len(records) for path, records in ledger.sets.items()} == before


async def test_no_native_idempotency_two_posts_make_two_records(emu: ExactOnlineEmulator) -> None:
    payload = {"Name": "Twice Ltd", "IsSales": True, "Email": "a@twice.example"}
    async with client_for(emu) as client:
        first = await client.post(f"{API}/crm/Accounts", json=payload, headers={"Idempotency-Key": "k1"})
        second = await client.post(f"{API}/crm/Accounts", json=payload, headers={"Idempotency-Key": "k1"})
        found = body(await client.get(f"{API}/crm/Accounts", params={"$filter": "Name eq 'Twice Ltd'"}))
    assert first.status_code == second.status_code == 201
    assert first.json()["d"]["ID"] != second.json()["d"]["ID"]
    assert len(found["d"]["results"]) == 2


async def test_payment_pays_invoice_and_bill(emu: ExactOnlineEmulator, tiny_books: Books) -> None:
    ledger = emu.ledgers[DIV]
    invoice = next(i for i in tiny_books.invoices if i.balance > 0 and i.currency == "GBP")
    bill = next(b for b in tiny_books.bills if b.balance > 0 and b.currency == "GBP")
    inv = ledger.table("salesentry/SalesEntries")[ledger.by_business[invoice.id]]
    bil = ledger.table("purchaseentry/PurchaseEntries")[ledger.by_business[bill.id]]
    async with client_for(emu) as client:
        received = await client.post(f"{API}/financialtransaction/BankEntries", headers={
            "Prefer": "return=representation"}, content=_dumps({
                "JournalCode": "20", "Currency": "GBP", "BankEntryLines": [
                    {"Account": inv["Customer"], "OurRef": inv["EntryNumber"], "AmountFC": -invoice.balance,
                     "Date": "2026-01-15", "Description": "PAY-9001"},
                    {"Account": inv["Customer"], "AmountFC": Decimal("-3.50"), "Date": "2026-01-15",
                     "Description": "PAY-9001"}]}))
        paid_out = await client.post(f"{API}/financialtransaction/BankEntries", content=_dumps({
            "JournalCode": "21", "BankEntryLines": [
                {"Account": bil["Supplier"], "OurRef": bil["EntryNumber"], "AmountFC": bill.balance,
                 "Date": "2026-01-16", "Description": "BPY-9001"}]}))
        receivable = body(await client.get(f"{API}/cashflow/Receivables", params={
            "$filter": f"EntryID eq guid'{inv['EntryID']}'"}))["d"]["results"][0]
        payable = body(await client.get(f"{API}/cashflow/Payments", params={
            "$filter": f"EntryID eq guid'{bil['EntryID']}'"}))["d"]["results"][0]
        entry = body(await client.get(f"{API}/salesentry/SalesEntries(guid'{inv['EntryID']}')"))["d"]
        lines = body(await client.get(f"{API}/financialtransaction/BankEntryLines", params={
            "$filter": f"EntryID eq guid'{received.json()['d']['EntryID']}'", "$orderby": "LineNumber"}))
    assert received.status_code == 201 and paid_out.status_code == 201
    assert receivable["AmountFC"] == 0 and receivable["IsFullyPaid"] is True and receivable["Status"] == 50
    assert ms(receivable["LastPaymentDate"]).date().isoformat() == "2026-01-15"
    assert payable["AmountFC"] == 0 and payable["IsFullyPaid"] is True
    assert ms(entry["Modified"]) > (invoice.updated_at or datetime.min.replace(tzinfo=UTC))
    assert [(line["OurRef"], line["AmountFC"], line["GLAccountCode"]) for line in lines["d"]["results"]] == [
        (inv["EntryNumber"], -invoice.balance, "1100"), (None, Decimal("-3.50"), "1100")]


async def test_credit_note_allocation_is_recoverable(emu: ExactOnlineEmulator, tiny_books: Books) -> None:
    async with client_for(emu) as client:
        entries = await fetch_all(client, f"{API}/salesentry/SalesEntries")
        receivables = await fetch_all(client, f"{API}/cashflow/Receivables")
    by_number = {e["EntryNumber"]: e for e in entries}
    item_of = {r["EntryID"]: r for r in receivables}
    for cn in tiny_books.credit_notes:
        entry = next(e for e in entries if e["YourRef"] == cn.number)
        assert entry["Type"] == 21 and entry["AmountFC"] == -cn.total
        assert entry["VATAmountFC"] == -cn.total_tax and entry["VATAmountFC"] <= 0
        item = item_of[entry["EntryID"]]
        invoice = by_number[int(entry["PaymentReference"])]
        assert item["YourRef"] == invoice["YourRef"] == cn.allocations[0].document_id
        assert abs(item["TransactionAmountFC"]) - abs(item["AmountFC"]) == cn.allocations[0].amount
        assert -item["AmountFC"] == cn.balance
    for invoice in tiny_books.invoices:
        entry = next(e for e in entries if e["YourRef"] == invoice.number)
        assert item_of[entry["EntryID"]]["AmountFC"] == invoice.balance


async def test_create_credit_note_matched_with_invoice(emu: ExactOnlineEmulator, tiny_books: Books) -> None:
    ledger = emu.ledgers[DIV]
    invoice = next(i for i in tiny_books.invoices if i.balance > 50 and i.currency == "GBP")
    inv = ledger.table("salesentry/SalesEntries")[ledger.by_business[invoice.id]]
    gl = ledger.gl_by_code("4000")
    assert gl is not None
    async with client_for(emu) as client:
        created = await client.post(f"{API}/salesentry/SalesEntries", headers={"Prefer": "return=representation"},
                                    content=_dumps({
                                        "Customer": inv["Customer"], "Type": 21, "YourRef": "CN-9001",
                                        "PaymentReference": str(inv["EntryNumber"]), "EntryDate": "2026-01-20",
                                        "SalesEntryLines": [{"GLAccount": gl["ID"], "AmountFC": Decimal("-40.00"),
                                                             "VATCode": "S"}]}))
        assert created.status_code == 201, created.text
        cn = body(created)["d"]
        items = body(await client.get(f"{API}/cashflow/Receivables", params={
            "$filter": f"EntryID eq guid'{cn['EntryID']}' or EntryID eq guid'{inv['EntryID']}'"}))["d"]["results"]
    assert cn["AmountFC"] == Decimal("-48.00") and cn["PaymentReference"] == str(inv["EntryNumber"])
    by_entry = {i["EntryID"]: i for i in items}
    assert by_entry[inv["EntryID"]]["AmountFC"] == invoice.balance - Decimal("48.00")
    assert by_entry[cn["EntryID"]]["AmountFC"] == 0 and by_entry[cn["EntryID"]]["YourRef"] == invoice.number


async def test_other_creates(emu: ExactOnlineEmulator) -> None:
    ledger = emu.ledgers[DIV]
    rent, accruals = ledger.gl_by_code("6000"), ledger.gl_by_code("2300")
    stock = ledger.gl_by_code("5000")
    assert rent and accruals and stock
    rep = {"Prefer": "return=representation"}
    async with client_for(emu) as client:
        supplier = await client.post(f"{API}/crm/Accounts", headers=rep, json={
            "Name": "New Supplier", "Code": "SUP-900", "IsSupplier": True, "PurchaseCurrency": "GBP"})
        sup = body(supplier)["d"]
        bill = await client.post(f"{API}/purchaseentry/PurchaseEntries", headers=rep, content=_dumps({
            "Supplier": sup["ID"], "EntryDate": "2026-01-05", "DueDate": "2026-02-04", "YourRef": "BILL-9001",
            "PurchaseEntryLines": [{"GLAccount": stock["ID"], "AmountFC": Decimal("250.00"), "VATCode": "S",
                                    "Quantity": Decimal("2.5"), "CostCenter": "200"}]}))
        order = await client.post(f"{API}/purchaseorder/PurchaseOrders", headers=rep, content=_dumps({
            "Supplier": sup["ID"], "OrderDate": "2026-01-05", "ReceiptDate": "2026-01-19", "YourRef": "PO-9001",
            "PurchaseOrderLines": [{"Description": "Paper", "Quantity": 3, "UnitPrice": Decimal("12.34"),
                                    "VATCode": "S", "GLAccount": stock["ID"]}]}))
        journal = await client.post(f"{API}/generaljournalentry/GeneralJournalEntries", headers=rep, content=_dumps({
            "JournalCode": "GJ", "GeneralJournalEntryLines": [
                {"GLAccount": rent["ID"], "AmountFC": Decimal("1234.56"), "Date": "2026-01-31",
                 "Description": "Rent accrual", "Notes": "JE-9001", "CostCenter": "300"},
                {"GLAccount": accruals["ID"], "AmountFC": Decimal("-1234.56"), "Date": "2026-01-31",
                 "Description": "Rent accrual", "Notes": "JE-9001"}]}))
    assert supplier.status_code == 201 and sup["Code"] == "SUP-900".rjust(18) and sup["IsSupplier"] is True
    assert bill.status_code == 201, bill.text
    assert body(bill)["d"]["AmountFC"] == Decimal("300.00") and body(bill)["d"]["Type"] == 30
    assert order.status_code == 201, order.text
    po = body(order)["d"]
    assert po["AmountFC"] == Decimal("44.42") and po["VATAmount"] == Decimal("7.40") and po["OrderStatus"] == 10
    assert po["PurchaseOrderLines"]["results"][0]["AmountFC"] == Decimal("37.02")
    assert journal.status_code == 201, journal.text
    je = body(journal)["d"]
    assert [line["AmountFC"] for line in je["GeneralJournalEntryLines"]["results"]] == [
        Decimal("1234.56"), Decimal("-1234.56")]
    assert je["JournalCode"] == "GJ" and je["FinancialYear"] == 2026 and je["FinancialPeriod"] == 1
    summary = emu.summary()
    books = emu.tenants[DIV].books
    assert summary["bills"]["count"] == len(books.bills) + 1
    assert summary["purchase_orders"]["count"] == len(books.purchase_orders) + 1
    assert summary["journal_entries"]["count"] == len(books.journal_entries) + 1
    assert summary["suppliers"]["count"] == len(books.suppliers) + 1


async def test_update_and_delete(emu: ExactOnlineEmulator, tiny_books: Books) -> None:
    ledger = emu.ledgers[DIV]
    paid = next(i for i in tiny_books.invoices if i.balance < i.total)
    paid_id = ledger.by_business[paid.id]
    customer = ledger.by_business["CUS-004"]
    gl = ledger.gl_by_code("4010")
    assert gl is not None
    async with client_for(emu) as client:
        put = await client.put(f"{API}/salesentry/SalesEntries(guid'{paid_id}')",
                               json={"Description": "Renamed", "DueDate": "2026-04-30"})
        assert put.status_code == 204 and put.content == b""
        entry = body(await client.get(f"{API}/salesentry/SalesEntries(guid'{paid_id}')"))["d"]
        assert entry["Description"] == "Renamed" and ms(entry["DueDate"]).date().isoformat() == "2026-04-30"
        assert ms(entry["Modified"]) > (paid.updated_at or datetime.min.replace(tzinfo=UTC))
        assert_error(await client.put(f"{API}/salesentry/SalesEntries(guid'{paid_id}')", json={"AmountFC": 1}), 400)
        assert "Can't delete" in assert_error(
            await client.delete(f"{API}/salesentry/SalesEntries(guid'{paid_id}')"), 400)
        assert "Can't delete" in assert_error(await client.delete(f"{API}/crm/Accounts(guid'{customer}')"), 400)
        fresh = await client.post(f"{API}/salesentry/SalesEntries", json={
            "Customer": customer, "SalesEntryLines": [{"GLAccount": gl["ID"], "AmountFC": 5}]})
        fresh_id = fresh.json()["d"]["EntryID"]
        assert (await client.delete(f"{API}/salesentry/SalesEntries(guid'{fresh_id}')")).status_code == 204
        assert_error(await client.get(f"{API}/salesentry/SalesEntries(guid'{fresh_id}')"), 404)
        gone = body(await client.get(f"{API}/cashflow/Receivables",
                                     params={"$filter": f"EntryID eq guid'{fresh_id}'"}))["d"]["results"]
        renamed = await client.put(f"{API}/crm/Accounts(guid'{customer}')", json={"Name": "Renamed Ltd"})
        account = body(await client.get(f"{API}/crm/Accounts(guid'{customer}')"))["d"]
    assert gone == [] and renamed.status_code == 204 and account["Name"] == "Renamed Ltd"


# --- expenses, summary, counting -------------------------------------------------------------------


async def test_expenses_are_purchase_entries_settled_at_once(emu: ExactOnlineEmulator, tiny_books: Books) -> None:
    async with client_for(emu) as client:
        entries = await fetch_all(client, f"{API}/purchaseentry/PurchaseEntries")
        payables = {p["EntryID"]: p for p in await fetch_all(client, f"{API}/cashflow/Payments")}
        bank_lines = await fetch_all(client, f"{API}/financialtransaction/BankEntryLines")
        journals = body(await client.get(f"{API}/financial/Journals", params={"$filter": "Type eq 12"}))["d"]
        bank_entries = {e["EntryID"]: e for e in await fetch_all(client, f"{API}/financialtransaction/BankEntries")}
    expenses = [e for e in entries if e["DueDate"] == e["EntryDate"] and payables[e["EntryID"]]["IsFullyPaid"]]
    assert sorted(e["YourRef"] for e in expenses) == sorted(x.number for x in tiny_books.expenses)
    journal_account = {j["Code"]: f"acc-{j['GLAccountCode']}" for j in journals["results"]}
    for expense in tiny_books.expenses:
        entry = next(e for e in expenses if e["YourRef"] == expense.number)
        assert entry["AmountFC"] == expense.total_amount
        settle = [line for line in bank_lines if line["OurRef"] == entry["EntryNumber"]
                  and line["GLAccountCode"] == "2100"]
        assert len(settle) == 1 and settle[0]["AmountFC"] == expense.total_amount
        assert ms(settle[0]["Date"]).date() == expense.transaction_date
        assert journal_account[bank_entries[settle[0]["EntryID"]]["JournalCode"]] == expense.account_id


def _sums(items: list[tuple[str, Decimal]]) -> dict[str, str]:
    totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for currency, amount in items:
        totals[currency] += amount
    return {k: str(v) for k, v in sorted(totals.items())}


def test_summary_matches_the_books(books: Books) -> None:
    emu = make_emulator([books])
    summary = emu.summary()
    expected = {
        "invoices": (books.invoices, [(i.currency, i.total) for i in books.invoices]),
        "bills": (books.bills, [(b.currency, b.total) for b in books.bills]),
        "credit_notes": (books.credit_notes, [(c.currency, c.total) for c in books.credit_notes]),
        "payments": (books.payments, [(p.currency, p.total_amount) for p in books.payments]),
        "bill_payments": (books.bill_payments, [(p.currency, p.total_amount) for p in books.bill_payments]),
        "expenses": (books.expenses, [(e.currency, e.total_amount) for e in books.expenses]),
        "purchase_orders": (books.purchase_orders, [(p.currency, p.total) for p in books.purchase_orders]),
        "journal_entries": (books.journal_entries, [
            (j.currency, sum((line.amount for line in j.line_items if line.type == PostingType.DEBIT), Decimal(0)))
            for j in books.journal_entries]),
    }
    for name, (records, amounts) in expected.items():
        assert summary[name] == {"count": len(records), "totals": _sums(amounts)}, name
    assert summary["customers"] == {"count": len(books.customers)}
    assert summary["suppliers"] == {"count": len(books.suppliers)}
    assert summary["ledger_accounts"] == {"count": len(books.ledger_accounts)}
    assert summary["tax_rates"] == {"count": len(books.tax_rates)}
    assert summary["bank_accounts"] == {"count": len(books.bank_accounts)}


def test_ids_are_deterministic(tiny_books: Books) -> None:
    first, second = make_emulator([tiny_books]), make_emulator([tiny_books])
    assert first.ledgers[DIV].by_business == second.ledgers[DIV].by_business
    assert first.ledgers[DIV].sets == second.ledgers[DIV].sets


async def test_requests_are_counted_per_kind(emu: ExactOnlineEmulator) -> None:
    guid = emu.ledgers[DIV].by_business["INV-0001"]
    async with client_for(emu) as client:
        await client.get(f"{API}/salesentry/SalesEntries")
        await client.get(f"{API}/salesentry/SalesEntries(guid'{guid}')")
        await client.get(f"{API}/cashflow/Receivables")
        await client.get("/api/v1/current/Me")
    assert emu.counter.by_kind["GET salesentry/SalesEntries"] == 2
    assert emu.counter.by_kind["GET cashflow/Receivables"] == 1
    assert emu.counter.by_kind["GET current/Me"] == 1


async def test_served_under_the_sandbox_mount(books: Books) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    emu = make_emulator([books])
    app = Starlette(routes=[Mount("/exact", app=emu.build_app())])
    info = emu.describe("http://sandbox/exact")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox",
                                 headers={"Authorization": f"Bearer {info['accessToken']}"}) as client:
        first = await client.get(f"{info['baseUrl']}/api/v1/{info['division']}/crm/Accounts", params={"$select": "ID"})
        d = body(first)["d"]
        nxt = await client.get(d["__next"])
    assert first.status_code == 200
    assert d["results"][0]["__metadata"]["uri"].startswith("http://sandbox/exact/api/v1/3100001/crm/Accounts(")
    assert d["__next"].startswith("http://sandbox/exact/api/v1/3100001/crm/Accounts?")
    assert nxt.status_code == 200 and body(nxt)["d"]["results"][0]["ID"] != d["results"][0]["ID"]


def test_new_records_are_stamped_after_every_book_instant(tiny_books: Books) -> None:
    emu = make_emulator([tiny_books])
    latest = max(i.updated_at for i in tiny_books.invoices if i.updated_at)
    assert emu.now() > latest + timedelta(days=1)


def _dumps(value: Any) -> str:
    """JSON with Decimals written exactly, as a careful Exact client sends amounts."""
    from ledgerql.sandbox.exact_online.odata import render

    return render(value)


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(_dumps(value))


async def test_injected_faults_answer_in_exact_format(emu: ExactOnlineEmulator) -> None:
    from ledgerql.sandbox.common import Faults

    async with client_for(emu) as client:
        emu.faults.set(Faults(error5xx=1.0))
        assert_error(await client.get(f"{API}/crm/Accounts"), 503)
        emu.faults.set(Faults(error429=1.0))
        limited = await client.get(f"{API}/crm/Accounts")
        assert_error(limited, 429)
        assert limited.headers["X-RateLimit-Minutely-Remaining"] == "0"
        emu.faults.set(Faults())
        assert (await client.get(f"{API}/crm/Accounts")).status_code == 200
