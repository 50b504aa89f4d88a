"""The QuickBooks Online connector, end to end: GraphQL over HTTP → gateway → connector → QBO emulator.

Every value is checked against the books the emulator was loaded from, by business key (numbers,
nominal codes, names); the QBO ids are mapped back to business keys through the emulator's id map.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerql.connectors.base import ListFilter
from ledgerql.connectors.http import Tokens
from ledgerql.connectors.quickbooks import QuickBooksConnector
from ledgerql.model.entities import CompanyInfo
from ledgerql.model.enums import DocumentStatus, Operation, Resource, Support
from ledgerql.sandbox.books import Books
from ledgerql.sandbox.common import Faults
from tests.harness import GatewayHarness, connection_id

CID = connection_id("QUICKBOOKS")

LINE = """lineItems { id description quantity unitPrice totalAmount taxAmount account { nominalCode }
                      taxRate { code rate } trackingCategories { name parent { name } } }"""


@pytest.fixture
async def gw() -> AsyncIterator[GatewayHarness]:
    async with GatewayHarness.start() as harness:
        yield harness


def emulator(gw: GatewayHarness) -> Any:
    return gw.sandboxes.emulators["QUICKBOOKS"]


def books(gw: GatewayHarness) -> Books:
    return gw.sandboxes.books[0]


def qbo_ids(gw: GatewayHarness) -> dict[str, str]:
    """Business key → QBO id, as the emulator assigned them."""
    emu = emulator(gw)
    return dict(emu.stores[emu.tenant_id_for(0)].ids)


async def conn(gw: GatewayHarness, body: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    params = "".join(f", ${k}: {t}" for k, t in (variables or {}).get("__types__", {}).items())
    values = {k: v for k, v in (variables or {}).items() if k != "__types__"}
    data = await gw.query(f"query($cid: ID!{params}) {{ connection(id: $cid) {{ {body} }} }}",
                          {"cid": CID, **values})
    result: dict[str, Any] = data["connection"]
    return result


async def all_nodes(gw: GatewayHarness, field: str, selection: str, first: int = 100,
                    filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = await gw.query(
            f"query($cid: ID!, $after: String, $filter: {_filter_type(field)}) {{ connection(id: $cid) {{ "
            f"{field}(first: {first}, after: $after, filter: $filter) {{ nodes {{ {selection} }} "
            "pageInfo { hasNextPage endCursor } } } }",
            {"cid": CID, "after": after, "filter": filter})
        page = data["connection"][field]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _filter_type(field: str) -> str:
    return {"invoices": "InvoiceFilter", "bills": "BillFilter", "payments": "CustomerDocumentFilter",
            "creditNotes": "CustomerDocumentFilter", "billPayments": "SupplierDocumentFilter",
            "expenses": "SupplierDocumentFilter", "purchaseOrders": "SupplierDocumentFilter",
            "journalEntries": "DatedFilter"}.get(field, "ReferenceFilter")


def tracking_names(b: Books, ids: list[str]) -> list[tuple[str, str]]:
    by_id = {t.id: t for t in b.tracking_categories}
    return [(by_id[i].name, by_id[by_id[i].parent_id or ""].name) for i in ids]


def expected_lines(b: Books, lines: list[Any]) -> list[dict[str, Any]]:
    return [{"id": line.id, "description": line.description, "quantity": str(line.quantity),
             "unitPrice": str(line.unit_price), "totalAmount": str(line.total_amount),
             "taxAmount": str(line.tax_amount), "account": {"nominalCode": b.account(line.account_id).nominal_code},
             "taxRate": {"code": b.tax_rate(line.tax_rate_id).code, "rate": str(b.tax_rate(line.tax_rate_id).rate)},
             "trackingCategories": [{"name": n, "parent": {"name": p}}
                                    for n, p in tracking_names(b, line.tracking_category_ids)]}
            for line in lines]


# --- reference data -------------------------------------------------------------------------------


async def test_reference_data_matches_the_books(gw: GatewayHarness) -> None:
    b = books(gw)
    data = await conn(gw, """
        ledgerAccounts(first: 100) { nodes { id nominalCode name type subType status currency } }
        customers(first: 100) { nodes { id displayName companyName email status currency } }
        suppliers(first: 100) { nodes { id displayName companyName email status currency } }
        taxRates { nodes { id code name rate } }
        bankAccounts { nodes { id name currency institutionName accountNumber ledgerAccount { nominalCode name } } }
    """)
    accounts = {a["nominalCode"]: a for a in data["ledgerAccounts"]["nodes"]}
    assert len(accounts) == len(b.ledger_accounts)
    for account in b.ledger_accounts:
        got = accounts[account.nominal_code]
        assert (got["name"], got["type"], got["subType"], got["status"], got["currency"]) == \
            (account.name, account.type.value, account.sub_type, "ACTIVE", account.currency)
    for field, contacts in (("customers", b.customers), ("suppliers", b.suppliers)):
        got_contacts = {c["displayName"]: c for c in data[field]["nodes"]}
        assert len(got_contacts) == len(contacts)
        for contact in contacts:
            got = got_contacts[contact.display_name]
            assert (got["companyName"], got["email"], got["currency"], got["status"]) == \
                (contact.company_name, contact.email, contact.currency, "ACTIVE")
    assert sorted((t["code"], t["name"], t["rate"]) for t in data["taxRates"]["nodes"]) == \
        sorted((t.code, t.name, str(t.rate)) for t in b.tax_rates)
    banks = {a["name"]: a for a in data["bankAccounts"]["nodes"]}
    assert len(banks) == len(b.bank_accounts)
    for bank in b.bank_accounts:
        got = banks[bank.name]
        assert (got["currency"], got["institutionName"], got["accountNumber"]) == \
            (bank.currency, bank.institution_name, bank.account_number)
        assert got["ledgerAccount"]["nominalCode"] == b.account(bank.ledger_account_id or "").nominal_code


async def test_tracking_categories_departments_locations_and_journals(gw: GatewayHarness) -> None:
    b = books(gw)
    body = await gw.execute("""query($cid: ID!) { connection(id: $cid) {
        trackingCategories { nodes { id name status parent { id name } } }
        departments { nodes { id name status } }
        locations { nodes { id name status } }
        journals { nodes { id name code source } }
        trackingCategory(id: "dimension:location") { name parent { id } }
    } }""", {"cid": CID})
    assert not body.get("errors"), body
    data = body["data"]["connection"]
    got = {(t["name"], t["parent"]["name"] if t["parent"] else None) for t in data["trackingCategories"]["nodes"]}
    by_id = {t.id: t for t in b.tracking_categories}
    assert got == {(t.name, by_id[t.parent_id].name if t.parent_id else None) for t in b.tracking_categories}
    roots = [t for t in data["trackingCategories"]["nodes"] if t["parent"] is None]
    assert sorted(r["id"] for r in roots) == ["dimension:department", "dimension:location"]
    assert sorted(d["name"] for d in data["departments"]["nodes"]) == sorted(t.name for t in b.departments)
    assert sorted(loc["name"] for loc in data["locations"]["nodes"]) == sorted(t.name for t in b.locations)
    # Department ids are the tracking option ids (class:N), location ids department:N.
    option_ids = {t["id"] for t in data["trackingCategories"]["nodes"]}
    assert {d["id"] for d in data["departments"]["nodes"]} <= option_ids
    assert {loc["id"] for loc in data["locations"]["nodes"]} <= option_ids
    assert data["trackingCategory"] == {"name": "Location", "parent": None}
    assert data["journals"]["nodes"] == [{"id": "journal:general", "name": "General Journal", "code": "GJ",
                                          "source": "DERIVED"}]
    fallbacks = body["extensions"].get("fallbacks") or []
    assert any(f["resource"] == "journals" for f in fallbacks), body["extensions"]


async def test_coverage_and_company_info_through_the_connector(gw: GatewayHarness) -> None:
    # `Connection.coverage` / `Connection.companyInfo` are not in the schema yet: ask the connector.
    connector = gw.demo.gateway.connector(CID)
    support = {(c.resource, op): s for c in connector.coverage() for op, s in c.operations.items()}
    assert support[(Resource.INVOICES, Operation.LIST)] == Support.NATIVE
    assert support[(Resource.JOURNALS, Operation.LIST)] == Support.FALLBACK
    assert support[(Resource.SUBSIDIARIES, Operation.GET)] == Support.UNSUPPORTED
    page = await connector.list_page(Resource.COMPANY_INFO, ListFilter(), None, 1)
    [info] = page.records
    company = books(gw).company
    assert isinstance(info, CompanyInfo)
    assert (info.name, info.legal_name, info.base_currency, info.country, info.fiscal_year_start_month) == \
        (company.name, company.legal_name, company.base_currency, company.country, company.fiscal_year_start_month)


# --- documents ------------------------------------------------------------------------------------


async def test_every_invoice_matches_the_books(gw: GatewayHarness) -> None:
    b = books(gw)
    nodes = await all_nodes(gw, "invoices", f"""id number invoiceDate dueDate status currency exchangeRate
        subTotal totalTax total balance updatedAt customer {{ displayName }} {LINE}""")
    got = {n["number"]: n for n in nodes}
    assert len(nodes) == len(got) == len(b.invoices)
    customers = {c.id: c for c in b.customers}
    for invoice in b.invoices:
        node = got[invoice.number or ""]
        assert node["customer"]["displayName"] == customers[invoice.customer_id or ""].display_name
        assert (node["invoiceDate"], node["dueDate"], node["status"], node["currency"]) == \
            (invoice.invoice_date.isoformat(), invoice.due_date.isoformat() if invoice.due_date else None,
             invoice.status.value, invoice.currency)
        assert node["exchangeRate"] == (str(invoice.exchange_rate) if invoice.exchange_rate else None)
        assert (node["subTotal"], node["totalTax"], node["total"], node["balance"]) == \
            (str(invoice.sub_total), str(invoice.total_tax), str(invoice.total), str(invoice.balance))
        assert datetime.fromisoformat(node["updatedAt"]) == invoice.updated_at
        assert node["lineItems"] == expected_lines(b, invoice.line_items), invoice.number
    statuses = {n["status"] for n in nodes}
    assert {"PAID", "PARTIALLY_PAID", "AUTHORISED"} <= statuses


async def test_bills_with_payments_match_the_books(gw: GatewayHarness) -> None:
    b = books(gw)
    nodes = await all_nodes(gw, "bills", f"""number billDate dueDate status currency exchangeRate subTotal
        totalTax total balance supplier {{ displayName }} {LINE}
        payments {{ reference totalAmount allocations {{ amount bill {{ number }} }} }}""")
    got = {n["number"]: n for n in nodes}
    assert len(got) == len(b.bills)
    suppliers = {s.id: s for s in b.suppliers}
    paid_by: dict[str, list[str]] = {}
    for payment in b.bill_payments:
        for allocation in payment.allocations:
            paid_by.setdefault(allocation.document_id, []).append(payment.id)
    for bill in b.bills:
        node = got[bill.number or ""]
        assert node["supplier"]["displayName"] == suppliers[bill.supplier_id or ""].display_name
        assert (node["status"], node["total"], node["balance"], node["subTotal"], node["totalTax"]) == \
            (bill.status.value, str(bill.total), str(bill.balance), str(bill.sub_total), str(bill.total_tax))
        assert node["lineItems"] == expected_lines(b, bill.line_items), bill.number
        assert sorted(p["reference"] for p in node["payments"]) == sorted(paid_by.get(bill.id, []))
        for payment in node["payments"]:
            assert bill.number in [a["bill"]["number"] for a in payment["allocations"]]


async def test_payments_and_allocations_match_the_books(gw: GatewayHarness) -> None:
    b = books(gw)
    nodes = await all_nodes(gw, "payments", """reference paymentDate totalAmount currency customer { displayName }
        account { nominalCode } allocations { amount invoice { number } }""")
    # Credit-memo applications (zero-amount QBO Payments) are not payments.
    assert len(nodes) == len(b.payments)
    got = {n["reference"]: n for n in nodes}
    customers = {c.id: c for c in b.customers}
    invoices = {i.id: i for i in b.invoices}
    for payment in b.payments:
        node = got[payment.reference or ""]
        assert (node["paymentDate"], node["totalAmount"], node["currency"]) == \
            (payment.payment_date.isoformat(), str(payment.total_amount), payment.currency)
        assert node["customer"]["displayName"] == customers[payment.customer_id or ""].display_name
        assert node["account"]["nominalCode"] == b.account(payment.account_id or "").nominal_code
        assert [(a["invoice"]["number"], a["amount"]) for a in node["allocations"]] == \
            [(invoices[a.document_id].number, str(a.amount)) for a in payment.allocations]
    overpaid = [p for p in b.payments if p.total_amount > sum(a.amount for a in p.allocations)]
    assert overpaid and all(Decimal(got[p.reference or ""]["totalAmount"]) == p.total_amount for p in overpaid)
    assert any(len(p.allocations) > 1 for p in b.payments)

    bill_nodes = await all_nodes(gw, "billPayments", """reference paymentDate totalAmount currency
        supplier { displayName } account { nominalCode } allocations { amount bill { number } }""")
    got = {n["reference"]: n for n in bill_nodes}
    assert len(got) == len(b.bill_payments)
    bills = {x.id: x for x in b.bills}
    for bill_payment in b.bill_payments:
        node = got[bill_payment.reference or ""]
        assert (node["totalAmount"], node["currency"]) == (str(bill_payment.total_amount), bill_payment.currency)
        assert node["account"]["nominalCode"] == b.account(bill_payment.account_id or "").nominal_code
        assert [(a["bill"]["number"], a["amount"]) for a in node["allocations"]] == \
            [(bills[a.document_id].number, str(a.amount)) for a in bill_payment.allocations]


async def test_credit_notes_and_invoice_reverse_references(gw: GatewayHarness) -> None:
    b = books(gw)
    nodes = await all_nodes(gw, "creditNotes", f"""number issueDate status currency subTotal totalTax total balance
        customer {{ displayName }} {LINE} allocations {{ amount invoice {{ number }} }}""")
    got = {n["number"]: n for n in nodes}
    assert len(got) == len(b.credit_notes)
    invoices = {i.id: i for i in b.invoices}
    for note in b.credit_notes:
        node = got[note.number or ""]
        assert (node["status"], node["total"], node["balance"], node["totalTax"]) == \
            (note.status.value, str(note.total), str(note.balance), str(note.total_tax))
        assert node["lineItems"] == expected_lines(b, note.line_items)
        assert [(a["invoice"]["number"], a["amount"]) for a in node["allocations"]] == \
            [(invoices[a.document_id].number, str(a.amount)) for a in note.allocations]

    # invoice → payments and → credit notes, for a whole page of invoices at once
    gw.reset_counts()
    page = await conn(gw, """invoices(first: 100) { nodes { number payments { reference }
                                                         creditNotes { number } } }""")
    calls = gw.upstream_calls("QUICKBOOKS")
    assert calls <= 4, emulator(gw).counter.snapshot()  # invoices, payments, memo applications, memos
    paid_by: dict[str, set[str]] = {}
    for payment in b.payments:
        for allocation in payment.allocations:
            paid_by.setdefault(invoices[allocation.document_id].number or "", set()).add(payment.reference or "")
    credited: dict[str, set[str]] = {}
    for note in b.credit_notes:
        for allocation in note.allocations:
            credited.setdefault(invoices[allocation.document_id].number or "", set()).add(note.number or "")
    seen_credit = False
    for node in page["invoices"]["nodes"]:
        assert {p["reference"] for p in node["payments"]} == paid_by.get(node["number"], set())
        assert {c["number"] for c in node["creditNotes"]} == credited.get(node["number"], set())
        seen_credit = seen_credit or bool(node["creditNotes"])
    assert seen_credit


async def test_expenses_purchase_orders_and_journal_entries(gw: GatewayHarness) -> None:
    b = books(gw)
    expenses = await all_nodes(gw, "expenses", f"""number transactionDate currency subTotal totalTax totalAmount
        source supplier {{ displayName }} account {{ nominalCode }} {LINE}""")
    got = {n["number"]: n for n in expenses}
    assert len(got) == len(b.expenses)
    suppliers = {s.id: s for s in b.suppliers}
    for expense in b.expenses:
        node = got[expense.number or ""]
        assert (node["totalAmount"], node["subTotal"], node["totalTax"], node["source"]) == \
            (str(expense.total_amount), str(expense.sub_total), str(expense.total_tax), "NATIVE")
        assert node["supplier"]["displayName"] == suppliers[expense.supplier_id or ""].display_name
        assert node["account"]["nominalCode"] == b.account(expense.account_id or "").nominal_code
        assert node["lineItems"] == expected_lines(b, expense.line_items)

    orders = await all_nodes(gw, "purchaseOrders", f"""number orderDate deliveryDate status currency subTotal
        totalTax total supplier {{ displayName }} {LINE}""")
    got = {n["number"]: n for n in orders}
    assert len(got) == len(b.purchase_orders)
    for order in b.purchase_orders:
        node = got[order.number or ""]
        assert (node["orderDate"], node["deliveryDate"], node["status"], node["total"]) == \
            (order.order_date.isoformat(), order.delivery_date.isoformat() if order.delivery_date else None,
             order.status.value, str(order.total))
        assert node["lineItems"] == expected_lines(b, order.line_items)

    entries = await all_nodes(gw, "journalEntries", """number postingDate currency description journal { id name }
        lineItems { account { nominalCode } type amount description trackingCategories { name } }""")
    got = {n["number"]: n for n in entries}
    assert len(got) == len(b.journal_entries)
    by_id = {t.id: t for t in b.tracking_categories}
    for entry in b.journal_entries:
        node = got[entry.number or ""]
        assert node["journal"] == {"id": "journal:general", "name": "General Journal"}
        assert (node["postingDate"], node["currency"], node["description"]) == \
            (entry.posting_date.isoformat(), entry.currency, entry.description)
        assert node["lineItems"] == [
            {"account": {"nominalCode": b.account(line.account_id).nominal_code}, "type": line.type.value,
             "amount": str(line.amount), "description": line.description,
             "trackingCategories": [{"name": by_id[t].name} for t in line.tracking_category_ids]}
            for line in entry.line_items]


async def test_records_by_id(gw: GatewayHarness) -> None:
    b = books(gw)
    ids = qbo_ids(gw)
    invoice, bill, note = b.invoices[5], b.bills[7], b.credit_notes[0]
    payment, bill_payment, expense = b.payments[3], b.bill_payments[2], b.expenses[1]
    order, entry, customer = b.purchase_orders[1], b.journal_entries[0], b.customers[2]
    data = await conn(gw, f"""
        invoice(id: "{ids[invoice.id]}") {{ number total raw }}
        bill(id: "{ids[bill.id]}") {{ number total }}
        creditNote(id: "{ids[note.id]}") {{ number balance allocations {{ amount }} }}
        payment(id: "{ids[payment.id]}") {{ reference totalAmount }}
        billPayment(id: "{ids[bill_payment.id]}") {{ reference totalAmount }}
        expense(id: "{ids[expense.id]}") {{ number totalAmount }}
        purchaseOrder(id: "{ids[order.id]}") {{ number total }}
        journalEntry(id: "{ids[entry.id]}") {{ number }}
        customer(id: "{ids[customer.id]}") {{ displayName }}
        supplier(id: "{ids[b.suppliers[0].id]}") {{ displayName }}
        ledgerAccount(id: "{ids['acc-4000']}") {{ nominalCode }}
        bankAccount(id: "{ids['bank-1220']}") {{ name }}
        taxRate(id: "{ids['tax-S']}") {{ code rate }}
        department(id: "class:{ids['trk-department-sales']}") {{ name }}
        location(id: "department:{ids['trk-location-london']}") {{ name }}
        journal(id: "journal:general") {{ name }}
    """)
    assert (data["invoice"]["number"], data["invoice"]["total"]) == (invoice.number, str(invoice.total))
    assert data["invoice"]["raw"]["DocNumber"] == invoice.number
    assert data["bill"] == {"number": bill.number, "total": str(bill.total)}
    assert data["creditNote"]["balance"] == str(note.balance)
    assert [a["amount"] for a in data["creditNote"]["allocations"]] == [str(a.amount) for a in note.allocations]
    assert data["payment"] == {"reference": payment.reference, "totalAmount": str(payment.total_amount)}
    assert data["billPayment"] == {"reference": bill_payment.reference,
                                   "totalAmount": str(bill_payment.total_amount)}
    assert data["expense"] == {"number": expense.number, "totalAmount": str(expense.total_amount)}
    assert data["purchaseOrder"] == {"number": order.number, "total": str(order.total)}
    assert data["journalEntry"] == {"number": entry.number}
    assert data["customer"] == {"displayName": customer.display_name}
    assert data["supplier"] == {"displayName": b.suppliers[0].display_name}
    assert data["ledgerAccount"] == {"nominalCode": "4000"}
    assert data["bankAccount"] == {"name": "Euro Account"}
    assert data["taxRate"] == {"code": "S", "rate": "20"}
    assert data["department"] == {"name": "Sales"}
    assert data["location"] == {"name": "London"}
    assert data["journal"] == {"name": "General Journal"}


async def test_unknown_ids_are_not_found(gw: GatewayHarness) -> None:
    body = await gw.execute("""query($cid: ID!) { connection(id: $cid) {
        invoice(id: "999999") { number } bill(id: "not-a-number") { number } } }""", {"cid": CID})
    codes = {e["path"][-1]: e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"invoice": "NOT_FOUND", "bill": "NOT_FOUND"}


# --- paging, filters, counts, call budgets --------------------------------------------------------


@pytest.mark.parametrize("first", [50, 100])
async def test_paging_through_invoices_costs_one_call_per_page(gw: GatewayHarness, first: int) -> None:
    b = books(gw)
    gw.reset_counts()
    nodes = await all_nodes(gw, "invoices", "id number", first=first)
    assert sorted(n["number"] for n in nodes) == sorted(i.number or "" for i in b.invoices)
    assert len({n["id"] for n in nodes}) == len(nodes)
    assert gw.upstream_calls("QUICKBOOKS") == math.ceil(len(b.invoices) / first)


async def test_updated_since_returns_exactly_the_changed_records(gw: GatewayHarness) -> None:
    b = books(gw)
    stamps = sorted(i.updated_at for i in b.invoices if i.updated_at)
    since = stamps[len(stamps) // 2]
    expected = sorted(i.number or "" for i in b.invoices if i.updated_at and i.updated_at > since)
    gw.reset_counts()
    nodes = await all_nodes(gw, "invoices", "number updatedAt", filter={"updatedSince": since.isoformat()})
    assert sorted(n["number"] for n in nodes) == expected
    # pushed upstream: the filtered list is one page, not a walk through every invoice
    assert gw.upstream_calls("QUICKBOOKS") == math.ceil(len(expected) / 100)
    # an instant with a fraction of a second
    fractional = since.replace(microsecond=500_000)
    nodes = await all_nodes(gw, "invoices", "number", filter={"updatedSince": fractional.isoformat()})
    assert sorted(n["number"] for n in nodes) == expected

    contacts_since = b.customers[10].updated_at
    assert contacts_since is not None
    nodes = await all_nodes(gw, "customers", "displayName", filter={"updatedSince": contacts_since.isoformat()})
    assert sorted(n["displayName"] for n in nodes) == sorted(
        c.display_name for c in b.customers if c.updated_at and c.updated_at > contacts_since)


async def test_document_filters_and_counts(gw: GatewayHarness) -> None:
    b = books(gw)
    ids = qbo_ids(gw)
    customer = b.invoices[0].customer_id or ""
    paid = [i for i in b.invoices if i.status == DocumentStatus.PAID]
    partly = [i for i in b.invoices if i.status == DocumentStatus.PARTIALLY_PAID]
    q1 = [i for i in b.invoices if i.invoice_date.month <= 3]
    data = (await gw.query("""query($cid: ID!, $customer: ID!) { connection(id: $cid) {
        all: invoices(first: 5) { totalCount }
        paid: invoices(first: 100, filter: {status: PAID}) { totalCount nodes { number } }
        partly: invoices(first: 100, filter: {status: PARTIALLY_PAID}) { totalCount nodes { number } }
        drafts: invoices(first: 100, filter: {status: DRAFT}) { totalCount nodes { number } }
        q1: invoices(first: 100, filter: {dateFrom: "2025-01-01", dateTo: "2025-03-31"}) { totalCount nodes { number } }
        mine: invoices(first: 100, filter: {customerId: $customer}) { totalCount nodes { number } }
        payments(first: 1) { totalCount }
        customers(first: 1) { totalCount }
        trackingCategories { totalCount }
    } }""", {"cid": CID, "customer": ids[customer]}))["connection"]
    assert data["all"]["totalCount"] == len(b.invoices)
    assert data["paid"]["totalCount"] == len(paid)
    assert data["partly"]["totalCount"] == len(partly)
    assert data["drafts"] == {"totalCount": 0, "nodes": []}
    assert data["q1"]["totalCount"] == len(q1)
    for status, expected in (("PAID", paid), ("PARTIALLY_PAID", partly)):
        nodes = await all_nodes(gw, "invoices", "number status", filter={"status": status})
        assert sorted(n["number"] for n in nodes) == sorted(i.number or "" for i in expected)
    nodes = await all_nodes(gw, "invoices", "number", filter={"dateFrom": "2025-01-01", "dateTo": "2025-03-31"})
    assert sorted(n["number"] for n in nodes) == sorted(i.number or "" for i in q1)
    mine = [i for i in b.invoices if i.customer_id == customer]
    assert sorted(n["number"] for n in data["mine"]["nodes"]) == sorted(i.number or "" for i in mine)
    assert data["mine"]["totalCount"] == len(mine)
    assert data["payments"]["totalCount"] == len(b.payments)
    assert data["customers"]["totalCount"] == len(b.customers)
    assert data["trackingCategories"]["totalCount"] == len(b.tracking_categories)


async def test_fifty_bills_with_references_and_payments_in_five_calls(gw: GatewayHarness) -> None:
    b = books(gw)
    gw.reset_counts()
    data = await conn(gw, """bills(first: 50) { nodes { number supplier { displayName }
        lineItems { account { nominalCode name } taxRate { code rate } }
        payments { reference allocations { amount } } } }""")
    calls = gw.upstream_calls("QUICKBOOKS")
    assert calls <= 5, emulator(gw).counter.snapshot()
    nodes = data["bills"]["nodes"]
    assert len(nodes) == 50
    by_number = {x.number: x for x in b.bills}
    for node in nodes:
        bill = by_number[node["number"]]
        assert [line["account"]["nominalCode"] for line in node["lineItems"]] == \
            [b.account(line.account_id or "").nominal_code for line in bill.line_items]
        assert [line["taxRate"]["code"] for line in node["lineItems"]] == \
            [b.tax_rate(line.tax_rate_id or "").code for line in bill.line_items]
        assert node["supplier"]["displayName"]
    assert any(node["payments"] for node in nodes)


# --- auth and failures ----------------------------------------------------------------------------


async def test_expired_access_token_is_refreshed_transparently(gw: GatewayHarness) -> None:
    emu = emulator(gw)
    await conn(gw, "customers(first: 1) { nodes { id } }")
    refreshes = emu.oauth.refresh_count
    emu.oauth.expire_access_tokens()
    data = await conn(gw, "customers(first: 2) { nodes { displayName } }")
    assert len(data["customers"]["nodes"]) == 2
    assert emu.oauth.refresh_count == refreshes + 1
    # the rolled refresh token was kept: a second expiry refreshes again
    emu.oauth.expire_access_tokens()
    data = await conn(gw, "suppliers(first: 1) { nodes { displayName } }")
    assert len(data["suppliers"]["nodes"]) == 1
    assert emu.oauth.refresh_count == refreshes + 2


async def test_refused_refresh_is_upstream_auth_expired(gw: GatewayHarness) -> None:
    store = gw.demo.gateway.tokens
    current = await store.get(CID)
    await store.put(CID, Tokens(access_token="expired", refresh_token="revoked",
                                client_secret=current.client_secret))
    body = await gw.execute("""query($cid: ID!) { connection(id: $cid) { provider
        invoices(first: 1) { nodes { id } } } }""", {"cid": CID})
    assert body["data"]["connection"]["provider"] == "QUICKBOOKS"
    assert body["data"]["connection"]["invoices"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_AUTH_EXPIRED"
    assert error["path"] == ["connection", "invoices"]
    assert "revoked" not in str(error) and "expired" not in error["message"].split(":")[-1]


@pytest.mark.parametrize(("faults", "code"), [(Faults(error429=1.0), "UPSTREAM_RATE_LIMITED"),
                                              (Faults(error5xx=1.0), "UPSTREAM_UNAVAILABLE")])
async def test_upstream_failures_are_typed_errors_at_the_field(gw: GatewayHarness, faults: Faults,
                                                               code: str) -> None:
    emulator(gw).faults.set(faults)
    body = await gw.execute("""query($cid: ID!, $xero: ID!) { connection(id: $cid) { provider
        invoices(first: 1) { nodes { id } } journals { nodes { name } } }
        other: connection(id: $xero) { provider } }""", {"cid": CID, "xero": connection_id("XERO")})
    assert body["data"]["connection"]["provider"] == "QUICKBOOKS"
    assert body["data"]["connection"]["invoices"] is None
    assert body["data"]["connection"]["journals"]["nodes"] == [{"name": "General Journal"}]
    assert body["data"]["other"] == {"provider": "XERO"}
    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    assert error["path"] == ["connection", "invoices"]


async def test_unsupported_resource_makes_no_upstream_call(gw: GatewayHarness) -> None:
    gw.reset_counts()
    body = await gw.execute("""query($cid: ID!) { connection(id: $cid) {
        subsidiaries { nodes { id } } subsidiary(id: "1") { id } } }""", {"cid": CID})
    codes = sorted(e["extensions"]["code"] for e in body["errors"])
    assert codes == ["UNSUPPORTED_BY_PROVIDER", "UNSUPPORTED_BY_PROVIDER"]
    assert gw.upstream_calls("QUICKBOOKS") == 0


def test_error_message_reads_both_fault_envelopes() -> None:
    import httpx

    fault = httpx.Response(400, json={"Fault": {"Error": [{"Message": "Invalid ID", "Detail": "Id bad",
                                                           "code": "2030"}], "type": "ValidationFault"}})
    assert QuickBooksConnector.error_message(fault) == "Invalid ID: Id bad"
    auth = httpx.Response(401, json={"fault": {"error": [{"message": "message=AuthenticationFailed",
                                                          "detail": "Token expired: secret-token",
                                                          "code": "3200"}]}})
    assert QuickBooksConnector.error_message(auth) == "message=AuthenticationFailed"


async def test_long_statements_are_posted_and_tracking_roots_never_change(gw: GatewayHarness) -> None:
    b = books(gw)
    connector = gw.demo.gateway.connector(CID)
    assert isinstance(connector, QuickBooksConnector)
    connector.post_over = 10  # every statement is now sent as a POST body (application/text)
    sent: list[tuple[str, str]] = []
    original = connector.http.request

    async def recording(method: str, path: str, **kwargs: Any) -> Any:
        sent.append((method, path))
        return await original(method, path, **kwargs)

    connector.http.request = recording  # type: ignore[method-assign]
    ids = qbo_ids(gw)
    found = await connector.get_many(Resource.CUSTOMERS, [ids[c.id] for c in b.customers[:5]])
    assert sorted(getattr(r, "display_name", "") for r in found.values()) == \
        sorted(c.display_name for c in b.customers[:5])
    assert sent == [("POST", "/query")]
    since = b.company.updated_at
    assert since is not None
    page = await connector.list_page(Resource.TRACKING_CATEGORIES, ListFilter(updated_since=since), None, 100)
    assert page.records == []  # the synthesized dimensions are not "changed" records


def test_request_id_fits_qbo_limit_deterministically() -> None:
    from ledgerql.connectors.quickbooks.payloads import MAX_REQUEST_ID, request_id

    assert request_id("key-1") == "key-1"
    long_key = "k" * 128
    assert len(request_id(long_key)) <= MAX_REQUEST_ID
    assert request_id(long_key) == request_id(long_key) != request_id(long_key + "x")
    # a later step of the same write has its own id, never the key's
    assert request_id("key-1", "apply") not in ("key-1", request_id("key-2", "apply"))
    assert len(request_id("key-1", "apply")) <= MAX_REQUEST_ID
