"""Validation of write inputs before any upstream write, reporting every problem at once.

Inputs arrive as plain dicts in unified terms (snake_case keys, Decimal amounts, date dates,
references as this connection's ids). The checks that need data (does the supplier exist, is
the account a bank account, how much does the invoice still owe) load what they need through
the request's dataloaders, one batch per resource.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerql.loaders import Loaders
from ledgerql.model import entities as m
from ledgerql.model.enums import AccountType, PostingType, Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError

Path = list[str | int]
CURRENCY = re.compile(r"^[A-Z]{3}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Which kinds of ledger account each kind of line may post to.
LINE_ACCOUNT_TYPES: dict[Resource, set[AccountType]] = {
    Resource.INVOICES: {AccountType.REVENUE},
    Resource.CREDIT_NOTES: {AccountType.REVENUE},
    Resource.BILLS: {AccountType.EXPENSE, AccountType.ASSET},
    Resource.PURCHASE_ORDERS: {AccountType.EXPENSE, AccountType.ASSET},
    Resource.EXPENSES: {AccountType.EXPENSE},
}


class ValidationFailed(LedgerQLError):
    """Several input problems, each with the path of the input field; reported as one error each."""

    def __init__(self, problems: list[LedgerQLError]) -> None:
        super().__init__(ErrorCode.BAD_USER_INPUT, "; ".join(p.message for p in problems))
        self.problems = problems


@dataclass
class Checker:
    """Collects problems; `require` loads references in one batch per resource."""

    loaders: Loaders
    connection_id: str
    problems: list[LedgerQLError] = field(default_factory=list)
    _wanted: dict[Resource, dict[str, list[Path]]] = field(default_factory=dict)
    found: dict[tuple[Resource, str], Any] = field(default_factory=dict)

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(LedgerQLError(ErrorCode.BAD_USER_INPUT, message, inputPath=["input", *path]))

    def want(self, resource: Resource, ident: Any, path: Path) -> None:
        if ident:
            self._wanted.setdefault(resource, {}).setdefault(str(ident), []).append(path)

    async def load(self) -> None:
        async def one(resource: Resource, ids: dict[str, list[Path]]) -> None:
            records = await self.loaders.by_id(self.connection_id, resource).load_many(list(ids))
            for ident, record in zip(ids, records, strict=True):
                if record is None:
                    for path in ids[ident]:
                        self.fail(path, f"No {resource.value.replace('_', ' ')[:-1]} with id {ident!r} in this "
                                        "connection")
                else:
                    self.found[(resource, ident)] = record

        await asyncio.gather(*(one(r, ids) for r, ids in self._wanted.items()))

    def get(self, resource: Resource, ident: Any) -> Any:
        return self.found.get((resource, str(ident))) if ident else None

    def raise_if_failed(self) -> None:
        if self.problems:
            raise ValidationFailed(self.problems)


def _positive(checker: Checker, value: Decimal | None, path: Path, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        checker.fail(path, "must be greater than zero")
    elif value.as_tuple().exponent < -6:  # type: ignore[operator]
        checker.fail(path, "has too many decimal places")


def _currency(checker: Checker, value: str | None, path: Path) -> None:
    if value is not None and not CURRENCY.match(value):
        checker.fail(path, f"{value!r} is not an ISO 4217 currency code")


def _lines(checker: Checker, resource: Resource, lines: Sequence[dict[str, Any]]) -> None:
    if not lines:
        checker.fail(["lineItems"], "at least one line is required")
    for index, line in enumerate(lines):
        base: Path = ["lineItems", index]
        quantity, price, total = line.get("quantity"), line.get("unit_price"), line.get("total_amount")
        _positive(checker, quantity, [*base, "quantity"])
        _positive(checker, price, [*base, "unitPrice"], allow_zero=True)
        _positive(checker, total, [*base, "totalAmount"], allow_zero=True)
        if total is None and (quantity is None or price is None):
            checker.fail([*base, "totalAmount"], "give totalAmount, or quantity and unitPrice")
        elif total is not None and quantity is not None and price is not None and quantity * price != total:
            checker.fail([*base, "totalAmount"], f"{total} does not equal quantity × unit price "
                                                 f"({quantity} × {price} = {quantity * price})")
        if not line.get("account_id"):
            checker.fail([*base, "accountId"], "an account is required")
        checker.want(Resource.LEDGER_ACCOUNTS, line.get("account_id"), [*base, "accountId"])
        checker.want(Resource.TAX_RATES, line.get("tax_rate_id"), [*base, "taxRateId"])
        for t_index, tracking in enumerate(line.get("tracking_category_ids") or []):
            checker.want(Resource.TRACKING_CATEGORIES, tracking, [*base, "trackingCategoryIds", t_index])


def _line_kinds(checker: Checker, resource: Resource, lines: Sequence[dict[str, Any]]) -> None:
    allowed = LINE_ACCOUNT_TYPES.get(resource)
    if not allowed:
        return
    for index, line in enumerate(lines):
        account = checker.get(Resource.LEDGER_ACCOUNTS, line.get("account_id"))
        if account is not None and account.type not in allowed:
            kinds = " or ".join(sorted(k.value.lower() for k in allowed))
            checker.fail(["lineItems", index, "accountId"],
                         f"account {account.name!r} is a {account.type.value.lower()} account; "
                         f"{resource.value.replace('_', ' ')} lines need an {kinds} account")


def _dates(checker: Checker, data: dict[str, Any], start: str, end: str, start_name: str, end_name: str) -> None:
    if data.get(start) and data.get(end) and data[end] < data[start]:
        checker.fail([end_name], f"{end_name} is before {start_name}")


def _bank_account(checker: Checker, data: dict[str, Any], currency: str | None) -> None:
    account = checker.get(Resource.LEDGER_ACCOUNTS, data.get("account_id"))
    if account is None:
        return
    if account.type != AccountType.BANK:
        checker.fail(["accountId"], f"account {account.name!r} is not a bank account")
    elif currency and account.currency and account.currency != currency:
        checker.fail(["currency"], f"{currency} does not match the bank account's currency {account.currency}")


def _party(checker: Checker, data: dict[str, Any], key: str, resource: Resource, name: str,
           required: bool = True) -> None:
    if required and not data.get(key):
        checker.fail([name], f"{name} is required")
    checker.want(resource, data.get(key), [name])


def _party_currency(checker: Checker, data: dict[str, Any], key: str, resource: Resource, currency: str) -> None:
    party = checker.get(resource, data.get(key))
    if party is not None and party.currency and party.currency != currency:
        checker.fail(["currency"], f"{currency} does not match {party.display_name}'s currency {party.currency}")


def _allocations(checker: Checker, data: dict[str, Any], document: Resource, id_name: str,
                 available: Decimal | None) -> None:
    allocations = data.get("allocations") or []
    for index, allocation in enumerate(allocations):
        _positive(checker, allocation.get("amount"), ["allocations", index, "amount"])
        checker.want(document, allocation.get("document_id"), ["allocations", index, id_name])
    total = sum((a.get("amount") or Decimal(0) for a in allocations), Decimal(0))
    if available is not None and total > available:
        checker.fail(["allocations"], f"allocations total {total}, more than the {available} available")


def _allocation_limits(checker: Checker, data: dict[str, Any], document: Resource, party_key: str,
                       id_name: str, currency: str, resumed: bool = False) -> None:
    """Each allocation fits what its document still owes (unless `resumed`: this very write already
    applied part of it upstream, so what is owed now no longer tells)."""
    owed: dict[str, Decimal] = {}
    for index, allocation in enumerate(data.get("allocations") or []):
        doc = checker.get(document, allocation.get("document_id"))
        if doc is None:
            continue
        path: Path = ["allocations", index, id_name]
        if data.get(party_key) and getattr(doc, party_key, None) and getattr(doc, party_key) != data[party_key]:
            checker.fail(path, f"{doc.number or doc.id} belongs to another {party_key.removesuffix('_id')}")
        if doc.currency != currency:
            checker.fail(path, f"{doc.number or doc.id} is in {doc.currency}, not {currency}")
        remaining = owed.setdefault(doc.id, doc.balance)
        amount = allocation.get("amount") or Decimal(0)
        if amount > remaining and not resumed:
            checker.fail(["allocations", index, "amount"],
                         f"{amount} is more than the {remaining} {doc.number or doc.id} still owes")
        owed[doc.id] = remaining - amount


async def validate(resource: Resource, data: dict[str, Any], loaders: Loaders, connection_id: str,
                   base_currency: str | None, resumed: bool = False) -> Checker:
    """Check one create input; raise ValidationFailed with every problem, or return the loaded references.
    `resumed`: an earlier attempt under the same idempotency key passed these checks and wrote part of it."""
    checker = Checker(loaders=loaders, connection_id=connection_id)
    currency = data.get("currency")
    _currency(checker, currency, ["currency"])
    if currency and CURRENCY.match(currency) and base_currency and currency != base_currency and resource in (
            Resource.INVOICES, Resource.BILLS, Resource.CREDIT_NOTES) and not data.get("exchange_rate"):
        checker.fail(["exchangeRate"], f"{currency} differs from the company's {base_currency}: give an exchange rate")
    if data.get("exchange_rate") is not None:
        _positive(checker, data["exchange_rate"], ["exchangeRate"])

    if resource in (Resource.CUSTOMERS, Resource.SUPPLIERS):
        if not (data.get("display_name") or "").strip():
            checker.fail(["displayName"], "a display name is required")
        if data.get("email") and not EMAIL.match(data["email"]):
            checker.fail(["email"], f"{data['email']!r} is not an email address")
        checker.raise_if_failed()
        return checker

    if resource == Resource.INVOICES:
        _party(checker, data, "customer_id", Resource.CUSTOMERS, "customerId")
        _lines(checker, resource, data.get("line_items") or [])
        _dates(checker, data, "invoice_date", "due_date", "invoiceDate", "dueDate")
    elif resource == Resource.BILLS:
        _party(checker, data, "supplier_id", Resource.SUPPLIERS, "supplierId")
        _lines(checker, resource, data.get("line_items") or [])
        _dates(checker, data, "bill_date", "due_date", "billDate", "dueDate")
    elif resource == Resource.PURCHASE_ORDERS:
        _party(checker, data, "supplier_id", Resource.SUPPLIERS, "supplierId")
        _lines(checker, resource, data.get("line_items") or [])
        _dates(checker, data, "order_date", "delivery_date", "orderDate", "deliveryDate")
    elif resource == Resource.CREDIT_NOTES:
        _party(checker, data, "customer_id", Resource.CUSTOMERS, "customerId")
        _lines(checker, resource, data.get("line_items") or [])
        _allocations(checker, data, Resource.INVOICES, "invoiceId", None)
    elif resource == Resource.EXPENSES:
        _party(checker, data, "supplier_id", Resource.SUPPLIERS, "supplierId", required=False)
        checker.want(Resource.LEDGER_ACCOUNTS, data.get("account_id"), ["accountId"])
        _lines(checker, resource, data.get("line_items") or [])
    elif resource in (Resource.PAYMENTS, Resource.BILL_PAYMENTS):
        party_key, party_res, party_name = ("customer_id", Resource.CUSTOMERS, "customerId") \
            if resource == Resource.PAYMENTS else ("supplier_id", Resource.SUPPLIERS, "supplierId")
        document, id_name = (Resource.INVOICES, "invoiceId") if resource == Resource.PAYMENTS \
            else (Resource.BILLS, "billId")
        _party(checker, data, party_key, party_res, party_name)
        if not data.get("account_id"):
            checker.fail(["accountId"], "the bank account is required")
        checker.want(Resource.LEDGER_ACCOUNTS, data.get("account_id"), ["accountId"])
        _positive(checker, data.get("total_amount"), ["totalAmount"])
        _allocations(checker, data, document, id_name, data.get("total_amount"))
    elif resource == Resource.JOURNAL_ENTRIES:
        lines = data.get("line_items") or []
        if len(lines) < 2:
            checker.fail(["lineItems"], "a journal entry needs at least two lines")
        for index, line in enumerate(lines):
            _positive(checker, line.get("amount"), ["lineItems", index, "amount"])
            checker.want(Resource.LEDGER_ACCOUNTS, line.get("account_id"), ["lineItems", index, "accountId"])
            for t_index, tracking in enumerate(line.get("tracking_category_ids") or []):
                checker.want(Resource.TRACKING_CATEGORIES, tracking,
                             ["lineItems", index, "trackingCategoryIds", t_index])
        debit = sum((x.get("amount") or 0 for x in lines if x.get("type") == PostingType.DEBIT), Decimal(0))
        credit = sum((x.get("amount") or 0 for x in lines if x.get("type") == PostingType.CREDIT), Decimal(0))
        if debit != credit:
            checker.fail(["lineItems"], f"debits ({debit}) do not equal credits ({credit}) in {currency}")
        checker.want(Resource.JOURNALS, data.get("journal_id"), ["journalId"])

    await checker.load()

    if resource in LINE_ACCOUNT_TYPES:
        _line_kinds(checker, resource, data.get("line_items") or [])
    if resource == Resource.INVOICES or resource == Resource.CREDIT_NOTES:
        _party_currency(checker, data, "customer_id", Resource.CUSTOMERS, currency or "")
    if resource in (Resource.BILLS, Resource.PURCHASE_ORDERS):
        _party_currency(checker, data, "supplier_id", Resource.SUPPLIERS, currency or "")
    if resource == Resource.EXPENSES:
        _bank_account(checker, data, currency)
    if resource == Resource.PAYMENTS:
        _bank_account(checker, data, currency)
        _allocation_limits(checker, data, Resource.INVOICES, "customer_id", "invoiceId", currency or "", resumed)
    if resource == Resource.BILL_PAYMENTS:
        _bank_account(checker, data, currency)
        _allocation_limits(checker, data, Resource.BILLS, "supplier_id", "billId", currency or "", resumed)
    if resource == Resource.CREDIT_NOTES:
        _allocation_limits(checker, data, Resource.INVOICES, "customer_id", "invoiceId", currency or "", resumed)
    checker.raise_if_failed()
    return checker


def tax_rate_of(checker: Checker, tax_rate_id: str | None) -> Decimal:
    rate = checker.get(Resource.TAX_RATES, tax_rate_id)
    return rate.rate if isinstance(rate, m.TaxRate) else Decimal(0)
