"""SuiteQL rows → the unified model.

Scalar fields come from providers/netsuite.yaml through `extract()`; what data cannot say lives here:
document lines (posting signs, tax, tracking), applications (allocations), statuses derived from open
balances, and the synthesized tracking dimensions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerql.connectors.mapping import ProviderMapping, extract
from ledgerql.connectors.netsuite.suiteql import DocumentSpec
from ledgerql.model import entities as m
from ledgerql.model.enums import DocumentStatus, PostingType, PurchaseOrderStatus, Resource, Source
from ledgerql.model.rules import derived_status, line_tax

DEPARTMENT_ROOT = "dimension:department"
LOCATION_ROOT = "dimension:location"
ROOTS = {DEPARTMENT_ROOT: "Department", LOCATION_ROOT: "Location"}
ROOT_OF = {"department": DEPARTMENT_ROOT, "location": LOCATION_ROOT}

# purchaseOrder status letters (A pending approval … H closed)
PO_STATUS = {"A": PurchaseOrderStatus.DRAFT, "B": PurchaseOrderStatus.OPEN, "C": PurchaseOrderStatus.CLOSED,
             "D": PurchaseOrderStatus.OPEN, "E": PurchaseOrderStatus.OPEN, "F": PurchaseOrderStatus.OPEN,
             "G": PurchaseOrderStatus.BILLED, "H": PurchaseOrderStatus.CLOSED}


def dec(value: Any) -> Decimal | None:
    """A SuiteQL amount (a string, or a Decimal from `decimal_json`) as an exact Decimal."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise TypeError("float amount: parse SuiteQL answers with decimal_json")
    text = str(value).strip().rstrip("%").strip()
    return Decimal(text)


def tracking_id(dimension: str, internal_id: Any) -> str:
    return f"{dimension}:{internal_id}"


def strip_links(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "links"}


class Converter:
    def __init__(self, mapping: ProviderMapping, journal: dict[str, str]) -> None:
        self.mapping = mapping
        self.journal = journal
        self._specs = {r: mapping.resource(r).field_specs() for r in Resource}

    def fields(self, resource: Resource, row: dict[str, Any]) -> dict[str, Any]:
        return extract(row, self._specs[resource])

    # -- reference data --------------------------------------------------------------------------
    def reference(self, resource: Resource, row: dict[str, Any]) -> m.Record:
        row = strip_links(row)
        values = self.fields(resource, row)
        if resource in (Resource.DEPARTMENTS, Resource.LOCATIONS):
            values["parent_id"] = DEPARTMENT_ROOT if resource == Resource.DEPARTMENTS else LOCATION_ROOT
        model = m.ENTITY_TYPES[resource.value]
        return model(**values, raw=row)

    def tracking_option(self, row: dict[str, Any]) -> m.TrackingCategory:
        row = strip_links(row)
        dimension = str(row["dim"])
        values = self.fields(Resource.TRACKING_CATEGORIES, row)
        values["id"] = tracking_id(dimension, row["id"])
        values["parent_id"] = ROOT_OF[dimension]
        return m.TrackingCategory(**values, raw=row)

    @staticmethod
    def tracking_roots() -> list[m.TrackingCategory]:
        return [m.TrackingCategory(id=rid, name=name, raw={"id": rid, "name": name, "synthesized": True})
                for rid, name in ROOTS.items()]

    def general_journal(self) -> m.Journal:
        return m.Journal(id=self.journal["id"], name=self.journal["name"], code=self.journal.get("code"),
                         source=Source.DERIVED, raw={"derivedFrom": "journalEntry"})

    # -- documents -------------------------------------------------------------------------------
    def documents(self, resource: Resource, spec: DocumentSpec, rows: list[dict[str, Any]],
                  links: dict[str, list[dict[str, Any]]] | None = None) -> list[m.Record]:
        """Group header+detail rows (ordered by document) into unified records."""
        grouped: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        for row in rows:
            row = strip_links(row)
            key = str(row["id"])
            if key not in grouped:
                header = {k: v for k, v in row.items() if not k.startswith(("l_", "a_")) and k not in ("rn", "ndocs")}
                grouped[key] = (header, [])
            detail = {k[2:]: v for k, v in row.items() if k.startswith(("l_", "a_"))}
            if detail.get("id") is not None or detail.get("doc") is not None:
                grouped[key][1].append(detail)
        out = []
        for key, (header, details) in grouped.items():
            applied = (links or {}).get(key, []) if spec.extra_links else details if spec.detail == "links" else []
            out.append(self.document(resource, spec, header, details if spec.detail == "lines" else [], applied))
        return out

    def document(self, resource: Resource, spec: DocumentSpec, header: dict[str, Any],
                 lines: list[dict[str, Any]], applied: list[dict[str, Any]]) -> m.Record:
        values = self.fields(resource, header)
        raw = {**header, "lines": lines} if spec.detail == "lines" else {**header}
        if applied:
            raw["applications"] = applied
        allocations = [m.Allocation(document_id=str(a["doc"]), amount=dec(a["amount"]) or Decimal("0.00"))
                       for a in applied if a.get("doc") is not None]
        if resource == Resource.JOURNAL_ENTRIES:
            return m.JournalEntry(**values, journal_id=self.journal["id"],
                                  line_items=[self.journal_line(line, header) for line in lines], raw=raw)
        if resource in (Resource.PAYMENTS, Resource.BILL_PAYMENTS):
            payment: type[m.Payment] | type[m.BillPayment] = \
                m.Payment if resource == Resource.PAYMENTS else m.BillPayment
            return payment(**values, allocations=allocations, raw=raw)
        items = [self.line(line, header, spec.line_sign) for line in lines]
        sub_total = sum((line.total_amount for line in items), Decimal("0.00"))
        line_taxes = sum((line.tax_amount or Decimal(0) for line in items), Decimal("0.00"))
        total_tax = values.pop("total_tax", None)
        total_tax = line_taxes if total_tax is None else total_tax
        common: dict[str, Any] = dict(line_items=items, sub_total=sub_total, total_tax=total_tax, raw=raw)
        if resource == Resource.EXPENSES:
            if values.get("total_amount") is None:
                values["total_amount"] = sub_total + total_tax
            return m.Expense(**values, **common)
        if values.get("total") is None:
            values["total"] = sub_total + total_tax
        total = values["total"]
        if resource == Resource.PURCHASE_ORDERS:
            po_status = PO_STATUS.get(str(header.get("status") or ""), PurchaseOrderStatus.OPEN)
            return m.PurchaseOrder(**values, status=po_status, **common)
        rate = values.pop("exchange_rate", None)
        common["exchange_rate"] = None if rate is None or rate == 1 else rate
        if resource == Resource.CREDIT_NOTES:
            balance = values.pop("balance", None)
            if balance is None:
                balance = total - sum((a.amount for a in allocations), Decimal("0.00"))
            # A credit memo is settled once nothing is left to apply; until then it stands authorised.
            status = DocumentStatus.PAID if balance <= 0 else DocumentStatus.AUTHORISED
            return m.CreditNote(**values, balance=balance, status=status, allocations=allocations, **common)
        balance = values.pop("balance", None)
        balance = total if balance is None else balance
        document: type[m.Invoice] | type[m.Bill] = m.Invoice if resource == Resource.INVOICES else m.Bill
        # Paid and partly paid follow from the open balance, not from NetSuite's status letter.
        status = derived_status(DocumentStatus.AUTHORISED, total, balance)
        return document(**values, balance=balance, status=status, **common)

    @staticmethod
    def _tracking(line: dict[str, Any], header: dict[str, Any]) -> list[str]:
        ids = []
        if line.get("department") is not None:
            ids.append(tracking_id("department", line["department"]))
        location = line.get("location") if line.get("location") is not None else header.get("location")
        if location is not None:
            ids.append(tracking_id("location", location))
        return ids

    def line(self, line: dict[str, Any], header: dict[str, Any], sign: int) -> m.LineItem:
        amount = dec(line.get("amount"))
        if amount is None:
            amount = dec(line.get("debit")) or dec(line.get("credit")) or Decimal("0.00")
            net = amount
        else:
            net = amount if sign > 0 else -amount
        quantity = dec(line.get("quantity"))
        if quantity is not None and sign < 0:
            quantity = -quantity
        tax = dec(line.get("taxamt"))
        rate = dec(line.get("taxrate"))
        if tax is None and rate is not None:
            tax = line_tax(net, rate)
        return m.LineItem(id=None if line.get("id") is None else str(line["id"]), description=line.get("memo"),
                          quantity=quantity, unit_price=dec(line.get("rate")), total_amount=net, tax_amount=tax,
                          account_id=None if line.get("account") is None else str(line["account"]),
                          tax_rate_id=None if line.get("taxcode") is None else str(line["taxcode"]),
                          tracking_category_ids=self._tracking(line, header))

    def journal_line(self, line: dict[str, Any], header: dict[str, Any]) -> m.JournalLine:
        debit, credit = dec(line.get("debit")), dec(line.get("credit"))
        if debit is None and credit is None:
            signed = dec(line.get("amount")) or Decimal("0.00")
            debit, credit = (signed, None) if signed >= 0 else (None, -signed)
        kind = PostingType.DEBIT if debit is not None else PostingType.CREDIT
        return m.JournalLine(id=None if line.get("id") is None else str(line["id"]),
                             account_id=str(line.get("account") or ""), type=kind,
                             amount=debit if debit is not None else (credit or Decimal("0.00")),
                             description=line.get("memo"), tracking_category_ids=self._tracking(line, {}))
