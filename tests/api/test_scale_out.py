"""Several gateway processes behaving as one, with real Redis and real processes.

- Two gateway processes (uvicorn, each building its gateway with the `ledgerql.workers:worker_app`
  factory) in front of one sandbox process (`ledgerql sandbox`): together they never exceed Xero's
  per-minute limit, counted at the sandbox, whose own limiter never fires while the gateways refuse
  the excess with UPSTREAM_RATE_LIMITED; and a record cached by one is not fetched again by the other.
- `ledgerql serve --workers 2`: the sandboxes once, two workers answering as one gateway (same key,
  cursors from one worker read by the other, one cache), shut down cleanly by SIGTERM.

Runs against the machine's Redis when LEDGERQL_TEST_REDIS_URL is set (CI sets it) and FAILS if that
server cannot be reached; skipped only where no URL is configured. Every run uses its own key prefix.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

KEY = "scale-out-key"
XERO_INVOICE = 'query { connection(id: "demo-xero") { invoices(first: 1) { nodes { number } } } }'
QBO_CUSTOMERS = 'query { connection(id: "demo-quickbooks") { customers(first: 30) { nodes { displayName } } } }'
QBO_INVOICES = """query($after: String) { connection(id: "demo-quickbooks") {
  invoices(first: 20, after: $after) { nodes { number } pageInfo { endCursor hasNextPage } } } }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return int(self.process.returncode)


def start(args: list[str], port: int, env: dict[str, str], log: Path) -> Running:
    """A process answering `GET /healthz` (or `GET /` for the sandboxes) on `port`, or a failed test."""
    handle = log.open("w")
    process = subprocess.Popen([sys.executable, *args], stdout=handle, stderr=subprocess.STDOUT, text=True,
                               env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"{' '.join(args)} exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz" if "sandbox" not in args else url, timeout=1).status_code == 200:
                return Running(process, url, log)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{' '.join(args)} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def gateway_env(redis_url: str, namespace: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERQL_")}
    env.update({"LEDGERQL_REDIS_URL": redis_url, "LEDGERQL_REDIS_NAMESPACE": namespace,
                "LEDGERQL_DEMO_API_KEY": KEY, "LEDGERQL_SECRET_KEY": "scale-out-secret",
                "LEDGERQL_DATA_DIR": str(data_dir), **extra})
    return env


def forget(redis_url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{namespace}:*", count=500):
        client.delete(key)


@dataclass
class TwoGateways:
    sandbox: Running
    a: Running
    b: Running


@pytest.fixture(scope="module")
def two_gateways(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoGateways]:
    namespace = f"ledgerql-test-{uuid.uuid4().hex[:10]}"
    logs = tmp_path_factory.mktemp("scale-out")
    sandbox_port = free_port()
    sandbox = start(["-m", "ledgerql.cli", "sandbox", "--port", str(sandbox_port)], sandbox_port,
                    gateway_env(redis_url, namespace, logs), logs / "sandbox.log")
    gateways: list[Running] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = gateway_env(redis_url, namespace, logs / name, LEDGERQL_SANDBOX_URL=sandbox.url)
            gateways.append(start(["-m", "uvicorn", "ledgerql.workers:worker_app", "--factory", "--port", str(port),
                                   "--log-level", "warning"], port, env, logs / f"gateway-{name}.log"))
        yield TwoGateways(sandbox, *gateways)
    finally:
        for running in [*gateways, sandbox]:
            running.stop()
        forget(redis_url, namespace)


async def stats(client: httpx.AsyncClient, sandbox: Running, prefix: str) -> dict[str, Any]:
    response = await client.get(f"{sandbox.url}/{prefix}/_sandbox/stats")
    body: dict[str, Any] = response.json()
    return body


async def ask(client: httpx.AsyncClient, gateway: Running, query: str,
              variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post(f"{gateway.url}/graphql", json={"query": query, "variables": variables or {}},
                                 headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_two_gateway_processes_share_the_rate_budget(two_gateways: TwoGateways) -> None:
    """Xero allows 60 calls a minute per organisation: 80 uncached reads spread over two processes make
    exactly 60 calls, and the sandbox never has to refuse one."""
    sandbox = two_gateways.sandbox
    async with httpx.AsyncClient(timeout=30) as client:
        before = await stats(client, sandbox, "xero")
        gate = asyncio.Semaphore(10)

        async def one(i: int) -> tuple[str, dict[str, Any]]:
            gateway = two_gateways.a if i % 2 else two_gateways.b
            async with gate:
                return ("a" if i % 2 else "b"), await ask(client, gateway, XERO_INVOICE)

        answers = await asyncio.gather(*(one(i) for i in range(80)))
        after = await stats(client, sandbox, "xero")

    served = {"a": 0, "b": 0}
    refused = []
    for name, body in answers:
        if body.get("errors"):
            refused.extend(body["errors"])
        else:
            assert body["data"]["connection"]["invoices"]["nodes"], body
            served[name] += 1
    calls = after["total"] - before["total"]
    figures = (f"served by a {served['a']}, by b {served['b']}, refused {len(refused)}; Xero sandbox calls {calls}, "
               f"its limiter's 429s {after['rateLimited'] - before['rateLimited']}")
    assert calls == 60, f"together the two gateways make exactly the 60 calls Xero allows — {figures}"
    assert after["rateLimited"] == before["rateLimited"], f"the sandbox never had to refuse a call — {figures}"
    assert served["a"] > 0 and served["b"] > 0 and served["a"] + served["b"] == 60, figures
    assert len(refused) == 20, figures
    for error in refused:
        assert error["extensions"]["code"] == "UPSTREAM_RATE_LIMITED", error
        assert error["extensions"]["retryAfter"] >= 1, error
        assert "upstreamStatus" not in error["extensions"], f"refused by the gateway, never by Xero: {error}"
    quotas = [body["extensions"]["quota"]["demo-xero"]["minute"] for _, body in answers]
    assert min(q["remaining"] for q in quotas) == 0 and all(q["limit"] == 60 for q in quotas), quotas


async def test_a_record_cached_by_one_gateway_is_not_fetched_again_by_the_other(two_gateways: TwoGateways) -> None:
    sandbox = two_gateways.sandbox
    async with httpx.AsyncClient(timeout=30) as client:
        before = await stats(client, sandbox, "quickbooks")
        first = await ask(client, two_gateways.a, QBO_CUSTOMERS)
        middle = await stats(client, sandbox, "quickbooks")
        second = await ask(client, two_gateways.b, QBO_CUSTOMERS)
        after = await stats(client, sandbox, "quickbooks")
    assert not first.get("errors") and not second.get("errors")
    assert middle["total"] - before["total"] == first["extensions"]["upstreamCalls"] >= 1
    assert after["total"] == middle["total"], "the second gateway made no call at all"
    assert second["extensions"]["upstreamCalls"] == 0 and second["extensions"]["cacheHits"] >= 1
    assert second["data"] == first["data"]


def worker_pids(parent: int) -> list[int]:
    """The uvicorn worker processes under `parent` (multiprocessing's spawned children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


async def test_serve_with_two_workers_behaves_as_one_gateway(redis_url: str, tmp_path: Path) -> None:
    namespace = f"ledgerql-test-{uuid.uuid4().hex[:10]}"
    port = free_port()
    serve = start(["-m", "ledgerql.cli", "serve", "--workers", "2", "--port", str(port)], port,
                  gateway_env(redis_url, namespace, tmp_path), tmp_path / "serve.log")
    try:
        assert len(worker_pids(serve.process.pid)) == 2, "two worker processes under the supervisor"
        # Fresh connections each time, so that the kernel spreads them over both workers.
        answers = []
        for _ in range(12):
            async with httpx.AsyncClient(timeout=30) as client:
                answers.append(await ask(client, serve, QBO_CUSTOMERS))
        assert all(not a.get("errors") for a in answers), answers
        assert all(a["data"] == answers[0]["data"] for a in answers)
        assert answers[0]["extensions"]["upstreamCalls"] >= 1
        assert all(a["extensions"]["upstreamCalls"] == 0 for a in answers[1:]), "one cache for every worker"

        # A cursor handed out by one worker is read by whichever worker gets the next page.
        async with httpx.AsyncClient(timeout=30) as client:
            first = await ask(client, serve, QBO_INVOICES)
        cursor = first["data"]["connection"]["invoices"]["pageInfo"]["endCursor"]
        pages = []
        for _ in range(8):
            async with httpx.AsyncClient(timeout=30) as client:
                pages.append(await ask(client, serve, QBO_INVOICES, {"after": cursor}))
        assert all(not p.get("errors") for p in pages), pages
        numbers = [n["number"] for n in pages[0]["data"]["connection"]["invoices"]["nodes"]]
        assert len(numbers) == 20 and all(p["data"] == pages[0]["data"] for p in pages)
        assert not set(numbers) & {n["number"] for n in first["data"]["connection"]["invoices"]["nodes"]}
    finally:
        code = serve.stop()
        forget(redis_url, namespace)
    assert code == 0, f"a clean shutdown on SIGTERM: {serve.log.read_text()[-2000:]}"
    assert worker_pids(serve.process.pid) == [], "no worker left behind"


async def test_redis_budget_is_atomic_and_a_dead_holder_cannot_keep_a_slot(redis_url: str) -> None:
    """Two stores (as two processes hold them) racing for one window admit exactly its limit; a
    Retry-After recorded by one stops the other; a slot never given back frees itself at its lease."""
    from ledgerql.connectors.ratelimit import RedisRateStore, Window

    namespace = f"ledgerql-test-{uuid.uuid4().hex[:10]}"
    one, two = RedisRateStore.from_url(redis_url, namespace), RedisRateStore.from_url(redis_url, namespace)
    try:
        window = [Window("minute", 61, 25)]
        admissions = await asyncio.gather(*(store.take("conn", window) for _ in range(20) for store in (one, two)))
        admitted = [a for a in admissions if a.wait == 0]
        assert len(admitted) == 25
        assert sorted(a.used[0] for a in admitted) == list(range(1, 26)), "each admission counted once, in turn"
        assert all(50 < a.wait <= 61 for a in admissions if a.wait), "the rest wait for the window to move"

        await one.block("other", 5)
        blocked = await two.take("other", [Window("minute", 61, 100)])
        assert 4 < blocked.wait <= 5

        held = await one.enter("conn", 1, lease=0.5, wait=0)
        assert held is not None
        assert await two.enter("conn", 1, lease=0.5, wait=0.1) is None, "the one slot is taken"
        started = time.monotonic()
        assert await two.enter("conn", 1, lease=0.5, wait=2) is not None, "freed by its lease, never given back"
        assert time.monotonic() - started < 1
    finally:
        await one.aclose()
        await two.aclose()
        forget(redis_url, namespace)
