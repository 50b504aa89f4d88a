"""The books, converted into Xero's own records (one `Store` per tenant).

Records are dicts with Xero's field names holding Python values (`date`, `datetime`, `Decimal`);
`wire.dumps` renders them. Keys starting with `_` are internal and never rendered.

Where the unified books meet Xero's model:
- customers and suppliers are Contacts (`ContactNumber` = business key, `IsCustomer`/`IsSupplier`);
- a payment with one allocation is a Payment; one split over several documents is a BatchPayment
  (RECBATCH/PAYBATCH) whose child Payments carry its `BatchPaymentID`; an overpaid payment is an
  Overpayment (RECEIVE-/SPEND-OVERPAYMENT) allocated to its document, `RemainingCredit` = the excess;
- tax rates are custom rates `TAX001`.. whose single TaxComponent is named by the unified code;
- expenses are BankTransactions of Type SPEND with `Reference` = the expense number;
- journal entries are ManualJournals (Narration = description; signed LineAmount).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledgerql.model.entities import JournalEntry, LineItem, PurchaseOrder
from ledgerql.model.enums import AccountType, DocumentStatus, PostingType, PurchaseOrderStatus
from ledgerql.sandbox.books import EUR_RATE, Books
from ledgerql.sandbox.xero.wire import date_string, guid

ONE = Decimal("1")
RATE_DP = Decimal("0.0000000001")

#: collection → (id field, Xero entity type name used in errors)
COLLECTIONS: dict[str, tuple[str, str]] = {
    "Accounts": ("AccountID", "Account"),
    "Contacts": ("ContactID", "Contact"),
    "TaxRates": ("TaxType", "TaxRate"),
    "TrackingCategories": ("TrackingCategoryID", "TrackingCategory"),
    "Invoices": ("InvoiceID", "Invoice"),
    "CreditNotes": ("CreditNoteID", "CreditNote"),
    "Payments": ("PaymentID", "Payment"),
    "BatchPayments": ("BatchPaymentID", "BatchPayment"),
    "Overpayments": ("OverpaymentID", "Overpayment"),
    "BankTransactions": ("BankTransactionID", "BankTransaction"),
    "PurchaseOrders": ("PurchaseOrderID", "PurchaseOrder"),
    "ManualJournals": ("ManualJournalID", "ManualJournal"),
}


def currency_rate(currency: str, base: str) -> Decimal:
    """Xero's CurrencyRate: units of the document currency per one unit of base currency."""
    if currency == base:
        return Decimal("1.0000000000")
    return (ONE / EUR_RATE).quantize(RATE_DP)


def xero_account_type(kind: AccountType, sub_type: str | None) -> tuple[str, str]:
    """(Type, Class) of a Xero account for a unified account type and sub-type."""
    sub = sub_type or ""
    if kind == AccountType.BANK:
        return "BANK", "ASSET"
    if kind == AccountType.ASSET:
        return ("FIXED" if sub == "FIXED_ASSET" else "CURRENT"), "ASSET"
    if kind == AccountType.LIABILITY:
        return "CURRLIAB", "LIABILITY"
    if kind == AccountType.EQUITY:
        return "EQUITY", "EQUITY"
    if kind == AccountType.REVENUE:
        return {"SALES": "SALES", "OTHER_INCOME": "OTHERINCOME"}.get(sub, "REVENUE"), "REVENUE"
    if kind == AccountType.EXPENSE:
        return {"COST_OF_SALES": "DIRECTCOSTS", "OVERHEAD": "OVERHEADS"}.get(sub, "EXPENSE"), "EXPENSE"
    return "CURRENT", "ASSET"


SYSTEM_ACCOUNTS = {"ACCOUNTS_RECEIVABLE": "DEBTORS", "ACCOUNTS_PAYABLE": "CREDITORS", "TAX": "GST",
                   "RETAINED_EARNINGS": "RETAINEDEARNINGS"}


class Store:
    """One tenant's records, in creation order per collection."""

    def __init__(self, tenant: str, books: Books) -> None:
        self.tenant = tenant
        self.books = books
        self.base_currency = books.company.base_currency
        self.data: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in COLLECTIONS}
        self.organisation: dict[str, Any] = {}
        self.created_at = books.company.updated_at
        # unified business key → Xero id, per kind ("acc-4000" → AccountID, ...)
        self.ids: dict[str, str] = {}

    # -- lookups ---------------------------------------------------------------------------------
    def get(self, collection: str, record_id: str) -> dict[str, Any] | None:
        return self.data[collection].get(record_id.lower()) or self.data[collection].get(record_id)

    def put(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        key = record[COLLECTIONS[collection][0]]
        self.data[collection][key] = record
        return record

    def account_by(self, ref: dict[str, Any] | None) -> dict[str, Any] | None:
        if not isinstance(ref, dict):
            return None
        if ref.get("AccountID"):
            return self.get("Accounts", str(ref["AccountID"]))
        code = ref.get("Code") or ref.get("AccountCode")
        if code is not None:
            return next((a for a in self.data["Accounts"].values() if a["Code"] == str(code)), None)
        return None

    def account_by_code(self, code: str) -> dict[str, Any] | None:
        return next((a for a in self.data["Accounts"].values() if a["Code"] == code), None)

    def contact_by(self, ref: dict[str, Any] | None) -> dict[str, Any] | None:
        if not isinstance(ref, dict):
            return None
        if ref.get("ContactID"):
            return self.get("Contacts", str(ref["ContactID"]))
        if ref.get("ContactNumber"):
            return next((c for c in self.data["Contacts"].values()
                         if c.get("ContactNumber") == ref["ContactNumber"]), None)
        if ref.get("Name"):
            return next((c for c in self.data["Contacts"].values()
                         if c["Name"].lower() == str(ref["Name"]).lower() and c["ContactStatus"] == "ACTIVE"), None)
        return None

    def tracking_option(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        """A line's tracking entry resolved to the full Xero form, or None if unknown."""
        for category in self.data["TrackingCategories"].values():
            if ref.get("TrackingCategoryID"):
                if str(ref["TrackingCategoryID"]).lower() != category["TrackingCategoryID"]:
                    continue
            elif str(ref.get("Name", "")).lower() != category["Name"].lower():
                continue
            for option in category["Options"]:
                if ref.get("TrackingOptionID"):
                    if str(ref["TrackingOptionID"]).lower() != option["TrackingOptionID"]:
                        continue
                elif str(ref.get("Option", "")).lower() != option["Name"].lower():
                    continue
                return {"TrackingCategoryID": category["TrackingCategoryID"],
                        "TrackingOptionID": option["TrackingOptionID"],
                        "Name": category["Name"], "Option": option["Name"]}
        return None

    def tracking_option_by_id(self, option_id: str) -> dict[str, Any] | None:
        for category in self.data["TrackingCategories"].values():
            for option in category["Options"]:
                if option["TrackingOptionID"] == option_id:
                    return {"TrackingCategoryID": category["TrackingCategoryID"], "TrackingOptionID": option_id,
                            "Name": category["Name"], "Option": option["Name"]}
        return None

    def contact_summary(self, contact: dict[str, Any]) -> dict[str, Any]:
        return {"ContactID": contact["ContactID"], "ContactNumber": contact.get("ContactNumber", ""),
                "Name": contact["Name"], "Addresses": [], "Phones": [], "ContactGroups": [],
                "ContactPersons": [], "HasValidationErrors": False}


def load_store(tenant: str, books: Books) -> Store:
    return _Loader(tenant, books).run()


class _Loader:
    def __init__(self, tenant: str, books: Books) -> None:
        self.tenant = tenant
        self.books = books
        self.store = Store(tenant, books)
        self.ids = self.store.ids

    def gid(self, kind: str, key: str) -> str:
        value = guid(self.tenant, kind, key)
        self.ids[f"{kind}:{key}"] = value
        return value

    def run(self) -> Store:
        books, store = self.books, self.store
        company = books.company
        assert company.updated_at is not None
        store.organisation = {
            "OrganisationID": self.tenant, "APIKey": "", "Name": company.name,
            "LegalName": company.legal_name or company.name, "PaysTax": True, "TaxNumber": "",
            "Version": company.country or "GB",
            "OrganisationType": "COMPANY", "BaseCurrency": company.base_currency,
            "CountryCode": company.country or "GB", "IsDemoCompany": False, "OrganisationStatus": "ACTIVE",
            "FinancialYearEndDay": 31 if (company.fiscal_year_start_month or 1) == 1 else 30,
            "FinancialYearEndMonth": ((company.fiscal_year_start_month or 1) + 10) % 12 + 1,
            "SalesTaxBasis": "ACCRUALS", "SalesTaxPeriod": "QUARTERLY", "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Exclusive", "CreatedDateUTC": company.updated_at,
            "OrganisationEntityType": "COMPANY", "Timezone": "GMTSTANDARDTIME", "ShortCode": "!LQL01",
            "Edition": "BUSINESS", "Class": "PREMIUM", "Addresses": [], "Phones": [], "ExternalLinks": [],
            "PaymentTerms": {},
        }
        for index, rate in enumerate(books.tax_rates):
            tax_type = f"TAX{index + 1:03d}"
            self.ids[f"tax:{rate.id}"] = tax_type
            store.put("TaxRates", {
                "Name": rate.name, "TaxType": tax_type, "ReportTaxType": "OUTPUT",
                "CanApplyToAssets": True, "CanApplyToEquity": True, "CanApplyToExpenses": True,
                "CanApplyToLiabilities": True, "CanApplyToRevenue": True, "DisplayTaxRate": rate.rate,
                "EffectiveRate": rate.rate, "Status": "ACTIVE" if rate.status.value == "ACTIVE" else "ARCHIVED",
                "TaxComponents": [{"Name": rate.code, "Rate": rate.rate, "IsCompound": False,
                                   "IsNonRecoverable": False}],
                "_updated": rate.updated_at,
            })
        banks = {b.ledger_account_id: b for b in books.bank_accounts}
        for account in books.ledger_accounts:
            kind, klass = xero_account_type(account.type, account.sub_type)
            record: dict[str, Any] = {
                "AccountID": self.gid("acc", account.id), "Code": account.nominal_code, "Name": account.name,
                "Status": account.status.value, "Type": kind, "TaxType": "NONE", "Class": klass,
                "Description": "", "EnablePaymentsToAccount": False, "ShowInExpenseClaims": False,
                "ReportingCode": "",
                "HasAttachments": False, "UpdatedDateUTC": account.updated_at, "AddToWatchlist": False,
            }
            if account.sub_type in SYSTEM_ACCOUNTS:
                record["SystemAccount"] = SYSTEM_ACCOUNTS[account.sub_type]
            bank = banks.get(account.id)
            if kind == "BANK":
                del record["Description"]  # Xero: not valid for bank accounts
                record.update({"BankAccountNumber": bank.account_number if bank else "",
                               "BankAccountType": "BANK", "CurrencyCode": account.currency})
                if bank:
                    self.ids[f"bank:{bank.id}"] = record["AccountID"]
            store.put("Accounts", record)
        for category in books.tracking_categories:
            if category.parent_id is None:
                store.put("TrackingCategories", {
                    "TrackingCategoryID": self.gid("trk", category.id), "Name": category.name,
                    "Status": category.status.value, "Options": [], "_updated": category.updated_at})
        for option in books.tracking_categories:
            if option.parent_id is not None:
                parent = store.data["TrackingCategories"][self.ids[f"trk:{option.parent_id}"]]
                parent["Options"].append({"TrackingOptionID": self.gid("trk", option.id), "Name": option.name,
                                          "Status": option.status.value, "HasValidationErrors": False,
                                          "IsDeleted": False, "IsArchived": False, "IsActive": True})
        for contacts, customer in ((books.customers, True), (books.suppliers, False)):
            for contact in contacts:
                store.put("Contacts", {
                    "ContactID": self.gid("contact", contact.id), "ContactNumber": contact.id,
                    "AccountNumber": "", "ContactStatus": contact.status.value, "Name": contact.display_name,
                    "FirstName": "", "LastName": "", "EmailAddress": contact.email or "",
                    "BankAccountDetails": "", "TaxNumber": "", "Addresses": [], "Phones": [],
                    "UpdatedDateUTC": contact.updated_at, "ContactGroups": [], "IsSupplier": not customer,
                    "IsCustomer": customer, "DefaultCurrency": contact.currency or store.base_currency,
                    "ContactPersons": [], "SalesDefaultLineAmountType": "EXCLUSIVE",
                    "PurchasesDefaultLineAmountType": "EXCLUSIVE", "SalesTrackingCategories": [],
                    "PurchasesTrackingCategories": [], "HasAttachments": False,
                    "HasValidationErrors": False,
                })
        for invoice in books.invoices:
            self.document("Invoices", "ACCREC", invoice.id, invoice.number or invoice.id, invoice.customer_id,
                          invoice.invoice_date, invoice.due_date, invoice.currency, invoice.line_items,
                          invoice.sub_total, invoice.total_tax, invoice.total, invoice.updated_at, invoice.status)
        for bill in books.bills:
            self.document("Invoices", "ACCPAY", bill.id, bill.number or bill.id, bill.supplier_id,
                          bill.bill_date, bill.due_date, bill.currency, bill.line_items,
                          bill.sub_total, bill.total_tax, bill.total, bill.updated_at, bill.status)
        for note in books.credit_notes:
            record = self.document("CreditNotes", "ACCRECCREDIT", note.id, note.number or note.id,
                                   note.customer_id, note.issue_date, None, note.currency, note.line_items,
                                   note.sub_total, note.total_tax, note.total, note.updated_at, note.status)
            for allocation in note.allocations:
                target = store.data["Invoices"][self.ids[f"doc:{allocation.document_id}"]]
                record["Allocations"].append({
                    "AllocationID": self.gid("alloc", f"{note.id}/{allocation.document_id}"),
                    "Amount": allocation.amount, "Date": note.issue_date,
                    "Invoice": {"InvoiceID": target["InvoiceID"], "InvoiceNumber": target["InvoiceNumber"]},
                    "IsDeleted": False})
                target["AmountCredited"] += allocation.amount
                target["CreditNotes"].append({
                    "CreditNoteID": record["CreditNoteID"], "CreditNoteNumber": record["CreditNoteNumber"],
                    "ID": record["CreditNoteID"], "AppliedAmount": allocation.amount, "Date": note.issue_date,
                    "DateString": date_string(note.issue_date), "Total": record["Total"]})
                target["_paid_on"] = max(target.get("_paid_on") or note.issue_date, note.issue_date)
            record["RemainingCredit"] = note.balance
        for received in books.payments:
            self.payment(received, "ACCREC", received.customer_id)
        for paid in books.bill_payments:
            self.payment(paid, "ACCPAY", paid.supplier_id)
        for doc in store.data["Invoices"].values():
            doc["AmountDue"] = doc["Total"] - doc["AmountPaid"] - doc["AmountCredited"]
            if doc["AmountDue"] <= 0 and doc["Status"] == "AUTHORISED":
                doc["Status"] = "PAID"
            if doc["Status"] == "PAID":
                doc["FullyPaidOnDate"] = doc.get("_paid_on")
        for expense in books.expenses:
            bank_record = store.data["Accounts"][self.ids[f"acc:{expense.account_id}"]]
            party = store.data["Contacts"][self.ids[f"contact:{expense.supplier_id}"]]
            store.put("BankTransactions", {
                "BankTransactionID": self.gid("banktx", expense.id), "Type": "SPEND",
                "Contact": store.contact_summary(party),
                "BankAccount": {"AccountID": bank_record["AccountID"], "Code": bank_record["Code"],
                                "Name": bank_record["Name"]},
                "IsReconciled": False, "DateString": date_string(expense.transaction_date),
                "Date": expense.transaction_date, "Reference": expense.number or expense.id,
                "CurrencyCode": expense.currency,
                "CurrencyRate": currency_rate(expense.currency, store.base_currency),
                "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
                "LineItems": self.lines(f"banktx:{expense.id}", expense.line_items),
                "SubTotal": expense.sub_total, "TotalTax": expense.total_tax, "Total": expense.total_amount,
                "UpdatedDateUTC": expense.updated_at, "HasAttachments": False,
            })
        for order in books.purchase_orders:
            self.purchase_order(order)
        for entry in books.journal_entries:
            self.manual_journal(entry)
        return store

    # -- helpers ---------------------------------------------------------------------------------
    def tracking(self, option_ids: list[str]) -> list[dict[str, Any]]:
        result = []
        for option_id in option_ids:
            resolved = self.store.tracking_option_by_id(self.ids[f"trk:{option_id}"])
            if resolved:
                result.append(resolved)
        return result

    def lines(self, owner: str, lines: list[LineItem]) -> list[dict[str, Any]]:
        store = self.store
        result = []
        for index, line in enumerate(lines):
            account = store.data["Accounts"][self.ids[f"acc:{line.account_id}"]] if line.account_id else None
            tracking = self.tracking(line.tracking_category_ids)
            item: dict[str, Any] = {
                "LineItemID": guid(self.tenant, "line", f"{owner}/{line.id or index + 1}"),
                "Description": line.description or "", "Quantity": line.quantity,
                "UnitAmount": line.unit_price,
                "TaxType": self.ids[f"tax:{line.tax_rate_id}"] if line.tax_rate_id else "NONE",
                "TaxAmount": line.tax_amount if line.tax_amount is not None else Decimal("0.00"),
                "LineAmount": line.total_amount, "Tracking": tracking,
            }
            if account:
                item["AccountCode"] = account["Code"]
                item["AccountID"] = account["AccountID"]
            result.append(item)
        return result

    def document(self, collection: str, kind: str, key: str, number: str, party: str | None, issued: date,
                 due: date | None, currency: str, lines: list[LineItem], sub_total: Decimal, total_tax: Decimal,
                 total: Decimal, updated: datetime | None, status: DocumentStatus) -> dict[str, Any]:
        store = self.store
        contact = store.data["Contacts"][self.ids[f"contact:{party}"]]
        status_text = "AUTHORISED" if status in (DocumentStatus.PARTIALLY_PAID, DocumentStatus.PAID) \
            else status.value
        if collection == "Invoices":
            record: dict[str, Any] = {
                "Type": kind, "InvoiceID": self.gid("doc", key), "InvoiceNumber": number, "Reference": "",
                "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
                "AmountDue": total, "AmountPaid": Decimal("0.00"), "AmountCredited": Decimal("0.00"),
                "SentToContact": False,
            }
        else:
            record = {"Type": kind, "CreditNoteID": self.gid("doc", key), "CreditNoteNumber": number,
                      "ID": None, "Reference": "", "Payments": [], "RemainingCredit": total, "Allocations": [],
                      "SentToContact": False}
            record["ID"] = record["CreditNoteID"]
            status_text = "PAID" if status == DocumentStatus.PAID else status_text
        record.update({
            "CurrencyRate": currency_rate(currency, store.base_currency), "HasErrors": False,
            "IsDiscounted": False, "HasAttachments": False, "Contact": store.contact_summary(contact),
            "DateString": date_string(issued), "Date": issued,
        })
        if due is not None:
            record.update({"DueDateString": date_string(due), "DueDate": due})
        record.update({
            "Status": status_text, "LineAmountTypes": "Exclusive",
            "LineItems": self.lines(f"doc:{key}", lines), "SubTotal": sub_total, "TotalTax": total_tax,
            "Total": total, "UpdatedDateUTC": updated, "CurrencyCode": currency,
        })
        return store.put(collection, record)

    def payment(self, payment: Any, kind: str, party: str | None) -> None:
        store = self.store
        account = store.data["Accounts"][self.ids[f"acc:{payment.account_id}"]]
        account_ref = {"AccountID": account["AccountID"], "Code": account["Code"]}
        paid = sum((a.amount for a in payment.allocations), Decimal("0.00"))
        first_doc = store.data["Invoices"][self.ids[f"doc:{payment.allocations[0].document_id}"]]
        rate = first_doc["CurrencyRate"]
        if payment.total_amount > paid:
            # Overpaid: an Overpayment allocated to the document, the excess left as RemainingCredit.
            contact = store.data["Contacts"][self.ids[f"contact:{party}"]]
            record = store.put("Overpayments", {
                "OverpaymentID": self.gid("overpayment", payment.id), "ID": None,
                "Type": "RECEIVE-OVERPAYMENT" if kind == "ACCREC" else "SPEND-OVERPAYMENT",
                "Reference": payment.reference or payment.id, "RemainingCredit": payment.total_amount - paid,
                "Allocations": [], "Payments": [], "HasAttachments": False,
                "Contact": store.contact_summary(contact), "DateString": date_string(payment.payment_date),
                "Date": payment.payment_date, "Status": "AUTHORISED", "LineAmountTypes": "NoTax",
                "LineItems": [], "SubTotal": payment.total_amount, "TotalTax": Decimal("0.00"),
                "Total": payment.total_amount, "UpdatedDateUTC": payment.updated_at,
                "CurrencyCode": payment.currency, "CurrencyRate": rate, "BankAccount": account_ref,
            })
            record["ID"] = record["OverpaymentID"]
            for allocation in payment.allocations:
                doc = store.data["Invoices"][self.ids[f"doc:{allocation.document_id}"]]
                record["Allocations"].append({
                    "AllocationID": self.gid("alloc", f"{payment.id}/{allocation.document_id}"),
                    "Amount": allocation.amount, "Date": payment.payment_date, "IsDeleted": False,
                    "Invoice": {"InvoiceID": doc["InvoiceID"], "InvoiceNumber": doc["InvoiceNumber"]}})
                doc["AmountCredited"] += allocation.amount
                doc["Overpayments"].append({"OverpaymentID": record["OverpaymentID"], "ID": record["ID"],
                                            "AppliedAmount": allocation.amount, "Date": payment.payment_date,
                                            "Total": record["Total"]})
                doc["_paid_on"] = max(doc.get("_paid_on") or payment.payment_date, payment.payment_date)
            return
        batch: dict[str, Any] | None = None
        if len(payment.allocations) > 1:
            batch = store.put("BatchPayments", {
                "Account": account_ref, "Reference": payment.reference or payment.id,
                "BatchPaymentID": self.gid("batch", payment.id), "DateString": date_string(payment.payment_date),
                "Date": payment.payment_date, "Payments": [], "Type": "RECBATCH" if kind == "ACCREC" else "PAYBATCH",
                "Status": "AUTHORISED", "TotalAmount": payment.total_amount,
                "UpdatedDateUTC": payment.updated_at, "IsReconciled": False,
            })
        for allocation in payment.allocations:
            doc = store.data["Invoices"][self.ids[f"doc:{allocation.document_id}"]]
            key = payment.id if batch is None else f"{payment.id}/{allocation.document_id}"
            record = make_payment(store, self.gid("payment", key), doc, account, allocation.amount,
                                  payment.payment_date, payment.reference or payment.id, payment.updated_at, batch)
            store.put("Payments", record)
            apply_payment(doc, record)
            doc["_paid_on"] = max(doc.get("_paid_on") or payment.payment_date, payment.payment_date)

    def purchase_order(self, order: PurchaseOrder) -> None:
        store = self.store
        contact = store.data["Contacts"][self.ids[f"contact:{order.supplier_id}"]]
        status = {PurchaseOrderStatus.OPEN: "AUTHORISED", PurchaseOrderStatus.CLOSED: "BILLED",
                  PurchaseOrderStatus.BILLED: "BILLED", PurchaseOrderStatus.DRAFT: "DRAFT"}[order.status]
        record: dict[str, Any] = {
            "PurchaseOrderID": self.gid("po", order.id), "PurchaseOrderNumber": order.number or order.id,
            "DateString": date_string(order.order_date), "Date": order.order_date,
        }
        if order.delivery_date:
            record.update({"DeliveryDateString": date_string(order.delivery_date),
                           "DeliveryDate": order.delivery_date})
        record.update({
            "Reference": "", "AttentionTo": "", "SentToContact": False, "HasErrors": False, "IsDiscounted": False,
            "Type": "PURCHASEORDER",
            "CurrencyRate": currency_rate(order.currency, store.base_currency), "CurrencyCode": order.currency,
            "Contact": store.contact_summary(contact), "Status": status, "LineAmountTypes": "Exclusive",
            "LineItems": self.lines(f"po:{order.id}", order.line_items), "SubTotal": order.sub_total,
            "TotalTax": order.total_tax, "Total": order.total, "UpdatedDateUTC": order.updated_at,
            "HasAttachments": False,
        })
        store.put("PurchaseOrders", record)

    def manual_journal(self, entry: JournalEntry) -> None:
        store = self.store
        lines = []
        for line in entry.line_items:
            account = store.data["Accounts"][self.ids[f"acc:{line.account_id}"]]
            signed = line.amount if line.type == PostingType.DEBIT else -line.amount
            tracking = self.tracking(line.tracking_category_ids)
            lines.append({"LineAmount": signed, "AccountCode": account["Code"], "AccountID": account["AccountID"],
                          "Description": line.description or "", "TaxType": "NONE", "TaxAmount": Decimal("0.00"),
                          "Tracking": tracking, "IsBlank": False})
        store.put("ManualJournals", {
            "Date": entry.posting_date, "DateString": date_string(entry.posting_date), "Status": "POSTED",
            "LineAmountTypes": "NoTax", "UpdatedDateUTC": entry.updated_at,
            "ManualJournalID": self.gid("mj", entry.id), "Narration": entry.description or "",
            "JournalLines": lines, "ShowOnCashBasisReports": True, "HasAttachments": False,
            "_currency": entry.currency,
        })


def make_payment(store: Store, payment_id: str, doc: dict[str, Any], account: dict[str, Any], amount: Decimal,
                 paid_on: date, reference: str, updated: datetime | None,
                 batch: dict[str, Any] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"PaymentID": payment_id}
    if batch is not None:
        record["BatchPaymentID"] = batch["BatchPaymentID"]
        record["BatchPayment"] = {"Account": {"AccountID": account["AccountID"]},
                                  "BatchPaymentID": batch["BatchPaymentID"], "Date": batch["Date"],
                                  "Type": batch["Type"], "Status": batch["Status"],
                                  "TotalAmount": format(batch["TotalAmount"], "f"),
                                  "UpdatedDateUTC": batch["UpdatedDateUTC"], "IsReconciled": "false"}
        batch["Payments"].append({"Invoice": {"InvoiceID": doc["InvoiceID"], "InvoiceNumber": doc["InvoiceNumber"],
                                              "CurrencyCode": doc["CurrencyCode"]},
                                  "PaymentID": payment_id, "Amount": amount, "BankAmount": amount,
                                  "Reference": reference})
    record.update({
        "Date": paid_on, "BankAmount": amount, "Amount": amount, "Reference": reference,
        "CurrencyRate": doc["CurrencyRate"],
        "PaymentType": "ACCRECPAYMENT" if doc["Type"] == "ACCREC" else "ACCPAYPAYMENT",
        "Status": "AUTHORISED", "UpdatedDateUTC": updated, "HasAccount": True, "IsReconciled": False,
        "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
        "Invoice": {"Type": doc["Type"], "InvoiceID": doc["InvoiceID"], "InvoiceNumber": doc["InvoiceNumber"],
                    "Contact": dict(doc["Contact"]), "CurrencyCode": doc["CurrencyCode"]},
        "HasValidationErrors": False,
    })
    return record


def apply_payment(doc: dict[str, Any], payment: dict[str, Any]) -> None:
    doc["AmountPaid"] += payment["Amount"]
    doc["Payments"].append({"PaymentID": payment["PaymentID"], "Date": payment["Date"], "Amount": payment["Amount"],
                            "Reference": payment["Reference"], "CurrencyRate": payment["CurrencyRate"],
                            "HasAccount": False, "HasValidationErrors": False})
