"""The command line: `ledgerql sandbox --describe` and `ledgerql serve`, run as a user runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx

from ledgerql.sandbox import SandboxSet


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_describe_names_credentials_a_running_sandbox_accepts() -> None:
    result = subprocess.run([sys.executable, "-m", "ledgerql.cli", "sandbox", "--describe", "--port", "8911"],
                            capture_output=True, text=True, check=True, timeout=60)
    described = json.loads(result.stdout)
    assert set(described) == {"QUICKBOOKS", "XERO", "EXACT_ONLINE", "NETSUITE"}
    for key, tenant_key in (("QUICKBOOKS", "realmId"), ("XERO", "tenantId"), ("EXACT_ONLINE", "division"),
                            ("NETSUITE", "accountId")):
        assert described[key]["baseUrl"].startswith("http://127.0.0.1:8911/")
        assert described[key][tenant_key] and described[key]["accessToken"] and described[key]["refreshToken"]

    # Another process started with the same books accepts the described token.
    app = SandboxSet().app()
    xero = described["XERO"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        ok = await client.get(f"{xero['baseUrl']}/api.xro/2.0/Organisation",
                              headers={"Authorization": f"Bearer {xero['accessToken']}",
                                       "xero-tenant-id": xero["tenantId"], "Accept": "application/json"})
        assert ok.status_code == 200, ok.text
        qbo = described["QUICKBOOKS"]
        ok = await client.get(f"{qbo['baseUrl']}/v3/company/{qbo['realmId']}/query",
                              params={"query": "select * from Customer MAXRESULTS 2"},
                              headers={"Authorization": f"Bearer {qbo['accessToken']}", "Accept": "application/json"})
        assert ok.status_code == 200 and len(ok.json()["QueryResponse"]["Customer"]) == 2


def test_serve_runs_the_gateway_with_its_sandboxes(tmp_path) -> None:
    port = free_port()
    env = {**os.environ, "LEDGERQL_DEMO_API_KEY": "cli-test-key", "LEDGERQL_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "ledgerql.cli", "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        response = httpx.post(f"http://127.0.0.1:{port}/graphql", headers={"Authorization": "Bearer cli-test-key"},
                              json={"query": '{ connection(id: "demo-xero") { invoices(first: 3) '
                                             '{ nodes { number total } } } }'}, timeout=30)
        body = response.json()
        assert not body.get("errors"), body
        assert len(body["data"]["connection"]["invoices"]["nodes"]) == 3
        page = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"}, timeout=10)
        assert "GraphiQL" in page.text or "graphiql" in page.text
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/graphql" in output
    assert "cli-test-key" in output
