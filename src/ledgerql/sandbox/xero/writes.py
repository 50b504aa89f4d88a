"""Creates and updates in Xero's terms: validation with Xero's messages, then the mutation.

Each `plan_*` function checks one submitted element and returns `(errors, commit)`: the list of
validation messages (nothing is written when it is not empty) and a function that performs the
write and returns the stored record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledgerql.sandbox.xero.convert import Store, apply_payment, currency_rate, make_payment
from ledgerql.sandbox.xero.wire import date_string, decimal_of, is_guid, money, new_guid, parse_date

Commit = Callable[[], dict[str, Any]]
Plan = tuple[list[str], Commit]
ZERO = Decimal("0.00")
NOT_VALID_STATUS = "Invoice not of valid status for modification"
HAS_ALLOCATIONS = "This document cannot be edited as it has a payment or credit note allocated to it."
EXCEEDS = "Payment amount exceeds the amount outstanding on this document"


#: field names a request may use; Xero reads JSON property names case-insensitively
FIELD_NAMES = frozenset({
    "Account", "AccountCode", "AccountID", "AccountNumber", "Addresses", "Allocations", "Amount", "BankAccount",
    "BankAccountDetails", "BatchPaymentID", "Code", "Contact", "ContactID", "ContactNumber", "ContactPersons",
    "ContactStatus", "CreditNote", "CreditNoteID", "CreditNoteNumber", "CurrencyCode", "CurrencyRate", "Date",
    "DefaultCurrency", "DeliveryDate", "Description", "DueDate", "EmailAddress", "FirstName", "Invoice",
    "InvoiceID", "InvoiceNumber", "IsCustomer", "IsSupplier", "JournalLines", "LastName", "LineAmount",
    "LineAmountTypes", "LineItemID", "LineItems", "ManualJournalID", "Name", "Narration", "Option", "Overpayment",
    "PaymentID", "Payments", "Phones", "Prepayment", "PurchaseOrderID", "PurchaseOrderNumber", "Quantity",
    "Reference", "ShowOnCashBasisReports", "Status", "TaxAmount", "TaxNumber", "TaxType", "Tracking",
    "TrackingCategoryID", "TrackingOptionID", "Type", "UnitAmount", "BankTransactionID", "Invoices", "CreditNotes",
    "BankTransactions", "PurchaseOrders", "ManualJournals", "Contacts", "BatchPayments", "PaymentTerms",
})
_CANONICAL = {name.lower(): name for name in FIELD_NAMES}


def canonical(value: Any) -> Any:
    """A request body with Xero's property names in their canonical case (`lineitems` → `LineItems`)."""
    if isinstance(value, dict):
        return {_CANONICAL.get(str(k).lower(), k): canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def _nothing() -> dict[str, Any]:
    raise AssertionError("commit of a rejected element")


class Writer:
    """Writes for one tenant at one instant (`now` = the emulator clock)."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now
        self.today = now.date()

    # -- shared pieces ---------------------------------------------------------------------------
    def _date(self, item: dict[str, Any], key: str, errors: list[str], default: date | None) -> date | None:
        if key not in item or item[key] in (None, ""):
            return default
        try:
            return parse_date(item[key])
        except (ValueError, OverflowError):
            errors.append(f"The {key} '{item[key]}' is not a valid date.")
            return default

    def _contact(self, item: dict[str, Any], errors: list[str], existing: dict[str, Any] | None
                 ) -> dict[str, Any] | None:
        ref = item.get("Contact")
        if ref is None and existing is not None:
            return self.store.get("Contacts", existing["Contact"]["ContactID"])
        if not isinstance(ref, dict) or not any(ref.get(k) for k in ("ContactID", "ContactNumber", "Name")):
            errors.append("A Contact must be specified for this type of transaction")
            return None
        if ref.get("ContactID") and not is_guid(str(ref["ContactID"])):
            errors.append(f"The ContactID '{ref['ContactID']}' is not a valid GUID.")
            return None
        contact = self.store.contact_by(ref)
        if contact is None:
            shown = ref.get("ContactID") or ref.get("ContactNumber") or ref.get("Name")
            errors.append(f"The contact '{shown}' could not be found.")
        return contact

    def _currency(self, item: dict[str, Any], contact: dict[str, Any] | None, errors: list[str],
                  existing: dict[str, Any] | None) -> str:
        code = item.get("CurrencyCode") or (existing or {}).get("CurrencyCode") or \
            (contact or {}).get("DefaultCurrency") or self.store.base_currency
        if code not in (self.store.base_currency, "EUR"):
            errors.append(f"The currency '{code}' is not enabled for this organisation.")
        return str(code)

    def _lines(self, raw_lines: Any, errors: list[str], amount_types: str, need_account: bool
               ) -> tuple[list[dict[str, Any]], Decimal, Decimal, Decimal]:
        store = self.store
        if not isinstance(raw_lines, list):
            errors.append("LineItems must be a list of line items.")
            return [], ZERO, ZERO, ZERO
        lines: list[dict[str, Any]] = []
        for raw in raw_lines:
            if not isinstance(raw, dict):
                errors.append("A line item must be an object.")
                continue
            try:
                quantity = decimal_of(raw.get("Quantity", 1))
            except ValueError:
                errors.append(f"The quantity value '{raw.get('Quantity')}' is invalid.")
                continue
            if quantity < 0:
                errors.append(f"The quantity value '{quantity:.4f}' is invalid. Quantity must not be less than zero.")
            try:
                unit = decimal_of(raw["UnitAmount"]) if raw.get("UnitAmount") is not None else None
                given = decimal_of(raw["LineAmount"]) if raw.get("LineAmount") is not None else None
            except ValueError:
                errors.append("UnitAmount and LineAmount must be numbers.")
                continue
            if unit is None:
                unit = money(given / quantity) if given is not None and quantity else ZERO
            unit = unit.quantize(Decimal("0.01")) if unit.as_tuple().exponent >= -2 else unit.quantize(  # type: ignore[operator]
                Decimal("0.0001"))
            net = money(given) if given is not None else money(quantity * unit)
            account = None
            if raw.get("AccountID") or raw.get("AccountCode"):
                if raw.get("AccountID") and not is_guid(str(raw["AccountID"])):
                    errors.append(f"The AccountID '{raw['AccountID']}' is not a valid GUID.")
                else:
                    account = store.account_by({"AccountID": raw.get("AccountID"), "Code": raw.get("AccountCode")})
                    if account is None or account["Status"] != "ACTIVE":
                        errors.append(f"Account code '{raw.get('AccountCode') or raw.get('AccountID')}' is not a "
                                      "valid code for this document.")
            elif need_account:
                errors.append("Account code must be specified.")
            tax_type = str(raw.get("TaxType") or (account or {}).get("TaxType") or "NONE")
            rate = ZERO
            if tax_type != "NONE":
                tax = store.get("TaxRates", tax_type)
                if tax is None or tax["Status"] != "ACTIVE":
                    errors.append(f"The TaxType code '{tax_type}' does not exist or cannot be used for this type "
                                  "of transaction.")
                else:
                    rate = tax["EffectiveRate"]
            if amount_types == "NoTax":
                tax_amount = ZERO
            elif raw.get("TaxAmount") is not None:
                try:
                    tax_amount = money(decimal_of(raw["TaxAmount"]))
                except ValueError:
                    errors.append("TaxAmount must be a number.")
                    tax_amount = ZERO
            elif amount_types == "Inclusive":
                tax_amount = money(net * rate / (Decimal(100) + rate))
            else:
                tax_amount = money(net * rate / Decimal(100))
            tracking = []
            for ref in raw.get("Tracking") or []:
                resolved = store.tracking_option(ref) if isinstance(ref, dict) else None
                if resolved is None:
                    shown = ref.get("Option") or ref.get("TrackingOptionID") if isinstance(ref, dict) else ref
                    errors.append(f"The tracking option '{shown}' could not be found.")
                else:
                    tracking.append(resolved)
            line: dict[str, Any] = {
                "LineItemID": str(raw.get("LineItemID") or new_guid()), "Description": raw.get("Description") or "",
                "Quantity": quantity, "UnitAmount": unit, "TaxType": tax_type, "TaxAmount": tax_amount,
                "LineAmount": net, "Tracking": tracking}
            if account:
                line["AccountCode"] = account["Code"]
                line["AccountID"] = account["AccountID"]
            lines.append(line)
        line_sum = sum((line["LineAmount"] for line in lines), ZERO)
        total_tax = sum((line["TaxAmount"] for line in lines), ZERO)
        if amount_types == "Inclusive":
            return lines, line_sum - total_tax, total_tax, line_sum
        return lines, line_sum, total_tax, line_sum + total_tax

    def _next_number(self, collection: str, field: str, prefix: str) -> str:
        highest = 0
        for record in self.store.data[collection].values():
            number = str(record.get(field) or "")
            if number.startswith(prefix) and number[len(prefix):].isdigit():
                highest = max(highest, int(number[len(prefix):]))
        return f"{prefix}{highest + 1:04d}"

    @staticmethod
    def _amount_types(item: dict[str, Any], existing: dict[str, Any] | None, errors: list[str],
                      default: str = "Exclusive") -> str:
        value = str(item.get("LineAmountTypes") or (existing or {}).get("LineAmountTypes") or default)
        if value not in ("Exclusive", "Inclusive", "NoTax"):
            errors.append(f"LineAmountTypes '{value}' is not valid.")
        return value

    # -- documents: invoices, bills, credit notes, purchase orders, bank transactions -------------
    def plan_document(self, collection: str, item: dict[str, Any], existing: dict[str, Any] | None) -> Plan:
        errors: list[str] = []
        if existing is not None:
            # SDKs send empty objects and lists for what they do not change; Xero leaves those alone.
            item = {k: v for k, v in item.items() if not (k in ("Contact", "LineItems") and not v)}
        store = self.store
        kinds = {"Invoices": ("ACCREC", "ACCPAY"), "CreditNotes": ("ACCRECCREDIT", "ACCPAYCREDIT"),
                 "BankTransactions": ("SPEND", "RECEIVE"), "PurchaseOrders": ("PURCHASEORDER",)}[collection]
        kind = str(item.get("Type") or (existing or {}).get("Type") or
                   ("PURCHASEORDER" if collection == "PurchaseOrders" else ""))
        if kind not in kinds:
            errors.append(f"{'Type' if kind else 'A Type'} must be one of {', '.join(kinds)}.")
        status = str(item.get("Status") or (existing or {}).get("Status") or
                     ("AUTHORISED" if collection == "BankTransactions" else "DRAFT"))
        if existing is not None:
            old = existing["Status"]
            paid = existing.get("AmountPaid", ZERO) + existing.get("AmountCredited", ZERO)
            if collection == "CreditNotes":
                paid = existing["Total"] - existing["RemainingCredit"]
            if status in ("VOIDED", "DELETED") and status != old:
                if paid > 0:
                    errors.append(HAS_ALLOCATIONS)
                elif (status == "DELETED" and collection in ("Invoices", "CreditNotes")
                      and old not in ("DRAFT", "SUBMITTED")) or \
                        (status == "VOIDED" and old in ("DRAFT", "SUBMITTED") and collection != "BankTransactions"):
                    errors.append(NOT_VALID_STATUS)
                if errors:
                    return errors, _nothing

                def set_status() -> dict[str, Any]:
                    assert existing is not None
                    existing["Status"] = status
                    existing["UpdatedDateUTC"] = self.now
                    if collection == "Invoices":
                        existing["AmountDue"] = ZERO
                    if collection == "CreditNotes":
                        existing["RemainingCredit"] = ZERO  # nothing left to allocate
                    return existing

                return errors, set_status
            if old in ("VOIDED", "DELETED", "PAID", "BILLED"):
                return [NOT_VALID_STATUS], _nothing
            if paid > 0 and "LineItems" in item:
                return [HAS_ALLOCATIONS], _nothing
        editable = ("DRAFT", "SUBMITTED", "AUTHORISED")
        allowed = {"Invoices": editable, "CreditNotes": editable,
                   "BankTransactions": ("AUTHORISED",), "PurchaseOrders": ("DRAFT", "SUBMITTED", "AUTHORISED")}
        if status not in allowed[collection]:
            errors.append(f"The status '{status}' is not valid for a new or updated document.")
        contact = self._contact(item, errors, existing)
        currency = self._currency(item, contact, errors, existing)
        issued = self._date(item, "Date", errors, (existing or {}).get("Date") or self.today)
        amount_types = self._amount_types(item, existing, errors)
        if "LineItems" in item:
            lines, sub_total, total_tax, total = self._lines(
                item["LineItems"], errors, amount_types,
                need_account=collection != "PurchaseOrders" and status != "DRAFT")
        elif existing is not None:
            lines, sub_total, total_tax, total = (existing["LineItems"], existing["SubTotal"],
                                                  existing["TotalTax"], existing["Total"])
        else:
            lines, sub_total, total_tax, total = [], ZERO, ZERO, ZERO
        if existing is None and not lines and collection in ("BankTransactions",):
            errors.append("At least one line item must be specified.")
        bank = None
        if collection == "BankTransactions":
            ref = item.get("BankAccount") or (existing or {}).get("BankAccount")
            bank = store.account_by(ref) if isinstance(ref, dict) else None
            if bank is None or bank["Type"] != "BANK":
                errors.append("A valid BankAccount must be specified.")
        number_field = {"Invoices": "InvoiceNumber", "CreditNotes": "CreditNoteNumber",
                        "PurchaseOrders": "PurchaseOrderNumber"}.get(collection)
        number = str(item.get(number_field) or (existing or {}).get(number_field) or "") if number_field else ""
        if number_field and number and kind in ("ACCREC", "ACCRECCREDIT", "PURCHASEORDER"):
            clash = next((r for r in store.data[collection].values() if r.get(number_field) == number
                          and r is not existing and r["Status"] != "DELETED"), None)
            if clash is not None:
                label = {"Invoices": "Invoice", "CreditNotes": "Credit Note", "PurchaseOrders": "Purchase Order"}
                errors.append(f"{label[collection]} # must be unique.")
        due = self._date(item, "DueDate", errors, (existing or {}).get("DueDate"))
        delivery = self._date(item, "DeliveryDate", errors, (existing or {}).get("DeliveryDate"))
        if errors:
            return errors, _nothing
        assert contact is not None and issued is not None

        def commit() -> dict[str, Any]:
            id_field = {"Invoices": "InvoiceID", "CreditNotes": "CreditNoteID", "PurchaseOrders": "PurchaseOrderID",
                        "BankTransactions": "BankTransactionID"}[collection]
            record: dict[str, Any] = existing if existing is not None else {"Type": kind, id_field: new_guid()}
            auto = {"ACCREC": "INV-", "ACCRECCREDIT": "CN-", "PURCHASEORDER": "PO-"}.get(kind)
            if number_field:
                record[number_field] = number or (self._next_number(collection, number_field, auto) if auto else "")
            record["Type"] = kind
            record["Reference"] = str(item.get("Reference", record.get("Reference", "")) or "")
            if collection == "Invoices" and existing is None:
                record.update({"Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
                               "AmountDue": ZERO, "AmountPaid": ZERO, "AmountCredited": ZERO,
                               "SentToContact": False})
            if collection == "CreditNotes" and existing is None:
                record.update({"ID": record["CreditNoteID"], "Payments": [], "Allocations": [], "SentToContact": False})
            if collection == "PurchaseOrders" and existing is None:
                record.update({"AttentionTo": "", "SentToContact": False})
            record.update({"CurrencyRate": currency_rate(currency, store.base_currency), "HasErrors": False,
                           "IsDiscounted": False, "HasAttachments": False,
                           "Contact": store.contact_summary(contact),
                           "DateString": date_string(issued), "Date": issued})
            if bank is not None:
                record["BankAccount"] = {"AccountID": bank["AccountID"], "Code": bank["Code"], "Name": bank["Name"]}
                record["IsReconciled"] = False
            if due is not None:
                record.update({"DueDateString": date_string(due), "DueDate": due})
            if delivery is not None:
                record.update({"DeliveryDateString": date_string(delivery), "DeliveryDate": delivery})
            record.update({"Status": status, "LineAmountTypes": amount_types, "LineItems": lines,
                           "SubTotal": sub_total, "TotalTax": total_tax, "Total": total,
                           "UpdatedDateUTC": self.now, "CurrencyCode": currency})
            if collection == "Invoices":
                record["AmountDue"] = total - record["AmountPaid"] - record["AmountCredited"]
                flag = "IsCustomer" if kind == "ACCREC" else "IsSupplier"
                contact[flag] = True
            if collection == "CreditNotes":
                record["RemainingCredit"] = total - sum((a["Amount"] for a in record["Allocations"]), ZERO)
            return store.put(collection, record)

        return errors, commit

    # -- contacts --------------------------------------------------------------------------------
    def plan_contact(self, item: dict[str, Any], existing: dict[str, Any] | None) -> Plan:
        errors: list[str] = []
        store = self.store
        name = str(item.get("Name") if item.get("Name") is not None else (existing or {}).get("Name", "")).strip()
        if not name:
            errors.append("The contact name must be specified.")
        status = str(item.get("ContactStatus") or (existing or {}).get("ContactStatus") or "ACTIVE")
        if status not in ("ACTIVE", "ARCHIVED"):
            errors.append(f"The ContactStatus '{status}' is not valid.")
        if name and status == "ACTIVE" and any(
                c["Name"].lower() == name.lower() and c["ContactStatus"] == "ACTIVE" and c is not existing
                for c in store.data["Contacts"].values()):
            errors.append(f"The contact name {name} is already assigned to another contact. The contact name must "
                          "be unique across all active contacts.")
        number = item.get("ContactNumber")
        if number and any(c.get("ContactNumber") == number and c is not existing
                          for c in store.data["Contacts"].values()):
            errors.append("Another contact has this contact number. Please enter a unique contact number.")
        currency = item.get("DefaultCurrency")
        if currency and currency not in (store.base_currency, "EUR"):
            errors.append(f"The currency '{currency}' is not enabled for this organisation.")
        if errors:
            return errors, _nothing

        def commit() -> dict[str, Any]:
            record: dict[str, Any] = existing if existing is not None else {
                "ContactID": new_guid(), "ContactNumber": "", "AccountNumber": "", "ContactStatus": "ACTIVE",
                "Name": name, "FirstName": "", "LastName": "", "EmailAddress": "", "BankAccountDetails": "",
                "TaxNumber": "", "Addresses": [], "Phones": [], "UpdatedDateUTC": self.now, "ContactGroups": [],
                "IsSupplier": False, "IsCustomer": False, "DefaultCurrency": store.base_currency,
                "ContactPersons": [], "SalesDefaultLineAmountType": "EXCLUSIVE",
                "PurchasesDefaultLineAmountType": "EXCLUSIVE", "SalesTrackingCategories": [],
                "PurchasesTrackingCategories": [], "HasAttachments": False, "HasValidationErrors": False}
            for key in ("ContactNumber", "AccountNumber", "FirstName", "LastName", "EmailAddress", "TaxNumber",
                        "BankAccountDetails", "DefaultCurrency", "Addresses", "Phones", "ContactPersons",
                        "PaymentTerms"):
                if key in item and item[key] is not None:
                    record[key] = item[key]
            # IsCustomer/IsSupplier are derived from transactions in Xero; the sandbox also takes them
            # from a create so that a gateway's createCustomer/createSupplier reads back at once.
            for key in ("IsCustomer", "IsSupplier"):
                if isinstance(item.get(key), bool):
                    record[key] = item[key]
            renamed = existing is not None and existing.get("Name") != name
            record["Name"] = name
            record["ContactStatus"] = status
            record["UpdatedDateUTC"] = self.now
            if renamed:
                self._rename_contact(record["ContactID"], name)
            return store.put("Contacts", record)

        return errors, commit

    def _rename_contact(self, contact_id: str, name: str) -> None:
        """Xero shows a contact's current name on every document naming it, old ones included (it keeps no
        copy per document), and the documents' UpdatedDateUTC does not move."""
        for records in self.store.data.values():
            for record in records.values():
                contact = record.get("Contact")
                if isinstance(contact, dict) and contact.get("ContactID") == contact_id:
                    record["Contact"] = {**contact, "Name": name}

    # -- payments --------------------------------------------------------------------------------
    def _payment_checks(self, item: dict[str, Any], errors: list[str], pending: dict[str, Decimal]
                        ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, Decimal, date | None]:
        store = self.store
        doc = None
        ref = item.get("Invoice")
        if isinstance(ref, dict) and (ref.get("InvoiceID") or ref.get("InvoiceNumber")):
            if ref.get("InvoiceID"):
                doc = store.get("Invoices", str(ref["InvoiceID"])) if is_guid(str(ref["InvoiceID"])) else None
            else:
                doc = next((i for i in store.data["Invoices"].values()
                            if i["InvoiceNumber"] == ref["InvoiceNumber"] and i["Status"] != "DELETED"), None)
            if doc is None:
                errors.append("The document with the supplied id was not found for this endpoint.")
        elif item.get("CreditNote") or item.get("Overpayment") or item.get("Prepayment"):
            errors.append("Refund payments are not supported by this sandbox; pay an Invoice.")
        else:
            errors.append("An Invoice must be specified for the payment.")
        account = store.account_by(item.get("Account")) if isinstance(item.get("Account"), dict) else None
        if account is None:
            errors.append("The Account could not be found.")
        elif account["Type"] != "BANK" and not account.get("EnablePaymentsToAccount"):
            errors.append("Account type is invalid for making a payment to/from.")
        try:
            amount = money(decimal_of(item.get("Amount")))
        except ValueError:
            errors.append("Payment amount must be specified.")
            amount = ZERO
        if amount <= 0 and not errors:
            errors.append("Payment amount must be greater than zero.")
        if doc is not None:
            if doc["Status"] != "AUTHORISED":
                errors.append("Payments can only be made against Authorised documents.")
            elif amount > doc["AmountDue"] - pending.get(doc["InvoiceID"], ZERO):
                errors.append(EXCEEDS)
            pending[doc["InvoiceID"]] = pending.get(doc["InvoiceID"], ZERO) + amount
        paid_on = self._date(item, "Date", errors, self.today)
        return doc, account, amount, paid_on

    def _settle(self, doc: dict[str, Any], paid_on: date) -> None:
        doc["AmountDue"] = doc["Total"] - doc["AmountPaid"] - doc["AmountCredited"]
        if doc["AmountDue"] <= 0 and doc["Status"] == "AUTHORISED":
            doc["Status"] = "PAID"
            doc["FullyPaidOnDate"] = paid_on
        doc["UpdatedDateUTC"] = self.now

    def plan_payment(self, item: dict[str, Any]) -> Plan:
        errors: list[str] = []
        doc, account, amount, paid_on = self._payment_checks(item, errors, {})
        if errors:
            return errors, _nothing
        assert doc is not None and account is not None and paid_on is not None

        def commit() -> dict[str, Any]:
            record = make_payment(self.store, new_guid(), doc, account, amount, paid_on,
                                  str(item.get("Reference") or ""), self.now)
            self.store.put("Payments", record)
            apply_payment(doc, record)
            self._settle(doc, paid_on)
            record["Invoice"].update({"AmountDue": doc["AmountDue"], "AmountPaid": doc["AmountPaid"],
                                      "Status": doc["Status"]})
            return record

        return errors, commit

    def plan_delete_payment(self, payment: dict[str, Any], item: dict[str, Any]) -> Plan:
        if str(item.get("Status", "")).upper() != "DELETED":
            return ["Only the Status of a payment can be changed, to DELETED."], _nothing
        if payment["Status"] == "DELETED":
            return ["The payment has already been deleted."], _nothing

        def commit() -> dict[str, Any]:
            doc = self.store.get("Invoices", payment["Invoice"]["InvoiceID"])
            payment["Status"] = "DELETED"
            payment["UpdatedDateUTC"] = self.now
            if doc is not None:
                doc["AmountPaid"] -= payment["Amount"]
                doc["Payments"] = [p for p in doc["Payments"] if p["PaymentID"] != payment["PaymentID"]]
                doc["AmountDue"] = doc["Total"] - doc["AmountPaid"] - doc["AmountCredited"]
                if doc["Status"] == "PAID" and doc["AmountDue"] > 0:
                    doc["Status"] = "AUTHORISED"
                    doc.pop("FullyPaidOnDate", None)
                doc["UpdatedDateUTC"] = self.now
            return payment

        return [], commit

    def plan_batch_payment(self, item: dict[str, Any]) -> Plan:
        errors: list[str] = []
        store = self.store
        account = store.account_by(item.get("Account")) if isinstance(item.get("Account"), dict) else None
        if account is None or account["Type"] != "BANK":
            errors.append("A valid bank Account must be specified for the batch payment.")
        paid_on = self._date(item, "Date", errors, self.today)
        children = item.get("Payments")
        if not isinstance(children, list) or not children:
            errors.append("A batch payment must contain at least one payment.")
            children = []
        checked = []
        pending: dict[str, Decimal] = {}
        for child in children:
            if not isinstance(child, dict):
                errors.append("A payment must be an object.")
                continue
            merged = {"Account": item.get("Account"), "Date": item.get("Date"), **child}
            doc, _, amount, _ = self._payment_checks(merged, errors, pending)
            if doc is not None:
                checked.append((doc, amount))
        types = {doc["Type"] for doc, _ in checked}
        if len(types) > 1:
            errors.append("A batch payment cannot mix receivables and payables.")
        if errors:
            return errors, _nothing
        assert account is not None and paid_on is not None

        def commit() -> dict[str, Any]:
            total = sum((amount for _, amount in checked), ZERO)
            batch = store.put("BatchPayments", {
                "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
                "Reference": str(item.get("Reference") or ""), "BatchPaymentID": new_guid(),
                "DateString": date_string(paid_on), "Date": paid_on, "Payments": [],
                "Type": "RECBATCH" if checked[0][0]["Type"] == "ACCREC" else "PAYBATCH", "Status": "AUTHORISED",
                "TotalAmount": total, "UpdatedDateUTC": self.now, "IsReconciled": False})
            for doc, amount in checked:
                record = make_payment(store, new_guid(), doc, account, amount, paid_on, batch["Reference"],
                                      self.now, batch)
                store.put("Payments", record)
                apply_payment(doc, record)
                self._settle(doc, paid_on)
            return batch

        return errors, commit

    def plan_allocation(self, note: dict[str, Any], item: dict[str, Any], pending: dict[str, Decimal]) -> Plan:
        """One allocation of a credit note's or an overpayment's remaining credit to a document of the
        same contact and side (`note` is a CreditNote or an Overpayment)."""
        errors: list[str] = []
        store = self.store
        overpayment = "OverpaymentID" in note
        label = "overpayment" if overpayment else "credit note"
        ref = item.get("Invoice")
        doc = None
        if isinstance(ref, dict) and ref.get("InvoiceID") and is_guid(str(ref["InvoiceID"])):
            doc = store.get("Invoices", str(ref["InvoiceID"]))
        if doc is None:
            errors.append("The document with the supplied id was not found for this endpoint.")
        try:
            amount = money(decimal_of(item.get("Amount")))
        except ValueError:
            errors.append("Amount must be specified.")
            amount = ZERO
        if note["Status"] != "AUTHORISED":
            errors.append(f"{label.capitalize()} not of valid status for allocation.")
        already = pending.get("credit", ZERO)
        if amount <= 0:
            errors.append("Amount must be greater than zero.")
        elif amount + already > note["RemainingCredit"]:
            errors.append(f"The amount being allocated exceeds the remaining credit on this {label}.")
        if doc is not None:
            expected = "ACCREC" if note["Type"] in ("ACCRECCREDIT", "RECEIVE-OVERPAYMENT") else "ACCPAY"
            if doc["Type"] != expected or doc["Contact"]["ContactID"] != note["Contact"]["ContactID"]:
                errors.append(f"The {label} and the invoice must be for the same contact and of matching type.")
            elif doc["Status"] != "AUTHORISED":
                errors.append(NOT_VALID_STATUS)
            elif amount > doc["AmountDue"] - pending.get(doc["InvoiceID"], ZERO):
                errors.append("The amount being allocated exceeds the amount outstanding on the invoice.")
            elif doc["CurrencyCode"] != note["CurrencyCode"]:
                errors.append(f"The {label} and the invoice must be in the same currency.")
        on = self._date(item, "Date", errors, self.today)
        if errors:
            return errors, _nothing
        assert doc is not None and on is not None
        pending["credit"] = already + amount
        pending[doc["InvoiceID"]] = pending.get(doc["InvoiceID"], ZERO) + amount

        def commit() -> dict[str, Any]:
            allocation: dict[str, Any] = {"AllocationID": new_guid(), "Amount": amount, "Date": on, "IsDeleted": False,
                          "Invoice": {"InvoiceID": doc["InvoiceID"], "InvoiceNumber": doc["InvoiceNumber"]}}
            note["Allocations"].append(allocation)
            note["RemainingCredit"] -= amount
            if note["RemainingCredit"] <= 0:
                note["Status"] = "PAID"
            note["UpdatedDateUTC"] = self.now
            doc["AmountCredited"] += amount
            if overpayment:
                doc["Overpayments"].append({"OverpaymentID": note["OverpaymentID"], "ID": note["OverpaymentID"],
                                            "AppliedAmount": amount, "Date": on, "DateString": date_string(on),
                                            "Total": note["Total"]})
                source: dict[str, Any] = {"OverpaymentID": note["OverpaymentID"], "ID": note["OverpaymentID"],
                                          "RemainingCredit": note["RemainingCredit"]}
            else:
                doc["CreditNotes"].append({"CreditNoteID": note["CreditNoteID"], "CreditNoteNumber":
                                           note["CreditNoteNumber"], "ID": note["CreditNoteID"],
                                           "AppliedAmount": amount, "Date": on, "DateString": date_string(on),
                                           "Total": note["Total"]})
                source = {"CreditNoteID": note["CreditNoteID"], "ID": note["CreditNoteID"],
                          "CreditNoteNumber": note["CreditNoteNumber"], "RemainingCredit": note["RemainingCredit"]}
            self._settle(doc, on)
            invoice_ref: dict[str, Any] = allocation["Invoice"]
            return {**allocation, "Invoice": {**invoice_ref, "AmountDue": doc["AmountDue"],
                                              "Status": doc["Status"]},
                    "Overpayment" if overpayment else "CreditNote": source, "ValidationErrors": []}

        return errors, commit

    # -- overpayments ----------------------------------------------------------------------------
    def plan_overpayment(self, item: dict[str, Any], existing: dict[str, Any] | None) -> Plan:
        """A RECEIVE-/SPEND-OVERPAYMENT bank transaction: money received from (or paid to) a contact
        beyond what it owed. Xero's rules: one line, no account code (Xero codes it to the receivables
        or payables control account), no tax; it is not changed once created (only allocated). Creating
        it also creates the Overpayment (its `OverpaymentID` is on the bank transaction)."""
        if existing is not None:
            return ["An overpayment cannot be modified; allocate its remaining credit instead."], _nothing
        errors: list[str] = []
        store = self.store
        kind = str(item.get("Type"))
        contact = self._contact(item, errors, None)
        currency = self._currency(item, contact, errors, None)
        issued = self._date(item, "Date", errors, self.today)
        status = str(item.get("Status") or "AUTHORISED")
        if status != "AUTHORISED":
            errors.append(f"The status '{status}' is not valid for an overpayment.")
        raw_lines = item.get("LineItems")
        if not isinstance(raw_lines, list) or len(raw_lines) != 1:
            errors.append("An overpayment must have exactly one line item.")
            raw_lines = (raw_lines or [])[:1] if isinstance(raw_lines, list) else []
        elif isinstance(raw_lines[0], dict) and (raw_lines[0].get("AccountCode") or raw_lines[0].get("AccountID")):
            errors.append("An account code cannot be specified on an overpayment line item.")
        lines, _, _, total = self._lines(raw_lines, errors, "NoTax", need_account=False)
        if lines and total <= 0:
            errors.append("The overpayment total must be greater than zero.")
        ref = item.get("BankAccount")
        bank = store.account_by(ref) if isinstance(ref, dict) else None
        if bank is None or bank["Type"] != "BANK":
            errors.append("A valid BankAccount must be specified.")
        if errors:
            return errors, _nothing
        assert contact is not None and issued is not None and bank is not None

        def commit() -> dict[str, Any]:
            common: dict[str, Any] = {
                "Type": kind, "Reference": str(item.get("Reference") or ""), "Contact": store.contact_summary(contact),
                "DateString": date_string(issued), "Date": issued, "Status": "AUTHORISED", "LineAmountTypes": "NoTax",
                "LineItems": lines, "SubTotal": total, "TotalTax": ZERO, "Total": total, "UpdatedDateUTC": self.now,
                "CurrencyCode": currency, "CurrencyRate": currency_rate(currency, store.base_currency),
                "BankAccount": {"AccountID": bank["AccountID"], "Code": bank["Code"], "Name": bank["Name"]},
                "HasAttachments": False}
            overpayment_id = new_guid()
            store.put("Overpayments", {**common, "OverpaymentID": overpayment_id, "ID": overpayment_id,
                                       "RemainingCredit": total, "Allocations": [], "Payments": []})
            contact["IsCustomer" if kind == "RECEIVE-OVERPAYMENT" else "IsSupplier"] = True
            return store.put("BankTransactions", {**common, "BankTransactionID": new_guid(),
                                                  "OverpaymentID": overpayment_id, "IsReconciled": False})

        return errors, commit

    # -- manual journals -------------------------------------------------------------------------
    def plan_manual_journal(self, item: dict[str, Any], existing: dict[str, Any] | None) -> Plan:
        errors: list[str] = []
        store = self.store
        status = str(item.get("Status") or (existing or {}).get("Status") or "DRAFT")
        if existing is not None:
            old = existing["Status"]
            if status != old and status in ("DELETED", "VOIDED"):
                if (status == "DELETED") != (old == "DRAFT"):
                    return ["Manual journal not of valid status for modification"], _nothing

                def set_status() -> dict[str, Any]:
                    assert existing is not None
                    existing["Status"] = status
                    existing["UpdatedDateUTC"] = self.now
                    return existing

                return [], set_status
            if old in ("DELETED", "VOIDED"):
                return ["Manual journal not of valid status for modification"], _nothing
        if status not in ("DRAFT", "POSTED"):
            errors.append(f"The status '{status}' is not valid for a manual journal.")
        narration = str(item.get("Narration") or (existing or {}).get("Narration") or "")
        if not narration:
            errors.append("Narration must be specified.")
        posted = self._date(item, "Date", errors, (existing or {}).get("Date") or self.today)
        raw_lines = item.get("JournalLines", (existing or {}).get("JournalLines"))
        lines: list[dict[str, Any]] = []
        if not isinstance(raw_lines, list) or len(raw_lines) < 2:
            errors.append("A manual journal must have at least two journal lines.")
            raw_lines = raw_lines if isinstance(raw_lines, list) else []
        for raw in raw_lines:
            if not isinstance(raw, dict):
                errors.append("A journal line must be an object.")
                continue
            try:
                amount = money(decimal_of(raw.get("LineAmount")))
            except ValueError:
                errors.append("LineAmount must be specified on every journal line.")
                continue
            account = store.account_by({"AccountID": raw.get("AccountID"), "Code": raw.get("AccountCode")}) \
                if (raw.get("AccountID") and is_guid(str(raw["AccountID"]))) or raw.get("AccountCode") else None
            if account is None:
                errors.append(f"Account code '{raw.get('AccountCode') or raw.get('AccountID') or ''}' is not a "
                              "valid code for this document.")
                continue
            tracking = []
            for ref in raw.get("Tracking") or []:
                resolved = store.tracking_option(ref) if isinstance(ref, dict) else None
                if resolved is None:
                    errors.append("The tracking option could not be found.")
                else:
                    tracking.append(resolved)
            lines.append({"LineAmount": amount, "AccountCode": account["Code"], "AccountID": account["AccountID"],
                          "Description": raw.get("Description") or "", "TaxType": raw.get("TaxType") or "NONE",
                          "TaxAmount": ZERO, "Tracking": tracking, "IsBlank": False})
        debits = sum((line["LineAmount"] for line in lines if line["LineAmount"] > 0), ZERO)
        credits = sum((line["LineAmount"] for line in lines if line["LineAmount"] < 0), ZERO)
        if lines and debits + credits != 0:
            errors.append(f"The total debits ({debits:.2f}) must equal total credits ({credits:.2f})")
        if errors:
            return errors, _nothing
        assert posted is not None

        def commit() -> dict[str, Any]:
            record: dict[str, Any] = existing if existing is not None else {"ManualJournalID": new_guid()}
            record.update({"Date": posted, "DateString": date_string(posted), "Status": status,
                           "LineAmountTypes": str(item.get("LineAmountTypes") or "NoTax"),
                           "UpdatedDateUTC": self.now, "Narration": narration, "JournalLines": lines,
                           "ShowOnCashBasisReports": bool(item.get("ShowOnCashBasisReports", True)),
                           "HasAttachments": False, "_currency": store.base_currency})
            return store.put("ManualJournals", record)

        return errors, commit
