"""`ledgerql serve --workers N`: several uvicorn worker processes that behave as one gateway.

The supervisor (the `ledgerql serve` process) runs the four sandboxes once, in a thread of its own on
a port of its own, and hands every worker what they must agree on through the environment: the
sandboxes' URL, the demo API key and the secret key (cursors signed by one worker are read by
another). Each worker builds its gateway with `worker_app` (a uvicorn app factory) from that
environment, with Redis (LEDGERQL_REDIS_URL: shared cache and rate budget) and PostgreSQL
(LEDGERQL_DATABASE_URL: tenancy, token vault, idempotency records) when they are configured.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

SANDBOX_URL_ENV = "LEDGERQL_SANDBOX_URL"


def worker_app() -> Any:
    """The app of one worker process (uvicorn `factory=True`); its gateway reaches the supervisor's
    sandboxes over HTTP."""
    from ledgerql.app import create_app
    from ledgerql.cli import PRODUCTION_ENV, make_gateway
    from ledgerql.demo import DEMO_KEY_ENV, setup_demo
    from ledgerql.sandbox import SandboxSet
    from ledgerql.sandbox.books import BookSizes

    key = os.environ[DEMO_KEY_ENV]
    production = os.environ.get(PRODUCTION_ENV, "") not in ("", "0", "false")
    # Durable: the workers share one store (PostgreSQL, else a SQLite file in the data directory), so a
    # token one worker refreshes is the token every worker uses next.
    gateway = make_gateway(durable=True)

    async def setup() -> None:
        # The supervisor registered the demo already; a worker started alone (`uvicorn --factory`) does it.
        await setup_demo(gateway, SandboxSet(sizes=BookSizes.tiny()), base_url=os.environ[SANDBOX_URL_ENV],
                         api_key=key, only_if_absent=True)

    return create_app(gateway, demo_key=None if production else key, graphiql=not production,
                      introspection=not production, lifespan_hooks=[setup])


class SandboxThread:
    """The sandboxes' HTTP server, in a thread of the supervisor (port 0: the system picks one)."""

    def __init__(self, host: str, rate_limits: bool) -> None:
        import uvicorn

        from ledgerql.sandbox import SandboxSet

        config = uvicorn.Config(SandboxSet(rate_limits=rate_limits).app(), host=host, port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="ledgerql-sandboxes", daemon=True)

    def start(self, timeout: float = 30) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandboxes did not start")
            time.sleep(0.05)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def _register_demo(sandbox_url: str, key: str) -> None:
    """The demo account and its connections to the running sandboxes, in the store the workers share. The
    sandboxes were just started, so their start-up tokens (derived from the seed) are the valid ones."""
    from ledgerql.cli import make_gateway
    from ledgerql.demo import setup_demo
    from ledgerql.sandbox import SandboxSet
    from ledgerql.sandbox.books import BookSizes

    gateway = make_gateway(durable=True)
    try:
        # Tiny books name the same tenants and start-up tokens as the running sandboxes' full ones: they
        # derive from the seed alone.
        await setup_demo(gateway, SandboxSet(sizes=BookSizes.tiny()), base_url=sandbox_url, api_key=key)
    finally:
        await gateway.aclose()


def serve_workers(*, host: str, port: int, workers: int, rate_limits: bool, production: bool) -> int:
    """Run the sandboxes once and `workers` gateway processes on `host:port` until SIGINT/SIGTERM."""
    import uvicorn

    from ledgerql.cli import PRODUCTION_ENV, REDIS_ENV, SECRET_ENV, secret_key
    from ledgerql.demo import DEMO_CONNECTION_IDS, DEMO_KEY_ENV, demo_key

    # What every worker must share, set before they are spawned (they inherit the environment).
    os.environ[SECRET_ENV] = secret_key().decode()
    os.environ[DEMO_KEY_ENV] = key = demo_key()
    if production:
        os.environ[PRODUCTION_ENV] = "1"
    sandboxes = SandboxThread(host, rate_limits)
    os.environ[SANDBOX_URL_ENV] = sandbox_url = sandboxes.start()
    base_url = f"http://{host}:{port}"
    print(f"LedgerQL gateway: {workers} worker processes with shared sandboxes", flush=True)
    print(f"  GraphiQL:     {base_url}/graphql", flush=True)
    print(f"  API key:      {key}  (send `Authorization: Bearer <key>`)", flush=True)
    print(f"  connections:  {', '.join(sorted(DEMO_CONNECTION_IDS.values()))}", flush=True)
    print(f"  sandboxes:    {sandbox_url}/", flush=True)
    if not os.environ.get(REDIS_ENV):
        print(f"  warning:      {REDIS_ENV} is not set: each worker keeps its own cache and rate budget", flush=True)
    asyncio.run(_register_demo(sandbox_url, key))  # once, before any worker starts
    try:
        uvicorn.run("ledgerql.workers:worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning")
    finally:
        sandboxes.stop()
    return 0



def configured_worker_app() -> Any:
    """The app of one worker serving real providers: the supervisor applied the configuration to the
    shared store already, so a worker only reads it."""
    from ledgerql.app import create_app
    from ledgerql.cli import PRODUCTION_ENV, make_gateway

    production = os.environ.get(PRODUCTION_ENV, "") not in ("", "0", "false")
    return create_app(make_gateway(durable=True), graphiql=not production, introspection=not production)


def serve_configured_workers(*, host: str, port: int, workers: int, config_path: str, production: bool) -> int:
    """Apply `config_path` to the store once, then run `workers` gateway processes over it."""
    import uvicorn

    from ledgerql.cli import DATABASE_ENV, PRODUCTION_ENV, REDIS_ENV, SECRET_ENV, make_gateway, secret_key
    from ledgerql.tenancy.config import apply_config, load_config

    config = load_config(config_path)
    if not os.environ.get(DATABASE_ENV) or not os.environ.get(REDIS_ENV):
        print(f"  warning:      set {DATABASE_ENV} and {REDIS_ENV} so the workers share one store, cache and "
              "rate budget (a SQLite file in the data directory is shared on one machine only)", flush=True)
    os.environ[SECRET_ENV] = secret_key().decode()
    if production:
        os.environ[PRODUCTION_ENV] = "1"

    async def prepare() -> None:
        gateway = make_gateway(durable=True)
        try:
            await gateway.start()
            async with gateway.locks.hold("apply-config"):
                await apply_config(config, gateway.tenancy, gateway.add_connection)
        finally:
            await gateway.aclose()

    asyncio.run(prepare())
    print(f"LedgerQL gateway: {workers} worker processes, {len(config.accounts)} accounts from {config_path}",
          flush=True)
    print(f"  GraphQL:      http://{host}:{port}/graphql", flush=True)
    uvicorn.run("ledgerql.workers:configured_worker_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning")
    return 0
