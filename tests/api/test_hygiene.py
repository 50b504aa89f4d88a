"""Production hygiene, over HTTP: GraphiQL and introspection can be switched off without leaking the
schema through error suggestions; the request body is bounded even when chunked; and no error body
or log line carries a token, a client secret, an API key or a traceback, however upstream fails."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ledgerql.app import MAX_BODY_BYTES, create_app
from ledgerql.demo import sandbox_connections
from ledgerql.model.enums import Resource
from tests.harness import PROVIDERS, SANDBOX_BASE, GatewayHarness, connection_id

BILLS = "query($c: ID!) { connection(id: $c) { bills(first: 5) { nodes { number supplier { displayName } } } } }"


async def production_client(gw: GatewayHarness) -> httpx.AsyncClient:
    app = create_app(gw.demo.gateway, graphiql=False, introspection=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test",
                             headers={"Authorization": "Bearer test-key"})


# --- production settings ------------------------------------------------------------------------

async def test_graphiql_and_introspection_switched_off() -> None:
    async with GatewayHarness.start() as gw:
        html = {"Accept": "text/html"}
        assert (await gw.client.get("/graphql", headers=html)).status_code == 200  # the default: on
        async with await production_client(gw) as prod:
            assert (await prod.get("/graphql", headers=html)).status_code == 404
            for query in ("{ __schema { types { name } } }", '{ __type(name: "Bill") { fields { name } } }'):
                body = (await prod.post("/graphql", json={"query": query})).json()
                assert body["data"] is None
                assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
                assert "introspection" in body["errors"][0]["message"]
            # The rest still works, `__typename` included.
            ok = (await prod.post("/graphql", json={"query": "{ __typename connections { id } }"})).json()
            assert not ok.get("errors") and ok["data"]["connections"]


async def test_errors_suggest_no_schema_names_when_introspection_is_off() -> None:
    typos = [
        "{ connectionz { id } }",
        '{ connection(id: "demo-xero") { bills(firs: 5) { nodes { id } } } }',
        '{ connection(id: "demo-xero") { bills(filter: {statuz: PAID}) { nodes { id } } } }',
        '{ connection(id: "demo-xero") { bills(filter: {status: PAI}) { nodes { id } } } }',
        'query($f: BillFiltr) { connection(id: "demo-xero") { bills(filter: $f) { nodes { id } } } }',
    ]
    async with GatewayHarness.start() as gw:
        # With introspection on, suggestions help the developer.
        dev = (await gw.post(typos[0])).json()
        assert "Did you mean" in dev["errors"][0]["message"]
        async with await production_client(gw) as prod:
            for query in typos:
                body = (await prod.post("/graphql", json={"query": query})).json()
                assert body["errors"], query
                for error in body["errors"]:
                    assert error["extensions"]["code"] in ("GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT")
                    assert "Did you mean" not in error["message"], error["message"]
                    for name in ("connections", "first", "status", "PAID"):
                        assert f"'{name}'" not in error["message"], error["message"]


# --- request body bound -----------------------------------------------------------------------------

async def chunks(total: int, size: int = 64_000) -> AsyncIterator[bytes]:
    prefix = b'{"query": "{ connections { id } }", "variables": {"pad": "'
    yield prefix
    sent = len(prefix)
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}}'


async def test_request_body_is_bounded_with_or_without_content_length() -> None:
    async with GatewayHarness.start() as gw:
        declared = await gw.client.post("/graphql", content=b"x" * (MAX_BODY_BYTES + 1),
                                        headers={"Content-Type": "application/json"})
        assert declared.status_code == 413
        chunked = await gw.client.post("/graphql", content=chunks(MAX_BODY_BYTES + 10),
                                       headers={"Content-Type": "application/json"})
        assert "content-length" not in chunked.request.headers
        assert chunked.status_code == 413
        assert chunked.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        # A chunked body within the bound is answered as usual.
        small = await gw.client.post("/graphql", content=chunks(10_000), headers={"Content-Type": "application/json"})
        assert small.status_code == 200, small.text
        assert small.json()["data"]["connections"]


# --- no secret and no traceback, in answers or logs ---------------------------------------------------

class Hostile(httpx.AsyncBaseTransport):
    """Stands before the sandboxes and, when told, fails the way careless providers do: error bodies
    that echo the request (its Authorization header, its form body with the refresh token) in every
    provider's error envelope."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.mode: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.mode is None:
            return await self.inner.handle_async_request(request)
        await request.aread()
        echo = (f"{request.method} {request.url} Authorization: {request.headers.get('authorization')} "
                f"body: {request.content.decode(errors='replace')}")
        if "token" in request.url.path:  # every provider's token endpoint
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": echo, "message": echo})
        status = {"auth": 401, "5xx": 503, "4xx": 400}[self.mode]
        return httpx.Response(status, json={
            "Fault": {"Error": [{"Message": echo, "Detail": echo}]}, "fault": {"error": [{"message": echo}]},
            "Message": echo, "Elements": [{"ValidationErrors": [{"Message": echo}]}], "Title": echo, "Detail": echo,
            "error": {"message": {"value": echo}}, "o:errorDetails": [{"detail": echo, "o:errorCode": "ECHO"}],
            "title": echo, "error_description": echo}, headers={"WWW-Authenticate": echo})


def secrets_of(gw: GatewayHarness) -> list[str]:
    found = ["test-key"]  # the caller's own API key
    for config, tokens in sandbox_connections(gw.sandboxes, SANDBOX_BASE):
        found += [tokens.access_token, tokens.refresh_token or "", tokens.client_secret or "",
                  base64.b64encode(f"{config.client_id}:{tokens.client_secret}".encode()).decode()]
    return [s for s in found if s]


async def test_no_secret_or_traceback_in_answers_or_logs(caplog: pytest.LogCaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("", "ledgerql", "strawberry", "httpx", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access",
                 "asyncio", "starlette"):
        caplog.set_level(logging.DEBUG, logger=name)
    answers: list[str] = []
    async with GatewayHarness.start() as gw:
        hostile = Hostile(gw.demo.gateway.transport)  # type: ignore[arg-type]
        gw.demo.gateway.transport = hostile  # connectors are built on first use, after this
        for mode in ("4xx", "5xx", "auth"):
            hostile.mode = mode
            for provider in PROVIDERS:
                body = await gw.execute(BILLS, {"c": connection_id(provider)})
                assert body["errors"], (mode, provider)
                assert body["errors"][0]["extensions"]["code"].startswith(("UPSTREAM_", "BAD_USER_INPUT", "FORBIDDEN"))
                answers.append(json.dumps(body))
        hostile.mode = None

        # An internal failure whose message carries a token.
        leaked_token = secrets_of(gw)[1]

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"connector crashed holding {leaked_token}")

        connector = gw.demo.gateway.connector(connection_id("XERO"))
        monkeypatch.setattr(connector, "fetch_page", broken)
        body = await gw.execute(BILLS, {"c": connection_id("XERO")})
        assert body["errors"][0]["extensions"]["code"] == "INTERNAL"
        answers.append(json.dumps(body))
        secrets = secrets_of(gw)
        assert connector.page_size(Resource.BILLS, 5) >= 1  # the connector is real, only fetch_page broke

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [formatter.format(record) for record in caplog.records]  # with exception text, if any
    assert logged, "nothing was logged at DEBUG: the capture is not working"
    for text in [*answers, *logged]:
        assert "Traceback" not in text, text
        for secret in secrets:
            assert secret not in text, f"a secret leaked: {text[:300]}"
