"""Tenancy through GraphQL over HTTP: partners, accounts, API users, access groups, and isolation.

The world: partner P1 owns accounts A1 and A2, partner P2 owns A3. Each account has its own
connections to its own sandbox company. Keys: each partner's API user (naming the account per request),
each account's API user, an A1 administrator, and an A1 user restricted to reading receivables on one
connection. Every refusal must look the same whether the id named exists elsewhere or nowhere.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ledgerql.demo import sandbox_connections
from ledgerql.store.tenancy import PARTNER, Owner
from ledgerql.tenancy.permissions import EVERYTHING
from tests.harness import SANDBOX_BASE, GatewayHarness

ACCOUNT_HEADER = "X-LedgerQL-Account"

REGISTER = """mutation($input: ConnectionInput!) { registerConnection(input: $input) { id provider state accountId } }"""
CREATE_API_USER = """mutation($input: UserInput!) { createApiUser(input: $input) { apiKey user { id kind ownerId } } }"""


@dataclass
class World:
    gw: GatewayHarness
    keys: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # A1 → account id
    connections: dict[str, dict[str, str]] = field(default_factory=dict)  # A1 → provider → connection id
    users: dict[str, str] = field(default_factory=dict)

    async def call(self, key: str | None, query: str, variables: dict[str, Any] | None = None,
                   account: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {key}"} if key else {"Authorization": ""}
        if account:
            headers[ACCOUNT_HEADER] = account
        response = await self.gw.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                             headers=headers)
        return response.status_code, response.json()

    async def ok(self, key: str, query: str, variables: dict[str, Any] | None = None,
                 account: str | None = None) -> dict[str, Any]:
        status, body = await self.call(key, query, variables, account)
        assert status == 200 and not body.get("errors"), body
        return body["data"]


async def _partner(world: World, name: str) -> str:
    """Partners are created by the operator (configuration), not over GraphQL."""
    tenancy = world.gw.demo.gateway.tenancy
    partner_id = await tenancy.create_partner(name)
    admins = await tenancy.create_group(Owner(PARTNER, partner_id), "partner-admins", EVERYTHING)
    _, key = await tenancy.create_api_user(Owner(PARTNER, partner_id), f"{name} integration", group_ids=[admins.id])
    world.keys[name] = key
    return partner_id


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with GatewayHarness.start(companies=3) as gw:
        w = World(gw)
        await _partner(w, "P1")
        await _partner(w, "P2")
        for account, partner, company in (("A1", "P1", 0), ("A2", "P1", 1), ("A3", "P2", 2)):
            data = await w.ok(w.keys[partner], 'mutation($n: String!) { createAccount(input: {name: $n}) { id name } }',
                              {"n": f"Company {account}"})
            account_id = w.accounts[account] = data["createAccount"]["id"]
            w.connections[account] = {}
            for config, tokens in sandbox_connections(gw.sandboxes, SANDBOX_BASE, tenant_index=company,
                                                      id_prefix=account.lower()):
                if config.provider.value not in ("XERO", "QUICKBOOKS"):
                    continue
                data = await w.ok(w.keys[partner], REGISTER, {"input": {
                    "provider": config.provider.value, "name": config.name, "baseUrl": config.base_url,
                    "tenantId": config.tenant_id, "tokenUrl": config.token_url, "clientId": config.client_id,
                    "clientSecret": tokens.client_secret, "accessToken": tokens.access_token,
                    "refreshToken": tokens.refresh_token}}, account=account_id)
                assert data["registerConnection"]["state"] == "ACTIVE"
                assert data["registerConnection"]["accountId"] == account_id
                w.connections[account][config.provider.value] = data["registerConnection"]["id"]
            data = await w.ok(w.keys[partner], CREATE_API_USER, {"input": {"name": f"{account} bot"}},
                              account=account_id)
            w.keys[account] = data["createApiUser"]["apiKey"]
            w.users[account] = data["createApiUser"]["user"]["id"]
            assert data["createApiUser"]["user"] == {"id": w.users[account], "kind": "ACCOUNT", "ownerId": account_id}

        # An A1 administrator, and an A1 user who may only read receivables on A1's Xero connection.
        data = await w.ok(w.keys["P1"], """mutation($a: ID!) { createAccessGroup(input: {accountId: $a,
            name: "admins", permissions: ["ADMIN:WRITE", "AR:READ"]}) { id } }""", {"a": w.accounts["A1"]})
        admin_group = data["createAccessGroup"]["id"]
        data = await w.ok(w.keys["P1"], CREATE_API_USER, {"input": {"name": "A1 admin", "accountId": w.accounts["A1"],
                                                                     "groupIds": [admin_group]}})
        w.keys["A1-admin"] = data["createApiUser"]["apiKey"]
        data = await w.ok(w.keys["A1-admin"], """mutation($c: [ID!]) { createAccessGroup(input: {
            name: "ar-readers", permissions: ["AR:READ"], connectionIds: $c}) { id permissions connectionIds } }""",
                          {"c": [w.connections["A1"]["XERO"]]})
        group = data["createAccessGroup"]
        assert group["permissions"] == ["AR:READ"] and group["connectionIds"] == [w.connections["A1"]["XERO"]]
        data = await w.ok(w.keys["A1-admin"], CREATE_API_USER, {"input": {"name": "reader", "groupIds": [group["id"]]}})
        w.users["A1-reader"] = data["createApiUser"]["user"]["id"]
        w.keys["A1-reader"] = data["createApiUser"]["apiKey"]
        yield w


def _shape(status: int, body: dict[str, Any], *ids: str) -> str:
    """The refusal with the ids it names blanked out: two refusals must be equal in everything else."""
    text = json.dumps({"status": status, "errors": body.get("errors"), "data": body.get("data")}, sort_keys=True)
    for ident in ids:
        text = text.replace(ident, "<id>")
    return text


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


LIST_FIELDS = ["ledgerAccounts", "customers", "suppliers", "taxRates", "trackingCategories", "invoices", "bills",
               "payments", "billPayments", "expenses", "creditNotes", "purchaseOrders", "journalEntries", "journals",
               "bankAccounts"]


async def test_keys_see_only_their_own_connections(world: World) -> None:
    w = world
    data = await w.ok(w.keys["A1"], "{ connections { id provider state } me { kind account { id } permissions } }")
    assert sorted(c["id"] for c in data["connections"]) == sorted(w.connections["A1"].values())
    assert {c["state"] for c in data["connections"]} == {"ACTIVE"}
    assert data["me"]["kind"] == "ACCOUNT" and data["me"]["account"]["id"] == w.accounts["A1"]

    # The partner's key acts for the account it names, and for none without a name.
    data = await w.ok(w.keys["P1"], "{ connections { id } me { kind account { id } } }", account=w.accounts["A2"])
    assert sorted(c["id"] for c in data["connections"]) == sorted(w.connections["A2"].values())
    assert data["me"] == {"kind": "PARTNER", "account": {"id": w.accounts["A2"]}}
    data = await w.ok(w.keys["P1"], "{ connections { id } partner { accounts { id } } }")
    assert data["connections"] == []
    assert sorted(a["id"] for a in data["partner"]["accounts"]) == sorted([w.accounts["A1"], w.accounts["A2"]])

    # Reading through the partner's key returns the named account's data.
    query = 'query($c: ID!) { connection(id: $c) { customers(first: 3) { nodes { id displayName } } } }'
    mine = await w.ok(w.keys["A2"], query, {"c": w.connections["A2"]["XERO"]})
    via_partner = await w.ok(w.keys["P1"], query, {"c": w.connections["A2"]["XERO"]}, account=w.accounts["A2"])
    assert mine == via_partner and mine["connection"]["customers"]["nodes"]


async def test_isolation_matrix(world: World) -> None:
    """Every family of query and mutation, with ids and cursors from another account, is refused, and the
    refusal is the one a made-up id gets: it tells nothing about the other account."""
    w = world
    gw = w.gw
    own, foreign = w.connections["A1"]["XERO"], w.connections["A3"]["XERO"]
    made_up = "con_doesnotexist"

    # A cursor and record ids of A3, obtained legitimately by A3's key.
    a3 = await w.ok(w.keys["A3"], """query($c: ID!) { connection(id: $c) {
        invoices(first: 2) { pageInfo { endCursor } nodes { id number } }
        customers(first: 1) { nodes { id displayName } } } }""", {"c": foreign})
    foreign_cursor = a3["connection"]["invoices"]["pageInfo"]["endCursor"]
    foreign_invoice = a3["connection"]["invoices"]["nodes"][0]

    actors = [("A1", None), ("A1-admin", None), ("A1-reader", None), ("P1", w.accounts["A1"])]
    gw.reset_counts()
    for actor, account in actors:
        key = w.keys[actor]
        # -- reads: the connection itself, every list, every by-id field, through another account's id
        for field_name in [*LIST_FIELDS, "companyInfo { name }"]:
            selection = field_name if "{" in field_name else f"{field_name}(first: 1) {{ nodes {{ id }} }}"
            query = f'query($c: ID!) {{ connection(id: $c) {{ id {selection} }} }}'
            refused = await w.call(key, query, {"c": foreign}, account)
            unknown = await w.call(key, query, {"c": made_up}, account)
            assert _codes(refused[1]) == ["NOT_FOUND"], (actor, field_name, refused)
            assert _shape(*refused, foreign) == _shape(*unknown, made_up), (actor, field_name)
        query = 'query($c: ID!, $i: ID!) { connection(id: $c) { invoice(id: $i) { number } } }'
        refused = await w.call(key, query, {"c": foreign, "i": foreign_invoice["id"]}, account)
        unknown = await w.call(key, query, {"c": made_up, "i": foreign_invoice["id"]}, account)
        assert _shape(*refused, foreign) == _shape(*unknown, made_up)

        # -- writes: create, update, void and delete on another account's connection, with its record ids
        for mutation in (
            'mutation($c: ID!) { createCustomer(connectionId: $c, input: {displayName: "Intruder"}) { customer { id } } }',
            'mutation($c: ID!, $i: ID!) { updateCustomer(connectionId: $c, id: $i, input: {displayName: "Intruder"}) { customer { id } } }',
            'mutation($c: ID!, $i: ID!) { voidInvoice(connectionId: $c, id: $i) { invoice { id } } }',
            'mutation($c: ID!, $i: ID!) { deleteBill(connectionId: $c, id: $i) { deleted } }',
        ):
            ids = {"i": foreign_invoice["id"]} if "$i" in mutation else {}
            if "updateCustomer" in mutation:
                ids = {"i": a3["connection"]["customers"]["nodes"][0]["id"]}
            refused = await w.call(key, mutation, {"c": foreign, **ids}, account)
            unknown = await w.call(key, mutation, {"c": made_up, **ids}, account)
            assert _codes(refused[1]) == ["NOT_FOUND"], (actor, refused)
            assert _shape(*refused, foreign) == _shape(*unknown, made_up)

        # -- cursors: another account's cursor on one's own connection is a cursor like any forged one
        if actor != "A1-admin":  # the admin group reads receivables too, but keep the matrix small
            query = 'query($c: ID!, $a: String!) { connection(id: $c) { invoices(first: 2, after: $a) { nodes { id } } } }'
            refused = await w.call(key, query, {"c": own, "a": foreign_cursor}, account)
            forged = await w.call(key, query, {"c": own, "a": "bm90LWEtY3Vyc29y"}, account)
            assert _codes(refused[1]) == ["BAD_USER_INPUT"], (actor, refused)
            assert _shape(*refused, foreign_cursor) == _shape(*forged, "bm90LWEtY3Vyc29y")

        # -- another account's record id on one's own connection reads one's own books, never A3's
        _, body = await w.call(key, 'query($c: ID!, $i: ID!) { connection(id: $c) { invoice(id: $i) { id number } } }',
                                    {"c": own, "i": foreign_invoice["id"]}, account)
        mine = await w.call(w.keys["A1"], 'query($c: ID!, $i: ID!) { connection(id: $c) { invoice(id: $i) { id number } } }',
                            {"c": own, "i": foreign_invoice["id"]})
        assert body.get("data") == mine[1].get("data")

    # Not one of those refusals reached a provider: only the A1 reads of their own connection did.
    assert gw.sandboxes.emulators["XERO"].counter.total <= 2 * len(actors)
    assert gw.sandboxes.emulators["QUICKBOOKS"].counter.total == 0

    # -- accounts named in the header: another partner's account, or a sibling for an account key
    for key, account in ((w.keys["P1"], w.accounts["A3"]), (w.keys["A1"], w.accounts["A2"])):
        refused = await w.call(key, "{ connections { id } }", account=account)
        unknown = await w.call(key, "{ connections { id } }", account="acc_doesnotexist")
        assert refused[0] == 403 and _codes(refused[1]) == ["FORBIDDEN"]
        assert _shape(*refused, account) == _shape(*unknown, "acc_doesnotexist")

    # -- administration across accounts: users, groups, connections, memberships
    admin = w.keys["A1-admin"]
    for mutation, variables in (
        ('mutation($a: ID!) { createApiUser(input: {name: "x", accountId: $a}) { apiKey } }', {}),
        ('mutation($a: ID!) { createAccessGroup(input: {name: "x", permissions: ["AR:READ"], accountId: $a}) { id } }', {}),
        ('mutation($a: ID!) { registerConnection(input: {accountId: $a, provider: XERO, name: "x", '
         'baseUrl: "https://api.xero.com", tenantId: "t", accessToken: "t"}) { id } }', {}),
    ):
        refused = await w.call(admin, mutation, {"a": w.accounts["A3"], **variables})
        unknown = await w.call(admin, mutation, {"a": "acc_doesnotexist", **variables})
        assert _codes(refused[1]) == ["FORBIDDEN"], refused
        assert _shape(*refused, w.accounts["A3"]) == _shape(*unknown, "acc_doesnotexist")
    # re-authorising a connection by id: another account's id looks like one that does not exist
    register = ('mutation($i: ID!) { registerConnection(input: {id: $i, provider: XERO, name: "x", '
                'baseUrl: "https://api.xero.com", tenantId: "t", accessToken: "t"}) { id } }')
    refused = await w.call(admin, register, {"i": foreign})
    unknown = await w.call(admin, register, {"i": made_up})
    assert _codes(refused[1]) == ["NOT_FOUND"] and _shape(*refused, foreign) == _shape(*unknown, made_up)
    refused = await w.call(admin, 'mutation($u: ID!) { revokeApiKeys(userId: $u) }', {"u": w.users["A3"]})
    unknown = await w.call(admin, 'mutation($u: ID!) { revokeApiKeys(userId: $u) }', {"u": "usr_doesnotexist"})
    assert _codes(refused[1]) == ["NOT_FOUND"] and _shape(*refused, w.users["A3"]) == _shape(*unknown, "usr_doesnotexist")
    # A3's key still works: nothing was revoked
    await w.ok(w.keys["A3"], "{ connections { id } }")

    # The partner is for partner users only; an account's key cannot create accounts.
    assert _codes((await w.call(w.keys["A1"], "{ partner { id } }"))[1]) == ["FORBIDDEN"]
    assert _codes((await w.call(admin, 'mutation { createAccount(input: {name: "x"}) { id } }'))[1]) == ["FORBIDDEN"]


async def test_permissions_narrow_what_a_user_may_do(world: World) -> None:
    w = world
    reader = w.keys["A1-reader"]
    xero, qbo = w.connections["A1"]["XERO"], w.connections["A1"]["QUICKBOOKS"]
    data = await w.ok(reader, 'query($c: ID!) { connections { id } connection(id: $c) { invoices(first: 2) { nodes { number customer { displayName } } } } }',
                      {"c": xero})
    assert [c["id"] for c in data["connections"]] == [xero]
    assert len(data["connection"]["invoices"]["nodes"]) == 2
    assert all(n["customer"]["displayName"] for n in data["connection"]["invoices"]["nodes"])

    # payables: refused at the field, the rest of the answer stands
    status, body = await w.call(reader, 'query($c: ID!) { connection(id: $c) { id bills(first: 1) { nodes { id } } } }', {"c": xero})
    assert status == 200 and body["data"]["connection"]["id"] == xero and body["data"]["connection"]["bills"] is None
    assert _codes(body) == ["FORBIDDEN"] and body["errors"][0]["extensions"]["permission"] == "AP:READ"
    # line accounts are ledger data
    status, body = await w.call(reader, 'query($c: ID!) { connection(id: $c) { invoices(first: 1) { nodes { lineItems { account { name } } } } } }', {"c": xero})
    assert "FORBIDDEN" in _codes(body)
    # a connection outside its groups is not there at all
    status, body = await w.call(reader, 'query($c: ID!) { connection(id: $c) { id } }', {"c": qbo})
    assert _codes(body) == ["NOT_FOUND"]
    # reading is not writing, and no administration
    calls = w.gw.sandboxes.emulators["XERO"].counter.total
    status, body = await w.call(reader, 'mutation($c: ID!) { createCustomer(connectionId: $c, input: {displayName: "N"}) { customer { id } } }', {"c": xero})
    assert _codes(body) == ["FORBIDDEN"]
    assert w.gw.sandboxes.emulators["XERO"].counter.total == calls
    status, body = await w.call(reader, 'mutation { createApiUser(input: {name: "x"}) { apiKey } }')
    assert _codes(body) == ["FORBIDDEN"]


async def test_keys_are_checked_and_can_be_revoked(world: World) -> None:
    w = world
    status, body = await w.call(None, "{ connections { id } }")
    assert status == 401 and _codes(body) == ["UNAUTHENTICATED"]
    status, body = await w.call("lq_not-a-key", "{ connections { id } }")
    assert status == 401 and _codes(body) == ["UNAUTHENTICATED"]

    revoked = await w.ok(w.keys["A1-admin"], 'mutation($u: ID!) { revokeApiKeys(userId: $u) }', {"u": w.users["A1"]})
    assert revoked == {"revokeApiKeys": 1}
    status, body = await w.call(w.keys["A1"], "{ connections { id } }")
    assert status == 401 and _codes(body) == ["UNAUTHENTICATED"]


async def test_a_payables_clerk_writes_bills_without_reading_the_ledger(world: World) -> None:
    """Validating a bill reads its supplier, accounts and tax rates, but shows the caller none of them:
    AP:WRITE is enough to create it; selecting its line accounts in the answer needs LEDGER:READ."""
    w = world
    xero = w.connections["A1"]["XERO"]
    admin = w.keys["A1-admin"]
    group = (await w.ok(admin, 'mutation { createAccessGroup(input: {name: "ap-clerks", permissions: ["AP:WRITE"]}) { id } }'))
    clerk = (await w.ok(admin, CREATE_API_USER, {"input": {"name": "clerk", "groupIds": [group["createAccessGroup"]["id"]]}}))
    key = clerk["createApiUser"]["apiKey"]
    refs = await w.ok(w.keys["A1"], """query($c: ID!) { connection(id: $c) {
        suppliers(first: 1) { nodes { id } } taxRates { nodes { id rate } }
        ledgerAccounts(first: 100) { nodes { id type } } } }""", {"c": xero})
    supplier = refs["connection"]["suppliers"]["nodes"][0]["id"]
    account = next(a["id"] for a in refs["connection"]["ledgerAccounts"]["nodes"] if a["type"] == "EXPENSE")
    tax = next(t["id"] for t in refs["connection"]["taxRates"]["nodes"] if t["rate"] == "20")
    bill = {"supplierId": supplier, "billDate": "2026-11-02", "dueDate": "2026-12-02", "currency": "GBP",
            "lineItems": [{"description": "Paper", "quantity": "2", "unitPrice": "10.00", "accountId": account,
                           "taxRateId": tax}]}
    status, body = await w.call(key, """mutation($c: ID!, $b: BillInput!) { createBill(connectionId: $c, input: $b) {
        bill { id total supplier { id } lineItems { account { name } } } } }""", {"c": xero, "b": bill})
    assert status == 200
    created = body["data"]["createBill"]["bill"]
    assert created["id"] and created["total"] == "24.00" and created["supplier"]["id"] == supplier
    assert created["lineItems"] == [{"account": None}]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert all(e["extensions"]["permission"] == "LEDGER:READ" for e in body["errors"])
