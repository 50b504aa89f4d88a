"""Creates, updates and deletes on the record API, with NetSuite's validation.

Every write validates first and changes nothing when it fails. It returns the (record type, id)
pairs it touched, so the SuiteQL mirror can be brought in step.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledgerql.sandbox.books import line_tax, money
from ledgerql.sandbox.netsuite.store import (
    ENTITY_TYPES,
    NUMBER_PREFIX,
    TRAN_LABELS,
    TRANSACTION_TYPES,
    Store,
    _clean,
    status_ref,
)
from ledgerql.sandbox.netsuite.wire import NsError, iso_instant, to_decimal

ZERO = Decimal("0.00")
Touched = list[tuple[str, str]]
WRITABLE = {"invoice", "vendorBill", "creditMemo", "customerPayment", "vendorPayment", "expenseReport",
            "purchaseOrder", "journalEntry", "customer", "vendor"}
LABELS = {"entity": "Name", "customer": "Customer", "account": "Account", "tranDate": "Date",
          "item": "Items", "expense": "Expenses", "line": "Lines", "payment": "Payment Amount",
          "entityId": "Name", "apply": "Apply"}


def _user_error(detail: str, path: str | None = None) -> NsError:
    return NsError(400, detail, "USER_ERROR", **({"errorPath": path} if path else {}))


def _missing(field: str) -> NsError:
    return _user_error(f"Please enter value(s) for: {LABELS.get(field, field)}", field)


def _invalid(field: str, value: Any) -> NsError:
    shown = value.get("id", value.get("externalId")) if isinstance(value, dict) else value
    return _user_error(f"Invalid Field Value {shown} for the following field: {field}", field)


class Writer:
    def __init__(self, store: Store, now: float) -> None:
        self.store = store
        self.now = now
        self.stamp = iso_instant(now)

    # -- field helpers ---------------------------------------------------------------------------------
    def resolve(self, record_type: str, value: Any, field: str, required: bool = False) -> str | None:
        """The internal id a reference `{"id": ..}` / `{"externalId": ..}` names, validated."""
        if value is None:
            if required:
                raise _missing(field)
            return None
        if not isinstance(value, dict):
            raise _invalid(field, value)
        if value.get("id") is not None:
            key = str(value["id"])
            found = self.store.get(record_type, key)
        elif value.get("externalId") is not None:
            found = self.store.find(record_type, f"eid:{value['externalId']}")
        else:
            raise _invalid(field, value)
        if found is None:
            raise _invalid(field, value)
        return str(found["id"])

    def ref(self, record_type: str, value: Any, field: str, required: bool = False) -> dict[str, str] | None:
        internal = self.resolve(record_type, value, field, required)
        return self.store.ref(record_type, internal) if internal else None

    @staticmethod
    def date_field(body: dict[str, Any], field: str, default: date | None = None) -> str | None:
        raw = body.get(field)
        if raw is None:
            return default.isoformat() if default else None
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise _invalid(field, raw) from None

    @staticmethod
    def sublist(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
        raw = body.get(name)
        if raw is None:
            return []
        items = raw.get("items") if isinstance(raw, dict) else raw
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise NsError(400, f"Invalid content in the '{name}' sublist.", "INVALID_CONTENT", errorPath=name)
        return items

    def number(self, record_type: str, body: dict[str, Any]) -> str:
        if body.get("tranId"):
            return str(body["tranId"])
        taken = {r.get("tranId") for r in self.store.records[record_type].values()}
        n = len(self.store.records[record_type]) + 1
        while f"{NUMBER_PREFIX[record_type]}-{n:04d}" in taken:
            n += 1
        return f"{NUMBER_PREFIX[record_type]}-{n:04d}"

    def currency(self, body: dict[str, Any], field: str, entity: dict[str, Any] | None) -> dict[str, str]:
        if body.get(field) is not None:
            ref = self.ref("currency", body[field], field)
            assert ref is not None
            return ref
        if entity is not None and entity.get("currency"):
            return dict(entity["currency"])
        return self.store.currency_ref(self.store.base_currency)

    def rate(self, body: dict[str, Any], field: str, currency: dict[str, str]) -> Decimal:
        if body.get(field) is not None:
            value = to_decimal(body[field], field)
            if value <= 0:
                raise _invalid(field, body[field])
            return value
        return self.store.exchange_rate(currency.get("refName", ""), None)

    def header(self, record_type: str, body: dict[str, Any]) -> dict[str, Any]:
        on = self.date_field(body, "tranDate", datetime.fromtimestamp(self.now, UTC).date())
        return {"id": "", "tranId": self.number(record_type, body), "tranDate": on,
                "subsidiary": self.store.subsidiary_ref(), "memo": body.get("memo"),
                "externalId": body.get("externalId"), "createdDate": self.stamp, "lastModifiedDate": self.stamp}

    def doc_lines(self, items: list[dict[str, Any]], sublist: str, account_field: str, text_field: str,
                  header_location: dict[str, str] | None) -> list[dict[str, Any]]:
        lines = []
        for index, raw in enumerate(items):
            path = f"{sublist}.items[{index}]"
            account = self.ref("account", raw.get(account_field) or raw.get("account"), f"{path}.{account_field}",
                               required=True)
            quantity = to_decimal(raw["quantity"], f"{path}.quantity") if raw.get("quantity") is not None else None
            rate = to_decimal(raw["rate"], f"{path}.rate") if raw.get("rate") is not None else None
            if raw.get("amount") is not None:
                amount = to_decimal(raw["amount"], f"{path}.amount")
            elif rate is not None:
                amount = money((quantity if quantity is not None else Decimal(1)) * rate)
            else:
                raise _missing(f"{path}.amount")
            if sublist == "item" and quantity is None:
                quantity = Decimal(1)
            if rate is None and quantity:
                rate = money(amount / quantity)
            line: dict[str, Any] = {"line": index + 1, account_field: account,
                                    text_field: raw.get(text_field, raw.get("description", raw.get("memo"))),
                                    "quantity": quantity, "rate": rate, "amount": amount}
            tax_id = self.resolve("salesTaxItem", raw.get("taxCode"), f"{path}.taxCode")
            tax_amount = ZERO
            if tax_id is not None:
                tax = self.store.get("salesTaxItem", tax_id)
                assert tax is not None
                line["taxCode"] = self.store.ref("salesTaxItem", tax_id)
                line["taxRate1"] = tax["rate"]
                tax_amount = line_tax(amount, tax["rate"])
            if raw.get("tax1Amt") is not None:
                tax_amount = to_decimal(raw["tax1Amt"], f"{path}.tax1Amt")
            line["tax1Amt"] = tax_amount
            line["grossAmt"] = amount + tax_amount
            line["department"] = self.ref("department", raw.get("department"), f"{path}.department")
            line["location"] = self.ref("location", raw.get("location"), f"{path}.location") or header_location
            line["class"] = None
            lines.append(_clean(line))
        return lines

    def apply_lines(self, items: list[dict[str, Any]], doc_type: str, party_field: str, party_id: str,
                    currency: dict[str, str], on: str) -> list[tuple[dict[str, Any], Decimal]]:
        """Validated applications: the open document and the amount applied to it."""
        out: list[tuple[dict[str, Any], Decimal]] = []
        seen: set[str] = set()
        for index, raw in enumerate(items):
            if raw.get("apply") is False:
                continue
            path = f"apply.items[{index}]"
            doc_id = self.resolve(doc_type, raw.get("doc"), f"{path}.doc", required=True)
            assert doc_id is not None
            doc = self.store.get(doc_type, doc_id)
            assert doc is not None
            if doc_id in seen:
                raise _user_error(f"The document {doc['tranId']} is applied more than once.", f"{path}.doc")
            seen.add(doc_id)
            if (doc.get(party_field) or {}).get("id") != party_id:
                raise _invalid(f"{path}.doc", raw.get("doc"))
            if doc["currency"]["id"] != currency["id"]:
                raise _user_error(f"The currency of {doc['tranId']} differs from the currency of this "
                                  "transaction.", f"{path}.doc")
            open_amount = doc["amountRemaining"] if doc_type == "invoice" else doc["balance"]
            amount = to_decimal(raw["amount"], f"{path}.amount") if raw.get("amount") is not None else open_amount
            if amount <= 0:
                raise _invalid(f"{path}.amount", raw.get("amount"))
            if amount > open_amount:
                raise _user_error(f"The amount applied to {doc['tranId']} ({amount}) exceeds the amount due "
                                  f"({open_amount}).", f"{path}.amount")
            out.append((doc, amount))
        return out

    def settle(self, doc_type: str, doc: dict[str, Any], amount: Decimal) -> None:
        """Lower an invoice's or bill's open amount; flip it to paid at zero."""
        if doc_type == "invoice":
            doc["amountRemaining"] = doc["amountRemaining"] - amount
            doc["amountPaid"] = doc.get("amountPaid", ZERO) + amount
            remaining = doc["amountRemaining"]
        else:
            doc["balance"] = doc["balance"] - amount
            doc["amountPaid"] = doc.get("amountPaid", ZERO) + amount
            remaining = doc["balance"]
        doc["status"] = status_ref(doc_type, "paid" if remaining <= 0 else "open")
        doc["lastModifiedDate"] = self.stamp

    def apply_entry(self, doc_type: str, doc: dict[str, Any], amount: Decimal, on: str) -> dict[str, Any]:
        return {"doc": self.store.ref(doc_type, doc["id"]), "apply": True, "amount": amount, "total": doc["total"],
                "due": doc["amountRemaining"] if doc_type == "invoice" else doc["balance"], "refNum": doc["tranId"],
                "type": TRAN_LABELS[doc_type], "applyDate": on, "line": 0}

    # -- creates ---------------------------------------------------------------------------------------------
    def create(self, record_type: str, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        if record_type in ENTITY_TYPES:
            return self.create_entity(record_type, body)
        if body.get("externalId") and self.store.find(record_type, f"eid:{body['externalId']}"):
            raise _user_error("A record with the same external ID already exists.", "externalId")
        method = getattr(self, f"create_{record_type}")
        record, touched = method(body)
        record["id"] = self.store.next_id(record_type)
        record = _clean(record)
        self.store.add(record_type, record)
        return record, [(record_type, record["id"]), *touched]

    def create_entity(self, record_type: str, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        name = body.get("entityId") or body.get("companyName")
        if not name or not isinstance(name, str):
            raise _missing("entityId")
        if any(r["entityId"].lower() == name.lower() for r in self.store.records[record_type].values()):
            raise _user_error("This entity already exists.", "entityId")
        if body.get("externalId") and self.store.find(record_type, f"eid:{body['externalId']}"):
            raise _user_error("A record with the same external ID already exists.", "externalId")
        email = body.get("email")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            raise _invalid("email", email)
        record = _clean({
            "id": self.store.next_id(record_type), "externalId": body.get("externalId"), "entityId": name,
            "companyName": body.get("companyName", name), "isPerson": bool(body.get("isPerson", False)),
            "email": email, "currency": self.currency(body, "currency", None),
            "subsidiary": self.store.subsidiary_ref(), "isInactive": bool(body.get("isInactive", False)),
            "dateCreated": self.stamp, "lastModifiedDate": self.stamp})
        self.store.add(record_type, record)
        return record, [(record_type, record["id"])]

    def _sales_doc(self, record_type: str, body: dict[str, Any]) -> dict[str, Any]:
        entity_id = self.resolve("customer", body.get("entity"), "entity", required=True)
        assert entity_id is not None
        entity = self.store.get("customer", entity_id)
        record = self.header(record_type, body)
        currency = self.currency(body, "currency", entity)
        location = self.ref("location", body.get("location"), "location")
        items = self.sublist(body, "item")
        if not items:
            raise _missing("item")
        lines = self.doc_lines(items, "item", "account", "description", location)
        sub_total = sum((line["amount"] for line in lines), ZERO)
        tax_total = sum((line["tax1Amt"] for line in lines), ZERO)
        record.update({"entity": self.store.ref("customer", entity_id), "currency": currency,
                       "exchangeRate": self.rate(body, "exchangeRate", currency), "location": location,
                       "account": self.store.ref("account", self.store.special_account("AcctRec")),
                       "subtotal": sub_total, "taxTotal": tax_total, "total": sub_total + tax_total,
                       "item": {"items": lines}})
        return record

    def create_invoice(self, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        record = self._sales_doc("invoice", body)
        on = date.fromisoformat(record["tranDate"])
        record["dueDate"] = self.date_field(body, "dueDate", on)
        record.update({"status": status_ref("invoice", "open"), "amountPaid": ZERO,
                       "amountRemaining": record["total"]})
        return record, []

    def create_creditMemo(self, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        record = self._sales_doc("creditMemo", body)
        applications = self.apply_lines(self.sublist(body, "apply"), "invoice", "entity", record["entity"]["id"],
                                        record["currency"], record["tranDate"])
        applied = sum((a for _, a in applications), ZERO)
        if applied > record["total"]:
            raise _user_error(f"The total applied ({applied}) exceeds the credit memo total ({record['total']}).",
                              "apply")
        touched = self._settle_all("invoice", applications)
        record.update({"applied": applied, "unapplied": record["total"] - applied,
                       "status": status_ref("creditMemo", "paid" if applied == record["total"] else "open"),
                       "apply": {"items": [self.apply_entry("invoice", d, a, record["tranDate"])
                                           for d, a in applications]}})
        return record, touched

    def _settle_all(self, doc_type: str, applications: list[tuple[dict[str, Any], Decimal]]) -> Touched:
        for doc, amount in applications:
            self.settle(doc_type, doc, amount)
        return [(doc_type, doc["id"]) for doc, _ in applications]

    def _bank(self, body: dict[str, Any], currency: dict[str, str], required: bool = False) -> dict[str, str]:
        if body.get("account") is not None or required:
            ref = self.ref("account", body.get("account"), "account", required=True)
            assert ref is not None
            return ref
        for record in self.store.records["account"].values():
            if record["acctType"]["id"] == "Bank" and record["currency"]["id"] == currency["id"]:
                ref = self.store.ref("account", record["id"])
                assert ref is not None
                return ref
        raise _missing("account")

    def create_customerPayment(self, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        customer_id = self.resolve("customer", body.get("customer", body.get("entity")), "customer", required=True)
        assert customer_id is not None
        customer = self.store.get("customer", customer_id)
        record = self.header("customerPayment", body)
        currency = self.currency(body, "currency", customer)
        applications = self.apply_lines(self.sublist(body, "apply"), "invoice", "entity", customer_id, currency,
                                        record["tranDate"])
        applied = sum((a for _, a in applications), ZERO)
        payment = to_decimal(body["payment"], "payment") if body.get("payment") is not None else applied
        if payment <= 0:
            raise _missing("payment")
        if applied > payment:
            raise _user_error(f"The total applied ({applied}) exceeds the payment amount ({payment}).", "payment")
        account = self._bank(body, currency)
        rate = self.rate(body, "exchangeRate", currency)
        touched = self._settle_all("invoice", applications)
        record.update({"customer": self.store.ref("customer", customer_id), "currency": currency,
                       "exchangeRate": rate, "account": account,
                       "arAcct": self.store.ref("account", self.store.special_account("AcctRec")),
                       "status": status_ref("customerPayment", "open"), "payment": payment, "total": payment,
                       "applied": applied, "unapplied": payment - applied,
                       "apply": {"items": [self.apply_entry("invoice", d, a, record["tranDate"])
                                           for d, a in applications]}})
        return record, touched

    def create_vendorPayment(self, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        vendor_id = self.resolve("vendor", body.get("entity"), "entity", required=True)
        assert vendor_id is not None
        vendor = self.store.get("vendor", vendor_id)
        record = self.header("vendorPayment", body)
        currency = self.currency(body, "currency", vendor)
        applications = self.apply_lines(self.sublist(body, "apply"), "vendorBill", "entity", vendor_id, currency,
                                        record["tranDate"])
        applied = sum((a for _, a in applications), ZERO)
        total = to_decimal(body["total"], "total") if body.get("total") is not None else applied
        if total <= 0:
            raise _missing("apply")
        if applied > total:
            raise _user_error(f"The total applied ({applied}) exceeds the payment amount ({total}).", "total")
        account = self._bank(body, currency)
        rate = self.rate(body, "exchangeRate", currency)
        touched = self._settle_all("vendorBill", applications)
        record.update({"entity": self.store.ref("vendor", vendor_id), "currency": currency,
                       "exchangeRate": rate, "account": account,
                       "apAcct": self.store.ref("account", self.store.special_account("AcctPay")), "total": total,
                       "applied": applied, "unapplied": total - applied,
                       "apply": {"items": [self.apply_entry("vendorBill", d, a, record["tranDate"])
                                           for d, a in applications]}})
        return record, touched

    def _purchase_doc(self, record_type: str, body: dict[str, Any], account_field: str) -> dict[str, Any]:
        vendor_id = self.resolve("vendor", body.get("entity"), "entity", required=True)
        assert vendor_id is not None
        vendor = self.store.get("vendor", vendor_id)
        record = self.header(record_type, body)
        location = self.ref("location", body.get("location"), "location")
        items = self.sublist(body, "expense")
        if not items:
            raise _missing("expense")
        lines = self.doc_lines(items, "expense", account_field, "memo", location)
        sub_total = sum((line["amount"] for line in lines), ZERO)
        tax_total = sum((line["tax1Amt"] for line in lines), ZERO)
        record.update({"entity": self.store.ref("vendor", vendor_id), "location": location, "subtotal": sub_total,
                       "taxTotal": tax_total, "total": sub_total + tax_total, "expense": {"items": lines}})
        record["_vendor"] = vendor
        return record

    def create_vendorBill(self, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        record = self._purchase_doc("vendorBill", body, "account")
        vendor = record.pop("_vendor")
        currency = self.currency(body, "currency", vendor)
        on = date.fromisoformat(record["tranDate"])
        record.update({"dueDate": self.date_field(body, "dueDate", on), "currency": currency,
                       "exchangeRate": self.rate(body, "exchangeRate", currency),
                       "account": self.store.ref("account", self.store.special_account("AcctPay")),
                       "approvalStatus": {"id": "2", "refName": "Approved"},
                       "status": status_ref("vendorBill", "open"), "userTotal": record["total"],
                       "amountPaid": ZERO, "balance": record["total"]})
        return record, []

    def create_purchaseOrder(self, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        record = self._purchase_doc("purchaseOrder", body, "account")
        vendor = record.pop("_vendor")
        currency = self.currency(body, "currency", vendor)
        record.update({"dueDate": self.date_field(body, "dueDate"), "currency": currency,
                       "exchangeRate": self.rate(body, "exchangeRate", currency),
                       "status": status_ref("purchaseOrder", "open")})
        return record, []

    def create_expenseReport(self, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        record = self._purchase_doc("expenseReport", body, "expenseaccount")
        vendor = record.pop("_vendor")
        currency = self.currency(body, "expensereportcurrency", vendor)
        rate = self.rate(body, "expensereportexchangerate", currency)
        for line in record["expense"]["items"]:
            line.update({"expenseDate": record["tranDate"], "currency": currency, "exchangerate": rate})
        record.update({"account": self._bank(body, currency, required=True), "expensereportcurrency": currency,
                       "expensereportexchangerate": rate, "status": status_ref("expenseReport", "paid"),
                       "complete": True, "tax1Amt": record["taxTotal"], "amount": record["total"]})
        return record, []

    def create_journalEntry(self, body: dict[str, Any]) -> tuple[dict[str, Any], Touched]:
        record = self.header("journalEntry", body)
        currency = self.currency(body, "currency", None)
        items = self.sublist(body, "line")
        if len(items) < 2:
            raise _missing("line")
        lines = []
        debits = credits = ZERO
        for index, raw in enumerate(items):
            path = f"line.items[{index}]"
            account = self.ref("account", raw.get("account"), f"{path}.account", required=True)
            debit = to_decimal(raw["debit"], f"{path}.debit") if raw.get("debit") is not None else None
            credit = to_decimal(raw["credit"], f"{path}.credit") if raw.get("credit") is not None else None
            if (debit is None) == (credit is None):
                raise _user_error("Each journal line needs either a debit or a credit amount.", path)
            amount = debit if debit is not None else credit
            assert amount is not None
            if amount <= 0:
                raise _invalid(f"{path}.{'debit' if debit is not None else 'credit'}", amount)
            debits += debit or ZERO
            credits += credit or ZERO
            line = {"line": index + 1, "account": account, "debit": debit, "credit": credit,
                    "memo": raw.get("memo"),
                    "department": self.ref("department", raw.get("department"), f"{path}.department"),
                    "location": self.ref("location", raw.get("location"), f"{path}.location"),
                    "entity": self._any_entity(raw.get("entity"), f"{path}.entity")}
            lines.append(_clean(line))
        if debits != credits:
            raise _user_error(f"The transaction is out of balance: debits {debits} and credits {credits} must be "
                              "equal.", "line")
        record.update({"currency": currency, "exchangeRate": self.rate(body, "exchangeRate", currency),
                       "approved": True, "status": status_ref("journalEntry", "paid"), "line": {"items": lines}})
        return record, []

    def _any_entity(self, value: Any, field: str) -> dict[str, str] | None:
        if value is None:
            return None
        for record_type in ENTITY_TYPES:
            try:
                return self.ref(record_type, value, field)
            except NsError:
                continue
        raise _invalid(field, value)

    # -- updates and deletes ------------------------------------------------------------------------------
    def update(self, record_type: str, record: dict[str, Any], body: dict[str, Any]) -> Touched:
        changes: dict[str, Any] = {}
        if record_type in ENTITY_TYPES:
            if "entityId" in body:
                name = body["entityId"]
                if not isinstance(name, str) or not name:
                    raise _invalid("entityId", name)
                if any(r["entityId"].lower() == name.lower() and r["id"] != record["id"]
                       for r in self.store.records[record_type].values()):
                    raise _user_error("This entity already exists.", "entityId")
                changes["entityId"] = name
            for field in ("companyName", "email"):
                if field in body:
                    changes[field] = body[field]
            if "isInactive" in body:
                changes["isInactive"] = bool(body["isInactive"])
        elif record_type in TRANSACTION_TYPES:
            for field in ("memo", "tranId", "otherRefNum"):
                if field in body:
                    changes[field] = body[field]
            for field in ("tranDate", "dueDate"):
                if field in body:
                    changes[field] = self.date_field(body, field)
            if "location" in body:
                changes["location"] = self.ref("location", body["location"], "location")
        else:
            raise NsError(400, f"Record type '{record_type}' cannot be updated in this sandbox.", "INVALID_PARAMETER")
        for field, value in changes.items():
            if value is None:
                record.pop(field, None)
            else:
                record[field] = value
        record["lastModifiedDate"] = self.stamp
        return [(record_type, record["id"])]

    def delete(self, record_type: str, record: dict[str, Any]) -> Touched:
        rid = record["id"]
        if record_type in ENTITY_TYPES:
            for tran_type in TRANSACTION_TYPES:
                for tran in self.store.records[tran_type].values():
                    if any((tran.get(f) or {}).get("id") == rid for f in ("entity", "customer")):
                        raise _user_error("This record cannot be deleted because it has dependent records.")
        if record_type in ("invoice", "vendorBill"):
            for tran_type in ("customerPayment", "vendorPayment", "creditMemo"):
                for tran in self.store.records[tran_type].values():
                    if any(a["doc"]["id"] == rid for a in tran.get("apply", {}).get("items", [])):
                        raise _user_error("This record cannot be deleted because it has dependent records.")
        touched: Touched = [(record_type, rid)]
        doc_type = "vendorBill" if record_type == "vendorPayment" else "invoice"
        for application in record.get("apply", {}).get("items", []):
            doc = self.store.get(doc_type, application["doc"]["id"])
            if doc is not None:
                self.settle(doc_type, doc, -application["amount"])
                touched.append((doc_type, doc["id"]))
        del self.store.records[record_type][rid]
        if record.get("externalId"):
            self.store.by_key.pop((self.family(record_type), record["externalId"]), None)
        return touched

    @staticmethod
    def family(record_type: str) -> str:
        from ledgerql.sandbox.netsuite.store import FAMILY

        return FAMILY[record_type]
