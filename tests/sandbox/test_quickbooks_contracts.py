"""Replay the recorded real QuickBooks Online sandbox traffic (../shared/contracts/quickbooks/*.yml)
against the emulator and compare the SHAPES of the answers with what Intuit sent.

The realm (`-COMPANY_ID-`) and record ids are mapped onto the emulator's; some recorded URIs lack
the `/company/{realm}` part (a quirk of the recording library), which is put back. Entities the
emulator does not model (Estimate, SalesReceipt) are swapped for Invoice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ledgerql.sandbox.books import generate_books
from ledgerql.sandbox.common import RateLimits, SandboxTenant
from ledgerql.sandbox.quickbooks import QuickBooksEmulator
from tests.conftest import require_contracts

REALM = QuickBooksEmulator.tenant_id_for(0)
HOST = "https://sandbox-quickbooks.api.intuit.com"
# Fields of Intuit's demo company the generated books have no data for (addresses, phones, custom
# fields, terms...): QBO leaves out properties without a value, so their absence is no shape change.
OPTIONAL = {"BillAddr", "ShipAddr", "CustomField", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax", "WebAddr",
            "GivenName", "FamilyName", "MiddleName", "Title", "Suffix", "PrimaryEmailAddr", "CompanyName",
            "DefaultTaxCodeRef", "AcctNum", "TaxIdentifier", "TermRef", "Notes", "CustomerMemo", "BillEmail",
            "DeliveryInfo", "OtherContactInfo", "ParentRef", "Level", "PrivateNote", "TxnStatus",
            "PaymentMethodRef", "PaymentRefNum", "DepositToAccountRef", "Customer", "DateMacro",
            "SummarizeColumnsBy", "ShipFromAddr", "FullyQualifiedName", "Lat", "Long"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    return type(value).__name__


def assert_shape(recorded: Any, actual: Any, where: str = "$") -> None:
    """Every recorded key is there (unless optional) with the same JSON type, recursively."""
    if recorded is None:
        return
    assert _json_type(actual) == _json_type(recorded), f"{where}: {actual!r} vs recorded {recorded!r}"
    if isinstance(recorded, dict):
        for key, value in recorded.items():
            if key not in actual:
                assert key in OPTIONAL, f"{where}.{key} missing (recorded: {value!r})"
                continue
            assert_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(recorded, list) and recorded and actual:
        assert_shape(recorded[0], actual[0], f"{where}[0]")


def assert_envelope(recorded: dict[str, Any], actual: dict[str, Any]) -> None:
    """Same top-level keys (the emulator may add `time` where the recording had none)."""
    assert set(recorded) <= set(actual) and set(actual) - set(recorded) <= {"time"}, (set(recorded), set(actual))


def cassettes() -> list[Path]:
    folder = require_contracts("quickbooks")
    return sorted(folder.glob("*.yml"))


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[QuickBooksEmulator, httpx.AsyncClient]]:
    emu = QuickBooksEmulator([SandboxTenant(REALM, generate_books(seed=7))],
                             limits=RateLimits(enabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.build_app()),
                                 base_url="http://sandbox") as http:
        yield emu, http


def adapt(uri: str, ids: dict[str, str]) -> str:
    path = uri.replace(HOST, "")
    path = path.replace("/v3/company/-COMPANY_ID-/", f"/v3/company/{REALM}/")
    if not path.startswith("/v3/company/"):
        path = path.replace("/v3/", f"/v3/company/{REALM}/", 1)
    for old, new in ids.items():
        path = path.replace(f"/{old}?", f"/{new}?")
        if path.endswith(f"/{old}"):
            path = path[: -len(old)] + new
    return path.replace("entities=estimate", "entities=invoice")


def adapt_body(text: str, ids: dict[str, str], emu: QuickBooksEmulator) -> str:
    # the duplicate-name error needs a name that exists in this company
    taken = next(iter(emu.stores[REALM].records["Customer"].values()))["DisplayName"]
    text = text.replace('"Weiskopf Consulting"', json.dumps(taken))
    for old, new in ids.items():
        text = text.replace(f'"Id":"{old}"', f'"Id":"{new}"').replace(f'{{"value":"{old}"}}', f'{{"value":"{new}"}}')
    return text.replace("SalesReceipt", "Invoice").replace("select * from Invoice where TotalAmt > '300.00'",
                                                           "select * from Invoice where TotalAmt > '300.00' "
                                                           "MAXRESULTS 2")


def id_map(emu: QuickBooksEmulator) -> dict[str, str]:
    store = emu.stores[REALM]
    invoices = list(store.records["Invoice"])
    customers = list(store.records["Customer"])
    unpaid = [i for i, r in store.records["Invoice"].items() if not r["LinkedTxn"]]
    return {
        "5": customers[1], "68": customers[2], "1": customers[0],  # customers
        "266": unpaid[0], "264": unpaid[1],  # invoices with SyncToken 0
        "129": "999999",  # the recording deleted an invoice that was gone: Object Not Found
        "11": invoices[0],
    }


@pytest.mark.parametrize("cassette", cassettes() if (Path(__file__).resolve().parents[2].parent / "shared"
                                                     / "contracts" / "quickbooks").exists() else [],
                         ids=lambda p: p.stem)
async def test_replay_cassette(cassette: Path,
                               emulator: tuple[QuickBooksEmulator, httpx.AsyncClient]) -> None:
    emu, http = emulator
    ids = id_map(emu)
    data = yaml.safe_load(cassette.read_text())
    for interaction in data["http_interactions"]:
        request, recorded = interaction["request"], interaction["response"]
        path = adapt(request["uri"], ids)
        token = emu.grants[REALM].access_token
        if recorded["status"]["code"] == 401:
            token = "expired-" + token
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "Content-Type": "application/json;charset=UTF-8"}
        body = adapt_body(request["body"].get("string") or "", ids, emu)
        response = await http.request(request["method"].upper(), path, headers=headers,
                                      content=body.encode() if body else None)
        expected_status = recorded["status"]["code"]
        assert response.status_code == expected_status, (cassette.stem, path, response.text[:500])
        recorded_body = json.loads(recorded["body"]["string"], parse_float=Decimal)
        actual = json.loads(response.text, parse_float=Decimal)
        assert_envelope(recorded_body, actual)
        if "Fault" in recorded_body:
            assert set(actual["Fault"]) == set(recorded_body["Fault"]) == {"Error", "type"}
            assert set(recorded_body["Fault"]["Error"][0]) <= set(actual["Fault"]["Error"][0])
            assert actual["Fault"]["Error"][0]["code"] == recorded_body["Fault"]["Error"][0]["code"], cassette.stem
            assert actual["Fault"]["type"] == recorded_body["Fault"]["type"]
            continue
        if "fault" in recorded_body:  # the lowercase 401 envelope: every key, same types
            assert set(actual) == set(recorded_body)
            assert set(actual["fault"]["error"][0]) == set(recorded_body["fault"]["error"][0])
            assert actual["fault"]["type"] == recorded_body["fault"]["type"]
            assert actual["fault"]["error"][0]["code"] == recorded_body["fault"]["error"][0]["code"]
            continue
        if "QueryResponse" in recorded_body:
            rec_q, act_q = recorded_body["QueryResponse"], actual["QueryResponse"]
            assert set(act_q) == set(rec_q), (set(act_q), set(rec_q))
            for key, rows in rec_q.items():
                if isinstance(rows, list):
                    assert_shape(rows[0], act_q[key][0], f"$.QueryResponse.{key}[0]")
            continue
        if "BatchItemResponse" in recorded_body:
            rec_items, act_items = recorded_body["BatchItemResponse"], actual["BatchItemResponse"]
            assert [i["bId"] for i in act_items] == [i["bId"] for i in rec_items]
            for rec_item, act_item in zip(rec_items, act_items, strict=True):
                assert set(act_item) == set(rec_item), (rec_item["bId"], set(act_item))
                if "Vendor" in rec_item:
                    assert_shape(rec_item["Vendor"], act_item["Vendor"], "$.Vendor")
            continue
        if "CDCResponse" in recorded_body:
            rec_q = recorded_body["CDCResponse"][0]["QueryResponse"][0]
            act_q = actual["CDCResponse"][0]["QueryResponse"][0]
            assert set(act_q) == {"Invoice", "startPosition", "maxResults"} and set(rec_q) == {
                "Estimate", "startPosition", "maxResults"}
            assert act_q["maxResults"] == len(act_q["Invoice"]) > 0
            continue
        if "Header" in recorded_body:  # reports
            assert_shape(recorded_body["Header"], actual["Header"], "$.Header")
            assert [c["ColType"] for c in actual["Columns"]["Column"]] == [
                c["ColType"] for c in recorded_body["Columns"]["Column"]]
            rec_rows, act_rows = recorded_body["Rows"]["Row"], actual["Rows"]["Row"]
            if all("group" in r for r in rec_rows):
                assert [r["group"] for r in act_rows] == [r["group"] for r in rec_rows]
            assert_shape(rec_rows[0], act_rows[0], "$.Rows.Row[0]")
            continue
        (entity,) = [k for k in recorded_body if k != "time"]
        assert_shape(recorded_body[entity], actual[entity], f"$.{entity}")


def test_cassettes_are_present() -> None:
    assert len(cassettes()) >= 10
