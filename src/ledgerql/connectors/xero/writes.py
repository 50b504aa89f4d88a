"""Xero writes: creates (PUT on a collection under Xero's `Idempotency-Key`), read back by id.

Moved out of the connector module so the write side can grow without touching the read side.
`XeroWrites` is the base of `XeroConnector`; the read hooks it uses (`_convert`, `fetch_by_ids`) are
the connector's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerql.connectors.base import Connector, WriteProgress
from ledgerql.connectors.http import decimal_json
from ledgerql.model import entities as m
from ledgerql.model.enums import PostingType, Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError

# Resources created by one PUT whose response element has the shape of a read.
_PAGED = frozenset({Resource.CUSTOMERS, Resource.SUPPLIERS, Resource.INVOICES, Resource.BILLS,
                    Resource.CREDIT_NOTES, Resource.EXPENSES, Resource.PURCHASE_ORDERS, Resource.JOURNAL_ENTRIES})
_DOCUMENT_TYPES = {Resource.INVOICES: "ACCREC", Resource.BILLS: "ACCPAY"}
_PAYMENT_TYPES = frozenset({Resource.PAYMENTS, Resource.BILL_PAYMENTS})
# Where a record's Status is set (void, delete): resource → (path, collection, id field).
_STATUS_PATHS = {Resource.INVOICES: ("/Invoices", "Invoices", "InvoiceID"),
                 Resource.PURCHASE_ORDERS: ("/PurchaseOrders", "PurchaseOrders", "PurchaseOrderID"),
                 Resource.BILLS: ("/Invoices", "Invoices", "InvoiceID"),
                 Resource.CREDIT_NOTES: ("/CreditNotes", "CreditNotes", "CreditNoteID"),
                 Resource.PAYMENTS: ("/Payments", "Payments", "PaymentID"),
                 Resource.BILL_PAYMENTS: ("/Payments", "Payments", "PaymentID")}
# Fields of a create response's element that a read does not carry.
_WRITE_ONLY = frozenset({"StatusAttributeString", "ValidationErrors", "Warnings"})


class XeroWrites(Connector):
    """The write half of the Xero connector (state set up by `XeroConnector.__init__`)."""

    _created: dict[str, dict[str, Any]]
    _option_category: dict[str, str]
    _links: dict[str, tuple[float, list[date], bool, bool]]

    async def _convert(self, resource: Resource, items: list[dict[str, Any]]) -> list[m.Record]:
        raise NotImplementedError

    # -- writes ----------------------------------------------------------------------------------
    async def create_record(self, resource: Resource, record: m.Record, *, idempotency_key: str | None,
                            progress: WriteProgress) -> m.Record:
        """Xero creates: PUT on the collection with Xero's `Idempotency-Key` (so a retried call after a
        lost answer replays the first response instead of writing again), then read back by id."""
        if resource in (Resource.CUSTOMERS, Resource.SUPPLIERS):
            assert isinstance(record, m.Contact)
            new_id = await self._put("/Contacts", "Contacts", "ContactID", self._contact_body(resource, record),
                                     idempotency_key)
        elif resource in (Resource.INVOICES, Resource.BILLS):
            assert isinstance(record, m.Invoice | m.Bill)
            new_id = await self._put("/Invoices", "Invoices", "InvoiceID",
                                     await self._invoice_body(resource, record), idempotency_key)
        elif resource == Resource.CREDIT_NOTES:
            assert isinstance(record, m.CreditNote)
            new_id = await self._create_credit_note(record, idempotency_key, progress)
        elif resource == Resource.PURCHASE_ORDERS:
            assert isinstance(record, m.PurchaseOrder)
            new_id = await self._put("/PurchaseOrders", "PurchaseOrders", "PurchaseOrderID",
                                     await self._purchase_order_body(record), idempotency_key)
        elif resource == Resource.EXPENSES:
            assert isinstance(record, m.Expense)
            new_id = await self._put("/BankTransactions", "BankTransactions", "BankTransactionID",
                                     await self._expense_body(record), idempotency_key)
        elif resource == Resource.JOURNAL_ENTRIES:
            assert isinstance(record, m.JournalEntry)
            new_id = await self._put("/ManualJournals", "ManualJournals", "ManualJournalID",
                                     await self._journal_body(record), idempotency_key)
        elif resource in _PAYMENT_TYPES:
            assert isinstance(record, m.Payment | m.BillPayment)
            new_id = await self._create_payment(record, idempotency_key, progress)
        else:
            return await super().create_record(resource, record, idempotency_key=idempotency_key, progress=progress)
        created = self._created.pop(new_id, None)
        if created is not None and resource in _PAGED and resource != Resource.CREDIT_NOTES:
            # The create response is the record as Xero now holds it (the same shape as a read).
            converted = await self._convert(resource, [created])
            if converted and converted[0].id == new_id:
                return converted[0]
        found = await self.fetch_by_ids(resource, [new_id])
        if len(self._created) > 100:  # elements of creates that never got here (failed midway)
            self._created.clear()
        if new_id not in found:
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE, f"Xero created {resource.value} {new_id} but does "
                                "not return it yet", provider="XERO", id=new_id)
        if resource in (Resource.INVOICES, Resource.BILLS) or resource in _PAYMENT_TYPES:
            self._links.clear()  # what documents said about their payments is stale now
        return found[new_id]

    async def _send(self, path: str, collection: str, body: dict[str, Any],
                    idempotency_key: str | None, method: str = "PUT") -> list[dict[str, Any]]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = await self.http.request(method, path, json_body=body, headers=headers,
                                           retry=bool(idempotency_key))
        answer = decimal_json(response)
        items = answer.get(collection) if isinstance(answer, dict) else None
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            raise LedgerQLError(ErrorCode.UPSTREAM_UNAVAILABLE, f"Xero answered a create on {path} without "
                                f"{collection}", provider="XERO")
        return items

    async def _put(self, path: str, collection: str, id_field: str, item: dict[str, Any],
                   idempotency_key: str | None) -> str:
        items = await self._send(path, collection, {collection: [item]}, idempotency_key)
        new_id = str(items[0][id_field])
        self._created[new_id] = {k: v for k, v in items[0].items() if k not in _WRITE_ONLY}
        return new_id

    @staticmethod
    def _contact_body(resource: Resource, record: m.Contact) -> dict[str, Any]:
        body: dict[str, Any] = {"Name": record.display_name}
        if record.email:
            body["EmailAddress"] = record.email
        if record.currency:
            body["DefaultCurrency"] = record.currency
        # Xero derives these from transactions; sent so that a new contact lists at once where asked.
        body["IsCustomer" if resource == Resource.CUSTOMERS else "IsSupplier"] = True
        return body

    async def _tracking_refs(self, option_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Tracking option id → Xero's line tracking entry (category id + option id)."""
        wanted = list(dict.fromkeys(option_ids))
        unknown = [o for o in wanted if o not in self._option_category]
        if unknown:
            for option_id, option in (await self.get_many(Resource.TRACKING_CATEGORIES, unknown)).items():
                if isinstance(option, m.TrackingCategory) and option.parent_id:
                    self._option_category[option_id] = option.parent_id
        return {o: {"TrackingCategoryID": self._option_category[o], "TrackingOptionID": o}
                for o in wanted if o in self._option_category}

    async def _line_items(self, lines: Sequence[m.LineItem]) -> list[dict[str, Any]]:
        tracking = await self._tracking_refs([t for line in lines for t in line.tracking_category_ids])
        result = []
        for line in lines:
            item: dict[str, Any] = {"Description": line.description or "", "LineAmount": line.total_amount}
            if line.quantity is not None:
                item["Quantity"] = line.quantity
            if line.unit_price is not None:
                item["UnitAmount"] = line.unit_price
            if line.account_id:
                item["AccountID"] = line.account_id
            item["TaxType"] = line.tax_rate_id or "NONE"
            if line.tax_amount is not None:
                item["TaxAmount"] = line.tax_amount
            entries = [tracking[t] for t in line.tracking_category_ids if t in tracking]
            if entries:
                item["Tracking"] = entries
            result.append(item)
        return result

    def _currency_fields(self, currency: str, exchange_rate: Decimal | None) -> dict[str, Any]:
        fields: dict[str, Any] = {"CurrencyCode": currency}
        if exchange_rate:  # unified: base per one document unit; Xero: document units per one base
            fields["CurrencyRate"] = (Decimal(1) / exchange_rate).quantize(Decimal("0.000001"))
        return fields

    async def _invoice_body(self, resource: Resource, record: m.Invoice | m.Bill) -> dict[str, Any]:
        party = record.customer_id if isinstance(record, m.Invoice) else record.supplier_id
        issued = record.invoice_date if isinstance(record, m.Invoice) else record.bill_date
        body: dict[str, Any] = {"Type": _DOCUMENT_TYPES[resource], "Contact": {"ContactID": party},
                                "Date": issued.isoformat(), "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
                                "LineItems": await self._line_items(record.line_items),
                                **self._currency_fields(record.currency, record.exchange_rate)}
        if record.due_date:
            body["DueDate"] = record.due_date.isoformat()
        if record.number:
            body["InvoiceNumber"] = record.number
        return body

    async def _create_credit_note(self, record: m.CreditNote, idempotency_key: str | None,
                                  progress: WriteProgress) -> str:
        """Two steps: the credit note, then its allocations (`PUT CreditNotes/{id}/Allocations`). The
        credit note's id is recorded between them, so a retry allocates instead of creating another."""
        note_id = progress.get("credit_note_id")
        if not note_id:
            body: dict[str, Any] = {"Type": "ACCRECCREDIT", "Contact": {"ContactID": record.customer_id},
                                    "Date": record.issue_date.isoformat(), "Status": "AUTHORISED",
                                    "LineAmountTypes": "Exclusive",
                                    "LineItems": await self._line_items(record.line_items),
                                    **self._currency_fields(record.currency, record.exchange_rate)}
            if record.number:
                body["CreditNoteNumber"] = record.number
            note_id = await self._put("/CreditNotes", "CreditNotes", "CreditNoteID", body, idempotency_key)
            await progress.mark("credit_note_id", note_id)
        if record.allocations and not progress.get("allocated"):
            allocations = [{"Invoice": {"InvoiceID": a.document_id}, "Amount": a.amount,
                            "Date": record.issue_date.isoformat()} for a in record.allocations]
            await self._send(f"/CreditNotes/{note_id}/Allocations", "Allocations", {"Allocations": allocations},
                             f"{idempotency_key}:allocations" if idempotency_key else None)
            await progress.mark("allocated", True)
        return str(note_id)

    async def _purchase_order_body(self, record: m.PurchaseOrder) -> dict[str, Any]:
        body: dict[str, Any] = {"Contact": {"ContactID": record.supplier_id}, "Date": record.order_date.isoformat(),
                                "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
                                "LineItems": await self._line_items(record.line_items),
                                "CurrencyCode": record.currency}
        if record.delivery_date:
            body["DeliveryDate"] = record.delivery_date.isoformat()
        if record.number:
            body["PurchaseOrderNumber"] = record.number
        return body

    async def _expense_body(self, record: m.Expense) -> dict[str, Any]:
        body: dict[str, Any] = {"Type": "SPEND", "BankAccount": {"AccountID": record.account_id},
                                "Date": record.transaction_date.isoformat(), "Status": "AUTHORISED",
                                "LineAmountTypes": "Exclusive", "CurrencyCode": record.currency,
                                "LineItems": await self._line_items(record.line_items)}
        if record.supplier_id:
            body["Contact"] = {"ContactID": record.supplier_id}
        if record.number:
            body["Reference"] = record.number
        return body

    async def _journal_body(self, record: m.JournalEntry) -> dict[str, Any]:
        tracking = await self._tracking_refs([t for line in record.line_items for t in line.tracking_category_ids])
        lines = []
        for line in record.line_items:
            signed = line.amount if line.type == PostingType.DEBIT else -line.amount
            item: dict[str, Any] = {"LineAmount": signed, "AccountID": line.account_id,
                                    "Description": line.description or ""}
            entries = [tracking[t] for t in line.tracking_category_ids if t in tracking]
            if entries:
                item["Tracking"] = entries
            lines.append(item)
        # Narration is required by Xero.
        return {"Narration": record.description or record.number or "Journal entry",
                "Date": record.posting_date.isoformat(), "Status": "POSTED", "LineAmountTypes": "NoTax",
                "JournalLines": lines}

    async def _create_payment(self, record: m.Payment | m.BillPayment, idempotency_key: str | None,
                              progress: WriteProgress) -> str:
        """One document: a Payment. Several: a BatchPayment (one bank line, one Payment per document).
        More money than the allocations: an Overpayment (see `_create_overpayment`)."""
        allocated = sum((a.amount for a in record.allocations), Decimal(0))
        if not record.allocations or allocated < record.total_amount:
            return await self._create_overpayment(record, idempotency_key, progress)
        account = {"AccountID": record.account_id}
        when = record.payment_date.isoformat()
        if len(record.allocations) == 1:
            body: dict[str, Any] = {"Invoice": {"InvoiceID": record.allocations[0].document_id}, "Account": account,
                                    "Date": when, "Amount": record.allocations[0].amount}
            if record.reference:
                body["Reference"] = record.reference
            return await self._put("/Payments", "Payments", "PaymentID", body, idempotency_key)
        batch: dict[str, Any] = {"Account": account, "Date": when, "Reference": record.reference or "",
                                 "Payments": [{"Invoice": {"InvoiceID": a.document_id}, "Amount": a.amount}
                                              for a in record.allocations]}
        return await self._put("/BatchPayments", "BatchPayments", "BatchPaymentID", batch, idempotency_key)

    async def _create_overpayment(self, record: m.Payment | m.BillPayment, idempotency_key: str | None,
                                  progress: WriteProgress) -> str:
        """Xero keeps money beyond what a contact owed as an Overpayment, which is how a read shows such a
        payment (total = the money moved, allocations = what was applied). Two steps, as Xero's API has it:
        a RECEIVE-/SPEND-OVERPAYMENT bank transaction for the whole amount (one line, no account, no tax),
        then `PUT Overpayments/{id}/Allocations` for the documents. The OverpaymentID is recorded between
        them, so a retry under the same key allocates instead of receiving the money twice; each step also
        carries its own Xero Idempotency-Key, so a step whose answer was lost is replayed, not repeated."""
        receipt = isinstance(record, m.Payment)
        overpayment_id = progress.get("overpayment_id")
        if not overpayment_id:
            party = record.customer_id if isinstance(record, m.Payment) else record.supplier_id
            body: dict[str, Any] = {
                "Type": "RECEIVE-OVERPAYMENT" if receipt else "SPEND-OVERPAYMENT", "Contact": {"ContactID": party},
                "BankAccount": {"AccountID": record.account_id}, "Date": record.payment_date.isoformat(),
                "Status": "AUTHORISED", "LineAmountTypes": "NoTax", "CurrencyCode": record.currency,
                "LineItems": [{"Description": record.reference or ("Payment received" if receipt else "Payment made"),
                               "LineAmount": record.total_amount}]}
            if record.reference:
                body["Reference"] = record.reference
            items = await self._send("/BankTransactions", "BankTransactions", {"BankTransactions": [body]},
                                     idempotency_key)
            overpayment_id = items[0].get("OverpaymentID")
            if not overpayment_id:
                raise LedgerQLError(ErrorCode.UPSTREAM_ERROR, "Xero created the overpayment's bank transaction "
                                    f"{items[0].get('BankTransactionID')} without an OverpaymentID", provider="XERO")
            overpayment_id = str(overpayment_id)
            await progress.mark("overpayment_id", overpayment_id)
        if record.allocations and not progress.get("allocated"):
            allocations = [{"Invoice": {"InvoiceID": a.document_id}, "Amount": a.amount,
                            "Date": record.payment_date.isoformat()} for a in record.allocations]
            try:
                await self._send(f"/Overpayments/{overpayment_id}/Allocations", "Allocations",
                                 {"Allocations": allocations},
                                 f"{idempotency_key}:allocations" if idempotency_key else None)
            except LedgerQLError as error:
                # Half written: say what exists upstream, so nobody pays again to "fix" it.
                error.extensions.setdefault("written", {"overpaymentId": overpayment_id, "allocated": False})
                raise
            await progress.mark("allocated", True)
        self._links.clear()
        return str(overpayment_id)

    # -- updates, voids, deletes -----------------------------------------------------------------
    def updatable_fields(self, resource: Resource) -> frozenset[str] | None:
        # A Xero contact has one name (no separate company name).
        if resource in (Resource.CUSTOMERS, Resource.SUPPLIERS):
            return frozenset({"display_name", "email"})
        # A manual journal has no number (its narration is the description).
        if resource == Resource.JOURNAL_ENTRIES:
            return frozenset({"posting_date", "description", "line_items"})
        return None

    async def update_record(self, resource: Resource, record: m.Record, current: m.Record, *,
                            changed: frozenset[str], idempotency_key: str | None) -> m.Record:
        """Xero updates by POST (PUT only creates), naming the record's id; what is left out of the
        element is left alone, so lines are sent only when they change."""
        if isinstance(record, m.Contact):
            body: dict[str, Any] = {"ContactID": current.id, "Name": record.display_name}
            if "email" in changed:
                body["EmailAddress"] = record.email or ""
            path, collection = "/Contacts", "Contacts"
        elif isinstance(record, m.Invoice | m.Bill):
            body = _update_body(await self._invoice_body(resource, record), changed,
                                fixed=("Status", "CurrencyCode", "CurrencyRate"))
            body["InvoiceID"] = current.id
            path, collection = "/Invoices", "Invoices"
        elif isinstance(record, m.PurchaseOrder):
            body = _update_body(await self._purchase_order_body(record), changed, fixed=("Status", "CurrencyCode"))
            body["PurchaseOrderID"] = current.id
            path, collection = "/PurchaseOrders", "PurchaseOrders"
        elif isinstance(record, m.JournalEntry):
            # The merged entry is sent whole (a posted manual journal is replaced line for line).
            body = {k: v for k, v in (await self._journal_body(record)).items() if k != "Status"}
            body["ManualJournalID"] = current.id
            path, collection = "/ManualJournals", "ManualJournals"
        elif isinstance(record, m.CreditNote):
            body = {"CreditNoteID": current.id, "Date": record.issue_date.isoformat()}
            if record.number:
                body["CreditNoteNumber"] = record.number
            if "line_items" in changed:
                body.update({"LineAmountTypes": "Exclusive", "LineItems": await self._line_items(record.line_items)})
            path, collection = "/CreditNotes", "CreditNotes"
        elif isinstance(record, m.Expense):
            body = {k: v for k, v in (await self._expense_body(record)).items()
                    if k not in ("Status", "CurrencyCode", "BankAccount", "Type")}
            if "line_items" not in changed:
                body.pop("LineItems", None)
                body.pop("LineAmountTypes", None)
            body["BankTransactionID"] = current.id
            path, collection = "/BankTransactions", "BankTransactions"
        else:
            return await super().update_record(resource, record, current, changed=changed,
                                               idempotency_key=idempotency_key)
        items = await self._send(path, collection, {collection: [body]}, idempotency_key, method="POST")
        self._links.clear()
        if resource == Resource.CREDIT_NOTES:  # as on create: a read carries its allocations, the answer not
            return await self._fetched(resource, current.id)
        converted = await self._convert(resource, [{k: v for k, v in items[0].items() if k not in _WRITE_ONLY}])
        if converted and converted[0].id == current.id:
            return converted[0]
        return await self._fetched(resource, current.id)

    async def void_record(self, resource: Resource, current: m.Record, *, idempotency_key: str | None) -> m.Record:
        """Xero's rule: an authorised document with nothing paid is VOIDED; a draft can only be deleted."""
        status = str((current.raw or {}).get("Status") or "")
        if status in ("DRAFT", "SUBMITTED"):
            raise LedgerQLError(ErrorCode.BAD_USER_INPUT, f"Xero voids only authorised documents; this one is "
                                f"{status}: delete it instead", inputPath=["id"], provider="XERO")
        await self._set_status(resource, current.id, "VOIDED", idempotency_key)
        return await self._fetched(resource, current.id)

    async def delete_record(self, resource: Resource, current: m.Record, *, idempotency_key: str | None) -> None:
        """Xero's rule: only a draft (or submitted) document is DELETED; an authorised one is voided.
        A payment is deleted (Status DELETED), which puts back what its document owed."""
        raw = current.raw or {}
        if resource in _PAYMENT_TYPES:
            if raw.get("PaymentID") != current.id:
                raise LedgerQLError(ErrorCode.BAD_USER_INPUT, "On Xero this payment is a batch payment or an "
                                    "overpayment; delete its parts in Xero", inputPath=["id"], provider="XERO")
            await self._set_status(resource, current.id, "DELETED", idempotency_key)
            return
        status = str(raw.get("Status") or "")
        if resource in (Resource.INVOICES, Resource.BILLS) and status not in ("DRAFT", "SUBMITTED"):
            instead = "Xero keeps voided documents" if status == "VOIDED" else "void it instead"
            raise LedgerQLError(ErrorCode.BAD_USER_INPUT, f"Xero deletes only draft documents; this one is "
                                f"{status or 'not a draft'}: {instead}", inputPath=["id"], provider="XERO")
        await self._set_status(resource, current.id, "DELETED", idempotency_key)

    async def _set_status(self, resource: Resource, record_id: str, status: str, idempotency_key: str | None) -> None:
        path, collection, id_field = _STATUS_PATHS[resource]
        await self._send(f"{path}/{record_id}", collection, {collection: [{id_field: record_id, "Status": status}]},
                         idempotency_key, method="POST")
        self._links.clear()

    async def _fetched(self, resource: Resource, record_id: str) -> m.Record:
        found = await self.fetch_by_ids(resource, [record_id])
        if record_id not in found:
            raise LedgerQLError(ErrorCode.NOT_FOUND, f"Xero no longer shows {resource.value} {record_id}",
                                provider="XERO", id=record_id)
        return found[record_id]


def _update_body(body: dict[str, Any], changed: frozenset[str], *, fixed: tuple[str, ...]) -> dict[str, Any]:
    """A create body cut down to an update: without the elements an update cannot change (`fixed`), and
    without the lines unless they change (Xero leaves alone what the element leaves out)."""
    result = {k: v for k, v in body.items() if k not in fixed}
    if "line_items" not in changed:
        result.pop("LineItems", None)
        result.pop("LineAmountTypes", None)
    return result
