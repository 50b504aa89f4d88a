"""Exact Online connector, through GraphQL over HTTP against the in-process Exact emulator.

Values are checked against the books by business key: the emulator keeps the books' numbers in
`YourRef` ("INV-0001"), and its ledger maps each business key to the GUID Exact serves it under.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerql.connectors.base import ListFilter
from ledgerql.model.entities import CompanyInfo
from ledgerql.model.enums import Operation, Resource, Support
from ledgerql.sandbox.books import Books
from ledgerql.sandbox.common import Faults
from tests.harness import GatewayHarness, connection_id

PROVIDER = "EXACT_ONLINE"
CID = connection_id(PROVIDER)


@pytest.fixture
async def gw() -> AsyncIterator[GatewayHarness]:
    async with GatewayHarness.start() as harness:
        yield harness


def books(gw: GatewayHarness) -> Books:
    return gw.sandboxes.books[0]


def guid_of(gw: GatewayHarness, business_key: str) -> str:
    emulator: Any = gw.sandboxes.emulators[PROVIDER]
    ledger = next(iter(emulator.ledgers.values()))
    return str(ledger.by_business[business_key])


def emulator(gw: GatewayHarness) -> Any:
    return gw.sandboxes.emulators[PROVIDER]


async def q(gw: GatewayHarness, body: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    data = await gw.query(f'query($c: ID!) {{ connection(id: $c) {{ {body} }} }}', {"c": CID, **(variables or {})})
    result: dict[str, Any] = data["connection"]
    return result


async def walk(gw: GatewayHarness, field: str, selection: str, first: int = 60,
               filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = await gw.query(
            f'query($c: ID!, $after: String, $f: {FILTERS.get(field, "ReferenceFilter")}) {{ connection(id: $c) {{ '
            f'{field}(first: {first}, after: $after, filter: $f) {{ nodes {{ {selection} }} '
            f'pageInfo {{ hasNextPage endCursor }} }} }} }}', {"c": CID, "after": after, "f": filter})
        page = data["connection"][field]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


FILTERS = {"invoices": "InvoiceFilter", "bills": "BillFilter", "payments": "CustomerDocumentFilter",
           "billPayments": "SupplierDocumentFilter", "expenses": "SupplierDocumentFilter",
           "creditNotes": "CustomerDocumentFilter", "purchaseOrders": "SupplierDocumentFilter",
           "journalEntries": "DatedFilter"}

LINES = ("lineItems { quantity unitPrice totalAmount taxAmount account { nominalCode } taxRate { code rate } "
         "trackingCategories { name parent { name } } }")


def book_lines(lines: list[Any], books_: Books) -> list[dict[str, Any]]:
    names = {t.id: t.name for t in books_.tracking_categories}
    codes = {a.id: a.nominal_code for a in books_.ledger_accounts}
    rates = {t.id: t for t in books_.tax_rates}
    parents = {t.id: t.parent_id for t in books_.tracking_categories}
    return [{"quantity": str(line.quantity), "unitPrice": str(line.unit_price), "totalAmount": str(line.total_amount),
             "taxAmount": str(line.tax_amount), "account": {"nominalCode": codes[line.account_id]},
             "taxRate": {"code": rates[line.tax_rate_id].code, "rate": str(rates[line.tax_rate_id].rate)},
             "trackingCategories": [{"name": names[t], "parent": {"name": names[parents[t] or ""]}}
                                    for t in line.tracking_category_ids]}
            for line in lines]


def same_lines(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        # Decimal equality for quantities and prices (Exact carries 1.5, the books 1.5; 3 vs 3)
        assert Decimal(g["quantity"]) == Decimal(w["quantity"])
        assert Decimal(g["unitPrice"]) == Decimal(w["unitPrice"])
        assert g["totalAmount"] == w["totalAmount"]
        assert g["taxAmount"] == w["taxAmount"]
        assert g["account"] == w["account"]
        assert g["taxRate"] == w["taxRate"]
        assert g["trackingCategories"] == w["trackingCategories"]


# --- reference data ------------------------------------------------------------------------------


async def test_reference_data_matches_the_books(gw: GatewayHarness) -> None:
    b = books(gw)
    data = await q(gw, """
        ledgerAccounts(first: 100) { nodes { id nominalCode name type subType status currency } }
        taxRates(first: 100) { nodes { id code name rate } }
        customers(first: 100) { nodes { id displayName email currency status } }
        suppliers(first: 100) { nodes { id displayName email currency } }
        trackingCategories(first: 100) { nodes { id name parent { id name } } }
        departments(first: 100) { nodes { id name } }
        locations(first: 100) { nodes { id name } }
        journals(first: 100) { nodes { id name code source } }
        bankAccounts(first: 100) { nodes { id name currency institutionName accountNumber
                                           ledgerAccount { nominalCode name } } }
    """)
    accounts = {a["nominalCode"]: a for a in data["ledgerAccounts"]["nodes"]}
    assert len(accounts) == len(b.ledger_accounts)
    for account in b.ledger_accounts:
        got = accounts[account.nominal_code]
        assert got["id"] == guid_of(gw, account.id)
        assert (got["name"], got["type"], got["subType"], got["currency"]) == \
            (account.name, account.type.value, account.sub_type, account.currency)
    assert {(t["code"], t["name"], t["rate"]) for t in data["taxRates"]["nodes"]} == \
        {(t.code, t.name, str(t.rate)) for t in b.tax_rates}
    assert {(c["id"], c["displayName"], c["email"], c["currency"]) for c in data["customers"]["nodes"]} == \
        {(guid_of(gw, c.id), c.display_name, c.email, c.currency) for c in b.customers}
    assert {(s["id"], s["displayName"], s["currency"]) for s in data["suppliers"]["nodes"]} == \
        {(guid_of(gw, s.id), s.display_name, s.currency) for s in b.suppliers}
    tracking = {(t["name"], (t["parent"] or {}).get("name")) for t in data["trackingCategories"]["nodes"]}
    names = {t.id: t.name for t in b.tracking_categories}
    assert tracking == {(t.name, names.get(t.parent_id or "")) for t in b.tracking_categories}
    roots = {t["id"] for t in data["trackingCategories"]["nodes"] if t["parent"] is None}
    assert roots == {"dimension:department", "dimension:location"}
    assert {d["name"] for d in data["departments"]["nodes"]} == {t.name for t in b.departments}
    assert {x["name"] for x in data["locations"]["nodes"]} == {t.name for t in b.locations}
    assert [(j["name"], j["code"], j["source"]) for j in data["journals"]["nodes"]] == \
        [(j.name, j.code, "NATIVE") for j in b.journals]
    banks = {x["name"]: x for x in data["bankAccounts"]["nodes"]}
    for bank in b.bank_accounts:
        got = banks[bank.name]
        ledger = b.account(bank.ledger_account_id or "")
        assert (got["currency"], got["institutionName"], got["accountNumber"]) == \
            (bank.currency, bank.institution_name, bank.account_number)
        assert got["ledgerAccount"] == {"nominalCode": ledger.nominal_code, "name": ledger.name}
    # `Connection.companyInfo` is not in the schema yet: ask the connector directly.
    connector = gw.demo.gateway.connector(CID)
    page = await connector.list_page(Resource.COMPANY_INFO, ListFilter(), None, 1)
    company = page.records[0]
    assert isinstance(company, CompanyInfo)
    assert (company.name, company.legal_name, company.base_currency, company.country,
            company.fiscal_year_start_month) == (b.company.name, b.company.legal_name, b.company.base_currency,
                                                 b.company.country, b.company.fiscal_year_start_month)


async def test_by_id_fields_answer(gw: GatewayHarness) -> None:
    b = books(gw)
    invoice, bill, customer = b.invoices[5], b.bills[7], b.customers[2]
    data = await q(gw, """
        invoice(id: $i) { number total }
        bill(id: $b) { number total }
        customer(id: $cu) { displayName }
        ledgerAccount(id: $a) { name }
        taxRate(id: "S") { name rate }
        trackingCategory(id: "costcenter:100") { name parent { name } }
        department(id: "costcenter:200") { name }
        location(id: "costunit:LDN") { name }
        journal(id: "GJ") { name }
        bankAccount(id: "20") { name }
    """.replace("$i", f'"{guid_of(gw, invoice.id)}"').replace("$b", f'"{guid_of(gw, bill.id)}"')
        .replace("$cu", f'"{guid_of(gw, customer.id)}"').replace("$a", f'"{guid_of(gw, "acc-4000")}"'))
    assert data["invoice"] == {"number": invoice.number, "total": str(invoice.total)}
    assert data["bill"] == {"number": bill.number, "total": str(bill.total)}
    assert data["customer"]["displayName"] == customer.display_name
    assert data["ledgerAccount"]["name"] == "Sales - Services"
    assert data["taxRate"] == {"name": "Standard rate 20%", "rate": "20"}
    assert data["trackingCategory"] == {"name": "Sales", "parent": {"name": "Department"}}
    assert data["department"]["name"] == "Operations"
    assert data["location"]["name"] == "London"
    assert data["journal"]["name"] == "General Journal"
    assert data["bankAccount"]["name"] == b.bank_accounts[0].name
    body = await gw.execute('query($c: ID!) { connection(id: $c) { invoice(id: "00000000-0000-0000-0000-000000000000") '
                            '{ id } } }', {"c": CID})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# --- documents -----------------------------------------------------------------------------------


async def test_invoices_page_through_and_match_the_books(gw: GatewayHarness) -> None:
    b = books(gw)
    gw.reset_counts()
    nodes = await walk(gw, "invoices", f"""id number status currency invoiceDate dueDate subTotal totalTax total
                                          balance customer {{ id displayName }} {LINES}""")
    pages = math.ceil(len(b.invoices) / 60)
    # One call for the page of sales entries (lines expanded) and one for their open amounts; accounts,
    # tax rates, tracking once each. The customers' names come with the entries (CustomerName): no call for
    # the customers. No account's currency is selected, so the journals and the division (what it comes
    # from) are not read.
    counts = emulator(gw).counter.by_kind
    assert counts["GET salesentry/SalesEntries"] == counts["GET cashflow/Receivables"] == pages
    assert counts["GET crm/Accounts"] == 0
    for kind in ("financial/GLAccounts", "vat/VATCodes", "hrm/Costcenters", "hrm/Costunits"):
        assert counts[f"GET {kind}"] == 1, kind
    assert counts["GET financial/Journals"] == counts["GET system/Divisions"] == 0
    by_number = {n["number"]: n for n in nodes}
    assert len(nodes) == len(by_number) == len(b.invoices)
    for invoice in b.invoices:
        got = by_number[invoice.number]
        assert got["id"] == guid_of(gw, invoice.id)
        assert (got["status"], got["currency"], got["invoiceDate"], got["dueDate"]) == \
            (invoice.status.value, invoice.currency, str(invoice.invoice_date), str(invoice.due_date))
        assert (got["subTotal"], got["totalTax"], got["total"], got["balance"]) == \
            (str(invoice.sub_total), str(invoice.total_tax), str(invoice.total), str(invoice.balance))
        assert got["customer"]["id"] == guid_of(gw, invoice.customer_id or "")
        same_lines(got["lineItems"], book_lines(invoice.line_items, b))


async def test_paging_costs_one_call_per_exact_page_and_balances_one_more(gw: GatewayHarness) -> None:
    b = books(gw)
    gw.reset_counts()
    nodes = await walk(gw, "invoices", "id number", first=60)
    assert sorted(n["number"] for n in nodes) == sorted(i.number or "" for i in b.invoices)
    pages = math.ceil(len(b.invoices) / 60)
    counts = emulator(gw).counter.by_kind
    assert counts["GET salesentry/SalesEntries"] == pages
    assert counts.get("GET cashflow/Receivables", 0) == 0  # balances are deferred: not asked, not read
    assert gw.upstream_calls(PROVIDER) == pages
    gw.reset_counts()
    nodes = await walk(gw, "invoices", "id balance status", first=60)
    by_id = {n["id"]: n for n in nodes}
    for invoice in b.invoices:
        got = by_id[guid_of(gw, invoice.id)]
        assert (got["balance"], got["status"]) == (str(invoice.balance), invoice.status.value)
    assert emulator(gw).counter.by_kind["GET cashflow/Receivables"] == pages
    assert gw.upstream_calls(PROVIDER) == 2 * pages
    # larger GraphQL pages never read an Exact page twice either
    gw.reset_counts()
    nodes = await walk(gw, "invoices", "id", first=100)
    assert len({n["id"] for n in nodes}) == len(b.invoices)
    assert emulator(gw).counter.by_kind["GET salesentry/SalesEntries"] == pages


async def test_total_count_is_exacts_count(gw: GatewayHarness) -> None:
    b = books(gw)
    gw.reset_counts()
    data = await q(gw, "invoices(first: 1) { totalCount } creditNotes(first: 1) { totalCount }")
    assert data["invoices"]["totalCount"] == len(b.invoices)
    assert data["creditNotes"]["totalCount"] == len(b.credit_notes)
    customer = b.invoices[0].customer_id or ""
    gw.reset_counts()
    data = await gw.query('query($c: ID!, $f: InvoiceFilter) { connection(id: $c) { invoices(first: 1, filter: $f) '
                          '{ totalCount } } }', {"c": CID, "f": {"customerId": guid_of(gw, customer)}})
    assert data["connection"]["invoices"]["totalCount"] == sum(1 for i in b.invoices if i.customer_id == customer)
    # a filtered count is Exact's `$count` (one call), plus the first page it was asked with (one: balances
    # are deferred and not asked for)
    assert gw.upstream_calls(PROVIDER) == 2


async def test_updated_since_returns_exactly_the_changed_invoices(gw: GatewayHarness) -> None:
    b = books(gw)
    stamps = sorted(i.updated_at for i in b.invoices if i.updated_at)
    since: datetime = stamps[len(stamps) // 2]
    gw.reset_counts()
    nodes = await walk(gw, "invoices", "number updatedAt", first=100, filter={"updatedSince": since.isoformat()})
    expected = {i.number for i in b.invoices if i.updated_at and i.updated_at > since}
    assert {n["number"] for n in nodes} == expected
    assert len(nodes) == len(expected)
    # pushed upstream as `Modified ge datetime'..'`: only the changed half is read from Exact
    assert emulator(gw).counter.by_kind["GET salesentry/SalesEntries"] == math.ceil(len(expected) / 60) < \
        math.ceil(len(b.invoices) / 60)


async def test_bills_exclude_the_expense_fallback(gw: GatewayHarness) -> None:
    b = books(gw)
    nodes = await walk(gw, "bills", f"""id number status total balance billDate dueDate supplier {{ id }} {LINES}""")
    assert sorted(n["number"] for n in nodes) == sorted(x.number or "" for x in b.bills)
    by_number = {n["number"]: n for n in nodes}
    for bill in b.bills:
        got = by_number[bill.number]
        assert (got["status"], got["total"], got["balance"], got["billDate"], got["dueDate"]) == \
            (bill.status.value, str(bill.total), str(bill.balance), str(bill.bill_date), str(bill.due_date))
        assert got["supplier"]["id"] == guid_of(gw, bill.supplier_id or "")
        same_lines(got["lineItems"], book_lines(bill.line_items, b))


async def test_expenses_are_a_flagged_fallback(gw: GatewayHarness) -> None:
    b = books(gw)
    body = await gw.execute('query($c: ID!) { connection(id: $c) { expenses(first: 100) { nodes { number source '
                            'transactionDate totalAmount subTotal totalTax currency supplier { id } '
                            'account { nominalCode } lineItems { totalAmount taxAmount account { nominalCode } } } } '
                            '} }', {"c": CID})
    assert "errors" not in body
    nodes = body["data"]["connection"]["expenses"]["nodes"]
    assert {f["resource"] for f in body["extensions"]["fallbacks"]} == {"expenses"}
    by_number = {n["number"]: n for n in nodes}
    assert set(by_number) == {e.number for e in b.expenses}
    for expense in b.expenses:
        got = by_number[expense.number]
        assert got["source"] == "BILL_FALLBACK"
        assert (got["transactionDate"], got["totalAmount"], got["subTotal"], got["totalTax"], got["currency"]) == \
            (str(expense.transaction_date), str(expense.total_amount), str(expense.sub_total),
             str(expense.total_tax), expense.currency)
        assert got["supplier"]["id"] == guid_of(gw, expense.supplier_id or "")
        assert got["account"]["nominalCode"] == b.account(expense.account_id or "").nominal_code
        assert [line["totalAmount"] for line in got["lineItems"]] == [str(x.total_amount) for x in expense.line_items]
    coverage = {c.resource: c for c in gw.demo.gateway.connector(CID).coverage()}
    assert coverage[Resource.EXPENSES].operations[Operation.LIST] == Support.FALLBACK
    assert "due date equals the entry date" in (coverage[Resource.EXPENSES].fallback or "")
    assert coverage[Resource.SUBSIDIARIES].operations[Operation.LIST] == Support.UNSUPPORTED


async def test_two_expenses_are_told_from_bills_upstream_at_a_bounded_cost() -> None:
    """`expenses(first: 2)`: one filtered page (`DueDate eq EntryDate`, no open items, no page-by-page scan),
    then the paying account of each: bank entry lines with the control accounts and journals beside them,
    then their entries. Five calls in three round trips is the floor on Exact: a bank entry line does not
    say its journal."""
    # Latency makes concurrent calls overlap, so round trips can be told from calls.
    async with GatewayHarness.start(faults=Faults(latencyMs=20)) as gw:
        b = books(gw)
        body = await gw.execute('query($c: ID!) { connection(id: $c) { expenses(first: 2) { nodes { number source '
                                'transactionDate totalAmount currency } } } }', {"c": CID})
        assert "errors" not in body
        nodes = body["data"]["connection"]["expenses"]["nodes"]
        assert len(nodes) == 2
        by_number = {e.number: e for e in b.expenses}
        for node in nodes:
            expense = by_number[node["number"]]
            assert (node["source"], node["transactionDate"], node["totalAmount"], node["currency"]) == \
                ("BILL_FALLBACK", str(expense.transaction_date), str(expense.total_amount), expense.currency)
        kinds = emulator(gw).counter.by_kind
        assert kinds["GET purchaseentry/PurchaseEntries"] == 1
        assert "GET cashflow/Payments" not in kinds
        assert body["extensions"]["upstreamCalls"] == emulator(gw).counter.total <= 5
        assert body["extensions"]["upstreamRoundTrips"] <= 3


async def test_payments_and_bill_payments_match_the_books(gw: GatewayHarness) -> None:
    b = books(gw)
    payments = await walk(gw, "payments", "id reference paymentDate totalAmount currency customer { id } "
                                          "account { nominalCode } allocations { amount invoice { number } }")
    by_ref = {p["reference"]: p for p in payments}
    assert set(by_ref) == {p.reference for p in b.payments}
    invoice_numbers = {i.id: i.number for i in b.invoices}
    for payment in b.payments:
        got = by_ref[payment.reference]
        assert (got["paymentDate"], got["totalAmount"], got["currency"]) == \
            (str(payment.payment_date), str(payment.total_amount), payment.currency)
        assert got["customer"]["id"] == guid_of(gw, payment.customer_id or "")
        assert got["account"]["nominalCode"] == b.account(payment.account_id or "").nominal_code
        assert sorted((a["invoice"]["number"], a["amount"]) for a in got["allocations"]) == \
            sorted((invoice_numbers[a.document_id], str(a.amount)) for a in payment.allocations)
    overpaid = [p for p in b.payments if p.total_amount > sum(a.amount for a in p.allocations)]
    assert overpaid, "the books hold an overpayment"

    bill_payments = await walk(gw, "billPayments", "reference totalAmount supplier { id } account { nominalCode } "
                                                   "allocations { amount bill { number } }")
    by_ref = {p["reference"]: p for p in bill_payments}
    # expense settlements are part of the expenses, not bill payments
    assert set(by_ref) == {p.reference for p in b.bill_payments}
    bill_numbers = {x.id: x.number for x in b.bills}
    for bill_payment in b.bill_payments:
        got = by_ref[bill_payment.reference]
        assert got["totalAmount"] == str(bill_payment.total_amount)
        assert got["account"]["nominalCode"] == b.account(bill_payment.account_id or "").nominal_code
        assert sorted((a["bill"]["number"], a["amount"]) for a in got["allocations"]) == \
            sorted((bill_numbers[a.document_id], str(a.amount)) for a in bill_payment.allocations)


async def test_credit_notes_and_reverse_references(gw: GatewayHarness) -> None:
    b = books(gw)
    notes = await walk(gw, "creditNotes", "number status total balance subTotal totalTax issueDate "
                                          "customer { id } allocations { amount invoice { number } }")
    invoice_numbers = {i.id: i.number for i in b.invoices}
    by_number = {n["number"]: n for n in notes}
    assert set(by_number) == {c.number for c in b.credit_notes}
    for note in b.credit_notes:
        got = by_number[note.number]
        assert (got["status"], got["total"], got["balance"], got["issueDate"]) == \
            (note.status.value, str(note.total), str(note.balance), str(note.issue_date))
        assert [(a["invoice"]["number"], a["amount"]) for a in got["allocations"]] == \
            [(invoice_numbers[a.document_id], str(a.amount)) for a in note.allocations]
    credited = b.invoices.index(next(i for i in b.invoices if any(
        a.document_id == i.id for c in b.credit_notes for a in c.allocations)))
    paid = next(p for p in b.payments if len(p.allocations) > 1)
    target = next(i for i in b.invoices if i.id == paid.allocations[0].document_id)
    data = await q(gw, f"""
        a: invoice(id: "{guid_of(gw, b.invoices[credited].id)}") {{ creditNotes {{ number }} }}
        b: invoice(id: "{guid_of(gw, target.id)}") {{ payments {{ reference totalAmount }} }}
    """)
    assert {c["number"] for c in data["a"]["creditNotes"]} == \
        {c.number for c in b.credit_notes if any(a.document_id == b.invoices[credited].id for a in c.allocations)}
    assert {(p["reference"], p["totalAmount"]) for p in data["b"]["payments"]} == \
        {(p.reference, str(p.total_amount)) for p in b.payments if any(a.document_id == target.id
                                                                       for a in p.allocations)}


async def test_journal_entries_and_purchase_orders(gw: GatewayHarness) -> None:
    b = books(gw)
    data = await q(gw, """
        journalEntries(first: 100) { nodes { number postingDate currency journal { id name }
            lineItems { account { nominalCode } type amount description trackingCategories { name } } } }
        purchaseOrders(first: 100) { nodes { number status orderDate deliveryDate currency subTotal totalTax total
            supplier { id } lineItems { quantity unitPrice totalAmount taxAmount account { nominalCode } } } }
    """)
    entries = {e["number"]: e for e in data["journalEntries"]["nodes"]}
    names = {t.id: t.name for t in b.tracking_categories}
    assert set(entries) == {e.number for e in b.journal_entries}
    for entry in b.journal_entries:
        got = entries[entry.number]
        assert (got["postingDate"], got["currency"], got["journal"]) == \
            (str(entry.posting_date), entry.currency, {"id": "GJ", "name": "General Journal"})
        assert [(x["account"]["nominalCode"], x["type"], x["amount"], x["description"],
                 [t["name"] for t in x["trackingCategories"]]) for x in got["lineItems"]] == \
            [(b.account(x.account_id).nominal_code, x.type.value, str(x.amount), x.description,
              [names[t] for t in x.tracking_category_ids]) for x in entry.line_items]
    orders = {o["number"]: o for o in data["purchaseOrders"]["nodes"]}
    assert set(orders) == {o.number for o in b.purchase_orders}
    for order in b.purchase_orders:
        got = orders[order.number]
        assert (got["status"], got["orderDate"], got["deliveryDate"], got["total"], got["totalTax"]) == \
            (order.status.value, str(order.order_date), str(order.delivery_date), str(order.total),
             str(order.total_tax))
        assert got["supplier"]["id"] == guid_of(gw, order.supplier_id or "")
        assert [x["totalAmount"] for x in got["lineItems"]] == [str(x.total_amount) for x in order.line_items]


# --- call budgets ----------------------------------------------------------------------------------

FIFTY_BILLS = """bills(first: 50) { nodes { number supplier { displayName }
    lineItems { account { name } taxRate { rate } } payments { reference totalAmount } } }"""


async def test_fifty_bills_with_references_and_payments(gw: GatewayHarness) -> None:
    b = books(gw)
    gw.reset_counts()
    cold = await q(gw, FIFTY_BILLS)
    cold_calls = gw.upstream_calls(PROVIDER)
    # page + suppliers + chart of accounts + VAT codes + bank entry lines by OurRef + their bank entries
    # (no currency nor bank account selected: no journals, no division)
    assert cold_calls <= 6
    gw.reset_counts()
    warm = await q(gw, FIFTY_BILLS)
    # reference data (accounts, VAT codes, suppliers) is cached for its cache_ttl
    assert gw.upstream_calls(PROVIDER) <= 4
    assert warm == cold
    nodes = cold["bills"]["nodes"]
    assert len(nodes) == 50
    supplier_names = {s.id: s.display_name for s in b.suppliers}
    refs = {x.number: {(p.reference, str(p.total_amount)) for p in b.bill_payments
                       if any(a.document_id == x.id for a in p.allocations)} for x in b.bills}
    for node in nodes:
        bill = next(x for x in b.bills if x.number == node["number"])
        assert node["supplier"]["displayName"] == supplier_names[bill.supplier_id or ""]
        assert [line["account"]["name"] for line in node["lineItems"]] == \
            [b.account(x.account_id or "").name for x in bill.line_items]
        assert {(p["reference"], p["totalAmount"]) for p in node["payments"]} == refs[bill.number]


# --- deferred fields: read only when selected ----------------------------------------------------------

BILLS_LEAN = """bills(first: 30) { nodes { number lineItems { account { nominalCode name } }
    payments { reference totalAmount } } }"""
BILLS_WITH_DEFERRED = """bills(first: 30) { nodes { number lineItems { account { nominalCode name currency } }
    payments { reference totalAmount account { nominalCode currency } } } }"""


async def test_account_currency_and_payment_bank_account_are_read_only_when_selected() -> None:
    # A fresh gateway: the connector keeps the journals it reads for their cache_ttl.
    async with GatewayHarness.start() as gw:
        b = books(gw)
        gw.reset_counts()
        lean = await q(gw, BILLS_LEAN)
        kinds = emulator(gw).counter.by_kind
        assert "GET financial/Journals" not in kinds and "GET system/Divisions" not in kinds

        gw.reset_counts()
        full = await q(gw, BILLS_WITH_DEFERRED)
        kinds = emulator(gw).counter.by_kind
        # Every line account's currency and every payment's bank account: one batch, journals + division once.
        assert kinds["GET financial/Journals"] == kinds["GET system/Divisions"] == 1

    by_reference = {p.reference: p for p in b.bill_payments}
    by_code = {a.nominal_code: a for a in b.ledger_accounts}
    currencies: set[str] = set()
    for thin, node in zip(lean["bills"]["nodes"], full["bills"]["nodes"], strict=True):
        bill = next(x for x in b.bills if x.number == node["number"])
        assert [line["account"]["currency"] for line in node["lineItems"]] == \
            [b.account(x.account_id or "").currency for x in bill.line_items]
        for payment in node["payments"]:
            expected = b.account(by_reference[payment["reference"]].account_id or "")
            assert payment["account"] == {"nominalCode": expected.nominal_code, "currency": expected.currency}
            currencies.add(payment["account"]["currency"])
        # What both selected is the same whether or not the deferred fields were.
        assert [{"nominalCode": x["account"]["nominalCode"], "name": x["account"]["name"]}
                for x in node["lineItems"]] == [x["account"] for x in thin["lineItems"]]
        assert [{k: p[k] for k in ("reference", "totalAmount")} for p in node["payments"]] == thin["payments"]
    # A bank journal's currency (EUR) as well as the division's (GBP) came through.
    assert currencies == {"GBP", "EUR"} and by_code["1220"].currency == "EUR"


async def test_a_write_sees_the_deferred_currency_of_its_bank_account(gw: GatewayHarness) -> None:
    # Validation asks the loaders for whole records: the EUR bank account is not taken for a GBP one.
    body = await gw.execute(
        "mutation($c: ID!, $i: PaymentInput!) { createPayment(connectionId: $c, input: $i) { dryRun } }",
        {"c": CID, "i": {"customerId": guid_of(gw, books(gw).customers[0].id), "accountId": guid_of(gw, "acc-1220"),
                         "paymentDate": "2026-11-15", "currency": "GBP", "totalAmount": "10.00", "allocations": []}})
    problems = {(tuple(e["extensions"].get("inputPath") or ()), e["message"]) for e in body["errors"]}
    assert (("input", "currency"), "GBP does not match the bank account's currency EUR") in problems


# --- errors ------------------------------------------------------------------------------------------


async def test_expired_token_is_refreshed_transparently(gw: GatewayHarness) -> None:
    emulator(gw).oauth.expire_access_tokens()
    before = emulator(gw).oauth.refresh_count
    data = await q(gw, "taxRates(first: 5) { nodes { code } }")
    assert {t["code"] for t in data["taxRates"]["nodes"]} == {"Z", "R", "S"}
    assert emulator(gw).oauth.refresh_count == before + 1


async def test_refused_refresh_is_upstream_auth_expired(gw: GatewayHarness) -> None:
    emulator(gw).oauth.expire_access_tokens()
    tokens = await gw.demo.gateway.tokens.get(CID)
    tokens.refresh_token = "not-a-refresh-token"
    await gw.demo.gateway.tokens.put(CID, tokens)
    body = await gw.execute('query($c: ID!) { connection(id: $c) { name taxRates { nodes { code } } } }', {"c": CID})
    assert body["data"]["connection"]["name"]
    assert body["data"]["connection"]["taxRates"] is None
    error = body["errors"][0]
    assert error["path"] == ["connection", "taxRates"]
    assert error["extensions"]["code"] == "UPSTREAM_AUTH_EXPIRED"


@pytest.mark.parametrize(("faults", "code"), [(Faults(error429=1.0), "UPSTREAM_RATE_LIMITED"),
                                              (Faults(error5xx=1.0), "UPSTREAM_UNAVAILABLE")])
async def test_upstream_failures_are_typed_at_the_field(gw: GatewayHarness, faults: Faults, code: str) -> None:
    emulator(gw).faults.set(faults)
    body = await gw.execute('query($c: ID!) { connection(id: $c) { name provider invoices(first: 5) { nodes { id } } '
                            '} }', {"c": CID})
    assert body["data"]["connection"]["provider"] == PROVIDER
    assert body["data"]["connection"]["invoices"] is None
    assert body["errors"][0]["path"] == ["connection", "invoices"]
    assert body["errors"][0]["extensions"]["code"] == code


async def test_subsidiaries_are_unsupported_without_a_call(gw: GatewayHarness) -> None:
    gw.reset_counts()
    body = await gw.execute('query($c: ID!) { connection(id: $c) { name subsidiaries(first: 5) { nodes { id } } } }',
                            {"c": CID})
    assert body["errors"][0]["extensions"]["code"] == "UNSUPPORTED_BY_PROVIDER"
    assert body["data"]["connection"]["name"]
    assert gw.upstream_calls(PROVIDER) == 0
