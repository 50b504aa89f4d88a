"""Contract tests: Xero's own OpenAPI examples replayed against the emulator.

The request examples of `xero_accounting.yaml` (XeroAPI/Xero-OpenAPI) are sent to the emulator with
their ids, account codes and tenant rewritten to the sandbox's; the answers must carry the shapes of
the OpenAPI 200 examples (same top-level keys, and every entity field the example shows, except for a
short documented list of optional fields the sandbox never has), and invalid input must be answered
with the structure of the OpenAPI 400 examples.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ledgerql.sandbox.books import generate_books
from ledgerql.sandbox.common import RateLimits, SandboxTenant
from ledgerql.sandbox.xero import XeroEmulator
from tests.conftest import require_contracts

API = "/api.xro/2.0"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
#: entity fields an OpenAPI example shows that only exist on records the sandbox never holds
OPTIONAL_FIELDS = {
    "RepeatingInvoiceID",  # invoices created from a repeating template
    "BatchPayment", "OverpaymentID", "PrepaymentID",  # bank transactions created by those documents
    "PeriodLockDate", "EndOfYearLockDate",  # organisation lock dates (none are set)
    "CompanyNumber", "TaxNumbeType",  # contact registration data (not in the books; the second is a typo)
    "TotalDiscount",  # only on documents with discounted lines (the books have none)
    "Warnings",  # only when Xero warns (the manual journal example's account code was dropped)
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    path: Path = require_contracts("xero") / "xero_accounting.yaml"
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def example(spec: dict[str, Any], path: str, method: str, code: str = "200") -> Any:
    response = spec["paths"][path][method]["responses"][code]
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    value = response.get("content", {}).get("application/json", {}).get("example")
    return json.loads(value) if isinstance(value, str) else value


def request_example(spec: dict[str, Any], path: str, method: str) -> Any:
    return copy.deepcopy(spec["paths"][path][method]["requestBody"]["content"]["application/json"]["example"])


class Sandbox:
    def __init__(self, emu: XeroEmulator, client: httpx.AsyncClient) -> None:
        self.emu = emu
        self.client = client
        self.tenant = XeroEmulator.tenant_id_for(0)
        self.store = emu.stores[self.tenant]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.emu.grants[self.tenant].access_token}",
                "xero-tenant-id": self.tenant, "Accept": "application/json"}

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        content = None if body is None else json.dumps(body, default=str).encode()
        return await self.client.request(method, API + path, content=content, headers=self.headers())

    def contact(self, supplier: bool) -> str:
        return next(c["ContactID"] for c in self.store.data["Contacts"].values() if c["IsSupplier"] == supplier)

    def open_document(self, kind: str) -> dict[str, Any]:
        return next(i for i in self.store.data["Invoices"].values()
                    if i["Type"] == kind and i["Status"] == "AUTHORISED" and i["AmountPaid"] == 0
                    and i["AmountCredited"] == 0 and i["CurrencyCode"] == "GBP")

    def bank(self) -> dict[str, Any]:
        return next(a for a in self.store.data["Accounts"].values() if a["Type"] == "BANK")


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    tenants = [SandboxTenant(XeroEmulator.tenant_id_for(0), generate_books(seed=7))]
    emu = XeroEmulator(tenants, limits=RateLimits(enabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as client:
        yield Sandbox(emu, client)


def walk(value: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(value, dict):
        visit(value)
        for item in value.values():
            walk(item, visit)
    elif isinstance(value, list):
        for item in value:
            walk(item, visit)


def rewrite(body: Any, sb: Sandbox, sales: bool) -> Any:
    """The example's ids and codes replaced by the sandbox's own."""
    bank = sb.bank()

    def visit(node: dict[str, Any]) -> None:
        if node.get("ContactID"):
            node["ContactID"] = sb.contact(supplier=not sales)
        if "AccountCode" in node:
            node["AccountCode"] = "4000" if sales else "5000"
        if isinstance(node.get("Tracking"), list) and node["Tracking"]:
            node["Tracking"] = [{"Name": "Department", "Option": "Sales"}]
        for key in ("Account", "BankAccount"):
            if isinstance(node.get(key), dict):
                node[key] = {"Code": bank["Code"]} if "Code" in node[key] else {"AccountID": bank["AccountID"]}
        if isinstance(node.get("Invoice"), dict) and node["Invoice"].get("InvoiceID"):
            node["Invoice"]["InvoiceID"] = sb.open_document("ACCREC" if sales else "ACCPAY")["InvoiceID"]

    walk(body, visit)
    return body


def assert_shape(expected: dict[str, Any], actual: dict[str, Any], collection: str,
                 optional: frozenset[str] = frozenset()) -> None:
    assert set(expected) <= set(actual), f"top-level keys missing: {set(expected) - set(actual)}"
    assert actual["Status"] == "OK"
    assert isinstance(actual[collection], list) and actual[collection]
    wanted = set().union(*(set(e) for e in expected[collection])) - OPTIONAL_FIELDS - optional
    got = set().union(*(set(e) for e in actual[collection]))
    assert wanted <= got, f"{collection} fields missing: {sorted(wanted - got)}"


READS = [
    ("/Invoices", "Invoices", "?page=1"), ("/Contacts", "Contacts", "?page=1"), ("/Accounts", "Accounts", ""),
    ("/Payments", "Payments", "?page=1"), ("/CreditNotes", "CreditNotes", "?page=1"),
    ("/BankTransactions", "BankTransactions", "?page=1"), ("/ManualJournals", "ManualJournals", "?page=1"),
    ("/PurchaseOrders", "PurchaseOrders", "?page=1"), ("/TaxRates", "TaxRates", ""),
    ("/TrackingCategories", "TrackingCategories", ""), ("/Organisation", "Organisations", ""),
    ("/Overpayments", "Overpayments", "?page=1"), ("/BatchPayments", "BatchPayments", ""),
]


@pytest.mark.parametrize(("path", "collection", "query"), READS)
async def test_list_answers_have_the_openapi_shape(spec: dict[str, Any], sandbox: Sandbox, path: str,
                                                   collection: str, query: str) -> None:
    expected = example(spec, path, "get")
    response = await sandbox.call("GET", path + query)
    assert response.status_code == 200
    actual = json.loads(response.text, parse_float=Decimal)
    assert_shape(expected, actual, collection)
    if "pagination" in expected:
        assert set(actual["pagination"]) == set(expected["pagination"])


async def test_single_invoice_answer_has_the_openapi_shape(spec: dict[str, Any], sandbox: Sandbox) -> None:
    paid = next(i for i in sandbox.store.data["Invoices"].values() if i["Status"] == "PAID")
    response = await sandbox.call("GET", f"/Invoices/{paid['InvoiceID']}")
    # The example (oddly, for a read) carries a write's diagnostics; the sandbox holds no attachments.
    assert_shape(example(spec, "/Invoices/{InvoiceID}", "get"), response.json(), "Invoices",
                 frozenset({"StatusAttributeString", "ValidationErrors", "Attachments"}))


WRITES = [
    ("/Invoices", "put", "Invoices", True), ("/Invoices", "post", "Invoices", True),
    ("/Payments", "put", "Payments", True), ("/Payments", "post", "Payments", True),
    ("/Contacts", "post", "Contacts", True), ("/CreditNotes", "put", "CreditNotes", False),
    ("/CreditNotes", "post", "CreditNotes", False), ("/BankTransactions", "post", "BankTransactions", False),
    ("/ManualJournals", "put", "ManualJournals", True), ("/ManualJournals", "post", "ManualJournals", True),
    ("/PurchaseOrders", "put", "PurchaseOrders", False), ("/PurchaseOrders", "post", "PurchaseOrders", False),
    ("/BatchPayments", "put", "BatchPayments", False),
]


@pytest.mark.parametrize(("path", "method", "collection", "sales"), WRITES)
async def test_request_examples_replay(spec: dict[str, Any], sandbox: Sandbox, path: str, method: str,
                                       collection: str, sales: bool) -> None:
    body = rewrite(request_example(spec, path, method), sandbox, sales)
    if collection == "Payments":  # the example pays 1.00 of an invoice
        body["Payments"][0]["Amount"] = 1
    response = await sandbox.call(method.upper(), path, body)
    assert response.status_code == 200, response.text
    actual = json.loads(response.text, parse_float=Decimal)
    assert_shape(example(spec, path, method), actual, collection)
    if collection != "BatchPayments":
        assert all(item["StatusAttributeString"] == "OK" for item in actual[collection])


async def test_put_contacts_example_replays(spec: dict[str, Any], sandbox: Sandbox) -> None:
    body = request_example(spec, "/Contacts", "put")
    for contact in body["Contacts"]:
        contact.pop("ContactID")  # a PUT creates: the example's id names a contact of Xero's demo company
    response = await sandbox.call("PUT", "/Contacts", body)
    assert response.status_code == 200, response.text
    assert_shape(example(spec, "/Contacts", "put"), response.json(), "Contacts")


async def test_update_and_delete_examples_replay(spec: dict[str, Any], sandbox: Sandbox) -> None:
    bill = sandbox.open_document("ACCPAY")
    body = request_example(spec, "/Invoices/{InvoiceID}", "post")
    body["Invoices"][0]["InvoiceID"] = bill["InvoiceID"]
    response = await sandbox.call("POST", f"/Invoices/{bill['InvoiceID']}", body)
    assert response.status_code == 200, response.text
    assert response.json()["Invoices"][0]["Reference"] == "May the force be with you"
    assert_shape(example(spec, "/Invoices/{InvoiceID}", "post"), response.json(), "Invoices")

    payment_id = next(iter(sandbox.store.data["Payments"]))
    body = request_example(spec, "/Payments/{PaymentID}", "post")
    response = await sandbox.call("POST", f"/Payments/{payment_id}", body)
    assert response.status_code == 200, response.text
    assert response.json()["Payments"][0]["Status"] == "DELETED"
    assert_shape(example(spec, "/Payments/{PaymentID}", "post"), response.json(), "Payments")


async def test_allocation_example_replays(spec: dict[str, Any], sandbox: Sandbox) -> None:
    invoice = sandbox.open_document("ACCREC")
    created = await sandbox.call("PUT", "/CreditNotes", {"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": invoice["Contact"]["ContactID"]}, "Status": "AUTHORISED",
        "LineItems": [{"Description": "Credit", "Quantity": 1, "UnitAmount": 5, "AccountCode": "4000"}]}]})
    note_id = created.json()["CreditNotes"][0]["CreditNoteID"]
    body = request_example(spec, "/CreditNotes/{CreditNoteID}/Allocations", "put")
    body["Allocations"][0]["Invoice"]["InvoiceID"] = invoice["InvoiceID"]
    response = await sandbox.call("PUT", f"/CreditNotes/{note_id}/Allocations", body)
    assert response.status_code == 200, response.text
    expected = example(spec, "/CreditNotes/{CreditNoteID}/Allocations", "put")
    actual = response.json()
    assert set(expected) <= set(actual)
    assert set(expected["Allocations"][0]) <= set(actual["Allocations"][0])


def test_put_bank_transactions_example_is_not_wire_format(spec: dict[str, Any]) -> None:
    """Why the PUT /BankTransactions example is not replayed: it is SDK pseudo-code, not Xero JSON."""
    body = request_example(spec, "/BankTransactions", "put")
    assert body["bankTransactions"][0]["type"] == "BankTransaction.TypeEnum.SPEND"


INVALID = [
    ("/Invoices", "Invoices", {"Type": "ACCREC", "Contact": {"ContactID": ZERO_GUID},
                               "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1,
                                              "AccountCode": "9999"}]}),
    ("/Contacts", "Contacts", {"Name": "Aldgate Trading"}),
    ("/Payments", "Payments", {"Invoice": {"InvoiceID": ZERO_GUID}, "Account": {"Code": "1200"}, "Amount": 1}),
    ("/CreditNotes", "CreditNotes", {"Type": "ACCRECCREDIT", "LineItems": []}),
    ("/BankTransactions", "BankTransactions", {"Type": "SPEND", "BankAccount": {"Code": "4000"}}),
    ("/ManualJournals", "ManualJournals", {"Narration": "x", "JournalLines": [{"LineAmount": 1,
                                                                               "AccountCode": "6000"}]}),
    ("/PurchaseOrders", "PurchaseOrders", {"LineItems": [{"Description": "x"}]}),
]


@pytest.mark.parametrize(("path", "collection", "element"), INVALID)
async def test_invalid_input_gets_the_openapi_400_structure(spec: dict[str, Any], sandbox: Sandbox, path: str,
                                                            collection: str, element: dict[str, Any]) -> None:
    expected = example(spec, "/Contacts", "put", "400")
    before = len(sandbox.store.data[collection])
    response = await sandbox.call("PUT", path, {collection: [element]})
    assert response.status_code == 400
    actual = response.json()
    assert set(actual) == set(expected)
    assert (actual["ErrorNumber"], actual["Type"], actual["Message"]) == \
        (expected["ErrorNumber"], expected["Type"], expected["Message"])
    [echoed] = actual["Elements"]
    assert echoed["ValidationErrors"] and all(set(e) == {"Message"} for e in echoed["ValidationErrors"])
    # like Xero, the element of a record that was not created carries the zero GUID as its id
    id_field = {"Invoices": "InvoiceID", "Contacts": "ContactID", "Payments": "PaymentID",
                "CreditNotes": "CreditNoteID", "BankTransactions": "BankTransactionID",
                "ManualJournals": "ManualJournalID", "PurchaseOrders": "PurchaseOrderID"}[collection]
    assert echoed[id_field] == ZERO_GUID == expected["Elements"][0]["ContactID"]
    assert len(sandbox.store.data[collection]) == before


async def test_contact_name_clash_matches_the_openapi_message(spec: dict[str, Any], sandbox: Sandbox) -> None:
    expected = example(spec, "/Contacts", "put", "400")
    template = expected["Elements"][0]["ValidationErrors"][0]["Message"]
    response = await sandbox.call("PUT", "/Contacts", {"Contacts": [{"Name": "Aldgate Trading"}]})
    message = response.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    assert message == template.replace("Buzz Lightyear", "Aldgate Trading")


async def test_connections_match_the_identity_example(sandbox: Sandbox) -> None:
    path = require_contracts("xero") / "xero-identity.yaml"
    identity = yaml.safe_load(path.read_text())
    raw = identity["paths"]["/Connections"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    expected = json.loads(raw) if isinstance(raw, str) else raw
    response = await sandbox.client.get("/connections", headers=sandbox.headers())
    assert response.status_code == 200
    assert set(expected[0]) <= set(response.json()[0])
