"""GraphQL object types of the unified model.

Each type is built once per record from the unified pydantic model (`from_model`), so plain fields
resolve with strawberry's default resolver; only references, and the fields a connector deferred
(`Record.deferred`: read upstream only when selected, see `field_value`), resolve through a
per-request dataloader, keyed by the record's connection.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.types.nodes import SelectedField
from strawberry.utils.str_converters import to_camel_case

import ledgerql.schema.enums  # noqa: F401  (registers the model's enums with strawberry first)
from ledgerql.model import entities as m
from ledgerql.model.enums import (
    AccountType,
    DocumentStatus,
    Operation,
    PostingType,
    PurchaseOrderStatus,
    RecordStatus,
    Resource,
    Source,
    Support,
)
from ledgerql.model.rules import derived_status

if TYPE_CHECKING:
    from ledgerql.context import RequestContext



def context(info: Info) -> RequestContext:
    return cast("RequestContext", info.context)


async def load_one(info: Info, connection_id: str, resource: Resource, record_id: str | None,
                   shown: dict[str, Any] | None = None) -> Any:
    """Follow a reference through the request's dataloader; a dangling reference resolves to null.
    `shown`: what the referencing record shows of this one (`entities.Shown`); when the selection asks
    for nothing more, it answers without a load."""
    if not record_id:
        return None
    ctx = context(info)
    ctx.note_fallback(ctx.connector(connection_id), resource, Operation.GET)
    if shown and _selection_within(info, shown):
        ctx.loaders.may_read(connection_id, resource)
        return wrap(resource, _shown_record(resource, record_id, shown), connection_id)
    # Partial: the GraphQL types resolve a deferred field only when it is selected.
    record = await ctx.loaders.by_id(connection_id, resource, partial=True).load(record_id)
    return None if record is None else wrap(resource, record, connection_id)


def _selection_within(info: Info, shown: dict[str, Any]) -> bool:
    """True when the field being resolved selects only its id, its type name and `shown` fields."""
    allowed = {"id", "__typename", *(to_camel_case(name) for name in shown)}
    # The same response key may be selected more than once (`supplier { id } supplier { email }`): all count.
    names = _selected_names([s for field in info.selected_fields for s in field.selections])
    return names is not None and names <= allowed


def _selected_names(selections: list[Any]) -> set[str] | None:
    """Field names selected, through fragments, as `@skip` / `@include` leave them; None when another
    directive is present (what it does is not known here: the record is loaded)."""
    names: set[str] = set()
    for selection in selections:
        included = _included(selection.directives)
        if included is None:
            return None
        if not included:
            continue
        if isinstance(selection, SelectedField):
            names.add(selection.name)
            continue
        inner = _selected_names(selection.selections)
        if inner is None:
            return None
        names |= inner
    return names


def _included(directives: dict[str, dict[str, Any]]) -> bool | None:
    for name, arguments in directives.items():
        if name not in ("skip", "include"):
            return None
        if arguments.get("if") is (name == "skip"):
            return False
    return True


def _shown_record(resource: Resource, record_id: str, shown: dict[str, Any]) -> m.Record:
    """A record of which only the id and the shown fields are known: the rest are never read, since
    the selection asks for nothing else."""
    cls = m.ENTITY_TYPES[resource.value]
    values: dict[str, Any] = {name: None for name in cls.model_fields}
    values.update(deferred=frozenset(), shown={}, id=record_id, **shown)
    return cls.model_construct(**values)


async def load_many(info: Info, connection_id: str, resource: Resource, ids: list[str]) -> list[Any]:
    loader = context(info).loaders.by_id(connection_id, resource, partial=True)
    records = await loader.load_many(ids)
    return [wrap(resource, r, connection_id) for r in records if r is not None]


async def field_value(info: Info, connection_id: str, resource: Resource, record: m.Record, name: str) -> Any:
    """A field of a record: as the connector filled it or, when it deferred it (its provider keeps the
    field apart), through one batch per request for every record whose field is selected."""
    if not record.is_deferred(name):
        return getattr(record, name)
    return await context(info).loaders.deferred(connection_id, resource, name).load(record)


async def document_status(info: Info, connection_id: str, resource: Resource, record: m.Document) -> DocumentStatus:
    if not record.is_deferred("status"):
        return record.status
    balance = await field_value(info, connection_id, resource, record, "balance")
    return derived_status(DocumentStatus.AUTHORISED, record.total, balance)


# --- reference data ------------------------------------------------------------------------------


async def _ledger_currency(root: LedgerAccount, info: Info) -> str | None:
    value: str | None = await field_value(info, root._conn, Resource.LEDGER_ACCOUNTS, root._model, "currency")
    return value


@strawberry.type(description="An account of the general ledger (chart of accounts).")
class LedgerAccount:
    id: strawberry.ID
    nominal_code: str | None
    name: str
    type: AccountType
    sub_type: str | None
    status: RecordStatus
    currency: str | None = strawberry.field(resolver=_ledger_currency)
    updated_at: datetime | None
    _raw: strawberry.Private[dict[str, Any] | None]
    _model: strawberry.Private[m.LedgerAccount]
    _conn: strawberry.Private[str]

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.LedgerAccount, conn: str) -> LedgerAccount:
        return cls(id=strawberry.ID(x.id), nominal_code=x.nominal_code, name=x.name, type=x.type,
                   sub_type=x.sub_type, status=x.status, updated_at=x.updated_at, _raw=x.raw, _model=x, _conn=conn)


@strawberry.interface(description="A customer or a supplier.")
class Contact:
    id: strawberry.ID
    display_name: str
    company_name: str | None
    email: str | None
    status: RecordStatus
    currency: str | None
    updated_at: datetime | None
    _raw: strawberry.Private[dict[str, Any] | None]

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)


def _contact_args(x: m.Contact) -> dict[str, Any]:
    return dict(id=strawberry.ID(x.id), display_name=x.display_name, company_name=x.company_name,
                email=x.email, status=x.status, currency=x.currency, updated_at=x.updated_at, _raw=x.raw)


@strawberry.type
class Customer(Contact):
    @classmethod
    def from_model(cls, x: m.Customer, conn: str) -> Customer:
        return cls(**_contact_args(x))


@strawberry.type
class Supplier(Contact):
    @classmethod
    def from_model(cls, x: m.Supplier, conn: str) -> Supplier:
        return cls(**_contact_args(x))


@strawberry.type
class TaxRate:
    id: strawberry.ID
    code: str
    name: str
    rate: Decimal = strawberry.field(description="Percent, e.g. 20 for 20 %.")
    status: RecordStatus
    updated_at: datetime | None

    @classmethod
    def from_model(cls, x: m.TaxRate, conn: str) -> TaxRate:
        return cls(id=strawberry.ID(x.id), code=x.code, name=x.name, rate=x.rate, status=x.status,
                   updated_at=x.updated_at)


@strawberry.type(description="A tracking dimension (no parent) or one of its options.")
class TrackingCategory:
    id: strawberry.ID
    name: str
    status: RecordStatus
    _parent_id: strawberry.Private[str | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def parent(self, info: Info) -> TrackingCategory | None:
        return await load_one(info, self._conn, Resource.TRACKING_CATEGORIES, self._parent_id)

    @classmethod
    def from_model(cls, x: m.TrackingCategory, conn: str) -> TrackingCategory:
        return cls(id=strawberry.ID(x.id), name=x.name, status=x.status, _parent_id=x.parent_id, _conn=conn)


@strawberry.type
class Department:
    id: strawberry.ID
    name: str
    status: RecordStatus

    @classmethod
    def from_model(cls, x: m.Department, conn: str) -> Department:
        return cls(id=strawberry.ID(x.id), name=x.name, status=x.status)


@strawberry.type
class Location:
    id: strawberry.ID
    name: str
    status: RecordStatus

    @classmethod
    def from_model(cls, x: m.Location, conn: str) -> Location:
        return cls(id=strawberry.ID(x.id), name=x.name, status=x.status)


@strawberry.type
class Subsidiary:
    id: strawberry.ID
    name: str
    currency: str | None
    status: RecordStatus

    @classmethod
    def from_model(cls, x: m.Subsidiary, conn: str) -> Subsidiary:
        return cls(id=strawberry.ID(x.id), name=x.name, currency=x.currency, status=x.status)


@strawberry.type
class BankAccount:
    id: strawberry.ID
    name: str
    currency: str | None
    institution_name: str | None
    account_number: str | None
    _ledger_account_id: strawberry.Private[str | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def ledger_account(self, info: Info) -> LedgerAccount | None:
        return await load_one(info, self._conn, Resource.LEDGER_ACCOUNTS, self._ledger_account_id)

    @classmethod
    def from_model(cls, x: m.BankAccount, conn: str) -> BankAccount:
        return cls(id=strawberry.ID(x.id), name=x.name, currency=x.currency, institution_name=x.institution_name,
                   account_number=x.account_number, _ledger_account_id=x.ledger_account_id, _conn=conn)


@strawberry.type
class CompanyInfo:
    id: strawberry.ID
    name: str
    legal_name: str | None
    base_currency: str
    country: str | None
    fiscal_year_start: int | None = strawberry.field(description="Month (1-12) the fiscal year starts in.")

    @classmethod
    def from_model(cls, x: m.CompanyInfo, conn: str) -> CompanyInfo:
        return cls(id=strawberry.ID(x.id), name=x.name, legal_name=x.legal_name, base_currency=x.base_currency,
                   country=x.country, fiscal_year_start=x.fiscal_year_start_month)


# --- lines ---------------------------------------------------------------------------------------


@strawberry.type(description="A document line. totalAmount is the net amount (before tax).")
class LineItem:
    id: str | None
    description: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    total_amount: Decimal
    tax_amount: Decimal | None
    _account_id: strawberry.Private[str | None]
    _tax_rate_id: strawberry.Private[str | None]
    _tracking_ids: strawberry.Private[list[str]]
    _shown: strawberry.Private[m.Shown]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def account(self, info: Info) -> LedgerAccount | None:
        return await load_one(info, self._conn, Resource.LEDGER_ACCOUNTS, self._account_id,
                              self._shown.get("account_id"))

    @strawberry.field
    async def tax_rate(self, info: Info) -> TaxRate | None:
        return await load_one(info, self._conn, Resource.TAX_RATES, self._tax_rate_id,
                              self._shown.get("tax_rate_id"))

    @strawberry.field
    async def tracking_categories(self, info: Info) -> list[TrackingCategory]:
        return await load_many(info, self._conn, Resource.TRACKING_CATEGORIES, self._tracking_ids)

    @classmethod
    def from_model(cls, x: m.LineItem, conn: str) -> LineItem:
        return cls(id=x.id, description=x.description, quantity=x.quantity, unit_price=x.unit_price,
                   total_amount=x.total_amount, tax_amount=x.tax_amount, _account_id=x.account_id,
                   _tax_rate_id=x.tax_rate_id, _tracking_ids=x.tracking_category_ids, _shown=x.shown, _conn=conn)


def _lines(lines: list[m.LineItem], conn: str) -> list[LineItem]:
    return [LineItem.from_model(line, conn) for line in lines]


@strawberry.type
class JournalLine:
    id: str | None
    type: PostingType
    amount: Decimal
    description: str | None
    _account_id: strawberry.Private[str]
    _tracking_ids: strawberry.Private[list[str]]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def account(self, info: Info) -> LedgerAccount | None:
        return await load_one(info, self._conn, Resource.LEDGER_ACCOUNTS, self._account_id)

    @strawberry.field
    async def tracking_categories(self, info: Info) -> list[TrackingCategory]:
        return await load_many(info, self._conn, Resource.TRACKING_CATEGORIES, self._tracking_ids)


# --- documents -----------------------------------------------------------------------------------


@strawberry.type
class InvoiceAllocation:
    amount: Decimal
    _invoice_id: strawberry.Private[str]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def invoice(self, info: Info) -> Invoice | None:
        return await load_one(info, self._conn, Resource.INVOICES, self._invoice_id)


@strawberry.type
class BillAllocation:
    amount: Decimal
    _bill_id: strawberry.Private[str]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def bill(self, info: Info) -> Bill | None:
        return await load_one(info, self._conn, Resource.BILLS, self._bill_id)


@strawberry.type
class Invoice:
    id: strawberry.ID
    number: str | None
    invoice_date: date
    due_date: date | None
    currency: str
    exchange_rate: Decimal | None
    line_items: list[LineItem]
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    updated_at: datetime | None
    _model: strawberry.Private[m.Invoice]

    @strawberry.field(description="What is still owed: total less allocated payments and credits.")
    async def balance(self, info: Info) -> Decimal:
        value: Decimal = await field_value(info, self._conn, Resource.INVOICES, self._model, "balance")
        return value

    @strawberry.field
    async def status(self, info: Info) -> DocumentStatus:
        return await document_status(info, self._conn, Resource.INVOICES, self._model)
    _customer_id: strawberry.Private[str | None]
    _shown: strawberry.Private[m.Shown]
    _raw: strawberry.Private[dict[str, Any] | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await load_one(info, self._conn, Resource.CUSTOMERS, self._customer_id,
                              self._shown.get("customer_id"))

    @strawberry.field(description="Payments allocated to this invoice.")
    async def payments(self, info: Info) -> list[Payment]:
        found = await context(info).loaders.allocated_to(self._conn, Resource.PAYMENTS).load(str(self.id))
        return [Payment.from_model(p, self._conn) for p in found]

    @strawberry.field(description="Credit notes allocated to this invoice.")
    async def credit_notes(self, info: Info) -> list[CreditNote]:
        ctx = context(info)
        connector = ctx.connector(self._conn)
        if connector.support(Resource.CREDIT_NOTES, Operation.LIST) == Support.UNSUPPORTED:
            return []
        found = await ctx.loaders.allocated_to(self._conn, Resource.CREDIT_NOTES).load(str(self.id))
        return [CreditNote.from_model(c, self._conn) for c in found]

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.Invoice, conn: str) -> Invoice:
        return cls(id=strawberry.ID(x.id), number=x.number, invoice_date=x.invoice_date, due_date=x.due_date,
                   currency=x.currency, exchange_rate=x.exchange_rate, line_items=_lines(x.line_items, conn),
                   sub_total=x.sub_total, total_tax=x.total_tax, total=x.total, _model=x,
                   updated_at=x.updated_at, _customer_id=x.customer_id, _shown=x.shown,
                   _raw=x.raw, _conn=conn)


@strawberry.type
class Bill:
    id: strawberry.ID
    number: str | None
    bill_date: date
    due_date: date | None
    currency: str
    exchange_rate: Decimal | None
    line_items: list[LineItem]
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    updated_at: datetime | None
    _model: strawberry.Private[m.Bill]

    @strawberry.field(description="What is still owed: total less allocated payments.")
    async def balance(self, info: Info) -> Decimal:
        value: Decimal = await field_value(info, self._conn, Resource.BILLS, self._model, "balance")
        return value

    @strawberry.field
    async def status(self, info: Info) -> DocumentStatus:
        return await document_status(info, self._conn, Resource.BILLS, self._model)
    _supplier_id: strawberry.Private[str | None]
    _shown: strawberry.Private[m.Shown]
    _raw: strawberry.Private[dict[str, Any] | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def supplier(self, info: Info) -> Supplier | None:
        return await load_one(info, self._conn, Resource.SUPPLIERS, self._supplier_id,
                              self._shown.get("supplier_id"))

    @strawberry.field(description="Bill payments allocated to this bill.")
    async def payments(self, info: Info) -> list[BillPayment]:
        found = await context(info).loaders.allocated_to(self._conn, Resource.BILL_PAYMENTS).load(str(self.id))
        return [BillPayment.from_model(p, self._conn) for p in found]

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.Bill, conn: str) -> Bill:
        return cls(id=strawberry.ID(x.id), number=x.number, bill_date=x.bill_date, due_date=x.due_date,
                   currency=x.currency, exchange_rate=x.exchange_rate, line_items=_lines(x.line_items, conn),
                   sub_total=x.sub_total, total_tax=x.total_tax, total=x.total, _model=x,
                   updated_at=x.updated_at, _supplier_id=x.supplier_id, _shown=x.shown,
                   _raw=x.raw, _conn=conn)


@strawberry.type
class CreditNote:
    id: strawberry.ID
    number: str | None
    issue_date: date
    status: DocumentStatus
    currency: str
    exchange_rate: Decimal | None
    line_items: list[LineItem]
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    balance: Decimal = strawberry.field(description="Credit not yet allocated.")
    allocations: list[InvoiceAllocation]
    updated_at: datetime | None
    _customer_id: strawberry.Private[str | None]
    _shown: strawberry.Private[m.Shown]
    _raw: strawberry.Private[dict[str, Any] | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await load_one(info, self._conn, Resource.CUSTOMERS, self._customer_id,
                              self._shown.get("customer_id"))

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.CreditNote, conn: str) -> CreditNote:
        return cls(id=strawberry.ID(x.id), number=x.number, issue_date=x.issue_date, status=x.status,
                   currency=x.currency, exchange_rate=x.exchange_rate, line_items=_lines(x.line_items, conn),
                   sub_total=x.sub_total, total_tax=x.total_tax, total=x.total, balance=x.balance,
                   allocations=[InvoiceAllocation(amount=a.amount, _invoice_id=a.document_id, _conn=conn)
                                for a in x.allocations],
                   updated_at=x.updated_at, _customer_id=x.customer_id, _shown=x.shown, _raw=x.raw, _conn=conn)


@strawberry.type
class PurchaseOrder:
    id: strawberry.ID
    number: str | None
    order_date: date
    delivery_date: date | None
    status: PurchaseOrderStatus
    currency: str
    line_items: list[LineItem]
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    updated_at: datetime | None
    _supplier_id: strawberry.Private[str | None]
    _shown: strawberry.Private[m.Shown]
    _raw: strawberry.Private[dict[str, Any] | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def supplier(self, info: Info) -> Supplier | None:
        return await load_one(info, self._conn, Resource.SUPPLIERS, self._supplier_id,
                              self._shown.get("supplier_id"))

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.PurchaseOrder, conn: str) -> PurchaseOrder:
        return cls(id=strawberry.ID(x.id), number=x.number, order_date=x.order_date, delivery_date=x.delivery_date,
                   status=x.status, currency=x.currency, line_items=_lines(x.line_items, conn),
                   sub_total=x.sub_total, total_tax=x.total_tax, total=x.total, updated_at=x.updated_at,
                   _supplier_id=x.supplier_id, _shown=x.shown, _raw=x.raw, _conn=conn)


@strawberry.type
class Payment:
    id: strawberry.ID
    reference: str | None
    payment_date: date
    total_amount: Decimal
    currency: str
    allocations: list[InvoiceAllocation]
    updated_at: datetime | None
    _customer_id: strawberry.Private[str | None]
    _shown: strawberry.Private[m.Shown]
    _model: strawberry.Private[m.Payment]
    _raw: strawberry.Private[dict[str, Any] | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await load_one(info, self._conn, Resource.CUSTOMERS, self._customer_id,
                              self._shown.get("customer_id"))

    @strawberry.field(description="The bank account (ledger account) the money went into.")
    async def account(self, info: Info) -> LedgerAccount | None:
        account_id = await field_value(info, self._conn, Resource.PAYMENTS, self._model, "account_id")
        return await load_one(info, self._conn, Resource.LEDGER_ACCOUNTS, account_id)

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.Payment, conn: str) -> Payment:
        return cls(id=strawberry.ID(x.id), reference=x.reference, payment_date=x.payment_date,
                   total_amount=x.total_amount, currency=x.currency,
                   allocations=[InvoiceAllocation(amount=a.amount, _invoice_id=a.document_id, _conn=conn)
                                for a in x.allocations],
                   updated_at=x.updated_at, _customer_id=x.customer_id, _shown=x.shown, _model=x, _raw=x.raw,
                   _conn=conn)


@strawberry.type
class BillPayment:
    id: strawberry.ID
    reference: str | None
    payment_date: date
    total_amount: Decimal
    currency: str
    allocations: list[BillAllocation]
    updated_at: datetime | None
    _supplier_id: strawberry.Private[str | None]
    _shown: strawberry.Private[m.Shown]
    _model: strawberry.Private[m.BillPayment]
    _raw: strawberry.Private[dict[str, Any] | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def supplier(self, info: Info) -> Supplier | None:
        return await load_one(info, self._conn, Resource.SUPPLIERS, self._supplier_id,
                              self._shown.get("supplier_id"))

    @strawberry.field(description="The bank account (ledger account) the money left from.")
    async def account(self, info: Info) -> LedgerAccount | None:
        account_id = await field_value(info, self._conn, Resource.BILL_PAYMENTS, self._model, "account_id")
        return await load_one(info, self._conn, Resource.LEDGER_ACCOUNTS, account_id)

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.BillPayment, conn: str) -> BillPayment:
        return cls(id=strawberry.ID(x.id), reference=x.reference, payment_date=x.payment_date,
                   total_amount=x.total_amount, currency=x.currency,
                   allocations=[BillAllocation(amount=a.amount, _bill_id=a.document_id, _conn=conn)
                                for a in x.allocations],
                   updated_at=x.updated_at, _supplier_id=x.supplier_id, _shown=x.shown, _model=x, _raw=x.raw,
                   _conn=conn)


@strawberry.type(description="An already-paid purchase.")
class Expense:
    id: strawberry.ID
    number: str | None
    transaction_date: date
    currency: str
    line_items: list[LineItem]
    sub_total: Decimal
    total_tax: Decimal
    total_amount: Decimal
    source: Source
    updated_at: datetime | None
    _supplier_id: strawberry.Private[str | None]
    _shown: strawberry.Private[m.Shown]
    _account_id: strawberry.Private[str | None]
    _raw: strawberry.Private[dict[str, Any] | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def supplier(self, info: Info) -> Supplier | None:
        return await load_one(info, self._conn, Resource.SUPPLIERS, self._supplier_id,
                              self._shown.get("supplier_id"))

    @strawberry.field(description="The bank or card account it was paid from.")
    async def account(self, info: Info) -> LedgerAccount | None:
        return await load_one(info, self._conn, Resource.LEDGER_ACCOUNTS, self._account_id,
                              self._shown.get("account_id"))

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.Expense, conn: str) -> Expense:
        return cls(id=strawberry.ID(x.id), number=x.number, transaction_date=x.transaction_date,
                   currency=x.currency, line_items=_lines(x.line_items, conn), sub_total=x.sub_total,
                   total_tax=x.total_tax, total_amount=x.total_amount, source=x.source, updated_at=x.updated_at,
                   _supplier_id=x.supplier_id, _shown=x.shown, _account_id=x.account_id, _raw=x.raw, _conn=conn)


@strawberry.type(description="A group of journal entries.")
class Journal:
    id: strawberry.ID
    name: str
    code: str | None
    source: Source

    @classmethod
    def from_model(cls, x: m.Journal, conn: str) -> Journal:
        return cls(id=strawberry.ID(x.id), name=x.name, code=x.code, source=x.source)


@strawberry.type
class JournalEntry:
    id: strawberry.ID
    number: str | None
    posting_date: date
    currency: str
    description: str | None
    line_items: list[JournalLine]
    updated_at: datetime | None
    _journal_id: strawberry.Private[str | None]
    _raw: strawberry.Private[dict[str, Any] | None]
    _conn: strawberry.Private[str]

    @strawberry.field
    async def journal(self, info: Info) -> Journal | None:
        return await load_one(info, self._conn, Resource.JOURNALS, self._journal_id)

    @strawberry.field(description="The provider's own record, as it sent it.")
    def raw(self) -> JSON | None:
        return cast("JSON | None", self._raw)

    @classmethod
    def from_model(cls, x: m.JournalEntry, conn: str) -> JournalEntry:
        lines = [JournalLine(id=line.id, type=line.type, amount=line.amount, description=line.description,
                             _account_id=line.account_id, _tracking_ids=line.tracking_category_ids, _conn=conn)
                 for line in x.line_items]
        return cls(id=strawberry.ID(x.id), number=x.number, posting_date=x.posting_date, currency=x.currency,
                   description=x.description, line_items=lines, updated_at=x.updated_at,
                   _journal_id=x.journal_id, _raw=x.raw, _conn=conn)


# --- resource → GraphQL type ---------------------------------------------------------------------

GRAPHQL_TYPES: dict[Resource, Any] = {
    Resource.LEDGER_ACCOUNTS: LedgerAccount,
    Resource.CUSTOMERS: Customer,
    Resource.SUPPLIERS: Supplier,
    Resource.TAX_RATES: TaxRate,
    Resource.TRACKING_CATEGORIES: TrackingCategory,
    Resource.DEPARTMENTS: Department,
    Resource.LOCATIONS: Location,
    Resource.SUBSIDIARIES: Subsidiary,
    Resource.INVOICES: Invoice,
    Resource.BILLS: Bill,
    Resource.PAYMENTS: Payment,
    Resource.BILL_PAYMENTS: BillPayment,
    Resource.EXPENSES: Expense,
    Resource.CREDIT_NOTES: CreditNote,
    Resource.PURCHASE_ORDERS: PurchaseOrder,
    Resource.JOURNAL_ENTRIES: JournalEntry,
    Resource.JOURNALS: Journal,
    Resource.BANK_ACCOUNTS: BankAccount,
    Resource.COMPANY_INFO: CompanyInfo,
}


def wrap(resource: Resource, record: m.Record, connection_id: str) -> Any:
    return GRAPHQL_TYPES[resource].from_model(record, connection_id)
