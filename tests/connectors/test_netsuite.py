"""The NetSuite connector, through GraphQL over HTTP against the in-process NetSuite emulator.

Everything is compared with the generated books by business keys (document numbers, account codes,
contact names, tax codes, tracking names): NetSuite's internal ids are its own.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledgerql.connectors.base import ListFilter
from ledgerql.model.enums import Operation, Resource, Source
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.sandbox.books import Books
from ledgerql.sandbox.common import Faults
from tests.harness import GatewayHarness, connection_id

CID = connection_id("NETSUITE")
PROVIDER = "NETSUITE"

LINE = """lineItems { id description quantity unitPrice totalAmount taxAmount account { nominalCode }
                      taxRate { code rate } trackingCategories { name parent { name } } }"""


@pytest.fixture
async def gw() -> AsyncIterator[GatewayHarness]:
    async with GatewayHarness.start() as harness:
        yield harness


def books_of(gw: GatewayHarness) -> Books:
    return gw.sandboxes.books[0]


def emulator(gw: GatewayHarness) -> Any:
    return gw.sandboxes.emulators[PROVIDER]


def s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


async def list_all(gw: GatewayHarness, field: str, selection: str, first: int = 100,
                   filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = await gw.query(
            f"""query($c: ID!, $first: Int!, $after: String, $filter: {_filter_type(field)}) {{
                connection(id: $c) {{ {field}(first: $first, after: $after, filter: $filter) {{
                    nodes {{ {selection} }} pageInfo {{ hasNextPage endCursor }} }} }} }}""",
            {"c": CID, "first": first, "after": after, "filter": filter})
        page = data["connection"][field]
        nodes.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _filter_type(field: str) -> str:
    return {"invoices": "InvoiceFilter", "bills": "BillFilter", "payments": "CustomerDocumentFilter",
            "creditNotes": "CustomerDocumentFilter", "billPayments": "SupplierDocumentFilter",
            "expenses": "SupplierDocumentFilter", "purchaseOrders": "SupplierDocumentFilter",
            "journalEntries": "DatedFilter"}.get(field, "ReferenceFilter")


def expected_lines(books: Books, lines: list[Any]) -> list[dict[str, Any]]:
    names = {t.id: t.name for t in books.tracking_categories}
    parents = {t.id: t.parent_id for t in books.tracking_categories}
    return [{"id": line.id, "description": line.description, "quantity": s(line.quantity),
             "unitPrice": s(line.unit_price), "totalAmount": s(line.total_amount), "taxAmount": s(line.tax_amount),
             "account": {"nominalCode": books.account(line.account_id).nominal_code},
             "taxRate": {"code": books.tax_rate(line.tax_rate_id).code,
                         "rate": s(books.tax_rate(line.tax_rate_id).rate)},
             "trackingCategories": [{"name": names[t], "parent": {"name": names[parents[t] or ""]}}
                                    for t in line.tracking_category_ids]}
            for line in lines]


def instant(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


# --- reference data ------------------------------------------------------------------------------


async def test_reference_lists_match_books(gw: GatewayHarness) -> None:
    books = books_of(gw)
    accounts = await list_all(gw, "ledgerAccounts", "id nominalCode name type status currency updatedAt")
    assert sorted((a["nominalCode"], a["name"], a["type"], a["status"], a["currency"]) for a in accounts) == sorted(
        (a.nominal_code, a.name, a.type.value, a.status.value, a.currency) for a in books.ledger_accounts)
    assert all(a["updatedAt"] == instant(books.ledger_accounts[0].updated_at) for a in accounts)

    for field, contacts in (("customers", books.customers), ("suppliers", books.suppliers)):
        got = await list_all(gw, field, "id displayName companyName email status currency updatedAt")
        assert sorted((c["displayName"], c["companyName"], c["email"], c["status"], c["currency"], c["updatedAt"])
                      for c in got) == sorted(
            (c.display_name, c.company_name, c.email, c.status.value, c.currency, instant(c.updated_at))
            for c in contacts)

    rates = await list_all(gw, "taxRates", "id code name rate")
    assert sorted((r["code"], r["name"], r["rate"]) for r in rates) == sorted(
        (t.code, t.name, str(t.rate)) for t in books.tax_rates)

    tracking = await list_all(gw, "trackingCategories", "id name status parent { id name }")
    got_tracking = sorted((t["name"], t["parent"]["name"] if t["parent"] else None) for t in tracking)
    names = {t.id: t.name for t in books.tracking_categories}
    assert got_tracking == sorted((t.name, names[t.parent_id] if t.parent_id else None)
                                  for t in books.tracking_categories)
    roots = {t["name"]: t["id"] for t in tracking if t["parent"] is None}
    assert roots == {"Department": "dimension:department", "Location": "dimension:location"}

    departments = await list_all(gw, "departments", "id name status")
    assert sorted(d["name"] for d in departments) == sorted(t.name for t in books.departments)
    locations = await list_all(gw, "locations", "id name status")
    assert sorted(d["name"] for d in locations) == sorted(t.name for t in books.locations)

    subsidiaries = await list_all(gw, "subsidiaries", "id name currency status")
    assert [(x["name"], x["currency"], x["status"]) for x in subsidiaries] == [
        (books.company.name, books.company.base_currency, "ACTIVE")]

    banks = await list_all(gw, "bankAccounts", "id name currency institutionName accountNumber "
                                               "ledgerAccount { id nominalCode name }")
    assert sorted((b["name"], b["currency"], b["institutionName"], b["accountNumber"],
                   b["ledgerAccount"]["nominalCode"]) for b in banks) == sorted(
        (b.name, b.currency, b.institution_name, b.account_number,
         books.account(b.ledger_account_id or "").nominal_code) for b in books.bank_accounts)
    assert all(b["ledgerAccount"]["id"] == b["id"] for b in banks)


async def test_company_info_is_the_root_subsidiary(gw: GatewayHarness) -> None:
    books = books_of(gw)
    connector = gw.demo.gateway.connector(CID)
    gw.reset_counts()
    page = await connector.list_page(Resource.COMPANY_INFO, ListFilter(), None, 1)
    assert gw.upstream_calls(PROVIDER) == 1
    [company] = page.records
    assert (company.name, company.legal_name, company.base_currency, company.country,  # type: ignore[attr-defined]
            company.fiscal_year_start_month) == (  # type: ignore[attr-defined]
        books.company.name, books.company.legal_name, "GBP", "GB", 1)


async def test_reference_by_id_fields(gw: GatewayHarness) -> None:
    accounts = await list_all(gw, "ledgerAccounts", "id nominalCode name")
    tracking = await list_all(gw, "trackingCategories", "id name")
    departments = await list_all(gw, "departments", "id name")
    rates = await list_all(gw, "taxRates", "id code")
    suppliers = await list_all(gw, "suppliers", "id displayName")
    banks = await list_all(gw, "bankAccounts", "id name")
    subsidiaries = await list_all(gw, "subsidiaries", "id name")
    data = await gw.query(
        """query($c: ID!, $a: ID!, $t: ID!, $r: ID!, $s: ID!, $d: ID!, $b: ID!, $x: ID!) { connection(id: $c) {
            ledgerAccount(id: $a) { nominalCode name } trackingCategory(id: $t) { name parent { name } }
            root: trackingCategory(id: "dimension:location") { name parent { id } }
            taxRate(id: $r) { code } supplier(id: $s) { displayName } department(id: $d) { name }
            bankAccount(id: $b) { name } subsidiary(id: $x) { name } } }""",
        {"c": CID, "a": accounts[5]["id"], "t": tracking[-1]["id"], "r": rates[2]["id"], "s": suppliers[3]["id"],
         "d": departments[1]["id"], "b": banks[0]["id"], "x": subsidiaries[0]["id"]})
    conn = data["connection"]
    assert conn["ledgerAccount"] == {"nominalCode": accounts[5]["nominalCode"], "name": accounts[5]["name"]}
    assert conn["trackingCategory"]["name"] == tracking[-1]["name"]
    assert conn["trackingCategory"]["parent"]["name"] in ("Department", "Location")
    assert conn["root"] == {"name": "Location", "parent": None}
    assert conn["taxRate"] == {"code": rates[2]["code"]}
    assert conn["supplier"] == {"displayName": suppliers[3]["displayName"]}
    assert conn["department"] == {"name": departments[1]["name"]}
    assert conn["bankAccount"] == {"name": banks[0]["name"]}
    assert conn["subsidiary"] == {"name": subsidiaries[0]["name"]}

    body = await gw.execute('query($c: ID!) { connection(id: $c) { customer(id: "999999") { id } } }', {"c": CID})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# --- documents -----------------------------------------------------------------------------------


async def test_invoices_match_books_with_references(gw: GatewayHarness) -> None:
    books = books_of(gw)
    nodes = await list_all(gw, "invoices", f"""id number invoiceDate dueDate status currency exchangeRate subTotal
        totalTax total balance updatedAt customer {{ displayName }} {LINE}
        payments {{ reference totalAmount allocations {{ amount invoice {{ number }} }} }}
        creditNotes {{ number balance }}""")
    assert len(nodes) == len(books.invoices)
    by_number = {n["number"]: n for n in nodes}
    customers = {c.id: c.display_name for c in books.customers}
    payments_of: dict[str, list[str]] = {}
    for p in books.payments:
        for a in p.allocations:
            payments_of.setdefault(a.document_id, []).append(p.reference or "")
    credits_of: dict[str, list[str]] = {}
    for cn in books.credit_notes:
        for a in cn.allocations:
            credits_of.setdefault(a.document_id, []).append(cn.number or "")
    for inv in books.invoices:
        got = by_number[inv.number or ""]
        assert (got["invoiceDate"], got["dueDate"], got["status"], got["currency"], got["exchangeRate"]) == (
            inv.invoice_date.isoformat(), inv.due_date.isoformat() if inv.due_date else None, inv.status.value,
            inv.currency, s(inv.exchange_rate)), inv.number
        assert (got["subTotal"], got["totalTax"], got["total"], got["balance"]) == (
            s(inv.sub_total), s(inv.total_tax), s(inv.total), s(inv.balance)), inv.number
        assert got["updatedAt"] == instant(inv.updated_at)
        assert got["customer"] == {"displayName": customers[inv.customer_id or ""]}
        assert got["lineItems"] == expected_lines(books, inv.line_items), inv.number
        assert sorted(p["reference"] for p in got["payments"]) == sorted(payments_of.get(inv.id, []))
        for payment in got["payments"]:
            assert inv.number in [a["invoice"]["number"] for a in payment["allocations"]]
        assert sorted(c["number"] for c in got["creditNotes"]) == sorted(credits_of.get(inv.id, []))
    # Every status the books hold is reproduced (paid, partly paid, open; euro documents too).
    assert {n["status"] for n in nodes} == {"PAID", "PARTIALLY_PAID", "AUTHORISED"}
    assert {n["exchangeRate"] for n in nodes} == {None, "0.8500"}


async def test_bills_and_bill_payments_match_books(gw: GatewayHarness) -> None:
    books = books_of(gw)
    nodes = await list_all(gw, "bills", f"""id number billDate dueDate status currency exchangeRate subTotal totalTax
        total balance updatedAt supplier {{ displayName }} {LINE}
        payments {{ reference allocations {{ amount bill {{ number }} }} }}""")
    by_number = {n["number"]: n for n in nodes}
    suppliers = {c.id: c.display_name for c in books.suppliers}
    assert len(nodes) == len(books.bills)
    for bill in books.bills:
        got = by_number[bill.number or ""]
        assert (got["billDate"], got["status"], got["currency"], got["exchangeRate"], got["subTotal"],
                got["totalTax"], got["total"], got["balance"], got["updatedAt"]) == (
            bill.bill_date.isoformat(), bill.status.value, bill.currency, s(bill.exchange_rate), s(bill.sub_total),
            s(bill.total_tax), s(bill.total), s(bill.balance), instant(bill.updated_at)), bill.number
        assert got["supplier"] == {"displayName": suppliers[bill.supplier_id or ""]}
        assert got["lineItems"] == expected_lines(books, bill.line_items), bill.number
        paid = sum((Decimal(a["amount"]) for p in got["payments"] for a in p["allocations"]
                    if a["bill"]["number"] == bill.number), Decimal("0.00"))
        assert paid == bill.total - bill.balance, bill.number

    bill_numbers = {b.id: b.number for b in books.bills}
    bank_codes = {a.id: a.nominal_code for a in books.ledger_accounts}
    payments = await list_all(gw, "billPayments", """id reference paymentDate totalAmount currency updatedAt
        supplier { displayName } account { nominalCode } allocations { amount bill { number } }""")
    assert sorted((p["reference"], p["paymentDate"], p["totalAmount"], p["currency"], p["updatedAt"],
                   p["supplier"]["displayName"], p["account"]["nominalCode"],
                   tuple(sorted((a["bill"]["number"], a["amount"]) for a in p["allocations"])))
                  for p in payments) == sorted(
        (p.reference, p.payment_date.isoformat(), s(p.total_amount), p.currency, instant(p.updated_at),
         suppliers[p.supplier_id or ""], bank_codes[p.account_id or ""],
         tuple(sorted((bill_numbers[a.document_id], s(a.amount)) for a in p.allocations)))
        for p in books.bill_payments)


async def test_payments_credit_notes_match_books(gw: GatewayHarness) -> None:
    books = books_of(gw)
    customers = {c.id: c.display_name for c in books.customers}
    numbers = {i.id: i.number for i in books.invoices}
    codes = {a.id: a.nominal_code for a in books.ledger_accounts}
    payments = await list_all(gw, "payments", """reference paymentDate totalAmount currency updatedAt
        customer { displayName } account { nominalCode } allocations { amount invoice { number } }""")
    assert sorted((p["reference"], p["paymentDate"], p["totalAmount"], p["currency"], p["updatedAt"],
                   p["customer"]["displayName"], p["account"]["nominalCode"],
                   tuple(sorted((a["invoice"]["number"], a["amount"]) for a in p["allocations"])))
                  for p in payments) == sorted(
        (p.reference, p.payment_date.isoformat(), s(p.total_amount), p.currency, instant(p.updated_at),
         customers[p.customer_id or ""], codes[p.account_id or ""],
         tuple(sorted((numbers[a.document_id], s(a.amount)) for a in p.allocations)))
        for p in books.payments)
    # The overpayment keeps its unallocated part: the total exceeds the allocations.
    assert any(Decimal(p["totalAmount"]) > sum(Decimal(a["amount"]) for a in p["allocations"]) for p in payments)

    notes = await list_all(gw, "creditNotes", f"""number issueDate status currency exchangeRate subTotal totalTax
        total balance updatedAt customer {{ displayName }} allocations {{ amount invoice {{ number }} }} {LINE}""")
    by_number = {n["number"]: n for n in notes}
    assert len(notes) == len(books.credit_notes)
    for cn in books.credit_notes:
        got = by_number[cn.number or ""]
        assert (got["issueDate"], got["status"], got["currency"], got["exchangeRate"], got["subTotal"],
                got["totalTax"], got["total"], got["balance"], got["updatedAt"], got["customer"]["displayName"]) == (
            cn.issue_date.isoformat(), cn.status.value, cn.currency, s(cn.exchange_rate), s(cn.sub_total),
            s(cn.total_tax), s(cn.total), s(cn.balance), instant(cn.updated_at), customers[cn.customer_id or ""])
        assert [(a["invoice"]["number"], a["amount"]) for a in got["allocations"]] == [
            (numbers[a.document_id], s(a.amount)) for a in cn.allocations]
        assert got["lineItems"] == expected_lines(books, cn.line_items)


async def test_expenses_purchase_orders_journals_match_books(gw: GatewayHarness) -> None:
    books = books_of(gw)
    suppliers = {c.id: c.display_name for c in books.suppliers}
    codes = {a.id: a.nominal_code for a in books.ledger_accounts}
    expenses = await list_all(gw, "expenses", f"""number transactionDate currency subTotal totalTax totalAmount
        source updatedAt supplier {{ displayName }} account {{ nominalCode }} {LINE}""")
    by_number = {e["number"]: e for e in expenses}
    assert len(expenses) == len(books.expenses)
    for exp in books.expenses:
        got = by_number[exp.number or ""]
        assert (got["transactionDate"], got["currency"], got["subTotal"], got["totalTax"], got["totalAmount"],
                got["source"], got["updatedAt"], got["supplier"]["displayName"], got["account"]["nominalCode"]) == (
            exp.transaction_date.isoformat(), exp.currency, s(exp.sub_total), s(exp.total_tax),
            s(exp.total_amount), "NATIVE", instant(exp.updated_at), suppliers[exp.supplier_id or ""],
            codes[exp.account_id or ""])
        assert got["lineItems"] == expected_lines(books, exp.line_items)

    orders = await list_all(gw, "purchaseOrders", f"""number orderDate deliveryDate status currency subTotal
        totalTax total supplier {{ displayName }} {LINE}""")
    by_number = {o["number"]: o for o in orders}
    assert len(orders) == len(books.purchase_orders)
    for po in books.purchase_orders:
        got = by_number[po.number or ""]
        assert (got["orderDate"], got["deliveryDate"], got["status"], got["currency"], got["subTotal"],
                got["totalTax"], got["total"], got["supplier"]["displayName"]) == (
            po.order_date.isoformat(), po.delivery_date.isoformat() if po.delivery_date else None, po.status.value,
            po.currency, s(po.sub_total), s(po.total_tax), s(po.total), suppliers[po.supplier_id or ""])
        assert got["lineItems"] == expected_lines(books, po.line_items)

    names = {t.id: t.name for t in books.tracking_categories}
    gw.reset_counts()
    body = await gw.execute("""query($c: ID!) { connection(id: $c) { journalEntries(first: 100) { nodes {
        number postingDate currency description updatedAt journal { id name source }
        lineItems { id type amount description account { nominalCode } trackingCategories { name } } } } } }""",
                            {"c": CID})
    entries = body["data"]["connection"]["journalEntries"]["nodes"]
    # the entries with their lines, the accounts, the tracking options; the journal is derived (no call)
    assert gw.upstream_calls(PROVIDER) == 3
    by_number = {e["number"]: e for e in entries}
    assert len(entries) == len(books.journal_entries)
    for je in books.journal_entries:
        got = by_number[je.number or ""]
        assert (got["postingDate"], got["currency"], got["description"], got["updatedAt"]) == (
            je.posting_date.isoformat(), je.currency, je.description, instant(je.updated_at))
        assert got["journal"] == {"id": "general", "name": "General Journal", "source": "DERIVED"}
        assert [(x["id"], x["type"], x["amount"], x["description"], x["account"]["nominalCode"],
                 [t["name"] for t in x["trackingCategories"]]) for x in got["lineItems"]] == [
            (x.id, x.type.value, s(x.amount), x.description, codes[x.account_id],
             [names[t] for t in x.tracking_category_ids]) for x in je.line_items]
        debits = sum(Decimal(x["amount"]) for x in got["lineItems"] if x["type"] == "DEBIT")
        assert debits == sum(Decimal(x["amount"]) for x in got["lineItems"] if x["type"] == "CREDIT")


async def test_document_by_id_fields(gw: GatewayHarness) -> None:
    books = books_of(gw)
    ids: dict[str, dict[str, str]] = {}
    for field, key in (("invoices", "number"), ("bills", "number"), ("payments", "reference"),
                       ("billPayments", "reference"), ("expenses", "number"), ("creditNotes", "number"),
                       ("purchaseOrders", "number"), ("journalEntries", "number")):
        ids[field] = {n[key]: n["id"] for n in await list_all(gw, field, f"id {key}")}
    inv, bill, pay = books.invoices[7], books.bills[9], books.payments[3]
    cn, po, je, exp, bpy = (books.credit_notes[1], books.purchase_orders[2], books.journal_entries[1],
                            books.expenses[5], books.bill_payments[2])
    gw.reset_counts()
    data = await gw.query(
        """query($c: ID!, $i: ID!, $b: ID!, $p: ID!, $n: ID!, $o: ID!, $j: ID!, $e: ID!, $q: ID!) {
           connection(id: $c) {
            invoice(id: $i) { number total balance status lineItems { totalAmount } }
            bill(id: $b) { number total balance }
            payment(id: $p) { reference totalAmount allocations { amount invoice { number } } }
            creditNote(id: $n) { number balance allocations { invoice { number } } }
            purchaseOrder(id: $o) { number total status }
            journalEntry(id: $j) { number journal { name } lineItems { amount } }
            expense(id: $e) { number totalAmount }
            billPayment(id: $q) { reference totalAmount }
            journal(id: "general") { name source } } }""",
        {"c": CID, "i": ids["invoices"][inv.number or ""], "b": ids["bills"][bill.number or ""],
         "p": ids["payments"][pay.reference or ""], "n": ids["creditNotes"][cn.number or ""],
         "o": ids["purchaseOrders"][po.number or ""], "j": ids["journalEntries"][je.number or ""],
         "e": ids["expenses"][exp.number or ""], "q": ids["billPayments"][bpy.reference or ""]})
    conn = data["connection"]
    assert conn["invoice"] == {"number": inv.number, "total": s(inv.total), "balance": s(inv.balance),
                               "status": inv.status.value,
                               "lineItems": [{"totalAmount": s(x.total_amount)} for x in inv.line_items]}
    assert conn["bill"] == {"number": bill.number, "total": s(bill.total), "balance": s(bill.balance)}
    numbers = {i.id: i.number for i in books.invoices}
    assert conn["payment"] == {"reference": pay.reference, "totalAmount": s(pay.total_amount),
                               "allocations": [{"amount": s(a.amount), "invoice": {"number": numbers[a.document_id]}}
                                               for a in pay.allocations]}
    assert conn["creditNote"] == {"number": cn.number, "balance": s(cn.balance),
                                  "allocations": [{"invoice": {"number": numbers[a.document_id]}}
                                                  for a in cn.allocations]}
    assert conn["purchaseOrder"] == {"number": po.number, "total": s(po.total), "status": po.status.value}
    assert conn["journalEntry"] == {"number": je.number, "journal": {"name": "General Journal"},
                                    "lineItems": [{"amount": s(x.amount)} for x in je.line_items]}
    assert conn["expense"] == {"number": exp.number, "totalAmount": s(exp.total_amount)}
    assert conn["billPayment"] == {"reference": bpy.reference, "totalAmount": s(bpy.total_amount)}
    assert conn["journal"] == {"name": "General Journal", "source": "DERIVED"}
    # one statement per by-id resource (credit memos: + their applications), plus the payment's invoices
    assert gw.upstream_calls(PROVIDER) <= 10


# --- paging, filters, counts ---------------------------------------------------------------------


async def test_paging_all_invoices_costs_one_call_per_page(gw: GatewayHarness) -> None:
    books = books_of(gw)
    gw.reset_counts()
    first = 25
    nodes = await list_all(gw, "invoices", "id number lineItems { totalAmount }", first=first)
    pages = math.ceil(len(books.invoices) / first)
    assert gw.upstream_calls(PROVIDER) == pages
    assert emulator(gw).counter.by_kind == {"POST suiteql": pages}
    assert sorted(n["number"] for n in nodes) == sorted(i.number or "" for i in books.invoices)
    assert len({n["id"] for n in nodes}) == len(books.invoices)
    assert all(n["lineItems"] for n in nodes)


async def test_total_count_is_one_call_and_free_on_unfiltered_pages(gw: GatewayHarness) -> None:
    books = books_of(gw)
    gw.reset_counts()
    data = await gw.query("""query($c: ID!) { connection(id: $c) { invoices(first: 5) { totalCount nodes { id } }
        } }""", {"c": CID})
    assert data["connection"]["invoices"]["totalCount"] == len(books.invoices)
    assert gw.upstream_calls(PROVIDER) == 1  # the page reports the total
    gw.reset_counts()
    data = await gw.query("""query($c: ID!) { connection(id: $c) {
        bills(first: 1, filter: {status: PAID}) { totalCount }
        customers(first: 1, filter: {updatedSince: "2025-01-01T09:10:00Z"}) { totalCount } } }""", {"c": CID})
    paid = [b for b in books.bills if b.status.value == "PAID"]
    assert data["connection"]["bills"]["totalCount"] == len(paid)
    since = datetime(2025, 1, 1, 9, 10, tzinfo=UTC)
    assert data["connection"]["customers"]["totalCount"] == len(
        [c for c in books.customers if c.updated_at and c.updated_at > since])
    assert gw.upstream_calls(PROVIDER) == 4  # two pages + two native counts


async def test_updated_since_returns_exactly_the_changed_records(gw: GatewayHarness) -> None:
    books = books_of(gw)
    stamps = sorted(i.updated_at for i in books.invoices if i.updated_at)
    since = stamps[len(stamps) // 2]  # exactly one record's instant: it must be excluded
    expected = sorted(i.number or "" for i in books.invoices if i.updated_at and i.updated_at > since)
    gw.reset_counts()
    nodes = await list_all(gw, "invoices", "number updatedAt", filter={"updatedSince": since.isoformat()})
    assert sorted(n["number"] for n in nodes) == expected
    assert gw.upstream_calls(PROVIDER) == math.ceil(len(expected) / 100)  # filtered upstream

    later = since + timedelta(seconds=1)
    payments = await list_all(gw, "payments", "reference", filter={"updatedSince": later.isoformat()})
    assert sorted(p["reference"] for p in payments) == sorted(
        p.reference or "" for p in books.payments if p.updated_at and p.updated_at > later)
    tracking = await list_all(gw, "trackingCategories", "id", filter={"updatedSince": "2030-01-01T00:00:00Z"})
    assert tracking == []


async def test_status_party_and_date_filters_are_pushed_upstream(gw: GatewayHarness) -> None:
    books = books_of(gw)
    customers = {c["displayName"]: c["id"] for c in await list_all(gw, "customers", "id displayName")}
    target = books.invoices[0].customer_id
    name = next(c.display_name for c in books.customers if c.id == target)
    for status in ("PAID", "PARTIALLY_PAID", "AUTHORISED"):
        gw.reset_counts()
        nodes = await list_all(gw, "invoices", "number status", filter={"status": status})
        assert sorted(n["number"] for n in nodes) == sorted(
            i.number or "" for i in books.invoices if i.status.value == status)
        assert gw.upstream_calls(PROVIDER) == max(1, math.ceil(len(nodes) / 100))
    nodes = await list_all(gw, "invoices", "number", filter={"customerId": customers[name],
                                                             "dateFrom": "2025-03-01", "dateTo": "2025-09-30"})
    assert sorted(n["number"] for n in nodes) == sorted(
        i.number or "" for i in books.invoices
        if i.customer_id == target and "2025-03-01" <= i.invoice_date.isoformat() <= "2025-09-30")


# --- the call budget -----------------------------------------------------------------------------


async def test_fifty_bills_with_references_and_payments_in_five_calls(gw: GatewayHarness) -> None:
    books = books_of(gw)
    gw.reset_counts()
    body = await gw.execute("""query($c: ID!) { connection(id: $c) { bills(first: 50) { nodes {
        number supplier { displayName } lineItems { account { nominalCode name } taxRate { code rate } }
        payments { reference totalAmount allocations { amount } } } } } }""", {"c": CID})
    assert not body.get("errors")
    nodes = body["data"]["connection"]["bills"]["nodes"]
    assert len(nodes) == 50
    assert gw.upstream_calls(PROVIDER) <= 5
    assert body["extensions"]["upstreamCalls"] == gw.upstream_calls(PROVIDER)
    by_number = {b.number: b for b in books.bills}
    for node in nodes:
        bill = by_number[node["number"]]
        assert [x["account"]["nominalCode"] for x in node["lineItems"]] == [
            books.account(x.account_id or "").nominal_code for x in bill.line_items]
        assert all(x["taxRate"]["code"] for x in node["lineItems"])
        assert node["supplier"]["displayName"]
    assert any(node["payments"] for node in nodes)


# --- auth and failures ---------------------------------------------------------------------------


async def test_expired_access_token_is_refreshed_transparently(gw: GatewayHarness) -> None:
    emu = emulator(gw)
    emu.oauth.expire_access_tokens()
    refreshes = emu.oauth.refresh_count
    data = await gw.query('query($c: ID!) { connection(id: $c) { taxRates { nodes { code } } } }', {"c": CID})
    assert sorted(n["code"] for n in data["connection"]["taxRates"]["nodes"]) == ["R", "S", "Z"]
    assert emu.oauth.refresh_count == refreshes + 1
    # NetSuite does not rotate the refresh token: the next expiry refreshes with the same one.
    emu.oauth.expire_access_tokens()
    data = await gw.query('query($c: ID!) { connection(id: $c) { taxRates { nodes { code } } } }', {"c": CID})
    assert len(data["connection"]["taxRates"]["nodes"]) == 3
    assert emu.oauth.refresh_count == refreshes + 2


async def test_refused_refresh_is_upstream_auth_expired(gw: GatewayHarness) -> None:
    emulator(gw).clock.advance(8 * 24 * 3600)  # past the refresh token's 7 days
    body = await gw.execute('query($c: ID!) { connection(id: $c) { id taxRates { nodes { code } } } }', {"c": CID})
    assert body["data"]["connection"]["id"] == CID
    assert body["data"]["connection"]["taxRates"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_AUTH_EXPIRED"
    assert error["path"] == ["connection", "taxRates"]


@pytest.mark.parametrize(("faults", "code"), [(Faults(error429=1.0), "UPSTREAM_RATE_LIMITED"),
                                              (Faults(error5xx=1.0), "UPSTREAM_UNAVAILABLE")])
async def test_upstream_failures_are_typed_errors_at_the_field(gw: GatewayHarness, faults: Faults,
                                                               code: str) -> None:
    emulator(gw).faults.set(faults)
    body = await gw.execute('query($c: ID!) { connection(id: $c) { id provider invoices(first: 2) { nodes { id } } '
                            'journals { nodes { name } } } }', {"c": CID})
    assert body["data"]["connection"]["provider"] == "NETSUITE"
    assert body["data"]["connection"]["invoices"] is None
    assert body["data"]["connection"]["journals"]["nodes"] == [{"name": "General Journal"}]  # derived: no call
    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    assert error["path"] == ["connection", "invoices"]
    assert "NETSUITE" in error["message"]


async def test_fallback_is_flagged_and_writes_are_unsupported_before_any_call(gw: GatewayHarness) -> None:
    gw.reset_counts()
    body = await gw.execute('query($c: ID!) { connection(id: $c) { journals { nodes { id name code source } } } }',
                            {"c": CID})
    assert body["data"]["connection"]["journals"]["nodes"] == [
        {"id": "general", "name": "General Journal", "code": "GJ", "source": "DERIVED"}]
    fallbacks = body["extensions"]["fallbacks"]
    assert [f["resource"] for f in fallbacks] == ["journals"]
    assert "General Journal" in fallbacks[0]["fallback"]
    assert gw.upstream_calls(PROVIDER) == 0

    connector = gw.demo.gateway.connector(CID)
    coverage = {c.resource: c for c in connector.coverage()}
    assert coverage[Resource.JOURNALS].operations[Operation.LIST].value == "FALLBACK"
    assert all(coverage[r].operations[Operation.GET].value == "NATIVE" for r in Resource if r != Resource.JOURNALS)
    with pytest.raises(LedgerQLError) as caught:
        connector.require(Resource.INVOICES, Operation.VOID)  # NetSuite's REST API has no void
    assert caught.value.code == ErrorCode.UNSUPPORTED_BY_PROVIDER
    assert gw.upstream_calls(PROVIDER) == 0
    assert connector.convert.general_journal().source == Source.DERIVED  # type: ignore[attr-defined]


async def test_amounts_stay_exact_decimals_and_raw_is_kept(gw: GatewayHarness) -> None:
    connector = gw.demo.gateway.connector(CID)
    page = await connector.list_page(Resource.INVOICES, ListFilter(), None, 10)
    invoice = page.records[0]
    assert isinstance(invoice.total, Decimal)  # type: ignore[attr-defined]
    assert invoice.raw is not None and invoice.raw["tranid"] == invoice.number  # type: ignore[attr-defined]
    assert invoice.raw["lines"] and "links" not in invoice.raw
    assert invoice.updated_at is not None and invoice.updated_at.tzinfo is not None
