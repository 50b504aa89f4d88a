"""The Exact Online entity sets the emulator serves: paths, keys, field lists, navigation, methods.

Field names follow Exact's REST reference (as copied into picqer/exact-php-client docblocks and
the go-exactonline generated models). A record is always a dict holding every field of its set,
`None` where Exact would send `null`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AUDIT = ("Created", "Creator", "CreatorFullName", "Modified", "Modifier", "ModifierFullName", "Division")

_ENTRY_LINE = ("ID", "EntryID", "LineNumber", "GLAccount", "GLAccountCode", "GLAccountDescription",
               "Description", "Quantity", "AmountFC", "AmountDC", "VATCode", "VATCodeDescription",
               "VATPercentage", "VATAmountFC", "VATAmountDC", "VATBaseAmountFC", "VATBaseAmountDC",
               "CostCenter", "CostCenterDescription", "CostUnit", "CostUnitDescription", "Notes", "Division")

_OPEN_ITEM = ("ID", "Account", "AccountCode", "AccountName", "AmountDC", "AmountFC", "Currency", "RateFC",
              "Description", "DueDate", "EntryDate", "EntryID", "EntryNumber", "GLAccount", "GLAccountCode",
              "GLAccountDescription", "InvoiceDate", "InvoiceNumber", "IsFullyPaid", "Journal",
              "JournalDescription", "LastPaymentDate", "PaymentReference", "Source", "Status",
              "TransactionAmountDC", "TransactionAmountFC", "TransactionDueDate", "TransactionEntryID",
              "TransactionIsReversal", "TransactionReportingPeriod", "TransactionReportingYear",
              "TransactionStatus", "TransactionType", "YourRef", *AUDIT)


@dataclass(frozen=True)
class EntitySet:
    path: str  # "salesentry/SalesEntries"
    key: str  # primary key field
    type_name: str  # "SalesEntry" → Exact.Web.Api.Models.SalesEntry
    fields: tuple[str, ...]
    methods: frozenset[str] = frozenset({"GET"})
    nav: dict[str, str] = field(default_factory=dict)  # navigation property → line set path
    parent: tuple[str, str] | None = None  # line sets: (parent set path, navigation property)

    @property
    def service(self) -> str:
        return self.path.split("/")[0]

    @property
    def qualified_type(self) -> str:
        return f"Exact.Web.Api.Models.{self.type_name}"

    def filter_fields(self) -> set[str]:
        return set(self.fields) - set(self.nav)


def _set(path: str, key: str, type_name: str, fields: tuple[str, ...], methods: str = "GET",
         nav: dict[str, str] | None = None, parent: tuple[str, str] | None = None) -> EntitySet:
    return EntitySet(path, key, type_name, fields, frozenset(methods.split()), nav or {}, parent)


SETS: dict[str, EntitySet] = {s.path: s for s in [
    _set("financial/GLAccounts", "ID", "GLAccount",
         ("ID", "Code", "Description", "SearchCode", "Type", "TypeDescription", "BalanceSide", "BalanceType",
          "IsBlocked", "VATCode", "Costcenter", "Costunit", *AUDIT)),
    _set("crm/Accounts", "ID", "Account",
         ("ID", "Code", "Name", "SearchCode", "Status", "IsSales", "IsSupplier", "IsPurchase", "Email",
          "Country", "SalesCurrency", "PurchaseCurrency", "SalesVATCode", "PurchaseVATCode", "GLAR", "GLAP",
          "Blocked", "Remarks", *AUDIT), "GET POST PUT DELETE"),
    _set("vat/VATCodes", "ID", "VATCode",
         ("ID", "Code", "Description", "Percentage", "Type", "VATTransactionType", "IsBlocked", *AUDIT)),
    _set("hrm/Costcenters", "ID", "Costcenter", ("ID", "Code", "Description", "Active", *AUDIT)),
    _set("hrm/Costunits", "ID", "Costunit", ("ID", "Code", "Description", *AUDIT)),
    _set("financial/Journals", "ID", "Journal",
         ("ID", "Code", "Description", "Type", "TypeDescription", "Currency", "GLAccount", "GLAccountCode",
          "GLAccountDescription", "BankAccountIBAN", "BankAccountDescription", "BankName", "IsBlocked",
          *AUDIT)),
    _set("system/Divisions", "Code", "Division",
         ("Code", "Description", "CustomerName", "Currency", "Country", "HID", "Main", "StartDate",
          "Created", "Modified")),
    _set("salesentry/SalesEntries", "EntryID", "SalesEntry",
         ("EntryID", "EntryNumber", "InvoiceNumber", "Journal", "JournalDescription", "Type", "TypeDescription",
          "Status", "StatusDescription", "Customer", "CustomerName", "EntryDate", "DueDate", "Currency", "Rate",
          "AmountFC", "AmountDC", "VATAmountFC", "VATAmountDC", "YourRef", "Description", "PaymentCondition",
          "PaymentReference", "ReportingYear", "ReportingPeriod", "Reversal", "SalesEntryLines", *AUDIT),
         "GET POST PUT DELETE", {"SalesEntryLines": "salesentry/SalesEntryLines"}),
    _set("salesentry/SalesEntryLines", "ID", "SalesEntryLine", _ENTRY_LINE,
         parent=("salesentry/SalesEntries", "SalesEntryLines")),
    _set("purchaseentry/PurchaseEntries", "EntryID", "PurchaseEntry",
         ("EntryID", "EntryNumber", "InvoiceNumber", "Journal", "JournalDescription", "Type", "TypeDescription",
          "Status", "StatusDescription", "Supplier", "SupplierName", "EntryDate", "DueDate", "Currency", "Rate",
          "AmountFC", "AmountDC", "VATAmountFC", "VATAmountDC", "YourRef", "Description", "PaymentCondition",
          "PaymentReference", "ReportingYear", "ReportingPeriod", "Reversal", "PurchaseEntryLines", *AUDIT),
         "GET POST PUT DELETE", {"PurchaseEntryLines": "purchaseentry/PurchaseEntryLines"}),
    _set("purchaseentry/PurchaseEntryLines", "ID", "PurchaseEntryLine", _ENTRY_LINE,
         parent=("purchaseentry/PurchaseEntries", "PurchaseEntryLines")),
    _set("purchaseorder/PurchaseOrders", "PurchaseOrderID", "PurchaseOrder",
         ("PurchaseOrderID", "OrderNumber", "YourRef", "Description", "Supplier", "SupplierCode", "SupplierName",
          "OrderDate", "ReceiptDate", "OrderStatus", "InvoiceStatus", "ReceiptStatus", "Currency", "ExchangeRate",
          "AmountFC", "AmountDC", "VATAmount", "Source", "PurchaseOrderLineCount", "PurchaseOrderLines", *AUDIT),
         "GET POST DELETE", {"PurchaseOrderLines": "purchaseorder/PurchaseOrderLines"}),
    _set("purchaseorder/PurchaseOrderLines", "ID", "PurchaseOrderLine",
         ("ID", "PurchaseOrderID", "LineNumber", "Description", "Quantity", "UnitPrice", "NetPrice", "AmountFC",
          "AmountDC", "VATCode", "VATDescription", "VATPercentage", "VATAmount", "CostCenter",
          "CostCenterDescription", "CostUnit", "CostUnitDescription", "GLAccount", "GLAccountCode",
          "ReceiptDate", "Division"),
         parent=("purchaseorder/PurchaseOrders", "PurchaseOrderLines")),
    _set("generaljournalentry/GeneralJournalEntries", "EntryID", "GeneralJournalEntry",
         ("EntryID", "EntryNumber", "JournalCode", "JournalDescription", "FinancialYear", "FinancialPeriod",
          "Currency", "ExchangeRate", "Reversal", "Status", "StatusDescription", "Type", "TypeDescription",
          "GeneralJournalEntryLines", *AUDIT),
         "GET POST", {"GeneralJournalEntryLines": "generaljournalentry/GeneralJournalEntryLines"}),
    _set("generaljournalentry/GeneralJournalEntryLines", "ID", "GeneralJournalEntryLine",
         ("ID", "EntryID", "LineNumber", "GLAccount", "GLAccountCode", "GLAccountDescription", "Date",
          "Description", "AmountFC", "AmountDC", "AmountVATFC", "VATCode", "Account", "CostCenter",
          "CostCenterDescription", "CostUnit", "CostUnitDescription", "OurRef", "Notes", "Division"),
         parent=("generaljournalentry/GeneralJournalEntries", "GeneralJournalEntryLines")),
    _set("financialtransaction/BankEntries", "EntryID", "BankEntry",
         ("EntryID", "EntryNumber", "JournalCode", "JournalDescription", "Currency", "FinancialYear",
          "FinancialPeriod", "OpeningBalanceFC", "ClosingBalanceFC", "Status", "StatusDescription",
          "BankEntryLines", *AUDIT),
         "GET POST", {"BankEntryLines": "financialtransaction/BankEntryLines"}),
    _set("financialtransaction/BankEntryLines", "ID", "BankEntryLine",
         ("ID", "EntryID", "LineNumber", "Account", "AccountCode", "AccountName", "GLAccount", "GLAccountCode",
          "GLAccountDescription", "Date", "Description", "AmountFC", "AmountDC", "AmountVATFC", "OurRef", "Notes",
          "VATCode", "CostCenter", "CostUnit", "Division"),
         parent=("financialtransaction/BankEntries", "BankEntryLines")),
    _set("cashflow/Receivables", "ID", "Receivable", _OPEN_ITEM),
    _set("cashflow/Payments", "ID", "Payment", _OPEN_ITEM),
]}


def make(set_path: str, **values: Any) -> dict[str, Any]:
    """A record of `set_path` with every field present (missing ones None)."""
    fields = SETS[set_path].fields
    unknown = set(values) - set(fields)
    if unknown:
        raise KeyError(f"{set_path} has no field(s) {sorted(unknown)}")
    return {name: values.get(name) for name in fields}
