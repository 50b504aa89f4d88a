"""Writes through GraphQL over HTTP, on all four sandboxes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledgerql.sandbox.books import BookSizes
from ledgerql.sandbox.common import Faults
from tests.api.test_one_ledger_four_dialects import fetch_all
from tests.harness import PROVIDERS, GatewayHarness, connection_id

REFS = """query($c: ID!) { connection(id: $c) {
  customers(first: 100) { nodes { id displayName currency } }
  suppliers(first: 100) { nodes { id displayName currency } }
  ledgerAccounts(first: 100) { nodes { id nominalCode type currency } }
  taxRates(first: 100) { nodes { id code rate } }
  trackingCategories(first: 100) { nodes { id name } }
} }"""


class Refs:
    def __init__(self, data: dict[str, Any]) -> None:
        conn = data["connection"]
        self.customers = [c for c in conn["customers"]["nodes"] if c["currency"] == "GBP"]
        self.suppliers = [s for s in conn["suppliers"]["nodes"] if s["currency"] == "GBP"]
        self.accounts = {a["nominalCode"]: a["id"] for a in conn["ledgerAccounts"]["nodes"]}
        self.taxes = {t["code"]: t["id"] for t in conn["taxRates"]["nodes"]}
        self.tracking = {t["name"]: t["id"] for t in conn["trackingCategories"]["nodes"]}

    @property
    def customer(self) -> str:
        return str(self.customers[0]["id"])

    @property
    def supplier(self) -> str:
        return str(self.suppliers[0]["id"])


async def refs(gw: GatewayHarness, provider: str) -> Refs:
    return Refs(await gw.query(REFS, {"c": connection_id(provider)}))


def lines(refs: Refs, account: str, *amounts: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"description": f"Line {i + 1}", "quantity": qty, "unitPrice": price,
             "totalAmount": str(Decimal(qty) * Decimal(price)), "accountId": refs.accounts[account],
             "taxRateId": refs.taxes["S"], "trackingCategoryIds": [refs.tracking["Sales"]]}
            for i, (qty, price) in enumerate(amounts)]


CREATE_BILL = """mutation($c: ID!, $i: BillInput!, $k: String) { createBill(connectionId: $c, input: $i,
  idempotencyKey: $k) { replayed bill { id number billDate total subTotal totalTax balance status currency
  supplier { displayName } lineItems { description quantity unitPrice totalAmount taxAmount account { nominalCode }
  taxRate { code } trackingCategories { name } } } } }"""

READ_BILL = """query($c: ID!, $id: ID!) { connection(id: $c) { bill(id: $id) { id number billDate total subTotal
  totalTax balance status currency supplier { displayName } lineItems { description quantity unitPrice totalAmount
  taxAmount account { nominalCode } taxRate { code } trackingCategories { name } } payments { totalAmount } } } }"""

PAY_BILL = """mutation($c: ID!, $i: BillPaymentInput!, $k: String) { createBillPayment(connectionId: $c, input: $i,
  idempotencyKey: $k) { billPayment { id totalAmount allocations { amount bill { id } } } } }"""


def bill_input(refs: Refs, number: str) -> dict[str, Any]:
    return {"supplierId": refs.supplier, "billDate": "2026-11-02", "dueDate": "2026-12-02", "currency": "GBP",
            "number": number, "lineItems": lines(refs, "6400", ("2", "10.50"), ("1", "99.99"))}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_bill_created_paid_in_full_reads_paid(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        created = (await gw.query(CREATE_BILL, {"c": conn, "i": bill_input(r, "SUP-7781")}))["createBill"]["bill"]
        assert Decimal(created["subTotal"]) == Decimal("120.99")
        assert Decimal(created["totalTax"]) == Decimal("4.20") + Decimal("20.00")
        assert Decimal(created["total"]) == Decimal("145.19")
        read = (await gw.query(READ_BILL, {"c": conn, "id": created["id"]}))["connection"]["bill"]
        for field in ("number", "billDate", "currency", "supplier", "status"):
            assert read[field] == created[field]
        assert Decimal(read["balance"]) == Decimal("145.19") and read["status"] == "AUTHORISED"
        assert [x["account"]["nominalCode"] for x in read["lineItems"]] == ["6400", "6400"]

        payment = {"supplierId": r.supplier, "accountId": r.accounts["1200"], "paymentDate": "2026-11-10",
                   "currency": "GBP", "totalAmount": "145.19", "reference": "BP-TEST",
                   "allocations": [{"billId": created["id"], "amount": "145.19"}]}
        await gw.query(PAY_BILL, {"c": conn, "i": payment})
        read = (await gw.query(READ_BILL, {"c": conn, "id": created["id"]}))["connection"]["bill"]
        assert read["status"] == "PAID" and Decimal(read["balance"]) == 0
        assert [Decimal(p["totalAmount"]) for p in read["payments"]] == [Decimal("145.19")]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_invoice_two_partial_payments_and_a_credit_note(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        invoice = (await gw.query(
            """mutation($c: ID!, $i: InvoiceInput!) { createInvoice(connectionId: $c, input: $i) {
               invoice { id total balance status customer { displayName } } } }""",
            {"c": conn, "i": {"customerId": r.customer, "invoiceDate": "2026-11-01", "dueDate": "2026-12-01",
                              "currency": "GBP", "number": "INV-9001",
                              "lineItems": lines(r, "4000", ("4", "250.00"))}}))["createInvoice"]["invoice"]
        assert Decimal(invoice["total"]) == Decimal("1200.00")
        pay = """mutation($c: ID!, $i: PaymentInput!) { createPayment(connectionId: $c, input: $i) {
                 payment { id totalAmount } } }"""
        for amount in ("300.00", "450.00"):
            await gw.query(pay, {"c": conn, "i": {
                "customerId": r.customer, "accountId": r.accounts["1200"], "paymentDate": "2026-11-15",
                "currency": "GBP", "totalAmount": amount, "allocations": [{"invoiceId": invoice["id"], "amount": amount}]}})
        read = """query($c: ID!, $id: ID!) { connection(id: $c) { invoice(id: $id) { balance status
                  payments { totalAmount } creditNotes { number } } } }"""
        got = (await gw.query(read, {"c": conn, "id": invoice["id"]}))["connection"]["invoice"]
        assert Decimal(got["balance"]) == Decimal("450.00") and got["status"] == "PARTIALLY_PAID"
        assert sorted(Decimal(p["totalAmount"]) for p in got["payments"]) == [Decimal("300.00"), Decimal("450.00")]

        await gw.query("""mutation($c: ID!, $i: CreditNoteInput!) { createCreditNote(connectionId: $c, input: $i) {
                          creditNote { id total balance allocations { amount } } } }""",
                       {"c": conn, "i": {"customerId": r.customer, "issueDate": "2026-11-20", "currency": "GBP",
                                         "number": "CN-9001", "lineItems": lines(r, "4000", ("1", "100.00")),
                                         "allocations": [{"invoiceId": invoice["id"], "amount": "120.00"}]}})
        got = (await gw.query(read, {"c": conn, "id": invoice["id"]}))["connection"]["invoice"]
        assert Decimal(got["balance"]) == Decimal("330.00")
        assert [c["number"] for c in got["creditNotes"]] == ["CN-9001"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_create_reads_back(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        customer = (await gw.query(
            """mutation($c: ID!) { createCustomer(connectionId: $c, input: {displayName: "Zephyr Books",
               email: "ap@zephyr.example", currency: "GBP"}) { customer { id displayName email } } }""",
            {"c": conn}))["createCustomer"]["customer"]
        supplier = (await gw.query(
            """mutation($c: ID!) { createSupplier(connectionId: $c, input: {displayName: "Quill Paper Co",
               currency: "GBP"}) { supplier { id displayName } } }""", {"c": conn}))["createSupplier"]["supplier"]
        read = await gw.query("""query($c: ID!, $a: ID!, $b: ID!) { connection(id: $c) {
            customer(id: $a) { displayName email } supplier(id: $b) { displayName } } }""",
                              {"c": conn, "a": customer["id"], "b": supplier["id"]})
        assert read["connection"]["customer"] == {"displayName": "Zephyr Books", "email": "ap@zephyr.example"}
        assert read["connection"]["supplier"] == {"displayName": "Quill Paper Co"}

        journal = (await gw.query(
            """mutation($c: ID!, $i: JournalEntryInput!) { createJournalEntry(connectionId: $c, input: $i) {
               journalEntry { id postingDate lineItems { type amount account { nominalCode } } } } }""",
            {"c": conn, "i": {"postingDate": "2026-11-30", "currency": "GBP", "description": "Accrued audit fee",
                              "lineItems": [
                                  {"accountId": r.accounts["6500"], "type": "DEBIT", "amount": "1250.00"},
                                  {"accountId": r.accounts["2300"], "type": "CREDIT", "amount": "1250.00"}]}}))
        entry = journal["createJournalEntry"]["journalEntry"]
        back = (await gw.query("query($c: ID!, $id: ID!) { connection(id: $c) { journalEntry(id: $id) { "
                               "postingDate lineItems { type amount account { nominalCode } } } } }",
                               {"c": conn, "id": entry["id"]}))["connection"]["journalEntry"]
        assert back["postingDate"] == "2026-11-30"
        assert sorted((x["type"], Decimal(x["amount"]), x["account"]["nominalCode"]) for x in back["lineItems"]) == [
            ("CREDIT", Decimal("1250.00"), "2300"), ("DEBIT", Decimal("1250.00"), "6500")]

        order = (await gw.query(
            """mutation($c: ID!, $i: PurchaseOrderInput!) { createPurchaseOrder(connectionId: $c, input: $i) {
               purchaseOrder { id number total } } }""",
            {"c": conn, "i": {"supplierId": supplier["id"], "orderDate": "2026-11-05", "currency": "GBP",
                              "number": "PO-9001", "lineItems": lines(r, "5000", ("3", "40.00"))}}))
        po = order["createPurchaseOrder"]["purchaseOrder"]
        back_po = (await gw.query("query($c: ID!, $id: ID!) { connection(id: $c) { purchaseOrder(id: $id) { "
                                  "number total supplier { displayName } } } }",
                                  {"c": conn, "id": po["id"]}))["connection"]["purchaseOrder"]
        assert back_po == {"number": "PO-9001", "total": back_po["total"], "supplier": {"displayName": "Quill Paper Co"}}
        assert Decimal(back_po["total"]) == Decimal("144.00")

        expense = (await gw.query(
            """mutation($c: ID!, $i: ExpenseInput!) { createExpense(connectionId: $c, input: $i) {
               expense { id totalAmount source transactionDate } } }""",
            {"c": conn, "i": {"supplierId": r.supplier, "accountId": r.accounts["1200"],
                              "transactionDate": "2026-11-12", "currency": "GBP", "number": "EXP-9001",
                              "lineItems": lines(r, "6200", ("1", "64.00"))}}))["createExpense"]["expense"]
        assert Decimal(expense["totalAmount"]) == Decimal("76.80")
        assert expense["source"] == ("BILL_FALLBACK" if provider == "EXACT_ONLINE" else "NATIVE")
        back_exp = (await gw.query("query($c: ID!, $id: ID!) { connection(id: $c) { expense(id: $id) { "
                                   "totalAmount transactionDate source account { nominalCode } } } }",
                                   {"c": conn, "id": expense["id"]}))["connection"]["expense"]
        assert back_exp["transactionDate"] == "2026-11-12" and back_exp["account"]["nominalCode"] == "1200"
        assert back_exp["source"] == expense["source"]


async def test_exact_expense_is_a_purchase_entry_due_and_paid_at_once() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "EXACT_ONLINE")
        body = await gw.execute(
            """mutation($c: ID!, $i: ExpenseInput!) { createExpense(connectionId: $c, input: $i) {
               expense { id source totalAmount } } }""",
            {"c": connection_id("EXACT_ONLINE"), "i": {
                "supplierId": r.supplier, "accountId": r.accounts["1200"], "transactionDate": "2026-11-12",
                "currency": "GBP", "lineItems": lines(r, "6200", ("1", "64.00"))}})
        assert not body.get("errors"), body.get("errors")
        assert body["data"]["createExpense"]["expense"]["source"] == "BILL_FALLBACK"
        assert {"connectionId": connection_id("EXACT_ONLINE"), "resource": "expenses"}.items() <= \
            body["extensions"]["fallbacks"][0].items()
        raw = (await gw.query("query($c: ID!, $id: ID!) { connection(id: $c) { expense(id: $id) { raw } } }",
                              {"c": connection_id("EXACT_ONLINE"), "id": body["data"]["createExpense"]["expense"]["id"]}))
        record = raw["connection"]["expense"]["raw"]
        assert record["DueDate"] == record["EntryDate"]
        # It is an expense, not a bill: the bills list does not show it.
        bills = await fetch_all(gw, "EXACT_ONLINE", "bills", "id")
        assert body["data"]["createExpense"]["expense"]["id"] not in {b["id"] for b in bills}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_invalid_writes_report_every_problem_and_write_nothing(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        emulator = gw.sandboxes.emulators[provider]
        before = emulator.summary()
        cases: list[tuple[str, str, dict[str, Any], set[str]]] = [
            ("createJournalEntry", "JournalEntryInput",
             {"postingDate": "2026-11-30", "currency": "GBP", "lineItems": [
                 {"accountId": r.accounts["6500"], "type": "DEBIT", "amount": "100.00"},
                 {"accountId": r.accounts["2300"], "type": "CREDIT", "amount": "99.99"}]},
             {"input.lineItems"}),
            ("createExpense", "ExpenseInput",
             {"accountId": r.accounts["6400"], "transactionDate": "2026-11-12", "currency": "GBP",
              "lineItems": lines(r, "1200", ("1", "10.00"))},
             {"input.accountId", "input.lineItems.0.accountId"}),
            ("createBill", "BillInput",
             {"supplierId": "does-not-exist", "billDate": "2026-11-02", "currency": "GBPX",
              "lineItems": [{"quantity": "2", "unitPrice": "10.00", "totalAmount": "25.00",
                             "accountId": r.accounts["6400"]}]},
             {"input.supplierId", "input.currency", "input.lineItems.0.totalAmount"}),
            ("createInvoice", "InvoiceInput",
             {"customerId": r.customer, "invoiceDate": "2026-11-02", "dueDate": "2026-10-01", "currency": "GBP",
              "lineItems": lines(r, "4000", ("1", "10.00"))},
             {"input.dueDate"}),
        ]
        for mutation, input_type, data, paths in cases:
            body = await gw.execute(f"mutation($c: ID!, $i: {input_type}!) {{ {mutation}(connectionId: $c, input: $i) "
                                    "{ dryRun } }", {"c": conn, "i": data})
            assert body["data"] == {mutation: None}
            assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
            assert {".".join(str(p) for p in e["extensions"]["inputPath"]) for e in body["errors"]} == paths, mutation

        # Over-allocation: more than the invoice owes.
        invoices = await gw.query("query($c: ID!) { connection(id: $c) { invoices(first: 100, filter: "
                                  "{status: AUTHORISED}) { nodes { id balance currency customer { id } } } } }",
                                  {"c": conn})
        target = next(i for i in invoices["connection"]["invoices"]["nodes"] if i["currency"] == "GBP")
        too_much = str(Decimal(target["balance"]) + 1)
        body = await gw.execute("mutation($c: ID!, $i: PaymentInput!) { createPayment(connectionId: $c, input: $i) "
                                "{ dryRun } }",
                                {"c": conn, "i": {"customerId": target["customer"]["id"], "accountId": r.accounts["1200"],
                                                  "paymentDate": "2026-11-15", "currency": "GBP", "totalAmount": too_much,
                                                  "allocations": [{"invoiceId": target["id"], "amount": too_much}]}})
        assert [e["extensions"]["inputPath"] for e in body["errors"]] == [["input", "allocations", 0, "amount"]]

        # A bad date never reaches validation: the scalar refuses it.
        body = await gw.execute("mutation($c: ID!, $i: InvoiceInput!) { createInvoice(connectionId: $c, input: $i) "
                                "{ dryRun } }", {"c": conn, "i": {"customerId": r.customer, "invoiceDate": "2026-02-30",
                                                                  "currency": "GBP", "lineItems": []}})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert emulator.summary() == before


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_idempotency_key_replays_and_conflicts(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        data = bill_input(r, "SUP-IDEM")
        first = await gw.query(CREATE_BILL, {"c": conn, "i": data, "k": "key-1"})
        second = await gw.query(CREATE_BILL, {"c": conn, "i": data, "k": "key-1"})
        assert first["createBill"]["bill"]["id"] == second["createBill"]["bill"]["id"]
        assert (first["createBill"]["replayed"], second["createBill"]["replayed"]) == (False, True)
        other = await gw.execute(CREATE_BILL, {"c": conn, "i": {**data, "number": "SUP-OTHER"}, "k": "key-1"})
        assert other["errors"][0]["extensions"]["code"] == "CONFLICT"
        bills = await fetch_all(gw, provider, "bills", "number")
        assert [b["number"] for b in bills].count("SUP-IDEM") == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_retried_writes_under_faults_never_duplicate(provider: str) -> None:
    """200 mutations (100 distinct, each sent until answered and then once more) under injected
    timeouts and 5xx: every call is answered, and the books hold each bill once."""
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        emulator = gw.sandboxes.emulators[provider]
        client = gw.demo.gateway.connector(conn).http
        client.timeout = 0.1
        client.retry_policy.base_delay = 0.001
        emulator.faults.set(Faults(error5xx=0.15, timeout=0.15, timeoutMs=200, seed=11))
        calls = 0
        for n in range(100):
            data = bill_input(r, f"RETRY-{n:03d}")
            answered_ok = 0
            attempts = 0
            while answered_ok < 2 and attempts < 20:
                attempts += 1
                calls += 1
                body = await gw.execute(CREATE_BILL, {"c": conn, "i": data, "k": f"retry-{n}"})
                if body.get("errors"):
                    assert body["errors"][0]["extensions"]["code"] in ("UPSTREAM_UNAVAILABLE",), body["errors"]
                else:
                    answered_ok += 1
            assert answered_ok == 2
        assert calls >= 200
        emulator.faults.set(Faults())
        bills = await fetch_all(gw, provider, "bills", "number")
        numbers = [b["number"] for b in bills if b["number"].startswith("RETRY-")]
        assert sorted(numbers) == [f"RETRY-{n:03d}" for n in range(100)]
