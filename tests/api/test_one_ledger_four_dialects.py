"""One ledger, four dialects: the same GraphQL questions asked of the four sandbox connections give the
same answers, equal to the books, once provider ids are replaced by business keys.

The queries select references by their business keys (numbers, codes, names) instead of ids, so the
answers hold no provider id at all; decimals are compared by value.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerql.model.enums import Operation, Resource
from ledgerql.sandbox.books import Books
from ledgerql.schema.connection import RESOURCE_FIELDS
from tests.harness import PROVIDERS, GatewayHarness, connection_id

LINE = ("lineItems { description quantity unitPrice totalAmount taxAmount account { nominalCode } "
        "taxRate { code } trackingCategories { name } }")

QUERIES: dict[str, str] = {
    "ledgerAccounts": "nominalCode name type status currency",
    # companyName is left out: Exact Online accounts have a single Name.
    "customers": "displayName email currency status",
    "suppliers": "displayName email currency status",
    "taxRates": "code name rate",
    "trackingCategories": "name parent { name }",
    "bankAccounts": "name currency ledgerAccount { nominalCode }",
    "invoices": f"number invoiceDate dueDate status currency subTotal totalTax total balance "
                f"customer {{ displayName }} {LINE} payments {{ reference }} creditNotes {{ number }}",
    "bills": f"number billDate dueDate status currency subTotal totalTax total balance "
             f"supplier {{ displayName }} {LINE} payments {{ reference }}",
    "payments": "reference paymentDate totalAmount currency customer { displayName } account { nominalCode } "
                "allocations { amount invoice { number } }",
    "billPayments": "reference paymentDate totalAmount currency supplier { displayName } account { nominalCode } "
                    "allocations { amount bill { number } }",
    "creditNotes": f"number issueDate status currency subTotal totalTax total balance customer {{ displayName }} "
                   f"{LINE} allocations {{ amount invoice {{ number }} }}",
    "purchaseOrders": f"number orderDate deliveryDate status currency subTotal totalTax total "
                      f"supplier {{ displayName }} {LINE}",
    "expenses": f"number transactionDate currency subTotal totalTax totalAmount supplier {{ displayName }} "
                f"account {{ nominalCode }} {LINE}",
    "journalEntries": "postingDate currency description journal { name } lineItems { account { nominalCode } "
                      "type amount description trackingCategories { name } }",
    "journals": "name",
}

# Fields whose value is a decimal: compared by value, so 1.5, 1.50 and 1.500 agree.
DECIMAL_FIELDS = {"quantity", "unitPrice", "totalAmount", "taxAmount", "subTotal", "totalTax", "total", "balance",
                  "amount", "rate"}


def normalise(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [normalise(v, key) for v in value]
        return sorted(items, key=repr)
    if key in DECIMAL_FIELDS and value is not None:
        return format(Decimal(str(value)).normalize(), "f")
    return value


async def fetch_all(gw: GatewayHarness, provider: str, field: str, selection: str) -> list[dict[str, Any]]:
    query = (f"query($c: ID!, $a: String) {{ connection(id: $c) {{ {field}(first: 100, after: $a) "
             f"{{ nodes {{ {selection} }} pageInfo {{ hasNextPage endCursor }} }} }} }}")
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = await gw.query(query, {"c": connection_id(provider), "a": after})
        page = data["connection"][field]
        nodes.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


# --- the books, asked the same questions ---------------------------------------------------------

def expected_from_books(books: Books) -> dict[str, list[dict[str, Any]]]:
    accounts = {a.id: a for a in books.ledger_accounts}
    taxes = {t.id: t for t in books.tax_rates}
    tracking = {t.id: t for t in books.tracking_categories}
    customers = {c.id: c for c in books.customers}
    suppliers = {s.id: s for s in books.suppliers}
    invoices = {i.id: i for i in books.invoices}
    bills = {b.id: b for b in books.bills}

    def lines(items: list[Any]) -> list[dict[str, Any]]:
        return [{"description": x.description, "quantity": x.quantity, "unitPrice": x.unit_price,
                 "totalAmount": x.total_amount, "taxAmount": x.tax_amount,
                 "account": {"nominalCode": accounts[x.account_id].nominal_code},
                 "taxRate": {"code": taxes[x.tax_rate_id].code},
                 "trackingCategories": [{"name": tracking[t].name} for t in x.tracking_category_ids]}
                for x in items]

    paid_by: dict[str, list[str]] = defaultdict(list)
    for p in [*books.payments, *books.bill_payments]:
        for a in p.allocations:
            paid_by[a.document_id].append(p.reference or "")
    credited_by: dict[str, list[str]] = defaultdict(list)
    for c in books.credit_notes:
        for a in c.allocations:
            credited_by[a.document_id].append(c.number or "")

    return {
        "ledgerAccounts": [{"nominalCode": a.nominal_code, "name": a.name, "type": a.type.value,
                            "status": a.status.value, "currency": a.currency} for a in books.ledger_accounts],
        "customers": [{"displayName": c.display_name, "email": c.email, "currency": c.currency,
                       "status": c.status.value} for c in books.customers],
        "suppliers": [{"displayName": c.display_name, "email": c.email, "currency": c.currency,
                       "status": c.status.value} for c in books.suppliers],
        "taxRates": [{"code": t.code, "name": t.name, "rate": t.rate} for t in books.tax_rates],
        "trackingCategories": [{"name": t.name, "parent": {"name": tracking[t.parent_id].name}
                                if t.parent_id else None} for t in books.tracking_categories],
        "bankAccounts": [{"name": b.name, "currency": b.currency,
                          "ledgerAccount": {"nominalCode": accounts[b.ledger_account_id or ""].nominal_code}}
                         for b in books.bank_accounts],
        "invoices": [{"number": i.number, "invoiceDate": i.invoice_date.isoformat(),
                      "dueDate": i.due_date.isoformat() if i.due_date else None, "status": i.status.value,
                      "currency": i.currency, "subTotal": i.sub_total, "totalTax": i.total_tax, "total": i.total,
                      "balance": i.balance, "customer": {"displayName": customers[i.customer_id or ""].display_name},
                      "lineItems": lines(i.line_items), "payments": [{"reference": r} for r in paid_by[i.id]],
                      "creditNotes": [{"number": n} for n in credited_by[i.id]]} for i in books.invoices],
        "bills": [{"number": b.number, "billDate": b.bill_date.isoformat(),
                   "dueDate": b.due_date.isoformat() if b.due_date else None, "status": b.status.value,
                   "currency": b.currency, "subTotal": b.sub_total, "totalTax": b.total_tax, "total": b.total,
                   "balance": b.balance, "supplier": {"displayName": suppliers[b.supplier_id or ""].display_name},
                   "lineItems": lines(b.line_items), "payments": [{"reference": r} for r in paid_by[b.id]]}
                  for b in books.bills],
        "payments": [{"reference": p.reference, "paymentDate": p.payment_date.isoformat(),
                      "totalAmount": p.total_amount, "currency": p.currency,
                      "customer": {"displayName": customers[p.customer_id or ""].display_name},
                      "account": {"nominalCode": accounts[p.account_id or ""].nominal_code},
                      "allocations": [{"amount": a.amount, "invoice": {"number": invoices[a.document_id].number}}
                                      for a in p.allocations]} for p in books.payments],
        "billPayments": [{"reference": p.reference, "paymentDate": p.payment_date.isoformat(),
                          "totalAmount": p.total_amount, "currency": p.currency,
                          "supplier": {"displayName": suppliers[p.supplier_id or ""].display_name},
                          "account": {"nominalCode": accounts[p.account_id or ""].nominal_code},
                          "allocations": [{"amount": a.amount, "bill": {"number": bills[a.document_id].number}}
                                          for a in p.allocations]} for p in books.bill_payments],
        "creditNotes": [{"number": c.number, "issueDate": c.issue_date.isoformat(), "status": c.status.value,
                         "currency": c.currency, "subTotal": c.sub_total, "totalTax": c.total_tax, "total": c.total,
                         "balance": c.balance, "customer": {"displayName": customers[c.customer_id or ""].display_name},
                         "lineItems": lines(c.line_items),
                         "allocations": [{"amount": a.amount, "invoice": {"number": invoices[a.document_id].number}}
                                         for a in c.allocations]} for c in books.credit_notes],
        "purchaseOrders": [{"number": o.number, "orderDate": o.order_date.isoformat(),
                            "deliveryDate": o.delivery_date.isoformat() if o.delivery_date else None,
                            "status": o.status.value, "currency": o.currency, "subTotal": o.sub_total,
                            "totalTax": o.total_tax, "total": o.total,
                            "supplier": {"displayName": suppliers[o.supplier_id or ""].display_name},
                            "lineItems": lines(o.line_items)} for o in books.purchase_orders],
        "expenses": [{"number": e.number, "transactionDate": e.transaction_date.isoformat(), "currency": e.currency,
                      "subTotal": e.sub_total, "totalTax": e.total_tax, "totalAmount": e.total_amount,
                      "supplier": {"displayName": suppliers[e.supplier_id or ""].display_name},
                      "account": {"nominalCode": accounts[e.account_id or ""].nominal_code},
                      "lineItems": lines(e.line_items)} for e in books.expenses],
        "journalEntries": [{"postingDate": j.posting_date.isoformat(), "currency": j.currency,
                            "description": j.description, "journal": {"name": "General Journal"},
                            "lineItems": [{"account": {"nominalCode": accounts[x.account_id].nominal_code},
                                           "type": x.type.value, "amount": x.amount, "description": x.description,
                                           "trackingCategories": [{"name": tracking[t].name}
                                                                  for t in x.tracking_category_ids]}
                                          for x in j.line_items]} for j in books.journal_entries],
        "journals": [{"name": "General Journal"}],
    }


@pytest.fixture(scope="module")
def answers() -> dict[str, Any]:
    """Every provider's answers to the whole query set (asked once for the module, in its own loop)."""
    return asyncio.run(collect_answers())


async def collect_answers() -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with GatewayHarness.start() as gw:
        for provider in PROVIDERS:
            result[provider] = {field: await fetch_all(gw, provider, field, selection)
                                for field, selection in QUERIES.items()}
        result["books"] = expected_from_books(gw.sandboxes.books[0])
        result["company"] = {p: (await gw.query(
            "query($c: ID!) { connection(id: $c) { companyInfo { name legalName baseCurrency country "
            "fiscalYearStart } } }", {"c": connection_id(p)}))["connection"]["companyInfo"] for p in PROVIDERS}
    return result


@pytest.mark.parametrize("field", list(QUERIES))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_provider_answers_equal_the_books(answers: dict[str, Any], provider: str, field: str) -> None:
    got = normalise(answers[provider][field], field)
    want = normalise(answers["books"][field], field)
    assert len(got) == len(want), f"{provider} {field}: {len(got)} records, the books have {len(want)}"
    assert got == want


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_company_info(answers: dict[str, Any], provider: str) -> None:
    assert answers["company"][provider] == {"name": "Northwind Ledger", "legalName": "Northwind Ledger Ltd",
                                            "baseCurrency": "GBP", "country": "GB", "fiscalYearStart": 1}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_invariants_on_every_record(answers: dict[str, Any], provider: str) -> None:
    data = answers[provider]
    applied: dict[str, Decimal] = defaultdict(Decimal)
    for payment in data["payments"]:
        allocated = sum((Decimal(a["amount"]) for a in payment["allocations"]), Decimal(0))
        assert allocated <= Decimal(payment["totalAmount"])
        for a in payment["allocations"]:
            applied[a["invoice"]["number"]] += Decimal(a["amount"])
    for note in data["creditNotes"]:
        for a in note["allocations"]:
            applied[a["invoice"]["number"]] += Decimal(a["amount"])
    for kind in ("invoices", "bills", "creditNotes", "purchaseOrders"):
        for doc in data[kind]:
            lines = sum((Decimal(x["totalAmount"]) for x in doc["lineItems"]), Decimal(0))
            assert Decimal(doc["subTotal"]) == lines, (kind, doc["number"])
            assert Decimal(doc["total"]) == Decimal(doc["subTotal"]) + Decimal(doc["totalTax"]), (kind, doc["number"])
    for invoice in data["invoices"]:
        assert Decimal(invoice["balance"]) == Decimal(invoice["total"]) - applied[invoice["number"]]
    bill_paid: dict[str, Decimal] = defaultdict(Decimal)
    for payment in data["billPayments"]:
        for a in payment["allocations"]:
            bill_paid[a["bill"]["number"]] += Decimal(a["amount"])
    for bill in data["bills"]:
        assert Decimal(bill["balance"]) == Decimal(bill["total"]) - bill_paid[bill["number"]]
    for entry in data["journalEntries"]:
        debit = sum(Decimal(x["amount"]) for x in entry["lineItems"] if x["type"] == "DEBIT")
        credit = sum(Decimal(x["amount"]) for x in entry["lineItems"] if x["type"] == "CREDIT")
        assert debit == credit


# --- upstream call counts -------------------------------------------------------------------------

BILLS_50 = """query($c: ID!) { connection(id: $c) { bills(first: 50) { nodes {
  number total supplier { displayName }
  lineItems { account { name } taxRate { rate } }
  payments { reference totalAmount }
} } } }"""


# Known shortfall, kept visible (strict: the mark fails as soon as the budget is met):
# - Exact Online, cold: 5 calls but 3 round trips: the page; then VAT codes, the payables control accounts and
#   the bank entry lines naming the page's bills (`OurRef`); then those lines' entries, since a line does not
#   say its entry's other lines, whose sum is the payment's total, and OData v2 cannot filter entries by their
#   lines. Supplier and GL account names come with the page (`SupplierName`, `GLAccountDescription`).
BUDGET_SHORTFALLS = {
    "EXACT_ONLINE": "3 round trips: bank entry lines by OurRef, then their entries",
}


@pytest.mark.parametrize("provider", [
    pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=BUDGET_SHORTFALLS[p])) if p in BUDGET_SHORTFALLS
    else p for p in PROVIDERS])
async def test_fifty_bills_with_references_cost_at_most_five_calls(provider: str) -> None:
    from ledgerql.sandbox.common import Faults

    # Latency makes concurrent calls overlap, so round trips can be told from calls.
    async with GatewayHarness.start(faults=Faults(latencyMs=30)) as gw:
        body = await gw.execute(BILLS_50, {"c": connection_id(provider)})
        assert not body.get("errors"), body.get("errors")
        bills = body["data"]["connection"]["bills"]["nodes"]
        assert len(bills) == 50
        assert all(b["supplier"] and all(x["account"] and x["taxRate"] for x in b["lineItems"]) for b in bills)
        assert any(b["payments"] for b in bills)
        calls = gw.upstream_calls(provider)
        assert calls == body["extensions"]["upstreamCalls"]
        assert calls <= 5, f"{provider}: {calls} upstream calls"
        assert body["extensions"]["upstreamRoundTrips"] <= 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_paging_through_all_invoices(provider: str) -> None:
    async with GatewayHarness.start() as gw:
        connector = gw.demo.gateway.connector(connection_id(provider))
        page_size = connector.page_size(Resource.INVOICES, 100)
        gw.reset_counts()
        numbers = [n["number"] for n in await fetch_all(gw, provider, "invoices", "number")]
        books = gw.sandboxes.books[0]
        assert sorted(numbers) == sorted(i.number for i in books.invoices)
        assert len(numbers) == len(set(numbers))
        assert gw.upstream_calls(provider) == math.ceil(len(books.invoices) / page_size)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_updated_since_returns_exactly_the_later_records(provider: str) -> None:
    async with GatewayHarness.start() as gw:
        books = gw.sandboxes.books[0]
        stamps = sorted(i.updated_at for i in books.invoices if i.updated_at)
        instant: datetime = stamps[len(stamps) // 2]
        query = ("query($c: ID!, $s: DateTime!, $a: String) { connection(id: $c) { invoices(first: 100, after: $a, "
                 "filter: {updatedSince: $s}) { nodes { number updatedAt } pageInfo { hasNextPage endCursor } } } }")
        found: list[str] = []
        after = None
        while True:
            page = (await gw.query(query, {"c": connection_id(provider), "s": instant.isoformat(),
                                           "a": after}))["connection"]["invoices"]
            found += [n["number"] for n in page["nodes"]]
            assert all(datetime.fromisoformat(n["updatedAt"]) > instant for n in page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        expected = sorted(i.number or "" for i in books.invoices if i.updated_at and i.updated_at > instant)
        assert sorted(found) == expected
        assert instant.tzinfo == UTC


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_coverage_is_generated_and_unsupported_costs_no_call(provider: str) -> None:
    async with GatewayHarness.start() as gw:
        data = await gw.query("query($c: ID!) { connection(id: $c) { coverage { resource operations "
                              "{ operation support fallback } } } }", {"c": connection_id(provider)})
        coverage = {c["resource"]: {o["operation"]: o for o in c["operations"]}
                    for c in data["connection"]["coverage"]}
        assert set(coverage) == {r.name for r in Resource}
        connector = gw.demo.gateway.connector(connection_id(provider))
        for resource in Resource:
            assert coverage[resource.name]["LIST"]["support"] == connector.support(resource, Operation.LIST).value
        unsupported = [r for r in Resource if connector.support(r, Operation.LIST).value == "UNSUPPORTED"]
        fields = {resource: name for name, _, resource, _, _ in RESOURCE_FIELDS}
        for resource in unsupported:
            field = "".join(w if i == 0 else w.title() for i, w in enumerate(fields[resource].split("_")))
            gw.reset_counts()
            body = await gw.execute(f"query($c: ID!) {{ connection(id: $c) {{ {field} {{ nodes {{ id }} }} }} }}",
                                    {"c": connection_id(provider)})
            assert body["errors"][0]["extensions"]["code"] == "UNSUPPORTED_BY_PROVIDER"
            assert gw.upstream_calls(provider) == 0
