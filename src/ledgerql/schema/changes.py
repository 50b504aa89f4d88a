"""Update, void and delete mutations: partial typed inputs, payloads resolved through the read types.

Naming is one pattern for every resource: `update<Resource>(connectionId, id, input, idempotencyKey,
dryRun)`, `void<Resource>(connectionId, id, idempotencyKey)`, `delete<Resource>(connectionId, id,
idempotencyKey)`. A field left out (or null) of an update input keeps its value; `lineItems`, when
given, replaces every line. Which provider supports which operation is in `Connection.coverage`;
anything else answers UNSUPPORTED_BY_PROVIDER before any upstream call.
"""

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

import ledgerql.schema.enums  # noqa: F401  (registers the model's enums with strawberry first)
from ledgerql.model.enums import Operation, Resource
from ledgerql.schema import types as t
from ledgerql.schema.types import context, wrap
from ledgerql.schema.write_inputs import JournalLineInput, LineItemInput, to_data
from ledgerql.writes.changes import perform_delete, perform_update, perform_void


@strawberry.input(description="Only the fields given change.")
class ContactUpdateInput:
    display_name: str | None = None
    company_name: str | None = None
    email: str | None = None


@strawberry.input(description="Only the fields given change; `lineItems` replaces every line.")
class InvoiceUpdateInput:
    customer_id: strawberry.ID | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    number: str | None = None
    line_items: list[LineItemInput] | None = None


@strawberry.input(description="Only the fields given change; `lineItems` replaces every line.")
class BillUpdateInput:
    supplier_id: strawberry.ID | None = None
    bill_date: date | None = None
    due_date: date | None = None
    number: str | None = None
    line_items: list[LineItemInput] | None = None


@strawberry.input(description="Only the fields given change; `lineItems` replaces every line.")
class PurchaseOrderUpdateInput:
    supplier_id: strawberry.ID | None = None
    order_date: date | None = None
    delivery_date: date | None = None
    number: str | None = None
    line_items: list[LineItemInput] | None = None


@strawberry.input(description="Only the fields given change; `lineItems` replaces every line (and must balance).")
class JournalEntryUpdateInput:
    posting_date: date | None = None
    number: str | None = None
    description: str | None = None
    line_items: list[JournalLineInput] | None = None


@strawberry.input(description="Only the fields given change; `lineItems` replaces every line (allocations stay).")
class CreditNoteUpdateInput:
    issue_date: date | None = None
    number: str | None = None
    line_items: list[LineItemInput] | None = None


@strawberry.input(description="Only the fields given change; the amount and its allocations stay as they are.")
class PaymentUpdateInput:
    payment_date: date | None = None
    reference: str | None = None


@strawberry.input(description="Only the fields given change; `lineItems` replaces every line.")
class ExpenseUpdateInput:
    transaction_date: date | None = None
    number: str | None = None
    line_items: list[LineItemInput] | None = None


@strawberry.type(description="The outcome of a delete.")
class DeletePayload:
    id: strawberry.ID = strawberry.field(description="The id of the record deleted.")
    deleted: bool
    replayed: bool = strawberry.field(description="True when an earlier call with this idempotency key answered.")


_NAMES = {
    Resource.INVOICES: ("invoice", "Invoice", t.Invoice), Resource.BILLS: ("bill", "Bill", t.Bill),
    Resource.PAYMENTS: ("payment", "Payment", t.Payment),
    Resource.BILL_PAYMENTS: ("bill_payment", "BillPayment", t.BillPayment),
    Resource.CREDIT_NOTES: ("credit_note", "CreditNote", t.CreditNote),
    Resource.CUSTOMERS: ("customer", "Customer", t.Customer), Resource.SUPPLIERS: ("supplier", "Supplier", t.Supplier),
    Resource.PURCHASE_ORDERS: ("purchase_order", "PurchaseOrder", t.PurchaseOrder),
    Resource.JOURNAL_ENTRIES: ("journal_entry", "JournalEntry", t.JournalEntry),
    Resource.EXPENSES: ("expense", "Expense", t.Expense),
}


def _payload(verb: str, resource: Resource) -> Any:
    field, title, node_type = _NAMES[resource]
    annotations: dict[str, Any] = {field: node_type | None, "replayed": bool}
    namespace: dict[str, Any] = {"__annotations__": annotations, field: None,
                                 "replayed": strawberry.field(description="True when an earlier call with this "
                                                                          "idempotency key answered.")}
    if verb == "Update":
        annotations["dry_run"] = bool
        namespace["dry_run"] = strawberry.field(description="True when nothing was written (validation only).")
    return strawberry.type(type(f"{verb}{title}Payload", (), namespace))


def update_field(resource: Resource, input_type: Any, description: str) -> Any:
    payload_type = _payload("Update", resource)
    field = _NAMES[resource][0]

    async def resolve(info: Info, connection_id: strawberry.ID, id: strawberry.ID, input: input_type,
                      idempotency_key: str | None = None, dry_run: bool = False) -> payload_type | None:  # type: ignore[valid-type]
        ctx = context(info)
        connector = ctx.writer(str(connection_id), resource)
        ctx.note_fallback(connector, resource, Operation.UPDATE)
        result = await perform_update(connector=connector, loaders=ctx.loaders.trusted(), store=ctx.gateway.idempotency,
                                      resource=resource, record_id=str(id), data=to_data(input),
                                      idempotency_key=idempotency_key, dry_run=dry_run)
        node = wrap(resource, result.record, str(connection_id)) if result.record is not None else None
        return payload_type(**{field: node, "replayed": result.replayed, "dry_run": result.dry_run})

    return strawberry.mutation(resolver=resolve, description=description)


def void_field(resource: Resource, description: str) -> Any:
    payload_type = _payload("Void", resource)
    field = _NAMES[resource][0]

    async def resolve(info: Info, connection_id: strawberry.ID, id: strawberry.ID,
                      idempotency_key: str | None = None) -> payload_type | None:  # type: ignore[valid-type]
        ctx = context(info)
        connector = ctx.writer(str(connection_id), resource)
        ctx.note_fallback(connector, resource, Operation.VOID)
        result = await perform_void(connector=connector, store=ctx.gateway.idempotency, resource=resource,
                                    record_id=str(id), idempotency_key=idempotency_key)
        node = wrap(resource, result.record, str(connection_id)) if result.record is not None else None
        return payload_type(**{field: node, "replayed": result.replayed})

    return strawberry.mutation(resolver=resolve, description=description)


def delete_field(resource: Resource, description: str) -> Any:
    async def resolve(info: Info, connection_id: strawberry.ID, id: strawberry.ID,
                      idempotency_key: str | None = None) -> DeletePayload | None:
        ctx = context(info)
        connector = ctx.writer(str(connection_id), resource)
        result = await perform_delete(connector=connector, store=ctx.gateway.idempotency, resource=resource,
                                      record_id=str(id), idempotency_key=idempotency_key)
        return DeletePayload(id=strawberry.ID(result.id), deleted=True, replayed=result.replayed)

    return strawberry.mutation(resolver=resolve, description=description)


CHANGE_FIELDS: dict[str, Any] = {
    "update_invoice": update_field(Resource.INVOICES, InvoiceUpdateInput, "Change an invoice; the result must still "
                                   "pass the create rules, and its total may not fall below what was paid."),
    "update_bill": update_field(Resource.BILLS, BillUpdateInput, "Change a bill; the result must still pass the "
                                "create rules, and its total may not fall below what was paid."),
    "update_customer": update_field(Resource.CUSTOMERS, ContactUpdateInput, "Change a customer."),
    "update_supplier": update_field(Resource.SUPPLIERS, ContactUpdateInput, "Change a supplier."),
    "update_purchase_order": update_field(Resource.PURCHASE_ORDERS, PurchaseOrderUpdateInput,
                                          "Change a purchase order; the result must still pass the create rules."),
    "update_journal_entry": update_field(Resource.JOURNAL_ENTRIES, JournalEntryUpdateInput,
                                         "Change a journal entry; its lines must still balance per currency."),
    "update_credit_note": update_field(Resource.CREDIT_NOTES, CreditNoteUpdateInput, "Change a credit note; its "
                                       "total may not fall below what is already allocated."),
    "update_payment": update_field(Resource.PAYMENTS, PaymentUpdateInput, "Change a payment's date or reference."),
    "update_bill_payment": update_field(Resource.BILL_PAYMENTS, PaymentUpdateInput, "Change a bill payment's date "
                                        "or reference."),
    "update_expense": update_field(Resource.EXPENSES, ExpenseUpdateInput, "Change an expense; the result must still "
                                   "pass the create rules."),
    "void_invoice": void_field(Resource.INVOICES, "Void an invoice with nothing paid or credited: it stays, with "
                               "status VOIDED and balance 0."),
    "void_bill": void_field(Resource.BILLS, "Void a bill with nothing paid: it stays, with status VOIDED and "
                            "balance 0."),
    "void_credit_note": void_field(Resource.CREDIT_NOTES, "Void an unallocated credit note (status VOIDED)."),
    "void_payment": void_field(Resource.PAYMENTS, "Void a payment: it stays with amount 0, and the invoices it paid "
                               "owe again."),
    "void_bill_payment": void_field(Resource.BILL_PAYMENTS, "Void a bill payment: it stays with amount 0, and the "
                                    "bills it paid are owed again."),
    "delete_invoice": delete_field(Resource.INVOICES, "Delete an invoice with nothing paid or credited."),
    "delete_bill": delete_field(Resource.BILLS, "Delete a bill with nothing paid."),
    "delete_payment": delete_field(Resource.PAYMENTS, "Delete a payment; the invoices it paid owe again."),
    "delete_bill_payment": delete_field(Resource.BILL_PAYMENTS, "Delete a bill payment; the bills it paid are "
                                        "owed again."),
    "delete_customer": delete_field(Resource.CUSTOMERS, "Delete a customer that no document refers to."),
    "delete_supplier": delete_field(Resource.SUPPLIERS, "Delete a supplier that no document refers to."),
    "delete_purchase_order": delete_field(Resource.PURCHASE_ORDERS, "Delete a purchase order."),
    "delete_journal_entry": delete_field(Resource.JOURNAL_ENTRIES, "Delete a journal entry."),
}
