"""Updates, voids and deletes through GraphQL over HTTP, on all four sandboxes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledgerql.connectors.mapping import load_mapping
from ledgerql.model.enums import Operation, Provider, Resource, Support
from ledgerql.sandbox.books import BookSizes
from ledgerql.sandbox.common import Faults
from ledgerql.sandbox.quickbooks.writes import race
from tests.api.test_writes import CREATE_BILL, PAY_BILL, Refs, bill_input, lines, refs
from tests.harness import PROVIDERS, GatewayHarness, connection_id

CREATE_INVOICE = """mutation($c: ID!, $i: InvoiceInput!) { createInvoice(connectionId: $c, input: $i) {
  invoice { id number total balance status } } }"""
UPDATE_INVOICE = """mutation($c: ID!, $id: ID!, $i: InvoiceUpdateInput!, $k: String) {
  updateInvoice(connectionId: $c, id: $id, input: $i, idempotencyKey: $k) {
    replayed invoice { id number dueDate total balance status lineItems { totalAmount } } } }"""
READ_INVOICE = """query($c: ID!, $id: ID!) { connection(id: $c) { invoice(id: $id) {
  id number dueDate invoiceDate total balance status lineItems { totalAmount } } } }"""
PAY = """mutation($c: ID!, $i: PaymentInput!) { createPayment(connectionId: $c, input: $i) { payment { id } } }"""
READ_BILL = "query($c: ID!, $id: ID!) { connection(id: $c) { bill(id: $id) { id status total balance } } }"

# What each unified mutation does, to ask every connection the ones its provider cannot do.
MUTATIONS: dict[tuple[Resource, Operation], tuple[str, str]] = {
    (Resource.INVOICES, Operation.UPDATE): ("updateInvoice", "InvoiceUpdateInput"),
    (Resource.BILLS, Operation.UPDATE): ("updateBill", "BillUpdateInput"),
    (Resource.CUSTOMERS, Operation.UPDATE): ("updateCustomer", "ContactUpdateInput"),
    (Resource.SUPPLIERS, Operation.UPDATE): ("updateSupplier", "ContactUpdateInput"),
    (Resource.INVOICES, Operation.VOID): ("voidInvoice", ""),
    (Resource.BILLS, Operation.VOID): ("voidBill", ""),
    (Resource.CREDIT_NOTES, Operation.VOID): ("voidCreditNote", ""),
    (Resource.PAYMENTS, Operation.VOID): ("voidPayment", ""),
    (Resource.BILL_PAYMENTS, Operation.VOID): ("voidBillPayment", ""),
    (Resource.INVOICES, Operation.DELETE): ("deleteInvoice", ""),
    (Resource.BILLS, Operation.DELETE): ("deleteBill", ""),
    (Resource.PAYMENTS, Operation.DELETE): ("deletePayment", ""),
    (Resource.BILL_PAYMENTS, Operation.DELETE): ("deleteBillPayment", ""),
    (Resource.CUSTOMERS, Operation.DELETE): ("deleteCustomer", ""),
    (Resource.SUPPLIERS, Operation.DELETE): ("deleteSupplier", ""),
    (Resource.PURCHASE_ORDERS, Operation.UPDATE): ("updatePurchaseOrder", "PurchaseOrderUpdateInput"),
    (Resource.JOURNAL_ENTRIES, Operation.UPDATE): ("updateJournalEntry", "JournalEntryUpdateInput"),
    (Resource.PURCHASE_ORDERS, Operation.DELETE): ("deletePurchaseOrder", ""),
    (Resource.JOURNAL_ENTRIES, Operation.DELETE): ("deleteJournalEntry", ""),
    (Resource.CREDIT_NOTES, Operation.UPDATE): ("updateCreditNote", "CreditNoteUpdateInput"),
    (Resource.PAYMENTS, Operation.UPDATE): ("updatePayment", "PaymentUpdateInput"),
    (Resource.BILL_PAYMENTS, Operation.UPDATE): ("updateBillPayment", "PaymentUpdateInput"),
    (Resource.EXPENSES, Operation.UPDATE): ("updateExpense", "ExpenseUpdateInput"),
}
# One field each kind of update input has.
_ONE_FIELD = {"ContactUpdateInput": {"displayName": "X"}, "PaymentUpdateInput": {"reference": "X"}}


def supports(provider: str, resource: Resource, operation: Operation) -> bool:
    return load_mapping(Provider(provider)).support(resource, operation) != Support.UNSUPPORTED


async def new_invoice(gw: GatewayHarness, r: Refs, conn: str, number: str, *amounts: tuple[str, str]) -> dict[str, Any]:
    data = {"customerId": r.customer, "invoiceDate": "2026-11-01", "dueDate": "2026-12-01", "currency": "GBP",
            "number": number, "lineItems": lines(r, "4000", *(amounts or (("4", "250.00"),)))}
    invoice: dict[str, Any] = (await gw.query(CREATE_INVOICE, {"c": conn, "i": data}))["createInvoice"]["invoice"]
    return invoice


async def pay(gw: GatewayHarness, r: Refs, conn: str, invoice_id: str, amount: str) -> str:
    data = {"customerId": r.customer, "accountId": r.accounts["1200"], "paymentDate": "2026-11-15",
            "currency": "GBP", "totalAmount": amount, "allocations": [{"invoiceId": invoice_id, "amount": amount}]}
    return str((await gw.query(PAY, {"c": conn, "i": data}))["createPayment"]["payment"]["id"])


async def read_invoice(gw: GatewayHarness, conn: str, invoice_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await gw.query(READ_INVOICE, {"c": conn, "id": invoice_id}))["connection"]["invoice"]
    return found


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_update_invoice_changes_what_a_read_returns_once_per_key(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        invoice = await new_invoice(gw, r, conn, "INV-UPD-1")
        change = {"dueDate": "2026-12-24", "number": "INV-UPD-1B"}
        first = (await gw.query(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": change, "k": "upd-1"}))
        assert first["updateInvoice"]["replayed"] is False
        read = await read_invoice(gw, conn, invoice["id"])
        assert read is not None
        assert (read["number"], read["dueDate"], read["invoiceDate"]) == ("INV-UPD-1B", "2026-12-24", "2026-11-01")
        # Only the fields given changed: the lines and amounts are as they were.
        assert Decimal(read["total"]) == Decimal(invoice["total"]) == Decimal("1200.00")
        assert [Decimal(x["totalAmount"]) for x in read["lineItems"]] == [Decimal("1000.00")]
        assert first["updateInvoice"]["invoice"]["number"] == "INV-UPD-1B"

        emulator = gw.sandboxes.emulators[provider]
        before = emulator.summary()
        again = await gw.query(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": change, "k": "upd-1"})
        assert again["updateInvoice"]["replayed"] is True
        assert again["updateInvoice"]["invoice"]["number"] == "INV-UPD-1B"
        other = await gw.execute(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": {"number": "X"}, "k": "upd-1"})
        assert codes(other) == ["CONFLICT"]
        assert emulator.summary() == before


@pytest.mark.parametrize("provider", ["QUICKBOOKS", "XERO"])
async def test_update_invoice_lines_moves_total_and_balance(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        invoice = await new_invoice(gw, r, conn, "INV-UPD-2")
        await pay(gw, r, conn, invoice["id"], "300.00")
        new_lines = lines(r, "4000", ("2", "250.00"), ("1", "100.00"))
        body = await gw.execute(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": {"lineItems": new_lines}})
        if provider == "XERO":
            # Xero refuses to change the lines of an invoice with payments (its own rule, mapped with its message).
            assert codes(body) == ["BAD_USER_INPUT"] and "payment" in body["errors"][0]["message"].lower()
            invoice = await new_invoice(gw, r, conn, "INV-UPD-3")
            body = await gw.execute(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": {"lineItems": new_lines}})
            paid = Decimal(0)
        else:
            paid = Decimal("300.00")
        assert not body.get("errors"), body.get("errors")
        read = await read_invoice(gw, conn, invoice["id"])
        assert read is not None
        assert Decimal(read["total"]) == Decimal("720.00")  # (500 + 100) + 20% tax
        assert Decimal(read["balance"]) == Decimal("720.00") - paid
        assert sorted(Decimal(x["totalAmount"]) for x in read["lineItems"]) == [Decimal("100.00"), Decimal("500.00")]


@pytest.mark.parametrize("provider", ["QUICKBOOKS", "XERO"])  # the others cannot change lines (test below)
async def test_update_refuses_a_total_below_what_was_paid_and_bad_lines(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        invoice = await new_invoice(gw, r, conn, "INV-UPD-4")
        await pay(gw, r, conn, invoice["id"], "300.00")
        emulator = gw.sandboxes.emulators[provider]
        before = emulator.summary()
        gw.reset_counts()
        body = await gw.execute(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": {
            "lineItems": lines(r, "4000", ("1", "100.00")) + lines(r, "1200", ("1", "10.00"))}})
        assert set(codes(body)) == {"BAD_USER_INPUT"}
        paths = {".".join(str(p) for p in e["extensions"]["inputPath"]) for e in body["errors"]}
        assert paths == {"input.lineItems", "input.lineItems.1.accountId"}
        assert any("already paid" in e["message"] for e in body["errors"])
        assert emulator.summary() == before


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_update_contact(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        conn = connection_id(provider)
        created = (await gw.query("""mutation($c: ID!) { createSupplier(connectionId: $c, input: {
            displayName: "Inkwell Ltd", email: "old@inkwell.example", currency: "GBP"}) { supplier { id } } }""",
                                  {"c": conn}))["createSupplier"]["supplier"]
        body = await gw.execute("""mutation($c: ID!, $id: ID!) { updateSupplier(connectionId: $c, id: $id, input: {
            displayName: "Inkwell & Sons Ltd", email: "ap@inkwell.example"}) { supplier { id displayName email } } }""",
                                {"c": conn, "id": created["id"]})
        assert not body.get("errors"), body.get("errors")
        read = await gw.query("query($c: ID!, $id: ID!) { connection(id: $c) { supplier(id: $id) { displayName email "
                              "currency } } }", {"c": conn, "id": created["id"]})
        assert read["connection"]["supplier"] == {"displayName": "Inkwell & Sons Ltd", "email": "ap@inkwell.example",
                                                  "currency": "GBP"}


@pytest.mark.parametrize("provider", ["EXACT_ONLINE", "NETSUITE", "XERO"])
async def test_fields_a_provider_cannot_change_are_refused_before_any_call(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        if provider == "XERO":  # a Xero contact has a single name
            query = """mutation($c: ID!, $id: ID!) { updateCustomer(connectionId: $c, id: $id,
                       input: {companyName: "Other"}) { customer { id } } }"""
            variables: dict[str, Any] = {"c": conn, "id": r.customer}
            path = ["input", "companyName"]
        else:
            invoice = await new_invoice(gw, r, conn, "INV-UPD-5")
            query, path = UPDATE_INVOICE, ["input", "lineItems"]
            variables = {"c": conn, "id": invoice["id"], "i": {"lineItems": lines(r, "4000", ("1", "5.00"))}}
        gw.reset_counts()
        body = await gw.execute(query, variables)
        assert codes(body) == ["UNSUPPORTED_BY_PROVIDER"]
        assert body["errors"][0]["extensions"]["inputPath"] == path
        assert gw.upstream_calls(provider) == 0 and body["extensions"]["upstreamCalls"] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unsupported_operations_answer_before_any_upstream_call(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        conn = connection_id(provider)
        coverage = await gw.query("query($c: ID!) { connection(id: $c) { coverage { resource operations { "
                                  "operation support } } } }", {"c": conn})
        reported = {(c["resource"], o["operation"]): o["support"] for c in coverage["connection"]["coverage"]
                    for o in c["operations"]}
        refused = 0
        for (resource, operation), (name, input_type) in MUTATIONS.items():
            native = reported[(resource.value.upper(), operation.value.upper())] != "UNSUPPORTED"
            assert native == supports(provider, resource, operation)
            if native:
                continue
            args = "$c: ID!, $i: " + input_type + "!" if input_type else "$c: ID!"
            extra = ", input: $i" if input_type else ""
            variables: dict[str, Any] = {"c": conn, "i": _ONE_FIELD.get(input_type, {"number": "X"})} \
                if input_type else {"c": conn}
            gw.reset_counts()
            body = await gw.execute(f"mutation({args}) {{ {name}(connectionId: $c, id: \"1\"{extra}) "
                                    "{ __typename } }", variables)
            assert codes(body) == ["UNSUPPORTED_BY_PROVIDER"], (name, body)
            assert gw.upstream_calls(provider) == 0, name
            refused += 1
        assert refused >= 3  # every provider lacks several of them


@pytest.mark.parametrize("provider", ["QUICKBOOKS", "XERO"])
async def test_void_invoice_reads_voided_with_nothing_owed(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        invoice = await new_invoice(gw, r, conn, "INV-VOID-1")
        void = """mutation($c: ID!, $id: ID!, $k: String) { voidInvoice(connectionId: $c, id: $id, idempotencyKey: $k)
                  { replayed invoice { id status balance } } }"""
        first = await gw.query(void, {"c": conn, "id": invoice["id"], "k": "void-1"})
        assert first["voidInvoice"]["invoice"]["status"] == "VOIDED"
        read = await read_invoice(gw, conn, invoice["id"])
        assert read is not None and read["status"] == "VOIDED" and Decimal(read["balance"]) == 0
        again = await gw.query(void, {"c": conn, "id": invoice["id"], "k": "void-1"})
        assert again["voidInvoice"]["replayed"] is True
        listed = await gw.query("query($c: ID!) { connection(id: $c) { invoices(first: 100, filter: {status: VOIDED}) "
                                "{ nodes { id } } } }", {"c": conn})
        assert invoice["id"] in {n["id"] for n in listed["connection"]["invoices"]["nodes"]}
        # A voided invoice cannot be changed.
        body = await gw.execute(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": {"number": "INV-VOID-1B"}})
        assert codes(body) == ["BAD_USER_INPUT"]

        # An invoice with a payment is cleared of it first: refused before any write.
        paid = await new_invoice(gw, r, conn, "INV-VOID-2")
        await pay(gw, r, conn, paid["id"], "100.00")
        before = gw.sandboxes.emulators[provider].summary()
        body = await gw.execute(void, {"c": conn, "id": paid["id"]})
        assert codes(body) == ["BAD_USER_INPUT"] and "remove those payments" in body["errors"][0]["message"]
        assert gw.sandboxes.emulators[provider].summary() == before


async def test_xero_void_bill_and_credit_note_and_refuse_deleting_an_authorised_bill() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "XERO")
        conn = connection_id("XERO")
        bill = (await gw.query(CREATE_BILL, {"c": conn, "i": bill_input(r, "SUP-VOID")}))["createBill"]["bill"]
        body = await gw.execute("mutation($c: ID!, $id: ID!) { deleteBill(connectionId: $c, id: $id) { id } }",
                                {"c": conn, "id": bill["id"]})
        assert codes(body) == ["BAD_USER_INPUT"] and "void it instead" in body["errors"][0]["message"]
        await gw.query("mutation($c: ID!, $id: ID!) { voidBill(connectionId: $c, id: $id) { bill { id } } }",
                       {"c": conn, "id": bill["id"]})
        read = (await gw.query(READ_BILL, {"c": conn, "id": bill["id"]}))["connection"]["bill"]
        assert read["status"] == "VOIDED" and Decimal(read["balance"]) == 0

        note = (await gw.query("""mutation($c: ID!, $i: CreditNoteInput!) { createCreditNote(connectionId: $c,
            input: $i) { creditNote { id } } }""", {"c": conn, "i": {
            "customerId": r.customer, "issueDate": "2026-11-20", "currency": "GBP",
            "lineItems": lines(r, "4000", ("1", "50.00"))}}))["createCreditNote"]["creditNote"]
        voided = await gw.query("""mutation($c: ID!, $id: ID!) { voidCreditNote(connectionId: $c, id: $id) {
            creditNote { status balance } } }""", {"c": conn, "id": note["id"]})
        assert voided["voidCreditNote"]["creditNote"]["status"] == "VOIDED"
        assert Decimal(voided["voidCreditNote"]["creditNote"]["balance"]) == 0


@pytest.mark.parametrize("provider", ["QUICKBOOKS", "XERO", "NETSUITE"])
async def test_deleting_a_payment_puts_back_what_the_invoice_owes(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        invoice = await new_invoice(gw, r, conn, "INV-DEL-P")
        payment_id = await pay(gw, r, conn, invoice["id"], "450.00")
        read = await read_invoice(gw, conn, invoice["id"])
        assert read is not None and Decimal(read["balance"]) == Decimal("750.00")
        deleted = await gw.query("""mutation($c: ID!, $id: ID!) { deletePayment(connectionId: $c, id: $id,
            idempotencyKey: "del-p") { id deleted replayed } }""", {"c": conn, "id": payment_id})
        assert deleted["deletePayment"] == {"id": payment_id, "deleted": True, "replayed": False}
        read = await read_invoice(gw, conn, invoice["id"])
        assert read is not None and Decimal(read["balance"]) == Decimal("1200.00") and read["status"] == "AUTHORISED"
        gone = await gw.execute("query($c: ID!, $id: ID!) { connection(id: $c) { payment(id: $id) { id } } }",
                                {"c": conn, "id": payment_id})
        assert codes(gone) == ["NOT_FOUND"]
        again = await gw.query("""mutation($c: ID!, $id: ID!) { deletePayment(connectionId: $c, id: $id,
            idempotencyKey: "del-p") { id replayed } }""", {"c": conn, "id": payment_id})
        assert again["deletePayment"]["replayed"] is True


async def test_quickbooks_void_bill_payment_reopens_the_bill() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "QUICKBOOKS")
        conn = connection_id("QUICKBOOKS")
        bill = (await gw.query(CREATE_BILL, {"c": conn, "i": bill_input(r, "SUP-VBP")}))["createBill"]["bill"]
        paid = await gw.query(PAY_BILL, {"c": conn, "i": {
            "supplierId": r.supplier, "accountId": r.accounts["1200"], "paymentDate": "2026-11-10", "currency": "GBP",
            "totalAmount": bill["total"], "allocations": [{"billId": bill["id"], "amount": bill["total"]}]}})
        assert (await gw.query(READ_BILL, {"c": conn, "id": bill["id"]}))["connection"]["bill"]["status"] == "PAID"
        voided = await gw.query("""mutation($c: ID!, $id: ID!) { voidBillPayment(connectionId: $c, id: $id) {
            billPayment { totalAmount allocations { amount } } } }""",
                                {"c": conn, "id": paid["createBillPayment"]["billPayment"]["id"]})
        assert Decimal(voided["voidBillPayment"]["billPayment"]["totalAmount"]) == 0
        read = (await gw.query(READ_BILL, {"c": conn, "id": bill["id"]}))["connection"]["bill"]
        assert read["status"] == "AUTHORISED" and Decimal(read["balance"]) == Decimal(bill["total"])


@pytest.mark.parametrize("provider", ["QUICKBOOKS", "EXACT_ONLINE", "NETSUITE"])
async def test_delete_bill(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        bill = (await gw.query(CREATE_BILL, {"c": conn, "i": bill_input(r, "SUP-DEL")}))["createBill"]["bill"]
        done = await gw.query("mutation($c: ID!, $id: ID!) { deleteBill(connectionId: $c, id: $id) { id deleted } }",
                              {"c": conn, "id": bill["id"]})
        assert done["deleteBill"] == {"id": bill["id"], "deleted": True}
        assert codes(await gw.execute(READ_BILL, {"c": conn, "id": bill["id"]})) == ["NOT_FOUND"]
        body = await gw.execute("mutation($c: ID!, $id: ID!) { deleteBill(connectionId: $c, id: $id) { id } }",
                                {"c": conn, "id": bill["id"]})
        assert codes(body) == ["NOT_FOUND"]


@pytest.mark.parametrize("provider", ["EXACT_ONLINE", "NETSUITE"])
async def test_delete_contact_only_when_unused(provider: str) -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, provider)
        conn = connection_id(provider)
        created = (await gw.query("""mutation($c: ID!) { createCustomer(connectionId: $c, input: {
            displayName: "Short Lived Ltd", currency: "GBP"}) { customer { id } } }""", {"c": conn}))
        customer_id = created["createCustomer"]["customer"]["id"]
        await gw.query("mutation($c: ID!, $id: ID!) { deleteCustomer(connectionId: $c, id: $id) { id } }",
                       {"c": conn, "id": customer_id})
        read = await gw.execute("query($c: ID!, $id: ID!) { connection(id: $c) { customer(id: $id) { id } } }",
                                {"c": conn, "id": customer_id})
        assert codes(read) == ["NOT_FOUND"]
        # A customer with invoices stays (the provider's refusal, as BAD_USER_INPUT with its message).
        body = await gw.execute("mutation($c: ID!, $id: ID!) { deleteCustomer(connectionId: $c, id: $id) { id } }",
                                {"c": conn, "id": r.customer})
        assert codes(body) == ["BAD_USER_INPUT"]


async def test_quickbooks_stale_sync_token_is_reread_and_retried_once() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "QUICKBOOKS")
        conn = connection_id("QUICKBOOKS")
        invoice = await new_invoice(gw, r, conn, "INV-STALE")
        emulator = gw.sandboxes.emulators["QUICKBOOKS"]
        store = emulator.stores[next(iter(emulator.tenants))]  # type: ignore[attr-defined]

        def posts() -> int:
            return int(emulator.counter.snapshot()["byKind"].get("POST invoice", 0))

        race(store, "Invoice", invoice["id"], times=1)  # another app saves it between our read and our write
        gw.reset_counts()
        body = await gw.execute(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": {"number": "INV-STALE-B"}})
        assert not body.get("errors"), body.get("errors")
        assert posts() == 2  # refused as stale (5010), re-read, retried once
        assert (await read_invoice(gw, conn, invoice["id"]) or {})["number"] == "INV-STALE-B"

        race(store, "Invoice", invoice["id"], times=2)  # it happens again on the retry: a clear conflict
        gw.reset_counts()
        body = await gw.execute(UPDATE_INVOICE, {"c": conn, "id": invoice["id"], "i": {"number": "INV-STALE-C"}})
        assert codes(body) == ["CONFLICT"] and "SyncToken" in body["errors"][0]["message"]
        assert posts() == 2  # once, and once more: never a third time
        assert (await read_invoice(gw, conn, invoice["id"]) or {})["number"] == "INV-STALE-B"


async def test_exact_credit_note_allocation_is_exact_or_refused() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        r = await refs(gw, "EXACT_ONLINE")
        conn = connection_id("EXACT_ONLINE")
        invoice = await new_invoice(gw, r, conn, "INV-CN-1")
        create = """mutation($c: ID!, $i: CreditNoteInput!) { createCreditNote(connectionId: $c, input: $i) {
                    creditNote { id total balance allocations { amount } } } }"""
        note = {"customerId": r.customer, "issueDate": "2026-11-20", "currency": "GBP",
                "lineItems": lines(r, "4000", ("1", "100.00"))}  # 120.00 with tax
        before = gw.sandboxes.emulators["EXACT_ONLINE"].summary()
        body = await gw.execute(create, {"c": conn, "i": {**note, "allocations": [
            {"invoiceId": invoice["id"], "amount": "50.00"}]}})
        assert codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["inputPath"] == ["input", "allocations", 0, "amount"]
        assert "120.00" in body["errors"][0]["message"]
        assert gw.sandboxes.emulators["EXACT_ONLINE"].summary() == before
        made = await gw.query(create, {"c": conn, "i": {**note, "allocations": [
            {"invoiceId": invoice["id"], "amount": "120.00"}]}})
        assert [Decimal(a["amount"]) for a in made["createCreditNote"]["creditNote"]["allocations"]] == \
            [Decimal("120.00")]
        read = await read_invoice(gw, conn, invoice["id"])
        assert read is not None and Decimal(read["balance"]) == Decimal("1080.00")


async def test_exact_contact_create_recovers_a_lost_answer_by_its_key() -> None:
    async with GatewayHarness.start(sizes=BookSizes.tiny()) as gw:
        conn = connection_id("EXACT_ONLINE")
        emulator = gw.sandboxes.emulators["EXACT_ONLINE"]
        client = gw.demo.gateway.connector(conn).http
        client.timeout = 0.1
        create = """mutation($c: ID!) { createCustomer(connectionId: $c, input: {displayName: "Lost Answer BV",
                    currency: "GBP"}, idempotencyKey: "lost-1") { replayed customer { id displayName } } }"""
        emulator.faults.set(Faults(timeout=1.0, timeoutMs=300, seed=3))  # the account is written, the answer lost
        body = await gw.execute(create, {"c": conn})
        assert codes(body) == ["UPSTREAM_UNAVAILABLE"]
        emulator.faults.set(Faults())
        client.timeout = 30
        again = await gw.query(create, {"c": conn})
        assert again["createCustomer"]["customer"]["displayName"] == "Lost Answer BV"
        names = await gw.query("query($c: ID!) { connection(id: $c) { customers(first: 100) { nodes { displayName } "
                               "pageInfo { hasNextPage } } } }", {"c": conn})
        assert [n["displayName"] for n in names["connection"]["customers"]["nodes"]].count("Lost Answer BV") == 1

