"""Unified records → QuickBooks Online create payloads (`POST /v3/company/{realm}/{entity}`).

Lines: a sales line (invoice, credit memo) names its ledger account through an item
(`SalesItemLineDetail.ItemRef`, the item whose `IncomeAccountRef` is the account); a purchase line
(bill, purchase order, expense) is an `ItemBasedExpenseLineDetail` through the item whose
`ExpenseAccountRef` is the account (so quantity and unit price are kept), or an
`AccountBasedExpenseLineDetail` on the account itself when no item posts there. A line's tax rate is
its `TaxCodeRef`; a Department tracking option is the line's `ClassRef`, a Location option the
document's `DepartmentRef` (QBO has one per document: the first one named).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from ledgerql.model import entities as m
from ledgerql.model.errors import ErrorCode, LedgerQLError

Raw = dict[str, Any]
MAX_REQUEST_ID = 50


def request_id(key: str, step: str = "") -> str:
    """QBO's `requestid` for a gateway idempotency key (and a step of a multi-step write): the key
    itself when it fits (≤ 50 characters), otherwise a hash of it, always the same for the same key."""
    if not step and len(key) <= MAX_REQUEST_ID and key.isascii() and key.isprintable():
        return key
    digest = hashlib.sha256(f"{key}\x00{step}".encode()).hexdigest()
    return f"lq-{digest[:MAX_REQUEST_ID - 3]}"


def ref(value: str) -> Raw:
    return {"value": value}


class PayloadBuilder:
    """Builds create bodies; `items` is the realm's Item list, `class_prefix` / `department_prefix`
    the tracking id prefixes of the connector's dimensions."""

    def __init__(self, items: dict[str, Raw], class_prefix: str, department_prefix: str) -> None:
        self.items = items
        self.class_prefix = class_prefix
        self.department_prefix = department_prefix

    # -- helpers ---------------------------------------------------------------------------------
    def _item_for(self, account_id: str, key: str) -> str | None:
        for item_id, item in sorted(self.items.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
            if item.get("Active", True) is False:
                continue
            if str((item.get(key) or {}).get("value")) == account_id:
                return item_id
        return None

    def _class_of(self, line: m.LineItem) -> str | None:
        for tracking in line.tracking_category_ids:
            if tracking.startswith(self.class_prefix):
                return tracking[len(self.class_prefix):]
        return None

    def _location_of(self, lines: list[m.LineItem]) -> str | None:
        for line in lines:
            for tracking in line.tracking_category_ids:
                if tracking.startswith(self.department_prefix):
                    return tracking[len(self.department_prefix):]
        return None

    def _line(self, index: int, line: m.LineItem, sales: bool) -> Raw:
        account = line.account_id or ""
        detail: Raw = {}
        if sales:
            detail_type = "SalesItemLineDetail"
            item = self._item_for(account, "IncomeAccountRef")
            if item is None:
                raise LedgerQLError(ErrorCode.BAD_USER_INPUT,
                                    f"QuickBooks sales lines post through an item, and no item posts to account "
                                    f"{account}", inputPath=["input", "lineItems", index, "accountId"])
            detail["ItemRef"] = ref(item)
        else:
            item = self._item_for(account, "ExpenseAccountRef")
            if item is not None:
                detail_type = "ItemBasedExpenseLineDetail"
                detail["ItemRef"] = ref(item)
            else:
                detail_type = "AccountBasedExpenseLineDetail"
                detail["AccountRef"] = ref(account)
        if detail_type != "AccountBasedExpenseLineDetail":
            if line.quantity is not None:
                detail["Qty"] = line.quantity
            if line.unit_price is not None:
                detail["UnitPrice"] = line.unit_price
        if detail_type != "SalesItemLineDetail":
            detail["BillableStatus"] = "NotBillable"
        class_id = self._class_of(line)
        if class_id is not None:
            detail["ClassRef"] = ref(class_id)
        if line.tax_rate_id is not None:
            detail["TaxCodeRef"] = ref(line.tax_rate_id)
        result: Raw = {}
        if line.description is not None:
            result["Description"] = line.description
        result.update({"Amount": line.total_amount, "DetailType": detail_type, detail_type: detail})
        return result

    def _document(self, record: Any, sales: bool, number: str | None, txn_date: Any) -> Raw:
        body: Raw = {"TxnDate": txn_date.isoformat(), "CurrencyRef": ref(record.currency),
                     "Line": [self._line(i, line, sales) for i, line in enumerate(record.line_items)]}
        if number is not None:
            body["DocNumber"] = number
        if getattr(record, "exchange_rate", None) is not None:
            body["ExchangeRate"] = record.exchange_rate
        location = self._location_of(record.line_items)
        if location is not None:
            body["DepartmentRef"] = ref(location)
        return body

    # -- entities --------------------------------------------------------------------------------
    @staticmethod
    def contact(record: m.Contact) -> Raw:
        body: Raw = {"DisplayName": record.display_name}
        if record.company_name:
            body["CompanyName"] = record.company_name
        if record.email:
            body["PrimaryEmailAddr"] = {"Address": record.email}
        if record.currency:
            body["CurrencyRef"] = ref(record.currency)
        return body

    def invoice(self, record: m.Invoice) -> Raw:
        body = self._document(record, True, record.number, record.invoice_date)
        body["CustomerRef"] = ref(record.customer_id or "")
        if record.due_date is not None:
            body["DueDate"] = record.due_date.isoformat()
        return body

    def credit_memo(self, record: m.CreditNote) -> Raw:
        body = self._document(record, True, record.number, record.issue_date)
        body["CustomerRef"] = ref(record.customer_id or "")
        return body

    def bill(self, record: m.Bill) -> Raw:
        body = self._document(record, False, record.number, record.bill_date)
        body["VendorRef"] = ref(record.supplier_id or "")
        if record.due_date is not None:
            body["DueDate"] = record.due_date.isoformat()
        return body

    def purchase_order(self, record: m.PurchaseOrder) -> Raw:
        body = self._document(record, False, record.number, record.order_date)
        body["VendorRef"] = ref(record.supplier_id or "")
        if record.delivery_date is not None:
            body["DueDate"] = record.delivery_date.isoformat()
        return body

    def purchase(self, record: m.Expense, account_type: str) -> Raw:
        body = self._document(record, False, record.number, record.transaction_date)
        body["AccountRef"] = ref(record.account_id or "")
        body["PaymentType"] = "CreditCard" if account_type == "Credit Card" else "Check"
        if record.supplier_id is not None:
            body["EntityRef"] = {"value": record.supplier_id, "type": "Vendor"}
        return body

    def journal_entry(self, record: m.JournalEntry) -> Raw:
        lines = []
        for line in record.line_items:
            detail: Raw = {"PostingType": "Debit" if line.type.value == "DEBIT" else "Credit",
                           "AccountRef": ref(line.account_id)}
            for tracking in line.tracking_category_ids:
                if tracking.startswith(self.class_prefix):
                    detail.setdefault("ClassRef", ref(tracking[len(self.class_prefix):]))
                elif tracking.startswith(self.department_prefix):
                    detail.setdefault("DepartmentRef", ref(tracking[len(self.department_prefix):]))
            entry: Raw = {}
            if line.description is not None:
                entry["Description"] = line.description
            entry.update({"Amount": line.amount, "DetailType": "JournalEntryLineDetail",
                          "JournalEntryLineDetail": detail})
            lines.append(entry)
        body: Raw = {"TxnDate": record.posting_date.isoformat(), "CurrencyRef": ref(record.currency), "Line": lines}
        if record.number is not None:
            body["DocNumber"] = record.number
        if record.description is not None:
            body["PrivateNote"] = record.description
        return body

    @staticmethod
    def payment(record: m.Payment) -> Raw:
        body: Raw = {"CustomerRef": ref(record.customer_id or ""), "TotalAmt": record.total_amount,
                     "TxnDate": record.payment_date.isoformat(), "CurrencyRef": ref(record.currency),
                     "Line": [{"Amount": a.amount, "LinkedTxn": [{"TxnId": a.document_id, "TxnType": "Invoice"}]}
                              for a in record.allocations]}
        if record.account_id is not None:
            body["DepositToAccountRef"] = ref(record.account_id)
        if record.reference is not None:
            body["PaymentRefNum"] = record.reference
        return body

    @staticmethod
    def bill_payment(record: m.BillPayment, account_type: str) -> Raw:
        body: Raw = {"VendorRef": ref(record.supplier_id or ""), "TotalAmt": record.total_amount,
                     "TxnDate": record.payment_date.isoformat(), "CurrencyRef": ref(record.currency),
                     "Line": [{"Amount": a.amount, "LinkedTxn": [{"TxnId": a.document_id, "TxnType": "Bill"}]}
                              for a in record.allocations]}
        if account_type == "Credit Card":
            body["PayType"] = "CreditCard"
            body["CreditCardPayment"] = {"CCAccountRef": ref(record.account_id or "")}
        else:
            body["PayType"] = "Check"
            body["CheckPayment"] = {"BankAccountRef": ref(record.account_id or "")}
        if record.reference is not None:
            body["DocNumber"] = record.reference
        return body

    @staticmethod
    def credit_application(record: m.CreditNote, memo_id: str, date: str) -> Raw:
        """The zero-amount Payment that applies a credit memo to invoices (how QBO records it)."""
        applied = sum((a.amount for a in record.allocations), Decimal(0))
        lines: list[Raw] = [{"Amount": a.amount, "LinkedTxn": [{"TxnId": a.document_id, "TxnType": "Invoice"}]}
                            for a in record.allocations]
        lines.append({"Amount": applied, "LinkedTxn": [{"TxnId": memo_id, "TxnType": "CreditMemo"}]})
        return {"CustomerRef": ref(record.customer_id or ""), "TotalAmt": Decimal("0.00"), "TxnDate": date,
                "CurrencyRef": ref(record.currency), "Line": lines}


# Fields an update leaves out: QBO does not let a transaction or a name change currency, and a
# sparse update without `Line` keeps the lines as they are.
_FIXED_ON_UPDATE = ("CurrencyRef", "ExchangeRate")


def sparse_update(body: Raw, record_id: str, sync_token: str, *, lines_changed: bool) -> Raw:
    """A create body turned into QBO's sparse update: `Id`, the current `SyncToken`, `sparse: true`;
    only what is sent changes."""
    update = {k: v for k, v in body.items() if k not in _FIXED_ON_UPDATE}
    if not lines_changed:
        update.pop("Line", None)
        update.pop("DepartmentRef", None)  # follows the lines' Location tracking
    update.update({"Id": record_id, "SyncToken": sync_token, "sparse": True})
    return update
