"""100 concurrent queries on a connection whose access token has expired, across two gateway processes
sharing PostgreSQL: exactly one refresh reaches the provider, its rotation rules hold, every query answers.

Real processes: one `ledgerql sandbox`, and two `ledgerql serve --config` gateways on one PostgreSQL schema.
QuickBooks rotates its refresh token with no grace (in our sandbox), so a second refresh with the old
token would fail and show up as errors. Needs LEDGERQL_TEST_DATABASE_URL (CI sets it); FAILS when it is set
and PostgreSQL cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_token_vault import _drop_schema, _scratch_schema

KEY = "lq_two_process_test_key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process exited: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_one_refresh_for_100_queries_across_two_processes(tmp_path: Path, postgres_url: str,
                                                                processes: list[subprocess.Popen[str]]) -> None:
    base_url = postgres_url
    schema, database_url = await _scratch_schema(base_url)
    try:
        await _run(tmp_path, database_url, processes)
    finally:
        await _drop_schema(base_url, schema)


async def _run(tmp_path: Path, database_url: str, processes: list[subprocess.Popen[str]]) -> None:
    cli = [sys.executable, "-m", "ledgerql.cli"]
    sandbox_port = _free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox = subprocess.Popen([*cli, "sandbox", "--port", str(sandbox_port), "--no-rate-limits"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    processes.append(sandbox)
    described = json.loads(subprocess.run([*cli, "sandbox", "--describe", "--port", str(sandbox_port)],
                                          capture_output=True, text=True, check=True, timeout=60).stdout)
    qbo = described["QUICKBOOKS"]
    connection = "qbo-shared"
    (tmp_path / "ledgerql.yaml").write_text(json.dumps({"accounts": [{
        "id": "acme", "name": "Acme",
        "api_users": [{"id": "acme-bot", "key": "${TEST_API_KEY}"}],
        "connections": [{"id": connection, "provider": "QUICKBOOKS", "name": "Acme QBO",
                         "base_url": qbo["baseUrl"], "tenant_id": qbo["realmId"], "token_url": qbo["tokenUrl"],
                         "client_id": qbo["clientId"], "client_secret": "${QBO_CLIENT_SECRET}",
                         "access_token": "${QBO_ACCESS_TOKEN}", "refresh_token": "${QBO_REFRESH_TOKEN}"}]}]}))
    env = {**os.environ, "LEDGERQL_DATABASE_URL": database_url, "LEDGERQL_SECRET_KEY": "two-processes",
           "LEDGERQL_DATA_DIR": str(tmp_path), "TEST_API_KEY": KEY, "QBO_CLIENT_SECRET": qbo["clientSecret"],
           "QBO_ACCESS_TOKEN": qbo["accessToken"], "QBO_REFRESH_TOKEN": qbo["refreshToken"]}
    env.pop("LEDGERQL_REDIS_URL", None)  # the advisory lock in PostgreSQL alone must do it

    gateways = []
    for _ in range(2):
        port = _free_port()
        process = subprocess.Popen([*cli, "serve", "--config", str(tmp_path / "ledgerql.yaml"), "--port", str(port)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        gateways.append(f"http://127.0.0.1:{port}")
    _wait_for(f"{sandbox_url}/", sandbox)
    for url, process in zip(gateways, processes[1:], strict=True):
        _wait_for(f"{url}/healthz", process)

    async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as client:
        # Both processes have used the connection (and hold its tokens in memory) before the expiry.
        for url in gateways:
            body = (await client.post(f"{url}/graphql", json={
                "query": "{ connection(id: \"qbo-shared\") { state invoices(first: 1) { nodes { id } } } }"})).json()
            assert not body.get("errors"), body
        stats = (await client.get(f"{qbo['baseUrl']}/_sandbox/stats")).json()
        refreshes_before = stats["refreshes"]
        expired = (await client.post(f"{qbo['baseUrl']}/_sandbox/tokens/expire")).json()
        assert expired["expired"] >= 1

        async def one(i: int) -> dict[str, object]:
            url = gateways[i % 2]
            query = "query($n: Int!) { connection(id: \"qbo-shared\") { invoices(first: $n) { nodes { number } } } }"
            response = await client.post(f"{url}/graphql", json={"query": query, "variables": {"n": 1 + i % 25}})
            assert response.status_code == 200, response.text
            return dict(response.json())

        answers = await asyncio.gather(*(one(i) for i in range(100)))

        errors = [a["errors"] for a in answers if a.get("errors")]
        assert errors == [], f"{len(errors)} of 100 failed, e.g. {errors[:1]}"
        for i, answer in enumerate(answers):
            nodes = answer["data"]["connection"]["invoices"]["nodes"]  # type: ignore[index]
            assert len(nodes) == 1 + i % 25
        stats = (await client.get(f"{qbo['baseUrl']}/_sandbox/stats")).json()
        assert stats["refreshes"] - refreshes_before == 1, stats
        state = (await client.post(f"{gateways[1]}/graphql", json={
            "query": "{ connections { id state } }"})).json()
        assert state["data"]["connections"] == [{"id": connection, "state": "ACTIVE"}]


async def test_serve_workers_with_a_config_file(tmp_path: Path, postgres_url: str,
                                                processes: list[subprocess.Popen[str]]) -> None:
    """`ledgerql serve --workers 2 --config FILE`: the file is applied once to the shared PostgreSQL store,
    and the workers answer with its keys and connections."""
    base_url = postgres_url
    schema, database_url = await _scratch_schema(base_url)
    try:
        cli = [sys.executable, "-m", "ledgerql.cli"]
        sandbox_port, port = _free_port(), _free_port()
        sandbox = subprocess.Popen([*cli, "sandbox", "--port", str(sandbox_port), "--no-rate-limits"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(sandbox)
        xero = json.loads(subprocess.run([*cli, "sandbox", "--describe", "--port", str(sandbox_port)],
                                         capture_output=True, text=True, check=True, timeout=60).stdout)["XERO"]
        (tmp_path / "ledgerql.yaml").write_text(json.dumps({"accounts": [{
            "id": "shop", "name": "Shop", "api_users": [{"id": "shop-bot", "key": "${TEST_API_KEY}"}],
            "connections": [{"id": "shop-xero", "provider": "XERO", "name": "Shop Xero", "base_url": xero["baseUrl"],
                             "tenant_id": xero["tenantId"], "token_url": xero["tokenUrl"],
                             "client_id": xero["clientId"], "client_secret": xero["clientSecret"],
                             "access_token": xero["accessToken"], "refresh_token": xero["refreshToken"]}]}]}))
        env = {**os.environ, "LEDGERQL_DATABASE_URL": database_url, "LEDGERQL_SECRET_KEY": "workers-config",
               "LEDGERQL_DATA_DIR": str(tmp_path), "TEST_API_KEY": KEY}
        env.pop("LEDGERQL_REDIS_URL", None)
        server = subprocess.Popen([*cli, "serve", "--workers", "2", "--config", str(tmp_path / "ledgerql.yaml"),
                                   "--port", str(port), "--production"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(server)
        _wait_for(f"http://127.0.0.1:{sandbox_port}/", sandbox)
        _wait_for(f"http://127.0.0.1:{port}/healthz", server)
        async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {KEY}"}) as client:
            for _ in range(6):  # fresh connections, spread over the workers by the kernel
                async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {KEY}"}) as fresh:
                    body = (await fresh.post(f"http://127.0.0.1:{port}/graphql", json={
                        "query": '{ connections { id state } connection(id: "shop-xero") { taxRates { nodes { code } } } }'
                    })).json()
                assert body["data"]["connections"] == [{"id": "shop-xero", "state": "ACTIVE"}], body
                assert {t["code"] for t in body["data"]["connection"]["taxRates"]["nodes"]} >= {"S", "Z"}
            ide = await client.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"})
            assert ide.status_code == 404  # --production: no GraphiQL
        server.terminate()
        assert server.wait(timeout=20) == 0
    finally:
        await _drop_schema(base_url, schema)
