"""Enumerations of the unified model, shared by connectors, loaders and the schema."""

from __future__ import annotations

from enum import StrEnum


class Provider(StrEnum):
    QUICKBOOKS = "QUICKBOOKS"
    XERO = "XERO"
    EXACT_ONLINE = "EXACT_ONLINE"
    NETSUITE = "NETSUITE"


class Resource(StrEnum):
    """Every unified resource; the value is the snake_case name used in providers/*.yaml."""

    LEDGER_ACCOUNTS = "ledger_accounts"
    CUSTOMERS = "customers"
    SUPPLIERS = "suppliers"
    TAX_RATES = "tax_rates"
    TRACKING_CATEGORIES = "tracking_categories"
    DEPARTMENTS = "departments"
    LOCATIONS = "locations"
    SUBSIDIARIES = "subsidiaries"
    INVOICES = "invoices"
    BILLS = "bills"
    PAYMENTS = "payments"
    BILL_PAYMENTS = "bill_payments"
    EXPENSES = "expenses"
    CREDIT_NOTES = "credit_notes"
    PURCHASE_ORDERS = "purchase_orders"
    JOURNAL_ENTRIES = "journal_entries"
    JOURNALS = "journals"
    BANK_ACCOUNTS = "bank_accounts"
    COMPANY_INFO = "company_info"


class Operation(StrEnum):
    LIST = "list"
    GET = "get"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    VOID = "void"


class Support(StrEnum):
    NATIVE = "NATIVE"
    FALLBACK = "FALLBACK"
    UNSUPPORTED = "UNSUPPORTED"


class AccountType(StrEnum):
    ASSET = "ASSET"
    LIABILITY = "LIABILITY"
    EQUITY = "EQUITY"
    REVENUE = "REVENUE"
    EXPENSE = "EXPENSE"
    BANK = "BANK"
    OTHER = "OTHER"


class RecordStatus(StrEnum):
    """Status of reference data (accounts, contacts, tax rates, tracking)."""

    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class DocumentStatus(StrEnum):
    """Status of invoices, bills and credit notes: draft → authorised → paid (paid is derived)."""

    DRAFT = "DRAFT"
    AUTHORISED = "AUTHORISED"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    VOIDED = "VOIDED"


class PurchaseOrderStatus(StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    BILLED = "BILLED"
    CLOSED = "CLOSED"


class PostingType(StrEnum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


class Source(StrEnum):
    """What produced a unified record: the provider's own object, or a documented stand-in."""

    NATIVE = "NATIVE"
    BILL_FALLBACK = "BILL_FALLBACK"
    DERIVED = "DERIVED"
