"""Updates, voids and deletes: the same discipline as creates, applied to a record that exists.

    update: fields the provider cannot change? → UNSUPPORTED_BY_PROVIDER (no upstream call)
      → idempotency record (a finished key answers the record as it is now)
      → read the record fresh → merge the partial input over it (only the fields given change)
      → validate the RESULT with the create rules, plus what an existing record adds (a total may
        not fall below what was already paid; a party may not change under payments)
      → connector.update
    void / delete: require the operation → idempotency record → read fresh → a document with
      payments or credits applied must be cleared of them first → connector.void / .delete
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerql.connectors.base import Connector
from ledgerql.loaders import Loaders
from ledgerql.model import entities as m
from ledgerql.model.enums import DocumentStatus, Operation, Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.model.rules import line_tax
from ledgerql.store.idempotency import DONE, IdempotencyStore, WriteRecord
from ledgerql.writes.service import WriteResult, base_currency, build_record, input_hash
from ledgerql.writes.validation import ValidationFailed, validate

# Update input field → the field of the create input it replaces (schema names, for input paths).
_PATH_NAMES = {"display_name": "displayName", "company_name": "companyName", "email": "email",
               "customer_id": "customerId", "supplier_id": "supplierId", "invoice_date": "invoiceDate",
               "bill_date": "billDate", "due_date": "dueDate", "number": "number", "line_items": "lineItems",
               "order_date": "orderDate", "delivery_date": "deliveryDate", "posting_date": "postingDate",
               "description": "description", "issue_date": "issueDate", "payment_date": "paymentDate",
               "reference": "reference", "transaction_date": "transactionDate"}
_PARTY = {Resource.INVOICES: "customer_id", Resource.BILLS: "supplier_id"}
_ALLOCATING = frozenset({Resource.CREDIT_NOTES, Resource.PAYMENTS, Resource.BILL_PAYMENTS})


@dataclass
class DeleteResult:
    id: str
    replayed: bool = False


def _line_input(line: m.LineItem) -> dict[str, Any]:
    return {"description": line.description, "quantity": line.quantity, "unit_price": line.unit_price,
            "total_amount": line.total_amount, "account_id": line.account_id, "tax_rate_id": line.tax_rate_id,
            "tracking_category_ids": list(line.tracking_category_ids)}


def input_of(resource: Resource, record: m.Record) -> dict[str, Any]:
    """An existing record in the shape of its create input (what an update merges into)."""
    if isinstance(record, m.Contact):
        return {"display_name": record.display_name, "company_name": record.company_name, "email": record.email,
                "currency": record.currency}
    if isinstance(record, m.Invoice):
        return {"customer_id": record.customer_id, "invoice_date": record.invoice_date, "due_date": record.due_date,
                "currency": record.currency, "number": record.number, "exchange_rate": record.exchange_rate,
                "line_items": [_line_input(x) for x in record.line_items]}
    if isinstance(record, m.Bill):
        return {"supplier_id": record.supplier_id, "bill_date": record.bill_date, "due_date": record.due_date,
                "currency": record.currency, "number": record.number, "exchange_rate": record.exchange_rate,
                "line_items": [_line_input(x) for x in record.line_items]}
    if isinstance(record, m.PurchaseOrder):
        return {"supplier_id": record.supplier_id, "order_date": record.order_date,
                "delivery_date": record.delivery_date, "currency": record.currency, "number": record.number,
                "line_items": [_line_input(x) for x in record.line_items]}
    if isinstance(record, m.JournalEntry):
        return {"posting_date": record.posting_date, "currency": record.currency, "number": record.number,
                "description": record.description, "journal_id": record.journal_id,
                "line_items": [{"account_id": x.account_id, "type": x.type, "amount": x.amount,
                                "description": x.description, "tracking_category_ids": list(x.tracking_category_ids)}
                               for x in record.line_items]}
    if isinstance(record, m.CreditNote):
        return {"customer_id": record.customer_id, "issue_date": record.issue_date, "currency": record.currency,
                "number": record.number, "exchange_rate": record.exchange_rate,
                "line_items": [_line_input(x) for x in record.line_items],
                "allocations": [{"document_id": a.document_id, "amount": a.amount} for a in record.allocations]}
    if isinstance(record, m.Payment | m.BillPayment):
        party = ({"customer_id": record.customer_id} if isinstance(record, m.Payment)
                 else {"supplier_id": record.supplier_id})
        return {**party, "account_id": record.account_id, "payment_date": record.payment_date,
                "currency": record.currency, "total_amount": record.total_amount, "reference": record.reference,
                "allocations": [{"document_id": a.document_id, "amount": a.amount} for a in record.allocations]}
    if isinstance(record, m.Expense):
        return {"supplier_id": record.supplier_id, "account_id": record.account_id,
                "transaction_date": record.transaction_date, "currency": record.currency, "number": record.number,
                "line_items": [_line_input(x) for x in record.line_items]}
    raise LedgerQLError(ErrorCode.UNSUPPORTED_BY_PROVIDER, f"{resource.value} cannot be updated")


def _check_key(idempotency_key: str | None) -> None:
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 128):
        raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "idempotencyKey must be 1 to 128 characters",
                            argument="idempotencyKey")


async def _begin(store: IdempotencyStore, connector: Connector, key: str | None, operation: str,
                 data: dict[str, Any]) -> WriteRecord | None:
    if not key:
        return None
    digest = input_hash(operation, data)
    existing = await store.begin(WriteRecord(connector.config.id, key, operation, digest))
    if existing.input_hash != digest or existing.operation != operation:
        raise LedgerQLError(ErrorCode.CONFLICT, "This idempotency key was used with a different input",
                            idempotencyKey=key)
    return existing


async def _finish(store: IdempotencyStore, record: WriteRecord | None, result_id: str) -> None:
    if record is not None:
        record.status, record.result_id = DONE, result_id
        await store.save(record)


async def current_record(connector: Connector, resource: Resource, record_id: str) -> m.Record:
    """The record as the provider holds it now (never from a cache), with its real open balance."""
    found = await connector.fetch_by_ids(resource, [record_id])
    record = found.get(record_id)
    if record is None:
        raise LedgerQLError(ErrorCode.NOT_FOUND, f"No {resource.value.replace('_', ' ')[:-1]} with id "
                                                 f"{record_id!r} in this connection")
    if isinstance(record, m.Document) and record.balance_deferred:
        balances = await connector.fetch_balances(resource, [record_id])
        if record_id in balances:
            record = record.model_copy(update={"balance": balances[record_id], "balance_deferred": False})
    return record


def _settled(record: m.Record) -> Decimal:
    """What has already been paid or credited against a document."""
    if isinstance(record, m.Invoice | m.Bill) and record.status != DocumentStatus.VOIDED:
        return record.total - record.balance
    return Decimal(0)


def _refuse_unsupported_fields(connector: Connector, resource: Resource, changes: dict[str, Any]) -> None:
    allowed = connector.updatable_fields(resource)
    if allowed is None:
        return
    refused = [name for name in changes if name not in allowed]
    if refused:
        names = ", ".join(_PATH_NAMES.get(n, n) for n in refused)
        can = ", ".join(sorted(_PATH_NAMES.get(n, n) for n in allowed)) or "nothing"
        raise LedgerQLError(ErrorCode.UNSUPPORTED_BY_PROVIDER,
                            f"{connector.mapping.display_name} cannot change {names} of {resource.value} through "
                            f"its API (it can change: {can})", provider=connector.provider.value,
                            resource=resource.value, operation=Operation.UPDATE.value,
                            inputPath=["input", _PATH_NAMES.get(refused[0], refused[0])])


async def _new_total(loaders: Loaders, connection_id: str, merged: dict[str, Any]) -> Decimal | None:
    """The total the merged lines come to (as the create rules compute it), also when some other part
    of the input is invalid, so that every problem is reported at once."""
    lines = merged.get("line_items")
    if lines is None:
        return None
    rate_ids = [str(x["tax_rate_id"]) for x in lines if x.get("tax_rate_id")]
    rates = dict(zip(rate_ids, await loaders.by_id(connection_id, Resource.TAX_RATES).load_many(rate_ids),
                     strict=True)) if rate_ids else {}
    total = Decimal(0)
    for line in lines:
        net = line.get("total_amount")
        if net is None:
            if line.get("quantity") is None or line.get("unit_price") is None:
                return None
            net = line["quantity"] * line["unit_price"]
        rate = rates.get(str(line.get("tax_rate_id")))
        total += net + line_tax(net, rate.rate if isinstance(rate, m.TaxRate) else Decimal(0))
    return total


def _existing_rules(resource: Resource, current: m.Record, merged: dict[str, Any],
                    changes: dict[str, Any], new_total: Decimal | None) -> None:
    """What an update adds to the create rules: the record's own history."""
    problems: list[LedgerQLError] = []
    settled = _settled(current)
    if settled > 0 and new_total is not None and new_total < settled:
        problems.append(LedgerQLError(ErrorCode.BAD_USER_INPUT, f"the new total {new_total} is less than the "
                                      f"{settled} already paid or credited", inputPath=["input", "lineItems"]))
    party = _PARTY.get(resource)
    if settled > 0 and party and party in changes and changes[party] != getattr(current, party):
        problems.append(LedgerQLError(ErrorCode.BAD_USER_INPUT, "the party of a document with payments or credits "
                                      "cannot change", inputPath=["input", _PATH_NAMES[party]]))
    if problems:
        raise ValidationFailed(problems)


async def perform_update(*, connector: Connector, loaders: Loaders, store: IdempotencyStore, resource: Resource,
                         record_id: str, data: dict[str, Any], idempotency_key: str | None,
                         dry_run: bool) -> WriteResult:
    connector.require(resource, Operation.UPDATE)
    _check_key(idempotency_key)
    changes = {k: v for k, v in data.items() if v is not None}
    if not changes:
        raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "nothing to change: give at least one field",
                            inputPath=["input"])
    _refuse_unsupported_fields(connector, resource, changes)
    operation = f"update:{resource.value}:{record_id}"
    existing = None if dry_run else await _begin(store, connector, idempotency_key, operation, changes)
    if existing is not None and existing.status == DONE:
        return WriteResult(record=await current_record(connector, resource, record_id), replayed=True)

    current = await current_record(connector, resource, record_id)
    if getattr(current, "status", None) == DocumentStatus.VOIDED:  # nothing else about it matters
        raise LedgerQLError(ErrorCode.BAD_USER_INPUT, f"{resource.value[:-1]} {current.id} is voided and cannot "
                            "be changed", inputPath=["id"])
    merged = {**input_of(resource, current), **changes}
    connector.check_write(resource, Operation.UPDATE, merged, current)
    currency = await base_currency(connector) if resource in (Resource.INVOICES, Resource.BILLS) else None
    problems: list[LedgerQLError] = []
    try:
        # The allocations an update keeps are already in their documents' balances: `resumed` stops
        # them being counted twice against what those documents still owe.
        checker = await validate(resource, merged, loaders, connector.config.id, currency,
                                 resumed=resource in _ALLOCATING)
        record = build_record(resource, merged, checker)
    except ValidationFailed as failed:
        problems.extend(failed.problems)
        record = None
    try:
        _existing_rules(resource, current, merged, changes, await _new_total(loaders, connector.config.id, merged))
    except ValidationFailed as failed:
        problems.extend(failed.problems)
    if problems or record is None:
        raise ValidationFailed(problems)
    record.id = current.id
    if isinstance(record, m.Invoice | m.Bill):
        record.balance = record.total - _settled(current)
        record.status = current.status if isinstance(current, m.Invoice | m.Bill) else record.status
    if dry_run:
        return WriteResult(record=None, dry_run=True)
    updated = await connector.update(resource, record, current, changed=frozenset(changes),
                                     idempotency_key=idempotency_key)
    await _finish(store, existing, updated.id)
    return WriteResult(record=updated)


def _refuse_when_settled(resource: Resource, current: m.Record, verb: str) -> None:
    settled = _settled(current)
    if isinstance(current, m.CreditNote) and current.status != DocumentStatus.VOIDED:
        settled = current.total - current.balance
    if settled > 0:
        raise LedgerQLError(ErrorCode.BAD_USER_INPUT,
                            f"{resource.value[:-1].replace('_', ' ')} {getattr(current, 'number', None) or current.id} "
                            f"has {settled} "
                            f"paid or allocated; remove those payments or allocations before you {verb} it",
                            inputPath=["id"])


async def perform_void(*, connector: Connector, store: IdempotencyStore, resource: Resource, record_id: str,
                       idempotency_key: str | None) -> WriteResult:
    connector.require(resource, Operation.VOID)
    _check_key(idempotency_key)
    existing = await _begin(store, connector, idempotency_key, f"void:{resource.value}:{record_id}", {})
    current = await current_record(connector, resource, record_id)
    if existing is not None and existing.status == DONE:
        return WriteResult(record=current, replayed=True)
    if getattr(current, "status", None) == DocumentStatus.VOIDED:
        await _finish(store, existing, current.id)
        return WriteResult(record=current)  # voiding twice changes nothing
    _refuse_when_settled(resource, current, "void")
    voided = await connector.void(resource, current, idempotency_key=idempotency_key)
    await _finish(store, existing, voided.id)
    return WriteResult(record=voided)


async def perform_delete(*, connector: Connector, store: IdempotencyStore, resource: Resource, record_id: str,
                         idempotency_key: str | None) -> DeleteResult:
    connector.require(resource, Operation.DELETE)
    _check_key(idempotency_key)
    existing = await _begin(store, connector, idempotency_key, f"delete:{resource.value}:{record_id}", {})
    if existing is not None and existing.status == DONE:
        return DeleteResult(id=record_id, replayed=True)
    try:
        current = await current_record(connector, resource, record_id)
    except LedgerQLError as error:
        if error.code == ErrorCode.NOT_FOUND and existing is not None and existing.progress.get("attempted"):
            # An earlier attempt deleted it and its answer was lost.
            await _finish(store, existing, record_id)
            return DeleteResult(id=record_id)
        raise
    _refuse_when_settled(resource, current, "delete")
    if existing is not None:
        existing.progress = {"attempted": True}
        await store.save(existing)
    await connector.delete(resource, current, idempotency_key=idempotency_key)
    await _finish(store, existing, record_id)
    return DeleteResult(id=record_id)
