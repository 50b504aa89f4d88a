"""The NetSuite emulator, driven over HTTP as a NetSuite REST client would."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerql.sandbox.books import Books, BookSizes, generate_books
from ledgerql.sandbox.common import Faults, RateLimits, SandboxTenant
from ledgerql.sandbox.netsuite import NetSuiteEmulator

ACCOUNT = "TSTDRV1000001"
SLUG = "tstdrv1000001"
REST = f"/{SLUG}/services/rest"
REC = f"{REST}/record/v1"
SUITEQL = f"{REST}/query/v1/suiteql"


def make(books: list[Books], **kwargs: Any) -> NetSuiteEmulator:
    tenants = [SandboxTenant(NetSuiteEmulator.tenant_id_for(i), b) for i, b in enumerate(books)]
    return NetSuiteEmulator(tenants, **kwargs)


def client(emu: NetSuiteEmulator, tenant: str = ACCOUNT) -> httpx.AsyncClient:
    token = emu.grants[tenant].access_token
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()), base_url="http://sandbox",
                             headers={"Authorization": f"Bearer {token}"})


def body(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def assert_ns_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data = body(response)
    assert data["status"] == status
    assert data["type"].startswith("https://")
    assert data["title"]
    assert data["o:errorDetails"][0]["o:errorCode"] == code, data
    assert data["o:errorDetails"][0]["detail"]
    return data


async def suiteql(c: httpx.AsyncClient, q: str, limit: int = 1000, offset: int = 0) -> httpx.Response:
    return await c.post(f"{SUITEQL}?limit={limit}&offset={offset}", json={"q": q}, headers={"Prefer": "transient"})


async def all_rows(c: httpx.AsyncClient, q: str) -> list[dict[str, str]]:
    response = await suiteql(c, q)
    assert response.status_code == 200, response.text
    return list(body(response)["items"])


async def internal_id(c: httpx.AsyncClient, record_type: str, external_id: str) -> str:
    response = await c.get(f"{REC}/{record_type}/eid:{external_id}")
    assert response.status_code == 200, response.text
    return str(body(response)["id"])


@pytest.fixture(scope="module")
def big() -> NetSuiteEmulator:
    return make([generate_books(7)])


@pytest.fixture
def tiny() -> NetSuiteEmulator:
    return make([generate_books(7, BookSizes.tiny()), generate_books(8, BookSizes.tiny())])


@pytest.fixture
async def c(tiny: NetSuiteEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client(tiny) as http:
        yield http


# --- public names ----------------------------------------------------------------------------------------

def test_describe_and_tenants(tiny: NetSuiteEmulator) -> None:
    assert NetSuiteEmulator.tenant_id_for(0) == "TSTDRV1000001"
    assert NetSuiteEmulator.tenant_id_for(2) == "TSTDRV1000003"
    d = tiny.describe("http://host/netsuite")
    assert d["baseUrl"] == "http://host/netsuite/tstdrv1000001"
    assert d["accountId"] == ACCOUNT
    assert d["tenants"] == ["TSTDRV1000001", "TSTDRV1000002"]
    assert d["tokenUrl"] == "http://host/netsuite/tstdrv1000001/services/rest/auth/oauth2/v1/token"
    assert d["accessToken"] == tiny.grants[ACCOUNT].access_token
    assert d["refreshToken"] == tiny.grants[ACCOUNT].refresh_token
    assert d["clientId"] and d["clientSecret"]


def test_ids_are_deterministic() -> None:
    a = make([generate_books(7, BookSizes.tiny())])
    b = make([generate_books(7, BookSizes.tiny())])
    assert a.stores[ACCOUNT].records == b.stores[ACCOUNT].records
    assert sorted(a.stores[ACCOUNT].records["invoice"])[0] == "1001"


def test_summary_matches_books(big: NetSuiteEmulator) -> None:
    books = big.tenants[ACCOUNT].books
    summary = big.summary()

    def sums(items: list[Any], amount: Any) -> dict[str, str]:
        out: dict[str, Decimal] = {}
        for item in items:
            out[item.currency] = out.get(item.currency, Decimal("0.00")) + amount(item)
        return {k: str(v) for k, v in sorted(out.items())}

    expected = {
        "invoices": (books.invoices, lambda d: d.total), "bills": (books.bills, lambda d: d.total),
        "payments": (books.payments, lambda p: p.total_amount),
        "bill_payments": (books.bill_payments, lambda p: p.total_amount),
        "credit_notes": (books.credit_notes, lambda d: d.total),
        "expenses": (books.expenses, lambda e: e.total_amount),
        "purchase_orders": (books.purchase_orders, lambda d: d.total),
        "journal_entries": (books.journal_entries,
                            lambda j: sum((ln.amount for ln in j.line_items if ln.type.value == "DEBIT"), Decimal(0))),
    }
    for resource, (items, amount) in expected.items():
        assert summary[resource]["count"] == len(items), resource
        assert summary[resource]["totals"] == sums(items, amount), resource
    assert summary["customers"] == {"count": len(books.customers)}
    assert summary["suppliers"] == {"count": len(books.suppliers)}
    assert summary["ledger_accounts"] == {"count": len(books.ledger_accounts)}
    assert summary["tax_rates"] == {"count": len(books.tax_rates)}
    assert summary["bank_accounts"] == {"count": len(books.bank_accounts)}


# --- reads -----------------------------------------------------------------------------------------------

async def test_paging_to_the_last_row(big: NetSuiteEmulator) -> None:
    books = big.tenants[ACCOUNT].books
    seen: list[str] = []
    offset = 0
    async with client(big) as c:
        while True:
            response = await c.get(f"{REC}/invoice", params={"limit": 37, "offset": offset})
            assert response.status_code == 200
            page = body(response)
            assert set(page) == {"links", "count", "hasMore", "offset", "totalResults", "items"}
            assert page["offset"] == offset and page["totalResults"] == len(books.invoices)
            assert page["count"] == len(page["items"])
            for item in page["items"]:
                assert set(item) == {"links", "id"} and item["id"].isdigit()
                assert item["links"][0]["href"].endswith(f"/record/v1/invoice/{item['id']}")
            seen += [item["id"] for item in page["items"]]
            rels = {link["rel"] for link in page["links"]}
            if not page["hasMore"]:
                assert "next" not in rels
                break
            assert "next" in rels
            offset += 37
    assert len(seen) == len(set(seen)) == len(books.invoices)
    assert [int(i) for i in seen] == sorted(int(i) for i in seen)


async def test_invoice_record_keeps_every_book_value(big: NetSuiteEmulator) -> None:
    books = big.tenants[ACCOUNT].books
    inv = next(i for i in books.invoices if i.currency == "EUR" and len(i.line_items) > 1)
    customer = next(x for x in books.customers if x.id == inv.customer_id)
    async with client(big) as c:
        rid = await internal_id(c, "invoice", inv.id)
        collapsed = body(await c.get(f"{REC}/invoice/{rid}"))
        assert set(collapsed["item"]) == {"links"}
        rec = body(await c.get(f"{REC}/invoice/{rid}", params={"expandSubResources": "true"}))
    assert rec["id"] == rid and rec["externalId"] == inv.id and rec["tranId"] == inv.number
    assert rec["tranDate"] == inv.invoice_date.isoformat() and rec["dueDate"] == inv.due_date.isoformat()
    assert rec["entity"]["refName"] == customer.display_name
    assert rec["currency"]["refName"] == "EUR" and rec["exchangeRate"] == inv.exchange_rate
    assert (rec["subtotal"], rec["taxTotal"], rec["total"]) == (inv.sub_total, inv.total_tax, inv.total)
    assert rec["amountRemaining"] == inv.balance
    assert rec["status"]["id"] == ("B" if inv.balance == 0 else "A")
    assert rec["lastModifiedDate"] == inv.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = rec["item"]["items"]
    assert rec["item"]["count"] == len(inv.line_items)
    for line, book in zip(lines, inv.line_items, strict=True):
        assert line["description"] == book.description
        assert (line["quantity"], line["rate"], line["amount"]) == (book.quantity, book.unit_price, book.total_amount)
        assert line["tax1Amt"] == book.tax_amount
        assert line["account"]["refName"] == f"{books.account(book.account_id).nominal_code} " \
                                             f"{books.account(book.account_id).name}"
        assert line["taxCode"]["refName"] == books.tax_rate(book.tax_rate_id).code
        names = {t.id: t.name for t in books.tracking_categories}
        assert line["department"]["refName"] == names[book.tracking_category_ids[0]]
        if len(book.tracking_category_ids) > 1:
            assert line["location"]["refName"] == names[book.tracking_category_ids[1]]
            assert rec["location"]["refName"] == names[book.tracking_category_ids[1]]


async def test_reference_records(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    books = tiny.tenants[ACCOUNT].books
    page = body(await c.get(f"{REC}/account", params={"ids": ",".join(str(i) for i in range(1, 24)),
                                                       "expandRecords": "true"}))
    accounts = {a["acctNumber"]: a for a in page["items"]}
    assert len(accounts) == len(books.ledger_accounts)
    bank = accounts["1220"]
    assert bank["acctType"]["id"] == "Bank" and bank["currency"]["refName"] == "EUR"
    assert bank["sBankName"] == "HSBC" and bank["sBankCompanyId"] == "GB29HBUK40127612345678"
    assert accounts["1100"]["acctType"]["id"] == "AcctRec" and accounts["4000"]["acctName"] == "Sales - Services"
    taxes = body(await c.get(f"{REC}/salesTaxItem", params={"expandRecords": "true", "ids": "1,2,3"}))["items"]
    assert {(t["itemId"], t["description"], t["rate"]) for t in taxes} == {
        (t.code, t.name, t.rate) for t in books.tax_rates}
    company = body(await c.get(f"{REC}/subsidiary/1"))
    assert company["name"] == books.company.name and company["legalName"] == books.company.legal_name
    assert company["currency"]["refName"] == "GBP" and company["fiscalMonth"]["id"] == "1"
    departments = body(await c.get(f"{REC}/department", params={"expandRecords": "true", "ids": "1,2,3"}))
    assert [d["name"] for d in departments["items"]] == ["Sales", "Operations", "Administration"]
    assert "parent" not in departments["items"][0]


async def test_batch_by_ids(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    books = tiny.tenants[ACCOUNT].books
    ids = [await internal_id(c, "vendorBill", b.id) for b in books.bills[:3]]
    response = await c.get(f"{REC}/vendorBill", params={"ids": ",".join([ids[2], ids[0], "999999"]),
                                                         "expandRecords": "true"})
    page = body(response)
    assert page["totalResults"] == 2
    assert [r["id"] for r in page["items"]] == sorted([ids[2], ids[0]], key=int)
    assert {r["tranId"] for r in page["items"]} == {books.bills[0].number, books.bills[2].number}
    assert all("total" in r for r in page["items"])
    eids = body(await c.get(f"{REC}/vendorBill", params={"ids": f"eid:{books.bills[1].id}"}))
    assert [r["id"] for r in eids["items"]] == [ids[1]]


async def test_q_filter_and_modified_since(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    books = tiny.tenants[ACCOUNT].books
    instant = sorted(i.updated_at for i in books.invoices)[len(books.invoices) // 2]
    expected = {i.id for i in books.invoices if i.updated_at >= instant}
    q = f'lastModifiedDate ON_OR_AFTER "{instant.strftime("%Y-%m-%dT%H:%M:%SZ")}"'
    page = body(await c.get(f"{REC}/invoice", params={"q": q, "expandRecords": "true"}))
    assert {r["externalId"] for r in page["items"]} == expected
    # A write after the instant shows up; nothing else changes.
    target = next(i for i in books.invoices if i.balance > 0 and i.updated_at < instant)
    inv_id = await internal_id(c, "invoice", target.id)
    customer_id = await internal_id(c, "customer", target.customer_id or "")
    response = await c.post(f"{REC}/customerPayment", json={
        "customer": {"id": customer_id}, "payment": str(target.balance),
        "apply": {"items": [{"doc": {"id": inv_id}, "apply": True, "amount": float(target.balance)}]}})
    assert response.status_code == 204, response.text
    page = body(await c.get(f"{REC}/invoice", params={"q": q, "expandRecords": "true"}))
    assert {r["externalId"] for r in page["items"]} == expected | {target.id}
    # Date-only literal in the user's format, and AND / OR with parentheses.
    day = instant.strftime("%-m/%-d/%Y")
    page = body(await c.get(f"{REC}/invoice", params={"q": f'lastModifiedDate AFTER "{day}" AND '
                                                            f'(tranId IS "{target.number}" OR tranId IS "nope")'}))
    assert [r["id"] for r in page["items"]] == [inv_id]
    bad = await c.get(f"{REC}/invoice", params={"q": "lastModifiedDate SOMETIME 1"})
    assert_ns_error(bad, 400, "INVALID_PARAMETER")


# --- SuiteQL ---------------------------------------------------------------------------------------------

async def test_suiteql_envelope_formats_and_paging(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    books = tiny.tenants[ACCOUNT].books
    q = ("SELECT t.id, t.tranid, t.trandate, t.foreigntotal, t.foreignamountunpaid, t.status, c.entityid "
         "FROM transaction t JOIN customer c ON c.id = t.entity WHERE t.type = 'CustInvc' ORDER BY t.id")
    seen: list[dict[str, str]] = []
    offset = 0
    while True:
        page = body(await suiteql(c, q, limit=5, offset=offset))
        assert page["totalResults"] == len(books.invoices) and page["offset"] == offset
        seen += page["items"]
        if not page["hasMore"]:
            break
        offset += 5
    assert len(seen) == len(books.invoices) == len({r["id"] for r in seen})
    first = seen[0]
    inv = books.invoices[0]
    assert first["links"] == []
    assert first["tranid"] == inv.number
    assert first["trandate"] == f"{inv.invoice_date.month}/{inv.invoice_date.day}/{inv.invoice_date.year}"
    assert first["foreigntotal"] == str(inv.total) and first["foreignamountunpaid"] == str(inv.balance)
    assert first["entityid"] == next(x.display_name for x in books.customers if x.id == inv.customer_id)
    assert all(isinstance(v, str) for row in seen for k, v in row.items() if k != "links")
    totals = await all_rows(c, "SELECT SUM(foreigntotal) AS s, COUNT(*) AS n FROM transaction WHERE type = 'CustInvc'"
                               " AND currency = 1")
    gbp = [i.total for i in books.invoices if i.currency == "GBP"]
    assert totals == [{"links": [], "s": str(sum(gbp, Decimal("0.00"))), "n": str(len(gbp))}]
    big_ones = await all_rows(c, "SELECT id FROM transaction WHERE type IN ('CustInvc') AND foreigntotal > 1000")
    assert len(big_ones) == len([i for i in books.invoices if i.total > 1000])


async def test_suiteql_page_of_transactions_with_lines_and_applications(c: httpx.AsyncClient,
                                                                         tiny: NetSuiteEmulator) -> None:
    """A page of invoices with lines, tax, tracking and payments in three calls."""
    books = tiny.tenants[ACCOUNT].books
    tiny.counter.reset()
    header = await all_rows(c, "SELECT id, tranid FROM transaction WHERE type = 'CustInvc' ORDER BY id")
    ids = ",".join(r["id"] for r in header)
    lines = await all_rows(c, "SELECT tl.transaction, tl.id, tl.memo, tl.quantity, tl.rate, tl.foreignamount, "
                              "tl.creditforeignamount, tl.tax1amt, s.itemid AS taxcode, d.name AS department, "
                              "l.name AS location FROM transactionline tl "
                              "LEFT JOIN salestaxitem s ON s.id = tl.taxcode "
                              "LEFT JOIN department d ON d.id = tl.department "
                              "LEFT JOIN location l ON l.id = tl.location "
                              f"WHERE tl.mainline = 'F' AND tl.transaction IN ({ids}) ORDER BY tl.transaction, tl.id")
    links = await all_rows(c, "SELECT previousdoc, nextdoc, nexttype, foreignamount FROM previoustransactionlinelink"
                              f" WHERE previousdoc IN ({ids})")
    assert tiny.counter.by_kind["POST suiteql"] == 3
    by_number = {r["tranid"]: r["id"] for r in header}
    names = {t.id: t.name for t in books.tracking_categories}
    for inv in books.invoices:
        mine = [ln for ln in lines if ln["transaction"] == by_number[inv.number]]
        assert len(mine) == len(inv.line_items)
        for row, book in zip(mine, inv.line_items, strict=True):
            assert row["memo"] == book.description
            assert Decimal(row["quantity"]) == -book.quantity and row["rate"] == str(book.unit_price)
            assert row["foreignamount"] == str(-book.total_amount)
            assert row["creditforeignamount"] == str(book.total_amount)
            assert row["tax1amt"] == str(book.tax_amount)
            assert row["taxcode"] == books.tax_rate(book.tax_rate_id or "").code
            assert row["department"] == names[book.tracking_category_ids[0]]
            assert row.get("location") == (names[book.tracking_category_ids[1]]
                                           if len(book.tracking_category_ids) > 1 else None)
        applied = sum((Decimal(x["foreignamount"]) for x in links if x["previousdoc"] == by_number[inv.number]),
                      Decimal("0.00"))
        assert applied == inv.total - inv.balance


async def test_suiteql_modified_since_and_dates(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    books = tiny.tenants[ACCOUNT].books
    instant = sorted(b.updated_at for b in books.bills)[3]
    rows = await all_rows(c, "SELECT tranid, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS lm "
                             "FROM transaction WHERE type = 'VendBill' AND lastmodifieddate > "
                             f"TO_DATE('{instant.strftime('%Y-%m-%d %H:%M:%S')}', 'YYYY-MM-DD HH24:MI:SS')")
    assert {r["tranid"] for r in rows} == {b.number for b in books.bills if b.updated_at > instant}
    for row in rows:
        assert datetime.fromisoformat(row["lm"]).replace(tzinfo=UTC) > instant
    start = books.bills[2].bill_date
    rows = await all_rows(c, "SELECT tranid FROM transaction WHERE type = 'VendBill' AND trandate BETWEEN "
                             f"DATE '{start.isoformat()}' AND TO_DATE('12/31/2025', 'MM/DD/YYYY') AND memo IS NULL")
    assert {r["tranid"] for r in rows} == {b.number for b in books.bills if b.bill_date >= start}


async def test_suiteql_errors(c: httpx.AsyncClient) -> None:
    for q in ("DELETE FROM transaction", "SELECT * FROM transaction; DROP TABLE account", "SELECT * FROM nosuch",
              "SELECT nosuchcolumn FROM account", "SELECT FROM WHERE", "UPDATE account SET acctname = 'x'",
              "SELECT * FROM sqlite_master", "WITH x AS (SELECT 1) SELECT * FROM x"):
        assert_ns_error(await suiteql(c, q), 400, "INVALID_PARAMETER")
    no_prefer = await c.post(f"{SUITEQL}", json={"q": "SELECT id FROM account"})
    assert_ns_error(no_prefer, 400, "INVALID_HEADER")
    bad_json = await c.post(SUITEQL, content=b"{not json", headers={"Prefer": "transient"})
    assert_ns_error(bad_json, 400, "INVALID_CONTENT")
    assert_ns_error(await suiteql(c, "SELECT id FROM account", limit=5000), 400, "INVALID_PARAMETER")
    still = await all_rows(c, "SELECT COUNT(*) AS n FROM account -- every account\n")
    assert still[0]["n"] == "23"


# --- errors and auth ---------------------------------------------------------------------------------------

async def test_errors_in_netsuite_format(c: httpx.AsyncClient) -> None:
    assert_ns_error(await c.get(f"{REC}/spaceship"), 404, "INVALID_RCRD_TYPE")
    assert_ns_error(await c.get(f"{REC}/invoice/abc"), 400, "INVALID_ID")
    assert_ns_error(await c.get(f"{REC}/invoice/000"), 400, "INVALID_ID")
    assert_ns_error(await c.get(f"{REC}/invoice/999999"), 404, "NONEXISTENT_ID")
    assert_ns_error(await c.get(f"{REST}/nowhere"), 404, "NONEXISTENT_ID")
    assert_ns_error(await c.put(f"{REC}/invoice/1001", json={}), 405, "METHOD_NOT_ALLOWED")
    assert_ns_error(await c.post(f"{REC}/invoice", content=b"{oops"), 400, "INVALID_CONTENT")
    assert_ns_error(await c.post(f"{REC}/invoice", content=b"[1, 2]"), 400, "INVALID_CONTENT")
    assert_ns_error(await c.get(f"{REC}/invoice", params={"limit": "0"}), 400, "INVALID_PARAMETER")
    assert_ns_error(await c.get(f"{REC}/invoice", params={"offset": "x"}), 400, "INVALID_PARAMETER")


async def test_expired_and_foreign_tokens(tiny: NetSuiteEmulator) -> None:
    async with client(tiny) as c:
        assert (await c.get(f"{REC}/invoice")).status_code == 200
        # The token of one account does not open another account.
        other = await c.get("/tstdrv1000002/services/rest/record/v1/invoice")
        assert_ns_error(other, 401, "INVALID_LOGIN")
        tiny.oauth.expire_access_tokens()
        assert_ns_error(await c.get(f"{REC}/invoice"), 401, "INVALID_LOGIN")
        assert_ns_error(await suiteql(c, "SELECT id FROM account"), 401, "INVALID_LOGIN")
    async with client(tiny, "TSTDRV1000002") as c2:
        assert_ns_error(await c2.get("/tstdrv1000002/services/rest/record/v1/invoice"), 401, "INVALID_LOGIN")


async def test_token_refresh_rules(tiny: NetSuiteEmulator) -> None:
    d = tiny.describe("http://sandbox")
    basic = base64.b64encode(f"{d['clientId']}:{d['clientSecret']}".encode()).decode()
    token_path = f"/{SLUG}/services/rest/auth/oauth2/v1/token"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tiny.build_app()),
                                 base_url="http://sandbox") as http:
        form = {"grant_type": "refresh_token", "refresh_token": d["refreshToken"]}
        wrong = await http.post(token_path, data=form, headers={"Authorization": "Basic " + base64.b64encode(
            b"netsuite-client:nope").decode()})
        assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
        bad_grant = await http.post(token_path, data={**form, "grant_type": "password"},
                                    headers={"Authorization": f"Basic {basic}"})
        assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "unsupported_grant_type"
        other_account = await http.post("/tstdrv1000002/services/rest/auth/oauth2/v1/token", data=form,
                                        headers={"Authorization": f"Basic {basic}"})
        assert other_account.status_code == 400 and other_account.json()["error"] == "invalid_grant"

        tiny.clock.advance(3 * 24 * 3600)  # access token long expired, refresh token still valid
        first = await http.post(token_path, data=form, headers={"Authorization": f"Basic {basic}"})
        assert first.status_code == 200, first.text
        grant = first.json()
        assert grant["token_type"] == "bearer" and grant["expires_in"] == "3600" and "refresh_token" not in grant
        ok = await http.get(f"{REC}/customer", headers={"Authorization": f"Bearer {grant['access_token']}"})
        assert ok.status_code == 200
        assert tiny.describe("http://sandbox")["accessToken"] == grant["access_token"]
        # Not rotated: the same refresh token works again, and the previous access token stops working.
        second = await http.post(token_path, data=form, headers={"Authorization": f"Basic {basic}"})
        assert second.status_code == 200
        old = await http.get(f"{REC}/customer", headers={"Authorization": f"Bearer {grant['access_token']}"})
        assert old.status_code == 401
        # Seven days after issue the refresh token is dead, however often it was used.
        tiny.clock.advance(4 * 24 * 3600 + 1)
        dead = await http.post(token_path, data=form, headers={"Authorization": f"Basic {basic}"})
        assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"


async def test_concurrency_limit_429() -> None:
    emu = make([generate_books(7, BookSizes.tiny())], limits=RateLimits(concurrent=1),
               faults=Faults(timeout=1.0, timeoutMs=300, seed=1))
    async with client(emu) as c:
        slow = asyncio.create_task(c.get(f"{REC}/customer"))
        await asyncio.sleep(0.05)
        blocked = await c.get(f"{REC}/customer")
        data = assert_ns_error(blocked, 429, "CONCURRENCY_LIMIT_EXCEEDED")
        assert data["title"] == "Too Many Requests"
        assert "retry-after" not in blocked.headers
        assert (await slow).status_code == 200
        emu.faults.set(Faults())
        assert (await c.get(f"{REC}/customer")).status_code == 200
    assert emu.limiter.rejected == 1


async def test_limits_can_be_switched_off() -> None:
    emu = make([generate_books(7, BookSizes.tiny())], limits=RateLimits(concurrent=0, enabled=False))
    async with client(emu) as c:
        assert (await c.get(f"{REC}/customer")).status_code == 200
    emu2 = make([generate_books(7, BookSizes.tiny())], limits=RateLimits(concurrent=0))
    async with client(emu2) as c:
        assert_ns_error(await c.get(f"{REC}/customer"), 429, "CONCURRENCY_LIMIT_EXCEEDED")


# --- writes ------------------------------------------------------------------------------------------------

async def test_create_invoice_then_pay_it(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    books = tiny.tenants[ACCOUNT].books
    customer = await internal_id(c, "customer", books.customers[0].id)
    account = await internal_id(c, "account", "acc-4000")
    tax = await internal_id(c, "salesTaxItem", "tax-S")
    dept = await internal_id(c, "department", "trk-department-sales")
    loc = await internal_id(c, "location", "trk-location-london")
    before = tiny.clock.now()
    # Raw JSON text: the amounts travel as exact decimal literals.
    line = (f'{{"account": {{"id": "{account}"}}, "description": "Widgets", "quantity": 3, "rate": 33.33, '
            f'"taxCode": {{"id": "{tax}"}}, "department": {{"id": "{dept}"}}}}')
    payload = (f'{{"entity": {{"id": "{customer}"}}, "tranDate": "2026-02-01", "dueDate": "2026-03-03", '
               f'"location": {{"id": "{loc}"}}, "item": {{"items": [{line}]}}}}')
    created = await c.post(f"{REC}/invoice", content=payload)
    assert created.status_code == 204 and created.content == b""
    location = created.headers["location"]
    assert location.startswith(f"http://sandbox/{SLUG}/services/rest/record/v1/invoice/")
    new_id = location.rsplit("/", 1)[1]
    rec = body(await c.get(f"{REC}/invoice/{new_id}", params={"expandSubResources": "true"}))
    assert rec["total"] == Decimal("119.99") and rec["subtotal"] == Decimal("99.99")
    assert rec["taxTotal"] == Decimal("20.00") and rec["amountRemaining"] == Decimal("119.99")
    assert rec["tranId"].startswith("INV-") and rec["status"]["id"] == "A"
    assert rec["item"]["items"][0]["location"]["id"] == loc and rec["item"]["items"][0]["department"]["id"] == dept
    assert datetime.fromisoformat(rec["lastModifiedDate"].replace("Z", "+00:00")).timestamp() >= int(before)

    tiny.clock.advance(60)
    paid = await c.post(f"{REC}/customerPayment", json={
        "customer": {"id": customer}, "tranDate": "2026-02-10", "payment": 119.99,
        "apply": {"items": [{"doc": {"id": new_id}, "apply": True, "amount": 119.99}]}})
    assert paid.status_code == 204, paid.text
    after = body(await c.get(f"{REC}/invoice/{new_id}"))
    assert after["amountRemaining"] == Decimal("0.00") and after["status"] == {"id": "B", "refName": "Paid In Full"}
    assert after["lastModifiedDate"] > rec["lastModifiedDate"]
    payment = body(await c.get(paid.headers["location"].split("/sandbox", 1)[1], params={"expandSubResources": "true"}))
    assert payment["applied"] == Decimal("119.99") and payment["unapplied"] == Decimal("0.00")
    assert payment["apply"]["items"][0]["doc"]["id"] == new_id
    rows = await all_rows(c, f"SELECT foreignamountunpaid, status FROM transaction WHERE id = {new_id}")
    assert rows[0]["foreignamountunpaid"] == "0.00" and rows[0]["status"] == "B"
    link = await all_rows(c, "SELECT nextdoc, foreignamount FROM previoustransactionlinelink "
                             f"WHERE previousdoc = {new_id}")
    assert link == [{"links": [], "nextdoc": payment["id"], "foreignamount": "119.99"}]
    overpay = await c.post(f"{REC}/customerPayment", json={
        "customer": {"id": customer}, "payment": 5, "apply": {"items": [{"doc": {"id": new_id}, "amount": 5}]}})
    assert_ns_error(overpay, 400, "USER_ERROR")


async def test_validation_writes_nothing(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    store = tiny.stores[ACCOUNT]
    counts = {t: len(r) for t, r in store.records.items()}
    account = await internal_id(c, "account", "acc-4000")
    unknown_customer = await c.post(f"{REC}/invoice", json={
        "entity": {"id": "99999"}, "item": {"items": [{"account": {"id": account}, "amount": 10}]}})
    data = assert_ns_error(unknown_customer, 400, "USER_ERROR")
    assert data["o:errorDetails"][0]["o:errorPath"] == "entity"
    customer = await internal_id(c, "customer", tiny.tenants[ACCOUNT].books.customers[0].id)
    unknown_account = await c.post(f"{REC}/invoice", json={
        "entity": {"id": customer}, "item": {"items": [{"account": {"id": "424242"}, "amount": 10}]}})
    assert_ns_error(unknown_account, 400, "USER_ERROR")
    no_lines = await c.post(f"{REC}/invoice", json={"entity": {"id": customer}})
    assert_ns_error(no_lines, 400, "USER_ERROR")
    unbalanced = await c.post(f"{REC}/journalEntry", json={"line": {"items": [
        {"account": {"id": "1"}, "debit": 100.01}, {"account": {"id": "2"}, "credit": 100}]}})
    assert "out of balance" in assert_ns_error(unbalanced, 400, "USER_ERROR")["o:errorDetails"][0]["detail"]
    wrong_party = await c.post(f"{REC}/customerPayment", json={
        "customer": {"id": customer}, "payment": 1,
        "apply": {"items": [{"doc": {"id": str(max(int(i) for i in store.records['vendorBill']))}, "amount": 1}]}})
    assert_ns_error(wrong_party, 400, "USER_ERROR")
    assert {t: len(r) for t, r in store.records.items()} == counts
    rows = await all_rows(c, "SELECT COUNT(*) AS n FROM transaction")
    assert rows[0]["n"] == str(sum(counts[t] for t in ("invoice", "vendorBill", "creditMemo", "customerPayment",
                                                          "vendorPayment", "expenseReport", "purchaseOrder",
                                                          "journalEntry")))


async def test_idempotent_create(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    vendor = await internal_id(c, "vendor", tiny.tenants[ACCOUNT].books.suppliers[0].id)
    payload = {"entity": {"id": vendor}, "tranId": "SUP-991", "tranDate": "2026-03-01",
               "expense": {"items": [{"account": {"externalId": "acc-6400"}, "amount": 200.0, "memo": "Paper",
                                      "taxCode": {"externalId": "tax-S"}}]}}
    key = {"X-NetSuite-Idempotency-Key": "0f8fad5b-d9cb-469f-a165-70867728950e"}
    before = len(tiny.stores[ACCOUNT].records["vendorBill"])
    first = await c.post(f"{REC}/vendorBill", json=payload, headers=key)
    second = await c.post(f"{REC}/vendorBill", json=payload, headers=key)
    assert first.status_code == second.status_code == 204
    assert first.headers["location"] == second.headers["location"]
    assert len(tiny.stores[ACCOUNT].records["vendorBill"]) == before + 1
    clash = await c.post(f"{REC}/vendorBill", json={**payload, "tranId": "OTHER"}, headers=key)
    assert clash.status_code == 409 and body(clash)["o:errorDetails"][0]["o:errorCode"]
    bill = body(await c.get(first.headers["location"].split("/sandbox", 1)[1]))
    assert bill["tranId"] == "SUP-991" and bill["total"] == Decimal("240.00") and bill["balance"] == Decimal("240.00")
    no_key = await c.post(f"{REC}/vendorBill", json=payload)
    assert no_key.headers["location"] != first.headers["location"]


async def test_bill_payment_credit_memo_and_other_creates(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    books = tiny.tenants[ACCOUNT].books
    bill = next(b for b in books.bills if b.balance > 0)
    bill_id = await internal_id(c, "vendorBill", bill.id)
    vendor = await internal_id(c, "vendor", bill.supplier_id or "")
    bank = await internal_id(c, "account", "acc-1200" if bill.currency == "GBP" else "acc-1220")
    part = (bill.balance / 2).quantize(Decimal("0.01"))
    paid = await c.post(f"{REC}/vendorPayment", json={
        "entity": {"id": vendor}, "account": {"id": bank},
        "apply": {"items": [{"doc": {"id": bill_id}, "apply": True, "amount": str(part)}]}})
    assert paid.status_code == 204, paid.text
    after = body(await c.get(f"{REC}/vendorBill/{bill_id}"))
    assert after["balance"] == bill.balance - part and after["status"]["id"] == "A"

    inv = next(i for i in books.invoices if i.balance > 10)
    inv_id = await internal_id(c, "invoice", inv.id)
    customer = await internal_id(c, "customer", inv.customer_id or "")
    credit = await c.post(f"{REC}/creditMemo", json={
        "entity": {"id": customer}, "item": {"items": [{"account": {"externalId": "acc-4000"}, "amount": 10}]},
        "apply": {"items": [{"doc": {"id": inv_id}, "apply": True, "amount": 10}]}})
    assert credit.status_code == 204, credit.text
    memo = body(await c.get(credit.headers["location"].split("/sandbox", 1)[1], params={"expandSubResources": "true"}))
    assert memo["applied"] == Decimal("10") and memo["status"]["id"] == "B"
    assert body(await c.get(f"{REC}/invoice/{inv_id}"))["amountRemaining"] == inv.balance - 10

    journal = await c.post(f"{REC}/journalEntry", json={"tranDate": "2026-01-31", "memo": "Accrual", "line": {"items": [
        {"account": {"externalId": "acc-6000"}, "debit": 100.10, "memo": "Accrual",
         "department": {"externalId": "trk-department-operations"}},
        {"account": {"externalId": "acc-2300"}, "credit": 100.10, "memo": "Accrual"}]}})
    assert journal.status_code == 204, journal.text
    je = body(await c.get(journal.headers["location"].split("/sandbox", 1)[1], params={"expandSubResources": "true"}))
    assert [ln.get("debit") for ln in je["line"]["items"]] == [Decimal("100.10"), None]
    assert je["line"]["items"][0]["department"]["refName"] == "Operations"

    expense = await c.post(f"{REC}/expenseReport", json={
        "entity": {"id": vendor}, "account": {"externalId": "acc-1200"}, "tranDate": "2026-01-05",
        "expense": {"items": [{"expenseaccount": {"externalId": "acc-6200"}, "amount": 42.5, "memo": "Taxi",
                               "taxCode": {"externalId": "tax-Z"}}]}})
    assert expense.status_code == 204, expense.text
    rep = body(await c.get(expense.headers["location"].split("/sandbox", 1)[1], params={"expandSubResources": "true"}))
    assert rep["total"] == Decimal("42.50") and rep["account"]["refName"] == "1200 Business Current Account"
    assert rep["expense"]["items"][0]["expenseaccount"]["refName"] == "6200 Travel"

    order = await c.post(f"{REC}/purchaseOrder", json={
        "entity": {"id": vendor}, "dueDate": "2026-02-14",
        "expense": {"items": [{"account": {"externalId": "acc-5000"}, "quantity": 4, "rate": 2.5}]}})
    assert order.status_code == 204, order.text
    po = body(await c.get(order.headers["location"].split("/sandbox", 1)[1]))
    assert po["total"] == Decimal("10.00") and po["status"]["refName"] == "Pending Receipt"

    new_customer = await c.post(f"{REC}/customer", json={"entityId": "Zephyr Labs", "companyName": "Zephyr Labs Ltd",
                                                         "email": "ap@zephyr.example", "currency": {"id": "2"}})
    assert new_customer.status_code == 204
    cust = body(await c.get(new_customer.headers["location"].split("/sandbox", 1)[1]))
    assert cust["entityId"] == "Zephyr Labs" and cust["currency"]["refName"] == "EUR"
    duplicate = await c.post(f"{REC}/customer", json={"entityId": "zephyr labs"})
    assert "already exists" in assert_ns_error(duplicate, 400, "USER_ERROR")["o:errorDetails"][0]["detail"]
    supplier = await c.post(f"{REC}/vendor", json={"companyName": "Quarry Stone"})
    assert supplier.status_code == 204


async def test_patch_and_delete(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    books = tiny.tenants[ACCOUNT].books
    cust_id = await internal_id(c, "customer", books.customers[1].id)
    tiny.clock.advance(5)
    patched = await c.patch(f"{REC}/customer/{cust_id}", json={"email": "new@example.com"})
    assert patched.status_code == 204
    cust = body(await c.get(f"{REC}/customer/{cust_id}"))
    assert cust["email"] == "new@example.com" and cust["lastModifiedDate"].startswith("20")
    assert (await all_rows(c, f"SELECT email FROM customer WHERE id = {cust_id}"))[0]["email"] == "new@example.com"
    # An invoice with payments cannot be deleted; its payment can, which reopens the invoice.
    inv = next(i for i in books.invoices if i.balance == 0 and not any(
        a.document_id == i.id for cn in books.credit_notes for a in cn.allocations))
    inv_id = await internal_id(c, "invoice", inv.id)
    assert_ns_error(await c.delete(f"{REC}/invoice/{inv_id}"), 400, "USER_ERROR")
    pays = [p for p in books.payments if any(a.document_id == inv.id for a in p.allocations)]
    for p in pays:
        pid = await internal_id(c, "customerPayment", p.id)
        assert (await c.delete(f"{REC}/customerPayment/{pid}")).status_code == 204
        assert (await c.get(f"{REC}/customerPayment/{pid}")).status_code == 404
    reopened = body(await c.get(f"{REC}/invoice/{inv_id}"))
    assert reopened["amountRemaining"] == inv.total and reopened["status"]["id"] == "A"
    assert (await c.delete(f"{REC}/invoice/{inv_id}")).status_code == 204
    assert (await all_rows(c, f"SELECT COUNT(*) AS n FROM transactionline WHERE transaction = {inv_id}"))[0]["n"] == "0"


async def test_request_kinds(c: httpx.AsyncClient, tiny: NetSuiteEmulator) -> None:
    tiny.counter.reset()
    await c.get(f"{REC}/invoice")
    await c.get(f"{REC}/invoice/1001")
    await suiteql(c, "SELECT id FROM account")
    assert tiny.counter.by_kind == {"GET invoice": 1, "GET invoice/id": 1, "POST suiteql": 1}


async def test_second_tenant_has_its_own_books(tiny: NetSuiteEmulator) -> None:
    second = tiny.tenants["TSTDRV1000002"].books
    async with client(tiny, "TSTDRV1000002") as c:
        rows = await c.post("/tstdrv1000002/services/rest/query/v1/suiteql", json={
            "q": "SELECT tranid, foreigntotal FROM transaction WHERE type = 'CustInvc' ORDER BY id"},
            headers={"Prefer": "transient"})
        assert [(r["tranid"], r["foreigntotal"]) for r in body(rows)["items"]] == [
            (i.number, str(i.total)) for i in second.invoices]
