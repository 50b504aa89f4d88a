"""Create mutations: typed inputs in unified terms, payloads resolved through the read types.

Updates, voids and deletes live in `ledgerql.schema.changes`; all of them make up `Mutation`.
"""

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

import ledgerql.schema.enums  # noqa: F401  (registers the model's enums with strawberry first)
from ledgerql.model.enums import Operation, Resource
from ledgerql.schema import types as t
from ledgerql.schema.changes import CHANGE_FIELDS
from ledgerql.schema.types import context, wrap
from ledgerql.schema.write_inputs import JournalLineInput, LineItemInput, to_data
from ledgerql.writes.service import perform_create


@strawberry.input
class InvoiceInput:
    customer_id: strawberry.ID
    invoice_date: date
    currency: str
    line_items: list[LineItemInput]
    number: str | None = None
    due_date: date | None = None
    exchange_rate: Decimal | None = None


@strawberry.input
class BillInput:
    supplier_id: strawberry.ID
    bill_date: date
    currency: str
    line_items: list[LineItemInput]
    number: str | None = None
    due_date: date | None = None
    exchange_rate: Decimal | None = None


@strawberry.input
class InvoiceAllocationInput:
    invoice_id: strawberry.ID
    amount: Decimal


@strawberry.input
class BillAllocationInput:
    bill_id: strawberry.ID
    amount: Decimal


@strawberry.input
class PaymentInput:
    customer_id: strawberry.ID
    account_id: strawberry.ID
    payment_date: date
    currency: str
    total_amount: Decimal
    allocations: list[InvoiceAllocationInput]
    reference: str | None = None


@strawberry.input
class BillPaymentInput:
    supplier_id: strawberry.ID
    account_id: strawberry.ID
    payment_date: date
    currency: str
    total_amount: Decimal
    allocations: list[BillAllocationInput]
    reference: str | None = None


@strawberry.input
class ExpenseInput:
    account_id: strawberry.ID
    transaction_date: date
    currency: str
    line_items: list[LineItemInput]
    supplier_id: strawberry.ID | None = None
    number: str | None = None


@strawberry.input
class JournalEntryInput:
    posting_date: date
    currency: str
    line_items: list[JournalLineInput]
    number: str | None = None
    description: str | None = None
    journal_id: strawberry.ID | None = None


@strawberry.input
class CreditNoteInput:
    customer_id: strawberry.ID
    issue_date: date
    currency: str
    line_items: list[LineItemInput]
    number: str | None = None
    exchange_rate: Decimal | None = None
    allocations: list[InvoiceAllocationInput] | None = None


@strawberry.input
class PurchaseOrderInput:
    supplier_id: strawberry.ID
    order_date: date
    currency: str
    line_items: list[LineItemInput]
    number: str | None = None
    delivery_date: date | None = None


@strawberry.input
class ContactInput:
    display_name: str
    company_name: str | None = None
    email: str | None = None
    currency: str | None = None


@strawberry.type
class WriteOutcome:
    replayed: bool = strawberry.field(description="True when an earlier call with this idempotency key answered.")
    dry_run: bool = strawberry.field(description="True when nothing was written (validation only).")


def _payload(name: str, node_type: Any) -> Any:
    namespace = {"__annotations__": {name: node_type | None}, name: None}
    return strawberry.type(type(f"Create{node_type.__name__}Payload", (WriteOutcome,), namespace))


PAYLOADS = {
    Resource.INVOICES: _payload("invoice", t.Invoice),
    Resource.BILLS: _payload("bill", t.Bill),
    Resource.PAYMENTS: _payload("payment", t.Payment),
    Resource.BILL_PAYMENTS: _payload("bill_payment", t.BillPayment),
    Resource.EXPENSES: _payload("expense", t.Expense),
    Resource.JOURNAL_ENTRIES: _payload("journal_entry", t.JournalEntry),
    Resource.CREDIT_NOTES: _payload("credit_note", t.CreditNote),
    Resource.PURCHASE_ORDERS: _payload("purchase_order", t.PurchaseOrder),
    Resource.CUSTOMERS: _payload("customer", t.Customer),
    Resource.SUPPLIERS: _payload("supplier", t.Supplier),
}
FIELD_NAMES = {
    Resource.INVOICES: "invoice", Resource.BILLS: "bill", Resource.PAYMENTS: "payment",
    Resource.BILL_PAYMENTS: "bill_payment", Resource.EXPENSES: "expense", Resource.JOURNAL_ENTRIES: "journal_entry",
    Resource.CREDIT_NOTES: "credit_note", Resource.PURCHASE_ORDERS: "purchase_order", Resource.CUSTOMERS: "customer",
    Resource.SUPPLIERS: "supplier",
}


def _create_field(resource: Resource, input_type: Any, description: str) -> Any:
    payload_type = PAYLOADS[resource]

    async def resolve(info: Info, connection_id: strawberry.ID, input: input_type,
                      idempotency_key: str | None = None, dry_run: bool = False) -> payload_type | None:  # type: ignore[valid-type]
        ctx = context(info)
        connector = ctx.writer(str(connection_id), resource)
        ctx.note_fallback(connector, resource, Operation.CREATE)
        result = await perform_create(connector=connector, loaders=ctx.loaders.trusted(), store=ctx.gateway.idempotency,
                                      resource=resource, data=to_data(input), idempotency_key=idempotency_key,
                                      dry_run=dry_run)
        node = wrap(resource, result.record, str(connection_id)) if result.record is not None else None
        return payload_type(**{FIELD_NAMES[resource]: node, "replayed": result.replayed, "dry_run": result.dry_run})

    return strawberry.mutation(resolver=resolve, description=description)


Mutation = strawberry.type(type("Mutation", (), {
    "create_invoice": _create_field(Resource.INVOICES, InvoiceInput, "Raise an invoice."),
    "create_bill": _create_field(Resource.BILLS, BillInput, "Record a supplier's bill."),
    "create_payment": _create_field(Resource.PAYMENTS, PaymentInput, "Record money received against invoices."),
    "create_bill_payment": _create_field(Resource.BILL_PAYMENTS, BillPaymentInput, "Pay bills."),
    "create_expense": _create_field(Resource.EXPENSES, ExpenseInput,
                                    "Record an already-paid purchase (Exact Online: a purchase entry due and "
                                    "settled at once, source BILL_FALLBACK)."),
    "create_journal_entry": _create_field(Resource.JOURNAL_ENTRIES, JournalEntryInput,
                                          "Post a manual journal entry; debits must equal credits."),
    "create_credit_note": _create_field(Resource.CREDIT_NOTES, CreditNoteInput,
                                        "Issue a credit note, optionally allocated to invoices."),
    "create_purchase_order": _create_field(Resource.PURCHASE_ORDERS, PurchaseOrderInput, "Raise a purchase order."),
    "create_customer": _create_field(Resource.CUSTOMERS, ContactInput, "Add a customer."),
    "create_supplier": _create_field(Resource.SUPPLIERS, ContactInput, "Add a supplier."),
    **CHANGE_FIELDS,
}), description="Writes. Every create and update validates first and reports every problem at once with the "
                "input path; `dryRun: true` only validates; the same `idempotencyKey` with the same input returns "
                "the first result and writes nothing more. What each provider supports is in `coverage`.")
