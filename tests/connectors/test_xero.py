"""The Xero connector through GraphQL over HTTP, against the Xero emulator serving the books."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from ledgerql.model.entities import CompanyInfo
from ledgerql.model.enums import DocumentStatus
from ledgerql.sandbox.books import Books
from ledgerql.sandbox.common import Faults
from tests.harness import GatewayHarness, connection_id

XERO = "XERO"
CONN = connection_id(XERO)

LINES = """lineItems { quantity unitPrice totalAmount taxAmount account { nominalCode } taxRate { code rate }
           trackingCategories { name parent { name } } }"""


@pytest.fixture
async def gw() -> AsyncIterator[GatewayHarness]:
    async with GatewayHarness.start() as harness:
        yield harness


async def conn(gw: GatewayHarness, body: str, **variables: Any) -> dict[str, Any]:
    params = "".join(f", ${k}: {t}" for k, (t, _) in variables.items())
    data = await gw.query(f"query($c: ID!{params}) {{ connection(id: $c) {{ {body} }} }}",
                          {"c": CONN, **{k: v for k, (_, v) in variables.items()}})
    result: dict[str, Any] = data["connection"]
    return result


async def all_nodes(gw: GatewayHarness, field: str, selection: str, first: int = 100,
                    filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    filter_type = {"invoices": "InvoiceFilter", "bills": "BillFilter", "payments": "CustomerDocumentFilter",
                   "billPayments": "SupplierDocumentFilter", "creditNotes": "CustomerDocumentFilter"}.get(field)
    while True:
        args = "first: $first, after: $after" + (", filter: $filter" if filter else "")
        variables: dict[str, Any] = {"first": ("Int", first), "after": ("String", after)}
        if filter:
            variables["filter"] = (filter_type or "ReferenceFilter", filter)
        page = (await conn(gw, f"{field}({args}) {{ nodes {{ {selection} }} pageInfo {{ hasNextPage endCursor }} }}",
                           **variables))[field]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def books_of(gw: GatewayHarness) -> Books:
    return gw.sandboxes.books[0]


def s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def tracking_names(books: Books, ids: list[str]) -> list[tuple[str, str]]:
    by_id = {t.id: t for t in books.tracking_categories}
    return sorted((by_id[i].name, by_id[by_id[i].parent_id].name) for i in ids)  # type: ignore[index]


def expected_lines(books: Books, lines: list[Any]) -> list[dict[str, Any]]:
    return [{"quantity": s(line.quantity), "unitPrice": s(line.unit_price), "totalAmount": s(line.total_amount),
             "taxAmount": s(line.tax_amount), "account": {"nominalCode": books.account(line.account_id).nominal_code},
             "taxRate": {"code": books.tax_rate(line.tax_rate_id).code,
                         "rate": s(books.tax_rate(line.tax_rate_id).rate)},
             "trackingCategories": tracking_names(books, line.tracking_category_ids)} for line in lines]


def got_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**line, "trackingCategories": sorted((t["name"], t["parent"]["name"])
                                                  for t in line["trackingCategories"])} for line in lines]


# --- reference data ------------------------------------------------------------------------------


async def test_reference_data_equals_the_books(gw: GatewayHarness) -> None:
    books = books_of(gw)
    data = await conn(gw, """
        ledgerAccounts(first: 100) { nodes { id nominalCode name type status currency } }
        taxRates { nodes { id code name rate } }
        trackingCategories { nodes { id name status parent { id name } } }
        departments { nodes { id name } }
        locations { nodes { id name } }
        bankAccounts { nodes { id name currency accountNumber ledgerAccount { nominalCode name } } }
        journals { nodes { id name source } }
        customers(first: 100) { nodes { id displayName email currency status } }
        suppliers(first: 100) { nodes { id displayName email currency status } }""")
    assert {a["nominalCode"]: (a["name"], a["type"], a["status"], a["currency"])
            for a in data["ledgerAccounts"]["nodes"]} == \
        {a.nominal_code: (a.name, a.type.value, a.status.value, a.currency) for a in books.ledger_accounts}
    assert {(t["code"], t["name"], t["rate"]) for t in data["taxRates"]["nodes"]} == \
        {(t.code, t.name, str(t.rate)) for t in books.tax_rates}
    tracking = data["trackingCategories"]["nodes"]
    assert {(t["name"], t["parent"]["name"] if t["parent"] else None) for t in tracking} == \
        {(t.name, None if t.parent_id is None else
          next(p.name for p in books.tracking_categories if p.id == t.parent_id)) for t in books.tracking_categories}
    roots = {t["name"]: t["id"] for t in tracking if t["parent"] is None}
    options = {t["id"]: t for t in tracking if t["parent"]}
    assert sorted(d["name"] for d in data["departments"]["nodes"]) == sorted(d.name for d in books.departments)
    assert sorted(d["name"] for d in data["locations"]["nodes"]) == sorted(d.name for d in books.locations)
    for kind, root in (("departments", "Department"), ("locations", "Location")):
        for node in data[kind]["nodes"]:  # options are served under the same ids as tracking options
            assert options[node["id"]]["parent"]["id"] == roots[root]
    assert {b["name"]: (b["currency"], b["accountNumber"], b["ledgerAccount"]["name"])
            for b in data["bankAccounts"]["nodes"]} == \
        {b.name: (b.currency, b.account_number, books.account(b.ledger_account_id or "").name)
         for b in books.bank_accounts}
    assert data["journals"]["nodes"] == [{"id": "journal:manual", "name": "General Journal", "source": "DERIVED"}]
    for field, contacts in (("customers", books.customers), ("suppliers", books.suppliers)):
        assert {c["displayName"]: (c["email"], c["currency"], c["status"]) for c in data[field]["nodes"]} == \
            {c.display_name: (c.email, c.currency, c.status.value) for c in contacts}


async def test_the_base_currency_of_accounts_is_read_only_when_selected(gw: GatewayHarness) -> None:
    # Accounts in the base currency carry no CurrencyCode: it comes from the Organisation, a second call
    # that a query not selecting `currency` does not make (on a connection that has not learnt it yet).
    books = books_of(gw)
    gw.reset_counts()
    names = await conn(gw, "ledgerAccounts(first: 100) { nodes { nominalCode name } }")
    assert gw.sandboxes.emulators[XERO].counter.by_kind == {"GET Accounts": 1}
    gw.reset_counts()
    full = await conn(gw, "ledgerAccounts(first: 100) { nodes { nominalCode name currency } }")
    assert gw.sandboxes.emulators[XERO].counter.by_kind == {"GET Accounts": 1, "GET Organisation": 1}
    assert {a["nominalCode"]: a["currency"] for a in full["ledgerAccounts"]["nodes"]} == \
        {a.nominal_code: a.currency for a in books.ledger_accounts}
    assert [{"nominalCode": a["nominalCode"], "name": a["name"]} for a in full["ledgerAccounts"]["nodes"]] == \
        names["ledgerAccounts"]["nodes"]


async def test_fallbacks_are_flagged_and_subsidiaries_unsupported(gw: GatewayHarness) -> None:
    body = await gw.execute("query($c: ID!) { connection(id: $c) { departments { nodes { name } } "
                            "journals { nodes { name source } } } }", {"c": CONN})
    assert not body.get("errors")
    fallbacks = {f["resource"]: f["fallback"] for f in body["extensions"]["fallbacks"]}
    assert set(fallbacks) == {"departments", "journals"}
    assert "Department" in fallbacks["departments"]
    # (`Connection.coverage` is not exposed by the schema yet: read the connector's own coverage.)
    coverage = gw.demo.gateway.connector(CONN).coverage()
    support = {(c.resource.value, op.value): sup.value for c in coverage for op, sup in c.operations.items()}
    assert support[("journals", "list")] == "FALLBACK"
    assert support[("departments", "get")] == "FALLBACK"
    assert support[("invoices", "get")] == "NATIVE"
    assert support[("subsidiaries", "list")] == "UNSUPPORTED"
    assert support[("invoices", "create")] == "NATIVE"
    assert support[("ledger_accounts", "create")] == "UNSUPPORTED"

    gw.reset_counts()
    body = await gw.execute("query($c: ID!) { connection(id: $c) { subsidiaries { nodes { id } } "
                            "taxRates { nodes { code } } } }", {"c": CONN})
    [error] = body["errors"]
    assert error["path"] == ["connection", "subsidiaries"]
    assert error["extensions"]["code"] == "UNSUPPORTED_BY_PROVIDER"
    assert len(body["data"]["connection"]["taxRates"]["nodes"]) == 3  # the rest of the answer stands
    assert gw.upstream_calls(XERO) == 1  # the tax rates only
    gw.reset_counts()
    body = await gw.execute('query($c: ID!) { connection(id: $c) { subsidiary(id: "x") { id } } }', {"c": CONN})
    assert body["errors"][0]["extensions"]["code"] == "UNSUPPORTED_BY_PROVIDER"
    assert gw.upstream_calls(XERO) == 0


async def test_company_info(gw: GatewayHarness) -> None:
    # (`Connection.companyInfo` is not exposed by the schema yet: ask the connector.)
    from ledgerql.connectors.base import ListFilter
    from ledgerql.model.enums import Resource

    company = books_of(gw).company
    page = await gw.demo.gateway.connector(CONN).list_page(Resource.COMPANY_INFO, ListFilter(), None, 1)
    [info] = page.records
    assert isinstance(info, CompanyInfo)
    assert (info.name, info.legal_name, info.base_currency, info.country, info.fiscal_year_start_month) == \
        (company.name, company.legal_name, company.base_currency, company.country, company.fiscal_year_start_month)


# --- documents -----------------------------------------------------------------------------------


async def test_paging_through_invoices_costs_one_call_per_upstream_page(gw: GatewayHarness) -> None:
    books = books_of(gw)
    gw.reset_counts()
    nodes = await all_nodes(gw, "invoices", "id number", first=100)
    assert sorted(n["number"] for n in nodes) == sorted(i.number for i in books.invoices)  # type: ignore[type-var]
    assert len({n["id"] for n in nodes}) == len(books.invoices)
    assert gw.upstream_calls(XERO) == math.ceil(len(books.invoices) / 100)
    gw.reset_counts()
    nodes = await all_nodes(gw, "invoices", "number", first=30)
    assert len(nodes) == len({n["number"] for n in nodes}) == len(books.invoices)
    assert gw.upstream_calls(XERO) == math.ceil(len(books.invoices) / 30)


async def test_invoices_equal_the_books(gw: GatewayHarness) -> None:
    books = books_of(gw)
    nodes = await all_nodes(gw, "invoices", f"""number customer {{ displayName }} invoiceDate dueDate status
        currency exchangeRate subTotal totalTax total balance updatedAt {LINES}""")
    by_number = {n["number"]: n for n in nodes}
    customers = {c.id: c.display_name for c in books.customers}
    for invoice in books.invoices:
        node = by_number[invoice.number]
        assert node["customer"]["displayName"] == customers[invoice.customer_id or ""]
        assert (node["invoiceDate"], node["dueDate"]) == (invoice.invoice_date.isoformat(),
                                                        invoice.due_date.isoformat() if invoice.due_date else None)
        assert node["status"] == invoice.status.value
        assert (node["currency"], node["exchangeRate"]) == (invoice.currency, s(invoice.exchange_rate))
        assert (node["subTotal"], node["totalTax"], node["total"], node["balance"]) == \
            (s(invoice.sub_total), s(invoice.total_tax), s(invoice.total), s(invoice.balance))
        assert node["updatedAt"].replace("Z", "+00:00") == invoice.updated_at.isoformat()  # type: ignore[union-attr]
        assert got_lines(node["lineItems"]) == expected_lines(books, invoice.line_items)
    assert {n["status"] for n in nodes} >= {"PAID", "PARTIALLY_PAID", "AUTHORISED"}


@pytest.fixture
async def cached_gw() -> AsyncIterator[GatewayHarness]:
    async with GatewayHarness.start(cache=True) as harness:
        yield harness


async def test_fifty_bills_with_references_and_payments(cached_gw: GatewayHarness) -> None:
    gw = cached_gw
    books = books_of(gw)
    gw.reset_counts()
    data = await conn(gw, """bills(first: 50) { nodes { number status total balance supplier { displayName }
        lineItems { totalAmount account { nominalCode } taxRate { code rate } }
        payments { totalAmount reference } } }""")
    calls = gw.upstream_calls(XERO)
    nodes = data["bills"]["nodes"]
    assert len(nodes) == 50
    suppliers = {c.id: c.display_name for c in books.suppliers}
    by_number = {b.number: b for b in books.bills}
    for node in nodes:
        bill = by_number[node["number"]]
        assert node["supplier"]["displayName"] == suppliers[bill.supplier_id or ""]
        assert [(ln["totalAmount"], ln["account"]["nominalCode"], ln["taxRate"]["code"]) for ln in node["lineItems"]] \
            == [(str(ln.total_amount), books.account(ln.account_id or "").nominal_code,
                 books.tax_rate(ln.tax_rate_id or "").code) for ln in bill.line_items]
        assert (node["status"], node["balance"]) == (bill.status.value, s(bill.balance))
        expected = sorted((s(p.total_amount), p.reference) for p in books.bill_payments
                          if any(a.document_id == bill.id for a in p.allocations))
        assert sorted((p["totalAmount"], p["reference"]) for p in node["payments"]) == expected
    # The bills page, accounts, tax rates, bill payments listed once (bounded by the dates the bills carry)
    # and, only when one of the bills has one, overpayments: Xero has no call that returns Payments and
    # Overpayments together, so a page holding an overpaid bill costs one call more. The suppliers' names
    # come with the bills (each bill's Contact): no Contacts call.
    numbers = {n["number"] for n in nodes}
    overpaid = any(p.total_amount > sum(a.amount for a in p.allocations)
                   and any(a.document_id in numbers for a in p.allocations) for p in books.bill_payments)
    assert calls == (5 if overpaid else 4)
    assert "GET Contacts" not in gw.sandboxes.emulators[XERO].counter.by_kind
    # The same again: accounts and tax rates now come from the gateway's shared cache.
    gw.reset_counts()
    await conn(gw, """bills(first: 50) { nodes { supplier { displayName }
        lineItems { account { nominalCode } taxRate { code } } payments { id } } }""")
    assert gw.upstream_calls(XERO) == calls - 2  # bills, payments, overpayments (if any)


async def test_bills_credit_notes_expenses_orders_and_journals_equal_the_books(gw: GatewayHarness) -> None:
    books = books_of(gw)
    bills = {n["number"]: n for n in await all_nodes(
        gw, "bills", f"number billDate status currency total balance supplier {{ displayName }} {LINES}")}
    for bill in books.bills:
        node = bills[bill.number]
        assert (node["billDate"], node["status"], node["currency"], node["total"], node["balance"]) == \
            (bill.bill_date.isoformat(), bill.status.value, bill.currency, s(bill.total), s(bill.balance))
        assert got_lines(node["lineItems"]) == expected_lines(books, bill.line_items)
    data = await conn(gw, f"""
        creditNotes(first: 100) {{ nodes {{ number issueDate status total totalTax balance customer {{ displayName }}
            allocations {{ amount invoice {{ number }} }} {LINES} }} }}
        expenses(first: 100) {{ nodes {{ number transactionDate currency totalAmount totalTax source
            supplier {{ displayName }} account {{ nominalCode }} {LINES} }} }}
        purchaseOrders(first: 100) {{ nodes {{ number orderDate deliveryDate status total supplier {{ displayName }}
            {LINES} }} }}
        journalEntries(first: 100) {{ nodes {{ number postingDate currency description journal {{ id name }}
            lineItems {{ account {{ nominalCode }} type amount description trackingCategories {{ name }} }} }} }}""")
    notes = {n["number"]: n for n in data["creditNotes"]["nodes"]}
    assert len(notes) == len(books.credit_notes)
    for note in books.credit_notes:
        node = notes[note.number]
        assert (node["issueDate"], node["status"], node["total"], node["totalTax"], node["balance"]) == \
            (note.issue_date.isoformat(), note.status.value, s(note.total), s(note.total_tax), s(note.balance))
        assert [(a["amount"], a["invoice"]["number"]) for a in node["allocations"]] == \
            [(s(a.amount), a.document_id) for a in note.allocations]
        assert got_lines(node["lineItems"]) == expected_lines(books, note.line_items)
    expenses = {n["number"]: n for n in data["expenses"]["nodes"]}
    assert len(expenses) == len(books.expenses)
    for expense in books.expenses:
        node = expenses[expense.number]
        assert (node["transactionDate"], node["totalAmount"], node["totalTax"], node["source"],
                node["account"]["nominalCode"]) == (expense.transaction_date.isoformat(), s(expense.total_amount),
                                                   s(expense.total_tax), "NATIVE",
                                                   books.account(expense.account_id or "").nominal_code)
        assert got_lines(node["lineItems"]) == expected_lines(books, expense.line_items)
    orders = {n["number"]: n for n in data["purchaseOrders"]["nodes"]}
    for order in books.purchase_orders:
        node = orders[order.number]
        assert (node["orderDate"], node["deliveryDate"], node["status"], node["total"]) == \
            (order.order_date.isoformat(), order.delivery_date.isoformat() if order.delivery_date else None,
             order.status.value, s(order.total))
        assert got_lines(node["lineItems"]) == expected_lines(books, order.line_items)
    entries = data["journalEntries"]["nodes"]
    assert len(entries) == len(books.journal_entries)
    by_key = {(e["postingDate"], e["lineItems"][0]["amount"]): e for e in entries}
    for entry in books.journal_entries:
        node = by_key[(entry.posting_date.isoformat(), str(entry.line_items[0].amount))]
        assert node["number"] is None  # Xero manual journals have no number
        assert (node["currency"], node["description"], node["journal"]["name"]) == \
            (entry.currency, entry.description, "General Journal")
        assert [(ln["account"]["nominalCode"], ln["type"], ln["amount"], ln["description"],
                 [t["name"] for t in ln["trackingCategories"]]) for ln in node["lineItems"]] == \
            [(books.account(ln.account_id).nominal_code, ln.type.value, str(ln.amount), ln.description,
              [n for n, _ in tracking_names(books, ln.tracking_category_ids)]) for ln in entry.line_items]


async def test_payments_batches_and_overpayments(gw: GatewayHarness) -> None:
    books = books_of(gw)
    for field, documents, book_payments, party, doc_field in (
            ("payments", "invoice", books.payments, "customer", "invoice"),
            ("billPayments", "bill", books.bill_payments, "supplier", "bill")):
        nodes = await all_nodes(gw, field, f"""id reference paymentDate totalAmount currency account {{ nominalCode }}
            {party} {{ displayName }} allocations {{ amount {doc_field} {{ number }} }}""", first=100)
        assert len(nodes) == len(book_payments)  # a batch is one payment, never its members
        by_reference = {n["reference"]: n for n in nodes}
        parties = {c.id: c.display_name for c in [*books.customers, *books.suppliers]}
        for payment in book_payments:
            node = by_reference[payment.reference]
            party_id = getattr(payment, f"{party}_id")
            assert (node["paymentDate"], node["totalAmount"], node["currency"], node["account"]["nominalCode"],
                    node[party]["displayName"]) == (payment.payment_date.isoformat(), s(payment.total_amount),
                                                   payment.currency,
                                                   books.account(payment.account_id or "").nominal_code,
                                                   parties[party_id])
            assert sorted((a["amount"], a[doc_field]["number"]) for a in node["allocations"]) == \
                sorted((s(a.amount), a.document_id) for a in payment.allocations)
        split = [n for n in nodes if len(n["allocations"]) > 1]
        over = [n for n in nodes if Decimal(n["totalAmount"]) > sum(Decimal(a["amount"]) for a in n["allocations"])]
        assert len(split) == 1 and len(over) == 1, documents


async def test_reverse_references_invoice_payments_and_credit_notes(gw: GatewayHarness) -> None:
    books = books_of(gw)
    gw.reset_counts()
    data = await conn(gw, """invoices(first: 100) { nodes { number
        payments { reference totalAmount allocations { amount invoice { number } } }
        creditNotes { number balance } } }""")
    calls = gw.upstream_calls(XERO)
    for node in data["invoices"]["nodes"]:
        assert sorted(p["reference"] for p in node["payments"]) == sorted(
            p.reference or "" for p in books.payments if any(a.document_id == node["number"] for a in p.allocations))
        assert sorted(c["number"] for c in node["creditNotes"]) == sorted(
            c.number or "" for c in books.credit_notes if any(a.document_id == node["number"] for a in c.allocations))
    assert any(n["creditNotes"] for n in data["invoices"]["nodes"])
    assert any(len(p["allocations"]) > 1 for n in data["invoices"]["nodes"] for p in n["payments"])
    assert calls <= 4  # invoices page, payments, overpayments, credit notes


async def test_by_id_fields_answer_every_resource(gw: GatewayHarness) -> None:
    books = books_of(gw)
    lists = await conn(gw, """
        invoices(first: 5) { nodes { id number } } bills(first: 5) { nodes { id number } }
        billPayments(first: 3) { nodes { id reference } }
        creditNotes(first: 3) { nodes { id number } } expenses(first: 3) { nodes { id number } }
        purchaseOrders(first: 5) { nodes { id number } } journalEntries(first: 3) { nodes { id description } }
        customers(first: 3) { nodes { id displayName } } suppliers(first: 3) { nodes { id displayName } }
        ledgerAccounts(first: 3) { nodes { id name } } taxRates { nodes { id code } }
        trackingCategories { nodes { id name } } bankAccounts { nodes { id name } }
        departments { nodes { id name } } locations { nodes { id name } } journals { nodes { id name } }""")
    payments = await all_nodes(gw, "payments", "id reference allocations { amount } totalAmount")
    split = next(p for p in payments if len(p["allocations"]) > 1)
    over = next(p for p in payments if Decimal(p["totalAmount"]) > sum(Decimal(a["amount"]) for a in p["allocations"]))
    plain = payments[0]
    checks = [("invoice", "invoices", "number"), ("bill", "bills", "number"), ("creditNote", "creditNotes", "number"),
              ("expense", "expenses", "number"), ("purchaseOrder", "purchaseOrders", "number"),
              ("journalEntry", "journalEntries", "description"), ("customer", "customers", "displayName"),
              ("supplier", "suppliers", "displayName"), ("ledgerAccount", "ledgerAccounts", "name"),
              ("taxRate", "taxRates", "code"), ("trackingCategory", "trackingCategories", "name"),
              ("bankAccount", "bankAccounts", "name"), ("department", "departments", "name"),
              ("location", "locations", "name"), ("journal", "journals", "name"),
              ("billPayment", "billPayments", "reference")]
    for single, plural, key in checks:
        for node in lists[plural]["nodes"][:3]:
            got = (await conn(gw, f"{single}(id: $id) {{ id {key} }}", id=("ID!", node["id"])))[single]
            assert got == {"id": node["id"], key: node[key]}, single
    for payment in (plain, split, over):
        got = (await conn(gw, "payment(id: $id) { id reference totalAmount allocations { amount invoice { number } } }",
                          id=("ID!", payment["id"])))["payment"]
        assert (got["id"], got["reference"], got["totalAmount"]) == (payment["id"], payment["reference"],
                                                                      payment["totalAmount"])
        book = next(p for p in books.payments if p.reference == payment["reference"])
        assert sorted(a["invoice"]["number"] for a in got["allocations"]) == sorted(a.document_id
                                                                                   for a in book.allocations)
    body = await gw.execute("query($c: ID!) { connection(id: $c) { invoice(id: \"no-such\") { id } "
                            "bill(id: \"00000000-0000-0000-0000-000000000000\") { id } } }", {"c": CONN})
    assert {e["extensions"]["code"] for e in body["errors"]} == {"NOT_FOUND"}
    # an invoice id is not a bill
    body = await gw.execute("query($c: ID!, $id: ID!) { connection(id: $c) { bill(id: $id) { id } } }",
                            {"c": CONN, "id": lists["invoices"]["nodes"][0]["id"]})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# --- filters and counts --------------------------------------------------------------------------


async def test_updated_since_returns_exactly_the_changed_records(gw: GatewayHarness) -> None:
    books = books_of(gw)
    instants = sorted(i.updated_at for i in books.invoices if i.updated_at)
    cut = instants[len(instants) * 3 // 4]
    expected = sorted(i.number for i in books.invoices if i.updated_at and i.updated_at > cut)  # type: ignore[type-var]
    gw.reset_counts()
    nodes = await all_nodes(gw, "invoices", "number", filter={"updatedSince": cut.isoformat()})
    assert sorted(n["number"] for n in nodes) == expected
    assert gw.upstream_calls(XERO) == 1  # If-Modified-Since narrowed it upstream
    pay_cut = sorted(p.updated_at for p in books.bill_payments if p.updated_at)[-10]
    nodes = await all_nodes(gw, "billPayments", "reference", filter={"updatedSince": pay_cut.isoformat()})
    assert sorted(n["reference"] for n in nodes) == sorted(
        p.reference or "" for p in books.bill_payments if p.updated_at and p.updated_at > pay_cut)


async def test_status_party_and_date_filters_and_counts(gw: GatewayHarness) -> None:
    books = books_of(gw)
    customer = books.customers[0]
    customer_id = next(c["id"] for c in (await conn(gw, "customers(first: 100) { nodes { id displayName } }"))
                       ["customers"]["nodes"] if c["displayName"] == customer.display_name)
    for status in (DocumentStatus.PAID, DocumentStatus.PARTIALLY_PAID, DocumentStatus.AUTHORISED):
        nodes = await all_nodes(gw, "invoices", "number status", filter={"status": status.value})
        assert sorted(n["number"] for n in nodes) == sorted(
            i.number for i in books.invoices if i.status == status)  # type: ignore[type-var]
    gw.reset_counts()
    data = await conn(gw, "invoices(first: 100, filter: $f) { totalCount nodes { number } }",
                      f=("InvoiceFilter", {"customerId": customer_id, "dateFrom": "2025-03-01",
                                           "dateTo": "2025-10-31"}))
    expected = sorted(i.number for i in books.invoices if i.customer_id == customer.id  # type: ignore[type-var]
                      and "2025-03-01" <= i.invoice_date.isoformat() <= "2025-10-31")
    assert sorted(n["number"] for n in data["invoices"]["nodes"]) == expected
    assert data["invoices"]["totalCount"] == len(expected)
    assert gw.upstream_calls(XERO) == 2  # the page and a pageSize=1 count
    gw.reset_counts()
    data = await conn(gw, "invoices(first: 5) { totalCount } bills(first: 5) { totalCount }")
    assert (data["invoices"]["totalCount"], data["bills"]["totalCount"]) == (len(books.invoices), len(books.bills))
    assert gw.upstream_calls(XERO) == 2  # pagination.itemCount, for free


# --- failures ------------------------------------------------------------------------------------


async def test_expired_token_is_refreshed_transparently(gw: GatewayHarness) -> None:
    emulator = gw.sandboxes.emulators[XERO]
    await conn(gw, "invoices(first: 1) { nodes { number } }")
    refreshes = emulator.oauth.refresh_count
    emulator.oauth.expire_access_tokens()
    data = await conn(gw, "invoices(first: 2) { nodes { number } }")
    assert len(data["invoices"]["nodes"]) == 2
    assert emulator.oauth.refresh_count == refreshes + 1
    data = await conn(gw, "bills(first: 2) { nodes { number } }")  # the new token (and rotated RT) are kept
    assert emulator.oauth.refresh_count == refreshes + 1


async def test_refused_refresh_is_upstream_auth_expired(gw: GatewayHarness) -> None:
    emulator = gw.sandboxes.emulators[XERO]
    emulator.oauth.expire_access_tokens()
    emulator.oauth._by_refresh.clear()  # every refresh token revoked
    body = await gw.execute("query($c: ID!) { connection(id: $c) { invoices(first: 1) { nodes { number } } "
                            "journals { nodes { name } } } }", {"c": CONN})
    [error] = body["errors"]
    assert error["path"] == ["connection", "invoices"]
    assert error["extensions"]["code"] == "UPSTREAM_AUTH_EXPIRED"
    assert body["data"]["connection"]["journals"]["nodes"] == [{"name": "General Journal"}]


@pytest.mark.parametrize(("faults", "code"), [(Faults(error429=1.0), "UPSTREAM_RATE_LIMITED"),
                                              (Faults(error5xx=1.0), "UPSTREAM_UNAVAILABLE")])
async def test_upstream_failures_are_typed_errors_at_their_path(gw: GatewayHarness, faults: Faults,
                                                                 code: str) -> None:
    gw.sandboxes.emulators[XERO].faults.set(faults)
    body = await gw.execute("query($c: ID!) { connection(id: $c) { invoices(first: 1) { nodes { number } } "
                            "journals { nodes { name } } } }", {"c": CONN})
    [error] = body["errors"]
    assert error["path"] == ["connection", "invoices"]
    assert error["extensions"]["code"] == code
    assert body["data"]["connection"]["invoices"] is None
    assert body["data"]["connection"]["journals"]["nodes"] == [{"name": "General Journal"}]
    if code == "UPSTREAM_RATE_LIMITED":
        assert error["extensions"]["retryAfter"] >= 1


async def test_a_batch_split_across_pages_is_listed_once_and_whole(gw: GatewayHarness) -> None:
    books = books_of(gw)
    for first in (2, 5):
        nodes = await all_nodes(gw, "payments", "reference allocations { amount invoice { number } }", first=first)
        assert sorted(n["reference"] for n in nodes) == sorted(p.reference or "" for p in books.payments)
        [split] = [n for n in nodes if len(n["allocations"]) > 1]
        book = next(p for p in books.payments if p.reference == split["reference"])
        assert sorted(a["invoice"]["number"] for a in split["allocations"]) == sorted(a.document_id
                                                                                     for a in book.allocations)
