"""Creates, updates, deletes and voids on one realm, with QBO's validation rules and errors.

Every write validates first and mutates only once everything checked out, so a refused request
writes nothing. Payments move document balances and links; deleting or voiding a paid document
unapplies the payments that pointed at it.
"""

from __future__ import annotations

import re
import weakref
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerql.sandbox.books import EUR_RATE, money
from ledgerql.sandbox.quickbooks.render import (
    QBOFault,
    business,
    invalid_id,
    invalid_reference,
    malformed,
    not_found,
    required,
    stale,
    unsupported_operation,
    unsupported_property,
)
from ledgerql.sandbox.quickbooks.store import (
    ZERO,
    RealmStore,
    Record,
    base_fields,
    currency_ref,
    finish_totals,
    is_credit_application,
    journal_total,
)

_SYSTEM = {"Id", "SyncToken", "domain", "sparse", "MetaData", "status", "CustomField", "TxnSource"}
_TXN = _SYSTEM | {"TxnDate", "DocNumber", "PrivateNote", "CurrencyRef", "ExchangeRate", "Line", "TxnTaxDetail",
                  "DepartmentRef", "TotalAmt", "HomeTotalAmt", "LinkedTxn", "GlobalTaxCalculation", "TxnStatus",
                  "ClassRef", "AutoDocNumber", "RecurDataRef", "TaxFormNum", "TaxFormType", "TransactionLocationType",
                  "Tag"}
_SALES = _TXN | {"CustomerRef", "SalesTermRef", "BillEmail", "BillEmailCc", "BillEmailBcc", "BillAddr", "ShipAddr",
                 "ShipFromAddr", "CustomerMemo", "EmailStatus", "PrintStatus", "ApplyTaxAfterDiscount", "Balance",
                 "HomeBalance", "DepositToAccountRef", "ShipDate", "ShipMethodRef", "TrackingNum", "PONumber",
                 "PaymentMethodRef", "PaymentRefNum", "DeliveryInfo", "SalesRepRef", "FreeFormAddress"}
ALLOWED: dict[str, set[str]] = {
    "Invoice": _SALES | {"DueDate", "AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment",
                         "AllowOnlineACHPayment", "InvoiceLink", "Deposit", "DiscountRate"},
    "CreditMemo": _SALES | {"RemainingCredit", "InvoiceRef"},
    "Bill": _TXN | {"VendorRef", "APAccountRef", "DueDate", "SalesTermRef", "Balance", "HomeBalance", "VendorAddr"},
    "PurchaseOrder": _TXN | {"VendorRef", "APAccountRef", "DueDate", "POStatus", "ShipAddr", "VendorAddr",
                             "EmailStatus", "POEmail", "Memo", "ShipMethodRef", "SalesTermRef", "ShipTo"},
    "Purchase": _TXN | {"AccountRef", "PaymentType", "EntityRef", "Credit", "PaymentMethodRef", "PrintStatus",
                        "RemitToAddr", "PaymentRefNum"},
    "JournalEntry": _TXN | {"Adjustment", "JournalCode"},
    "Payment": _TXN | {"CustomerRef", "ARAccountRef", "DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum",
                       "UnappliedAmt", "ProcessPayment", "CreditCardPayment"},
    "BillPayment": _TXN | {"VendorRef", "PayType", "CheckPayment", "CreditCardPayment", "APAccountRef"},
    "Customer": _SYSTEM | {"DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix",
                           "FullyQualifiedName", "CompanyName", "PrintOnCheckName", "Active", "PrimaryPhone",
                           "AlternatePhone", "Mobile", "Fax", "PrimaryEmailAddr", "WebAddr", "BillAddr", "ShipAddr",
                           "Notes", "Taxable", "Job", "BillWithParent", "ParentRef", "Level", "Balance",
                           "BalanceWithJobs", "OpenBalanceDate", "CurrencyRef", "PreferredDeliveryMethod",
                           "ResaleNum", "DefaultTaxCodeRef", "SalesTermRef", "PaymentMethodRef",
                           "PrimaryTaxIdentifier", "SecondaryTaxIdentifier", "BusinessNumber", "Source"},
    "Vendor": _SYSTEM | {"DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName",
                         "PrintOnCheckName", "Active", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax",
                         "PrimaryEmailAddr", "WebAddr", "BillAddr", "OtherContactInfo", "TaxIdentifier", "TermRef",
                         "Balance", "AcctNum", "Vendor1099", "CurrencyRef", "APAccountRef", "BillRate", "CostRate",
                         "VendorPaymentBankDetail", "TaxReportingBasis", "BusinessNumber", "Source"},
}
WRITABLE = set(ALLOWED)
VOIDABLE = {"Invoice", "Payment", "BillPayment"}
DELETABLE = {"Invoice", "CreditMemo", "Bill", "PurchaseOrder", "Purchase", "JournalEntry", "Payment", "BillPayment"}
_DOCUMENTS = {"Invoice", "CreditMemo", "Bill", "PurchaseOrder", "Purchase"}
_SALES_DOCS = {"Invoice", "CreditMemo"}


# Pending concurrent edits per realm: (entity, id) → how many writes meet one (see `race`).
_RACES: weakref.WeakKeyDictionary[RealmStore, dict[tuple[str, str], int]] = weakref.WeakKeyDictionary()


def race(store: RealmStore, entity: str, record_id: str, times: int = 1) -> None:
    """Make the next `times` writes to a record meet a concurrent edit: another app saves it (its
    SyncToken moves on) just before each lands, so a write carrying the token it read is stale (5010)."""
    _RACES.setdefault(store, {})[(entity, record_id)] = times


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise malformed(f"{name} must be a number")
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise malformed(f"{name} must be a number") from exc
    if not result.is_finite():
        raise malformed(f"{name} must be a number")
    return result


def _date(value: Any, name: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise malformed(f"{name} is not a valid date (yyyy-MM-dd): {value}")


def _ref_id(value: Any, name: str) -> str:
    if not isinstance(value, dict) or "value" not in value:
        raise malformed(f"{name} must be a reference object with a value")
    ref = str(value["value"])
    if not ref.isdigit():
        raise invalid_id(ref)
    return ref


class Writer:
    def __init__(self, store: RealmStore, now: datetime) -> None:
        self.store = store
        self.now = now
        # records changed as a side effect (documents a payment touches, payments a delete
        # detaches); each gets one new SyncToken and LastUpdatedTime when the write is done
        self.dirty: dict[int, Record] = {}

    def flush(self, main: Record | None) -> None:
        for record in self.dirty.values():
            if record is not main:
                self.touch(record)
        self.dirty.clear()

    # -- shared helpers ---------------------------------------------------------------------------
    def ref(self, body: Record, key: str, entity: str, *, need: bool = True) -> str | None:
        if key not in body or body[key] is None:
            if need:
                raise required(key)
            return None
        ref_id = _ref_id(body[key], key)
        if self.store.get(entity, ref_id) is None:
            raise invalid_reference(entity, ref_id)
        return ref_id

    def check_fields(self, entity: str, body: Record) -> None:
        for key in body:
            if key not in ALLOWED[entity]:
                raise unsupported_property(key, entity)

    def touch(self, record: Record) -> None:
        record["SyncToken"] = str(int(record.get("SyncToken", "0")) + 1)
        record["MetaData"] = {**record["MetaData"], "LastUpdatedTime": self.now}

    def existing(self, entity: str, body: Record) -> Record:
        if "Id" not in body:
            raise required("Id")
        record_id = str(body["Id"])
        if not record_id.isdigit():
            raise invalid_id(record_id)
        record = self.store.get(entity, record_id)
        if record is None:
            raise not_found()
        if "SyncToken" not in body:
            raise required("SyncToken")
        if _RACES.get(self.store, {}).get((entity, record_id), 0) > 0:
            # Another app saves this record just before this request lands.
            _RACES[self.store][(entity, record_id)] -= 1
            self.touch(record)
        if str(body["SyncToken"]) != record["SyncToken"]:
            raise stale()
        return record

    def next_doc_number(self, entity: str) -> str:
        best: tuple[int, str, int] | None = None
        for record in self.store.records[entity].values():
            match = re.match(r"^(.*?)(\d+)$", str(record.get("DocNumber", "")))
            if match and (best is None or int(match.group(2)) > best[0]):
                best = (int(match.group(2)), match.group(1), len(match.group(2)))
        if best is None:
            return "1001"
        return f"{best[1]}{str(best[0] + 1).zfill(best[2])}"

    def currency(self, body: Record, party: Record | None) -> str:
        party_currency = party["CurrencyRef"]["value"] if party else self.store.home_currency
        if isinstance(body.get("CurrencyRef"), dict):
            given = str(body["CurrencyRef"].get("value", ""))
            if given != party_currency:
                raise business(f"The currency of the transaction ({given}) must match the currency of the "
                               f"customer or vendor ({party_currency}).")
        return party_currency

    def header(self, body: Record, currency: str, record: Record) -> None:
        if currency != self.store.home_currency:
            rate = body.get("ExchangeRate")
            record["ExchangeRate"] = _decimal(rate, "ExchangeRate") if rate is not None else (
                EUR_RATE if currency == "EUR" else Decimal(1))
        department = self.ref(body, "DepartmentRef", "Department", need=False)
        if department:
            record["DepartmentRef"] = self.store.ref("Department", department)
        if body.get("PrivateNote") is not None:
            record["PrivateNote"] = str(body["PrivateNote"])

    def default_tax_code(self) -> str:
        return next(i for i in self.store.records["TaxCode"] if self.store.tax_rate_of_code(i) == 0)

    # -- lines ------------------------------------------------------------------------------------
    def item_lines(self, entity: str, raw_lines: Any) -> list[Record]:
        if not isinstance(raw_lines, list) or not raw_lines:
            raise required("Line")
        store = self.store
        allowed = ("SalesItemLineDetail",) if entity in _SALES_DOCS else (
            "ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail")
        lines: list[Record] = []
        for raw in raw_lines:
            if not isinstance(raw, dict):
                raise malformed("Line must be an object")
            detail_type = raw.get("DetailType")
            if detail_type == "SubTotalLineDetail":
                continue
            if detail_type not in allowed:
                raise malformed(f"Line.DetailType {detail_type} is not supported for {entity}")
            detail = raw.get(detail_type) or {}
            if not isinstance(detail, dict):
                raise malformed(f"Line.{detail_type} must be an object")
            qty = _decimal(detail["Qty"], "Qty") if detail.get("Qty") is not None else None
            price = _decimal(detail["UnitPrice"], "UnitPrice") if detail.get("UnitPrice") is not None else None
            if raw.get("Amount") is not None:
                amount = _decimal(raw["Amount"], "Line.Amount")
            elif qty is not None and price is not None:
                amount = money(qty * price)
            else:
                raise required("Line.Amount")
            if qty is not None and price is not None and money(qty * price) != money(amount):
                raise QBOFault("Amount calculation incorrect",
                               f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}", "6070")
            new: Record = {}
            if detail_type == "AccountBasedExpenseLineDetail":
                account_id = self.ref(detail, "AccountRef", "Account")
                assert account_id is not None
                new["AccountRef"] = store.ref("Account", account_id)
            else:
                item_id = self.ref(detail, "ItemRef", "Item", need=detail_type != "SalesItemLineDetail")
                account_key = "IncomeAccountRef" if detail_type == "SalesItemLineDetail" else "ExpenseAccountRef"
                if item_id is None:
                    item_id = next(i for i, it in store.records["Item"].items() if account_key in it)
                item = store.records["Item"][item_id]
                if account_key not in item:
                    raise business(f"The item {item['Name']} has no {account_key[:-3].lower()} account, so it "
                                   f"cannot be used on this transaction.")
                new["ItemRef"] = store.ref("Item", item_id)
                if detail_type == "SalesItemLineDetail":
                    new["ItemAccountRef"] = store.ref("Account", item[account_key]["value"])
            class_id = self.ref(detail, "ClassRef", "Class", need=False)
            if class_id:
                new["ClassRef"] = store.ref("Class", class_id)
            if price is not None:
                new["UnitPrice"] = price
            if qty is not None:
                new["Qty"] = qty
            if detail_type != "SalesItemLineDetail":
                new["BillableStatus"] = detail.get("BillableStatus") or "NotBillable"
                customer_id = self.ref(detail, "CustomerRef", "Customer", need=False)
                if customer_id:
                    new["CustomerRef"] = store.ref("Customer", customer_id)
            tax_id = self.ref(detail, "TaxCodeRef", "TaxCode", need=False) or self.default_tax_code()
            new["TaxCodeRef"] = {"value": tax_id}
            line: Record = {"Id": str(len(lines) + 1), "LineNum": len(lines) + 1}
            if raw.get("Description") is not None:
                line["Description"] = str(raw["Description"])
            line["Amount"] = amount
            line["DetailType"] = detail_type
            line[str(detail_type)] = new
            lines.append(line)
        if not lines:
            raise required("Line")
        return lines

    # -- builders (create and full update share them) ---------------------------------------------
    def build(self, entity: str, body: Record, old: Record | None) -> Record:
        store = self.store
        record_id = old["Id"] if old else "0"
        record: Record = base_fields(record_id, old["MetaData"]["CreateTime"] if old else self.now, self.now)
        if old:
            record["SyncToken"] = old["SyncToken"]
        if entity in ("Customer", "Vendor"):
            return self.build_party(entity, body, record, old)
        if entity == "JournalEntry":
            return self.build_journal(body, record)
        if entity == "Payment":
            return self.build_payment(body, record, old)
        if entity == "BillPayment":
            return self.build_bill_payment(body, record, old)
        # documents
        txn_date = _date(body["TxnDate"], "TxnDate") if body.get("TxnDate") else self.now.date()
        party_entity, party_key = ("Customer", "CustomerRef") if entity in _SALES_DOCS else ("Vendor", "VendorRef")
        party_id = self.ref(body, party_key, party_entity) if entity != "Purchase" else None
        if entity == "Purchase" and body.get("EntityRef") is not None:
            party_id = _ref_id(body["EntityRef"], "EntityRef")
            kind = str(body["EntityRef"].get("type") or "Vendor")
            if kind not in ("Vendor", "Customer") or store.get(kind, party_id) is None:
                raise invalid_reference(kind, party_id)
            party_entity = kind
        party = store.get(party_entity, party_id) if party_id else None
        currency = self.currency(body, party)
        doc_number = body.get("DocNumber")
        if doc_number is None and entity in ("Invoice", "CreditMemo", "PurchaseOrder") and old is None:
            doc_number = self.next_doc_number(entity)
        if doc_number is not None:
            record["DocNumber"] = str(doc_number)
        record["TxnDate"] = txn_date
        record["CurrencyRef"] = currency_ref(currency)
        self.header(body, currency, record)
        record["Line"] = self.item_lines(entity, body.get("Line"))
        if entity in _SALES_DOCS:
            assert party_id is not None
            record["CustomerRef"] = store.ref("Customer", party_id)
        elif entity in ("Bill", "PurchaseOrder"):
            assert party_id is not None
            record["VendorRef"] = store.ref("Vendor", party_id)
            ap = self.ref(body, "APAccountRef", "Account", need=False) or store.account_by_type("Accounts Payable")
            record["APAccountRef"] = store.ref("Account", ap)
        else:
            account_id = self.ref(body, "AccountRef", "Account")
            assert account_id is not None
            if store.records["Account"][account_id]["AccountType"] not in ("Bank", "Credit Card"):
                raise business("An expense must be paid from a bank or credit card account.")
            if body.get("PaymentType") not in ("Cash", "Check", "CreditCard"):
                raise required("PaymentType") if body.get("PaymentType") is None else malformed(
                    f"PaymentType {body.get('PaymentType')}")
            record["AccountRef"] = store.ref("Account", account_id)
            record["PaymentType"] = body["PaymentType"]
            if party_id:
                entity_ref: Record = {**store.ref(party_entity, party_id), "type": party_entity}
                record["EntityRef"] = entity_ref
            record["Credit"] = bool(body.get("Credit", False))
        if entity in ("Invoice", "Bill", "PurchaseOrder"):
            due = _date(body["DueDate"], "DueDate") if body.get("DueDate") else (
                None if entity == "PurchaseOrder" else txn_date + timedelta(days=30))
            if due is not None:
                record["DueDate"] = due
        if entity == "PurchaseOrder":
            status = body.get("POStatus") or "Open"
            if status not in ("Open", "Closed"):
                raise malformed(f"POStatus {status}")
            record["POStatus"] = status
        finish_totals(store, entity, record)
        if entity in ("Invoice", "Bill", "CreditMemo"):
            paid = (Decimal(old["TotalAmt"]) - Decimal(old["Balance"])) if old else ZERO
            balance = record["TotalAmt"] - paid
            if balance < 0:
                raise business("The transaction total is less than the payments and credits applied to it.")
            record["Balance"] = balance
            if entity == "CreditMemo":
                record["RemainingCredit"] = balance
            elif "ExchangeRate" in record:
                record["HomeBalance"] = money(balance * record["ExchangeRate"])
            record["LinkedTxn"] = list(old.get("LinkedTxn", [])) if old else []
        if entity in _SALES_DOCS:
            record.update({"ApplyTaxAfterDiscount": False, "PrintStatus": body.get("PrintStatus", "NotSet"),
                           "EmailStatus": body.get("EmailStatus", "NotSet")})
        if entity == "Invoice":
            for key in ("AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment",
                        "AllowOnlineACHPayment"):
                record[key] = bool(body.get(key, False))
        return record

    def build_party(self, entity: str, body: Record, record: Record, old: Record | None) -> Record:
        store = self.store
        for key, value in body.items():
            if key not in _SYSTEM and key not in ("Balance", "BalanceWithJobs", "FullyQualifiedName"):
                record[key] = value
        name = body.get("DisplayName") or " ".join(
            str(body[k]) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix") if body.get(k)
        ) or body.get("CompanyName")
        if not name:
            raise required("DisplayName")
        name = str(name)
        for kind in ("Customer", "Vendor"):
            for other_id, other in store.records[kind].items():
                if (kind != entity or other_id != record["Id"]) and str(other.get("DisplayName", "")).lower() == \
                        name.lower():
                    raise QBOFault("Duplicate Name Exists Error", "The name supplied already exists. : null", "6240")
        currency = body.get("CurrencyRef", {}).get("value") if isinstance(body.get("CurrencyRef"), dict) else None
        currency = str(currency or (old["CurrencyRef"]["value"] if old else store.home_currency))
        if currency not in ("GBP", "EUR", "USD"):
            raise invalid_reference("Currency", currency)
        record["DisplayName"] = name
        record["PrintOnCheckName"] = str(body.get("PrintOnCheckName") or name)
        record["CurrencyRef"] = currency_ref(currency)
        record["Active"] = bool(body.get("Active", True))
        record["Balance"] = old["Balance"] if old else ZERO
        if entity == "Customer":
            record["FullyQualifiedName"] = name
            record.setdefault("Taxable", True)
            record.setdefault("Job", False)
            record.setdefault("BillWithParent", False)
            record["BalanceWithJobs"] = record["Balance"]
            record.setdefault("PreferredDeliveryMethod", "Print")
        else:
            record.setdefault("Vendor1099", False)
        for key in ("PrimaryEmailAddr", "PrimaryPhone", "BillAddr", "ShipAddr", "WebAddr", "Mobile", "Fax"):
            if key in record and not isinstance(record[key], dict):
                raise malformed(f"{key} must be an object")
        return record

    def build_journal(self, body: Record, record: Record) -> Record:
        store = self.store
        raw_lines = body.get("Line")
        if not isinstance(raw_lines, list) or not raw_lines:
            raise required("Line")
        currency = str(body["CurrencyRef"].get("value")) if isinstance(body.get("CurrencyRef"), dict) else \
            store.home_currency
        record["DocNumber"] = str(body["DocNumber"]) if body.get("DocNumber") is not None else None
        if record["DocNumber"] is None:
            del record["DocNumber"]
        record["TxnDate"] = _date(body["TxnDate"], "TxnDate") if body.get("TxnDate") else self.now.date()
        record["CurrencyRef"] = currency_ref(currency)
        self.header(body, currency, record)
        debits = credits = ZERO
        lines: list[Record] = []
        for raw in raw_lines:
            if not isinstance(raw, dict) or raw.get("DetailType") != "JournalEntryLineDetail":
                raise malformed("Line.DetailType must be JournalEntryLineDetail")
            detail = raw.get("JournalEntryLineDetail")
            if not isinstance(detail, dict):
                raise required("JournalEntryLineDetail")
            if raw.get("Amount") is None:
                raise required("Line.Amount")
            amount = _decimal(raw["Amount"], "Line.Amount")
            if amount < 0:
                raise business("Journal entry line amounts must not be negative.")
            posting = detail.get("PostingType")
            if posting not in ("Debit", "Credit"):
                raise required("PostingType") if posting is None else malformed(f"PostingType {posting}")
            account_id = self.ref(detail, "AccountRef", "Account")
            assert account_id is not None
            new: Record = {"PostingType": posting, "AccountRef": store.ref("Account", account_id)}
            account_type = store.records["Account"][account_id]["AccountType"]
            entity_ref = detail.get("Entity")
            if entity_ref is not None:
                if not isinstance(entity_ref, dict):
                    raise malformed("Entity must be an object")
                kind = str(entity_ref.get("Type") or "Customer")
                entity_id = _ref_id(entity_ref.get("EntityRef"), "Entity.EntityRef")
                if kind not in ("Customer", "Vendor") or store.get(kind, entity_id) is None:
                    raise invalid_reference(kind, entity_id)
                new["Entity"] = {"Type": kind, "EntityRef": store.ref(kind, entity_id)}
            if account_type == "Accounts Receivable" and new.get("Entity", {}).get("Type") != "Customer":
                raise business("You must select a customer in the Name field for lines posted to Accounts "
                               "Receivable.")
            if account_type == "Accounts Payable" and new.get("Entity", {}).get("Type") != "Vendor":
                raise business("You must select a supplier in the Name field for lines posted to Accounts "
                               "Payable.")
            class_id = self.ref(detail, "ClassRef", "Class", need=False)
            if class_id:
                new["ClassRef"] = store.ref("Class", class_id)
            department_id = self.ref(detail, "DepartmentRef", "Department", need=False)
            if department_id:
                new["DepartmentRef"] = store.ref("Department", department_id)
            if posting == "Debit":
                debits += amount
            else:
                credits += amount
            line: Record = {"Id": str(len(lines)), "LineNum": len(lines) + 1}
            if raw.get("Description") is not None:
                line["Description"] = str(raw["Description"])
            line.update({"Amount": amount, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": new})
            lines.append(line)
        if debits != credits:
            raise business(f"Your journal entry is out of balance: debits {debits} do not equal credits "
                           f"{credits}. Please ensure that total debits equal total credits.")
        record["Line"] = lines
        record["Adjustment"] = bool(body.get("Adjustment", False))
        record["TotalAmt"] = journal_total(record)
        if "ExchangeRate" in record:
            record["HomeTotalAmt"] = money(record["TotalAmt"] * record["ExchangeRate"])
        return record

    # -- payments ---------------------------------------------------------------------------------
    @staticmethod
    def links(payment: Record) -> list[tuple[str, str, Decimal]]:
        result = []
        for line in payment.get("Line", []):
            for link in line.get("LinkedTxn", []):
                result.append((str(link["TxnType"]), str(link["TxnId"]), Decimal(line["Amount"])))
        return result

    def _available(self, entity: str, doc: Record, old: Record | None) -> Decimal:
        extra = sum((amount for kind, txn_id, amount in (self.links(old) if old else [])
                     if kind == entity and txn_id == doc["Id"]), ZERO)
        return Decimal(doc["Balance"]) + extra

    def payment_lines(self, body: Record, party_key: str, party_id: str, kinds: tuple[str, ...],
                      old: Record | None) -> tuple[list[Record], dict[str, Decimal]]:
        raw_lines = body.get("Line") or []
        if not isinstance(raw_lines, list):
            raise malformed("Line must be a list")
        lines: list[Record] = []
        sums = {kind: ZERO for kind in kinds}
        for raw in raw_lines:
            if not isinstance(raw, dict):
                raise malformed("Line must be an object")
            if raw.get("Amount") is None:
                raise required("Line.Amount")
            amount = _decimal(raw["Amount"], "Line.Amount")
            linked = raw.get("LinkedTxn")
            if not isinstance(linked, list) or len(linked) != 1 or not isinstance(linked[0], dict):
                raise required("LinkedTxn")
            kind, txn_id = str(linked[0].get("TxnType", "")), str(linked[0].get("TxnId", ""))
            if kind not in kinds:
                raise business(f"A payment line cannot be linked to a {kind or 'missing'} transaction type.")
            if not txn_id.isdigit():
                raise invalid_id(txn_id)
            doc = self.store.get(kind, txn_id)
            if doc is None:
                raise invalid_reference(kind, txn_id)
            if doc[party_key]["value"] != party_id:
                raise business(f"{kind} {txn_id} belongs to another customer or vendor.")
            if amount <= 0:
                raise business("The amount applied to a transaction must be more than zero.")
            available = self._available(kind, doc, old)
            if amount > available:
                raise business(f"The amount applied to {kind} {txn_id} ({amount}) exceeds its open balance "
                               f"({available}).")
            sums[kind] += amount
            lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": kind}]})
        return lines, sums

    def build_payment(self, body: Record, record: Record, old: Record | None) -> Record:
        store = self.store
        customer_id = self.ref(body, "CustomerRef", "Customer")
        assert customer_id is not None
        if body.get("TotalAmt") is None:
            raise required("TotalAmt")
        total = _decimal(body["TotalAmt"], "TotalAmt")
        if total < 0:
            raise business("The payment amount must not be negative.")
        customer = store.records["Customer"][customer_id]
        currency = self.currency(body, customer)
        record["TxnDate"] = _date(body["TxnDate"], "TxnDate") if body.get("TxnDate") else self.now.date()
        record["CurrencyRef"] = currency_ref(currency)
        self.header(body, currency, record)
        record["CustomerRef"] = store.ref("Customer", customer_id)
        ar = self.ref(body, "ARAccountRef", "Account", need=False) or store.account_by_type("Accounts Receivable")
        record["ARAccountRef"] = store.ref("Account", ar)
        deposit = self.ref(body, "DepositToAccountRef", "Account", need=False)
        if deposit:
            record["DepositToAccountRef"] = store.ref("Account", deposit)
        if body.get("PaymentRefNum") is not None:
            record["PaymentRefNum"] = str(body["PaymentRefNum"])
        lines, sums = self.payment_lines(body, "CustomerRef", customer_id, ("Invoice", "CreditMemo"), old)
        applied = sums["Invoice"] - sums["CreditMemo"]
        if applied < 0:
            raise business("The credits applied exceed the invoices they are applied to.")
        if applied > total:
            raise business(f"The amount applied to transactions ({applied}) exceeds the payment amount ({total}).")
        record["TotalAmt"] = total
        record["UnappliedAmt"] = total - applied
        record["ProcessPayment"] = False
        record["Line"] = lines
        return record

    def build_bill_payment(self, body: Record, record: Record, old: Record | None) -> Record:
        store = self.store
        vendor_id = self.ref(body, "VendorRef", "Vendor")
        assert vendor_id is not None
        pay_type = body.get("PayType")
        if pay_type not in ("Check", "CreditCard"):
            raise required("PayType") if pay_type is None else malformed(f"PayType {pay_type}")
        if body.get("TotalAmt") is None:
            raise required("TotalAmt")
        total = _decimal(body["TotalAmt"], "TotalAmt")
        vendor = store.records["Vendor"][vendor_id]
        currency = self.currency(body, vendor)
        record["VendorRef"] = store.ref("Vendor", vendor_id)
        record["PayType"] = pay_type
        ap = self.ref(body, "APAccountRef", "Account", need=False) or store.account_by_type("Accounts Payable")
        record["APAccountRef"] = store.ref("Account", ap)
        if body.get("DocNumber") is not None:
            record["DocNumber"] = str(body["DocNumber"])
        record["TxnDate"] = _date(body["TxnDate"], "TxnDate") if body.get("TxnDate") else self.now.date()
        record["CurrencyRef"] = currency_ref(currency)
        self.header(body, currency, record)
        if pay_type == "Check":
            check = body.get("CheckPayment")
            if not isinstance(check, dict):
                raise required("CheckPayment")
            bank = self.ref(check, "BankAccountRef", "Account")
            assert bank is not None
            if store.records["Account"][bank]["AccountType"] != "Bank":
                raise business("A cheque bill payment must be paid from a bank account.")
            record["CheckPayment"] = {"BankAccountRef": store.ref("Account", bank),
                                      "PrintStatus": check.get("PrintStatus", "NotSet")}
        else:
            card = body.get("CreditCardPayment")
            if not isinstance(card, dict):
                raise required("CreditCardPayment")
            account = self.ref(card, "CCAccountRef", "Account")
            assert account is not None
            record["CreditCardPayment"] = {"CCAccountRef": store.ref("Account", account)}
        lines, sums = self.payment_lines(body, "VendorRef", vendor_id, ("Bill",), old)
        if sums["Bill"] > total:
            raise business(f"The amount applied to bills ({sums['Bill']}) exceeds the payment amount ({total}).")
        record["TotalAmt"] = total
        record["Line"] = lines
        return record

    def link_type(self, payment_entity: str, payment: Record) -> str:
        if payment_entity == "Payment":
            return "Payment"
        return "BillPaymentCheck" if payment.get("PayType") == "Check" else "BillPaymentCreditCard"

    def apply(self, entity: str, payment: Record, sign: int) -> None:
        """Apply (+1) or unapply (-1) a payment's lines to the documents it links."""
        link = {"TxnId": payment["Id"], "TxnType": self.link_type(entity, payment)}
        for kind, txn_id, amount in self.links(payment):
            doc = self.store.get(kind, txn_id)
            if doc is None:
                continue
            doc["Balance"] = Decimal(doc["Balance"]) - sign * amount
            if kind == "CreditMemo":
                doc["RemainingCredit"] = doc["Balance"]
            if "HomeBalance" in doc or ("ExchangeRate" in doc and kind != "CreditMemo"):
                doc["HomeBalance"] = money(doc["Balance"] * Decimal(doc["ExchangeRate"]))
            links = doc.setdefault("LinkedTxn", [])
            if sign > 0 and link not in links:
                links.append(dict(link))
            if sign < 0 and link in links:
                links.remove(link)
            self.dirty[id(doc)] = doc

    def detach(self, entity: str, doc: Record) -> None:
        """Unapply the payments that point at a document about to be deleted or voided."""
        payment_entity = "Payment" if entity in _SALES_DOCS else "BillPayment"
        for link in list(doc.get("LinkedTxn", [])):
            payment = self.store.get(payment_entity, str(link["TxnId"]))
            if payment is None:
                continue
            self.apply(payment_entity, payment, -1)
            credit_application = is_credit_application(payment)
            payment["Line"] = [line for line in payment["Line"]
                               if not any(str(link["TxnId"]) == doc["Id"] and link["TxnType"] == entity
                                          for link in line.get("LinkedTxn", []))]
            if payment_entity == "Payment":
                sums = {"Invoice": ZERO, "CreditMemo": ZERO}
                for kind, _, amount in self.links(payment):
                    sums[kind] += amount
                if sums["CreditMemo"] > sums["Invoice"] or (credit_application and
                                                            (not sums["Invoice"] or not sums["CreditMemo"])):
                    payment["Line"] = [line for line in payment["Line"]
                                       if all(link["TxnType"] != "CreditMemo" for link in line["LinkedTxn"])]
                    sums["CreditMemo"] = ZERO
                    if credit_application:
                        payment["Line"] = []
                        sums["Invoice"] = ZERO
                payment["UnappliedAmt"] = Decimal(payment["TotalAmt"]) - (sums["Invoice"] - sums["CreditMemo"])
            self.dirty[id(payment)] = payment
            if credit_application and not payment["Line"]:
                self.remove("Payment", payment)
            else:
                self.apply(payment_entity, payment, 1)

    def remove(self, entity: str, record: Record) -> None:
        del self.store.records[entity][record["Id"]]
        self.store.tombstones[entity][record["Id"]] = {
            "domain": "QBO", "status": "Deleted", "Id": record["Id"],
            "MetaData": {"LastUpdatedTime": self.now}}

    # -- operations -------------------------------------------------------------------------------
    def create(self, entity: str, body: Record) -> Record:
        if entity not in WRITABLE:
            raise unsupported_operation(f"/{entity.lower()} create")
        self.check_fields(entity, body)
        record = self.build(entity, body, None)
        record["Id"] = self.store.next_id(entity)
        self.store.add(entity, record)
        if entity in ("Payment", "BillPayment"):
            self.apply(entity, record, 1)
        self.flush(record)
        self.store.refresh_party_balances()
        return record

    def update(self, entity: str, body: Record) -> Record:
        if entity not in WRITABLE:
            raise unsupported_operation(f"/{entity.lower()} update")
        self.check_fields(entity, body)
        old = self.existing(entity, body)
        if old.get("PrivateNote") == "Voided" and entity in VOIDABLE:
            raise business("A voided transaction cannot be changed.")
        merged = {**old, **body} if body.get("sparse") is True else body
        record = self.build(entity, merged, old)
        if entity in ("Payment", "BillPayment"):
            self.apply(entity, old, -1)
        record["Id"] = old["Id"]
        self.touch(record)
        self.store.records[entity][old["Id"]] = record
        if entity in ("Payment", "BillPayment"):
            self.apply(entity, record, 1)
        self.flush(record)
        self.store.refresh_party_balances()
        return record

    def delete(self, entity: str, body: Record) -> Record:
        if entity not in DELETABLE:
            raise unsupported_operation(f"/{entity.lower()}?operation=delete")
        record = self.existing(entity, body)
        if entity in ("Payment", "BillPayment"):
            self.apply(entity, record, -1)
        elif entity in ("Invoice", "CreditMemo", "Bill"):
            self.detach(entity, record)
        self.remove(entity, record)
        self.flush(record)
        self.store.refresh_party_balances()
        return {"domain": "QBO", "status": "Deleted", "Id": record["Id"]}

    def void(self, entity: str, body: Record) -> Record:
        if entity not in VOIDABLE:
            raise unsupported_operation(f"/{entity.lower()}?operation=void")
        record = self.existing(entity, body)
        if entity == "Invoice":
            self.detach(entity, record)
            for line in record["Line"]:
                line["Amount"] = ZERO
            record["TxnTaxDetail"] = {"TotalTax": ZERO}
            record["TotalAmt"] = record["Balance"] = ZERO
            for key in ("HomeTotalAmt", "HomeBalance"):
                if key in record:
                    record[key] = ZERO
        else:
            self.apply(entity, record, -1)
            for line in record["Line"]:
                line["Amount"] = ZERO
            record["TotalAmt"] = ZERO
            if entity == "Payment":
                record["UnappliedAmt"] = ZERO
        record["PrivateNote"] = "Voided"
        self.touch(record)
        self.flush(record)
        self.store.refresh_party_balances()
        return record
