"""`ledgerql serve | sandbox | export-schema`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from starlette.routing import Mount

SECRET_ENV = "LEDGERQL_SECRET_KEY"
DATA_DIR_ENV = "LEDGERQL_DATA_DIR"
REDIS_ENV = "LEDGERQL_REDIS_URL"
DATABASE_ENV = "LEDGERQL_DATABASE_URL"
REDIS_NAMESPACE_ENV = "LEDGERQL_REDIS_NAMESPACE"  # key prefix, so that several gateways can share one Redis
PRODUCTION_ENV = "LEDGERQL_PRODUCTION"


def secret_key() -> bytes:
    """The gateway's signing key (cursors, key hashes): from the environment, else a key kept in the
    data directory, so cursors handed out before a restart keep working after it."""
    configured = os.environ.get(SECRET_ENV)
    if configured:
        return configured.encode()
    path = Path(os.environ.get(DATA_DIR_ENV, Path.home() / ".ledgerql")) / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    path.write_bytes(key)
    path.chmod(0o600)
    return key


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV, Path.home() / ".ledgerql"))


def configure_backends(gateway: Any) -> None:
    """Redis for the shared cache when its URL is set (memory otherwise); idempotency records in the
    gateway's own database."""
    from ledgerql.connectors.cache import RecordCache
    from ledgerql.store.idempotency import DatabaseIdempotencyStore

    redis_url = os.environ.get(REDIS_ENV)
    if redis_url:
        from ledgerql.connectors.ratelimit import RedisRateStore

        namespace = os.environ.get(REDIS_NAMESPACE_ENV, "ledgerql")
        gateway.cache = RecordCache.redis(redis_url, namespace)
        gateway.rate_store = RedisRateStore.from_url(redis_url, namespace)
    gateway.idempotency = DatabaseIdempotencyStore(gateway.database)  # the same store as tenancy


def make_gateway(*, durable: bool, transport: Any = None, rate_limits: bool = True) -> Any:
    """A gateway on the configured store: PostgreSQL (LEDGERQL_DATABASE_URL), else a SQLite file in the data
    directory when `durable`, else memory. Token refreshes are single-flight across processes through
    PostgreSQL advisory locks, else Redis locks (LEDGERQL_REDIS_URL), else file locks beside the SQLite
    file, else (memory) within this process only."""
    from ledgerql.gateway import Gateway
    from ledgerql.store.database import PostgresDatabase, SQLiteDatabase, is_postgres_url, open_database
    from ledgerql.tenancy.crypto import SecretBox
    from ledgerql.tenancy.locks import FileLocks, LocalLocks, Locks, PostgresLocks, RedisLocks

    key = secret_key()
    url = os.environ.get(DATABASE_ENV)
    database = open_database(url, data_dir()) if url or durable else SQLiteDatabase(":memory:")
    locks: Locks
    if isinstance(database, PostgresDatabase) and is_postgres_url(url):
        locks = PostgresLocks(database)
    elif os.environ.get(REDIS_ENV):
        locks = RedisLocks(os.environ[REDIS_ENV])
    elif isinstance(database, SQLiteDatabase) and database.path != ":memory:":
        locks = FileLocks(Path(database.path).parent / "locks")
    else:
        locks = LocalLocks()
    gateway = Gateway(secret_key=key, transport=transport, rate_limits=rate_limits, database=database,
                      box=SecretBox.from_environment(key), locks=locks)
    configure_backends(gateway)
    return gateway


def cmd_export_schema(args: argparse.Namespace) -> int:
    from ledgerql.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    from ledgerql.connectors.mapping import coverage_table

    sys.stdout.write(coverage_table() + "\n")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from ledgerql.sandbox import SandboxSet, describe_json

    sandboxes = SandboxSet(rate_limits=not args.no_rate_limits)
    base_url = f"http://{args.host}:{args.port}"
    if args.describe:
        sys.stdout.write(describe_json(sandboxes, base_url) + "\n")
        return 0
    import uvicorn

    print(f"LedgerQL sandboxes on {base_url} (QuickBooks /quickbooks, Xero /xero, Exact Online /exact, "
          f"NetSuite /netsuite); GET {base_url}/ describes them", flush=True)
    uvicorn.run(sandboxes.app(), host=args.host, port=args.port, log_level="warning")
    return 0


def serve_workers(args: argparse.Namespace) -> int:
    """`serve --workers N`: the sandboxes once, and N worker processes that behave as one gateway."""
    from ledgerql.workers import serve_configured_workers
    from ledgerql.workers import serve_workers as supervise

    production = args.production or os.environ.get(PRODUCTION_ENV, "") not in ("", "0", "false")
    if args.config:
        return serve_configured_workers(host=args.host, port=args.port, workers=args.workers,
                                        config_path=args.config, production=production)
    return supervise(host=args.host, port=args.port, workers=args.workers, rate_limits=not args.no_rate_limits,
                     production=production)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.workers > 1:
        return serve_workers(args)
    import uvicorn

    from ledgerql.app import create_app

    base_url = f"http://{args.host}:{args.port}"
    production = args.production or os.environ.get(PRODUCTION_ENV, "") not in ("", "0", "false")
    if args.config:
        from ledgerql.tenancy.config import apply_config, load_config

        config = load_config(args.config)  # read now: a bad file stops here, before the server starts
        gateway = make_gateway(durable=True)

        async def setup() -> None:
            await gateway.start()
            async with gateway.locks.hold("apply-config"):  # workers starting together apply it once
                await apply_config(config, gateway.tenancy, gateway.add_connection)

        app = create_app(gateway, graphiql=not production, introspection=not production, lifespan_hooks=[setup])
        print(f"LedgerQL gateway ({len(config.accounts)} accounts from {args.config})", flush=True)
        print(f"  GraphQL:      {base_url}/graphql" + ("" if production else " (GraphiQL in a browser)"), flush=True)
    else:
        import httpx

        from ledgerql.demo import DEMO_CONNECTION_IDS, _mounted, demo_key, setup_demo
        from ledgerql.sandbox import SandboxSet

        sandboxes = SandboxSet(rate_limits=not args.no_rate_limits)
        sandbox_url = f"{base_url}/sandbox"
        gateway = make_gateway(durable=False, transport=httpx.ASGITransport(app=_mounted(sandboxes, sandbox_url)))
        key = demo_key()

        async def setup() -> None:
            await setup_demo(gateway, sandboxes, base_url=sandbox_url, api_key=key)

        app = create_app(gateway, demo_key=None if production else key, graphiql=not production,
                         introspection=not production, extra_routes=[Mount("/sandbox", sandboxes.app())],
                         lifespan_hooks=[setup])
        print("LedgerQL gateway with its four provider sandboxes", flush=True)
        print(f"  GraphiQL:     {base_url}/graphql", flush=True)
        print(f"  API key:      {key}  (send `Authorization: Bearer <key>`)", flush=True)
        print(f"  connections:  {', '.join(sorted(DEMO_CONNECTION_IDS.values()))}", flush=True)
        print(f"  sandboxes:    {base_url}/sandbox/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    """Re-encrypt every stored provider secret under the first key of LEDGERQL_ENCRYPTION_KEYS."""

    async def rotate() -> int:
        gateway = make_gateway(durable=True)
        try:
            await gateway.start()
            return int(await gateway.tenancy.rotate_secrets())
        finally:
            await gateway.aclose()

    print(f"re-encrypted {asyncio.run(rotate())} connection secrets under the current key", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("LEDGERQL_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="ledgerql", description="A GraphQL gateway over accounting providers.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (with the four sandboxes and a demo account)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-rate-limits", action="store_true", help="switch the sandboxes' rate limits off")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes behaving as one gateway (set LEDGERQL_REDIS_URL and "
                            "LEDGERQL_DATABASE_URL so that they share cache, rate budget, tokens and records)")
    serve.add_argument("--config", help="a YAML file of partners, accounts, API users and connections (no "
                                        "sandboxes, no demo account)")
    serve.add_argument("--production", action="store_true",
                       help="GraphiQL and introspection off (also LEDGERQL_PRODUCTION=1)")
    serve.set_defaults(func=cmd_serve)

    rotate = sub.add_parser("rotate-keys", help="re-encrypt stored provider secrets under the current key")
    rotate.set_defaults(func=cmd_rotate_keys)

    sandbox = sub.add_parser("sandbox", help="run the four provider emulators alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8900)
    sandbox.add_argument("--describe", action="store_true",
                         help="print base URLs, tenant ids and tokens as JSON, and exit")
    sandbox.add_argument("--no-rate-limits", action="store_true")
    sandbox.set_defaults(func=cmd_sandbox)

    export = sub.add_parser("export-schema", help="print the GraphQL SDL")
    export.set_defaults(func=cmd_export_schema)

    coverage = sub.add_parser("coverage", help="print the coverage table generated from providers/*.yaml")
    coverage.set_defaults(func=cmd_coverage)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except json.JSONDecodeError as exc:
        parser.error(f"bad JSON in configuration: {exc}")
    except ValueError as exc:
        parser.error(str(exc))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
