"""The unified accounting model: what every connector returns, whatever the provider.

Amounts are `Decimal` (never float) and every monetary entity names its currency. Dates are
`date`, instants are timezone-aware `datetime`. References to other records are ids
(`customer_id`, `account_id`, ...) that the loaders follow in batches.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledgerql.model.enums import (
    AccountType,
    DocumentStatus,
    PostingType,
    PurchaseOrderStatus,
    RecordStatus,
    Source,
)


class UnifiedModel(BaseModel):
    model_config = ConfigDict(frozen=False, extra="forbid")


# Fields of referenced records that a provider sends inside the referencing one, by reference field:
# {"supplier_id": {"display_name": "Acme"}}. Only what the provider joins in when it answers (the
# referenced record as it is now, never a copy kept since the document was written), so the schema can
# answer a reference from it, without loading the record, when a selection asks for nothing else.
Shown = dict[str, dict[str, Any]]


class Record(UnifiedModel):
    """Fields every top-level record shares."""

    id: str
    updated_at: datetime | None = None
    # The provider's own record as JSON, kept so `raw` can be served without another call.
    raw: dict[str, Any] | None = Field(default=None, repr=False)
    # Fields the connector left unfilled because its provider keeps them apart (another call, often for
    # something few queries select): their values here are placeholders. The schema resolves one only
    # when a client selects it, in one batch per request (`Connector.resolve_deferred`); anything else
    # asks the loaders for complete records.
    deferred: frozenset[str] = Field(default_factory=frozenset, repr=False)
    # What this record shows of the records it references (`Shown`).
    shown: Shown = Field(default_factory=dict, repr=False)

    def is_deferred(self, name: str) -> bool:
        return name in self.deferred


class LedgerAccount(Record):
    nominal_code: str | None = None
    name: str
    type: AccountType
    sub_type: str | None = None
    status: RecordStatus = RecordStatus.ACTIVE
    currency: str | None = None


class Contact(Record):
    display_name: str
    company_name: str | None = None
    email: str | None = None
    status: RecordStatus = RecordStatus.ACTIVE
    currency: str | None = None


class Customer(Contact):
    pass


class Supplier(Contact):
    pass


class TaxRate(Record):
    code: str
    name: str
    rate: Decimal  # percent, e.g. Decimal("20")
    status: RecordStatus = RecordStatus.ACTIVE


class TrackingCategory(Record):
    """A tracking dimension (parent_id None) or one of its options."""

    name: str
    parent_id: str | None = None
    status: RecordStatus = RecordStatus.ACTIVE


class Department(Record):
    name: str
    parent_id: str | None = None
    status: RecordStatus = RecordStatus.ACTIVE


class Location(Record):
    name: str
    parent_id: str | None = None
    status: RecordStatus = RecordStatus.ACTIVE


class Subsidiary(Record):
    name: str
    currency: str | None = None
    status: RecordStatus = RecordStatus.ACTIVE


class LineItem(UnifiedModel):
    """A document line. `total_amount` is the line's net amount (before tax)."""

    id: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    total_amount: Decimal
    tax_amount: Decimal | None = None
    account_id: str | None = None
    tax_rate_id: str | None = None
    tracking_category_ids: list[str] = Field(default_factory=list)
    shown: Shown = Field(default_factory=dict, repr=False)


class Allocation(UnifiedModel):
    """Part of a payment or credit applied to one document (an invoice or a bill)."""

    document_id: str
    amount: Decimal


class Document(Record):
    """Fields shared by invoices, bills, credit notes and purchase orders."""

    number: str | None = None
    status: DocumentStatus = DocumentStatus.AUTHORISED
    # True when the connector did not read the open balance with the record (Exact Online keeps open
    # amounts apart, in its open items): `balance` and `status` are then placeholders, and the schema
    # loads the real ones in one batch per page, only when a client asks for them.
    balance_deferred: bool = False
    currency: str
    exchange_rate: Decimal | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal

    def is_deferred(self, name: str) -> bool:
        # `balance_deferred` is the first deferral and names two fields (the status follows the balance).
        return super().is_deferred(name) or (self.balance_deferred and name in ("balance", "status"))


class Invoice(Document):
    customer_id: str | None = None
    invoice_date: date
    due_date: date | None = None
    balance: Decimal


class Bill(Document):
    supplier_id: str | None = None
    bill_date: date
    due_date: date | None = None
    balance: Decimal


class CreditNote(Document):
    customer_id: str | None = None
    issue_date: date
    balance: Decimal  # credit still unallocated
    allocations: list[Allocation] = Field(default_factory=list)


class PurchaseOrder(Record):
    number: str | None = None
    supplier_id: str | None = None
    order_date: date
    delivery_date: date | None = None
    status: PurchaseOrderStatus = PurchaseOrderStatus.OPEN
    currency: str
    line_items: list[LineItem] = Field(default_factory=list)
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal


class Payment(Record):
    """Money received from a customer, allocated to invoices (possibly several, possibly not all)."""

    reference: str | None = None
    customer_id: str | None = None
    account_id: str | None = None
    payment_date: date
    total_amount: Decimal
    currency: str
    allocations: list[Allocation] = Field(default_factory=list)


class BillPayment(Record):
    """Money paid to a supplier, allocated to bills."""

    reference: str | None = None
    supplier_id: str | None = None
    account_id: str | None = None
    payment_date: date
    total_amount: Decimal
    currency: str
    allocations: list[Allocation] = Field(default_factory=list)


class Expense(Record):
    """An already-paid purchase: paid from `account_id` (bank or card) to a supplier."""

    number: str | None = None
    supplier_id: str | None = None
    account_id: str | None = None
    transaction_date: date
    currency: str
    line_items: list[LineItem] = Field(default_factory=list)
    sub_total: Decimal
    total_tax: Decimal
    total_amount: Decimal
    source: Source = Source.NATIVE


class JournalLine(UnifiedModel):
    id: str | None = None
    account_id: str
    type: PostingType
    amount: Decimal  # always positive; `type` gives the side
    description: str | None = None
    tracking_category_ids: list[str] = Field(default_factory=list)


class JournalEntry(Record):
    number: str | None = None
    journal_id: str | None = None
    posting_date: date
    currency: str
    description: str | None = None
    line_items: list[JournalLine] = Field(default_factory=list)


class Journal(Record):
    name: str
    code: str | None = None
    source: Source = Source.NATIVE


class BankAccount(Record):
    name: str
    ledger_account_id: str | None = None
    currency: str | None = None
    institution_name: str | None = None
    account_number: str | None = None


class CompanyInfo(Record):
    name: str
    legal_name: str | None = None
    base_currency: str
    country: str | None = None
    fiscal_year_start_month: int | None = None


# Which model each resource yields; connectors and loaders share this table.
ENTITY_TYPES: dict[str, type[Record]] = {
    "ledger_accounts": LedgerAccount,
    "customers": Customer,
    "suppliers": Supplier,
    "tax_rates": TaxRate,
    "tracking_categories": TrackingCategory,
    "departments": Department,
    "locations": Location,
    "subsidiaries": Subsidiary,
    "invoices": Invoice,
    "bills": Bill,
    "payments": Payment,
    "bill_payments": BillPayment,
    "expenses": Expense,
    "credit_notes": CreditNote,
    "purchase_orders": PurchaseOrder,
    "journal_entries": JournalEntry,
    "journals": Journal,
    "bank_accounts": BankAccount,
    "company_info": CompanyInfo,
}
