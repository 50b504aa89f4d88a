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


def configure_backends(gateway: Any) -> None:
    """Redis for the shared cache and PostgreSQL for durable records when their URLs are set;
    memory and a SQLite file in the data directory otherwise."""
    from ledgerql.connectors.cache import RecordCache
    from ledgerql.store.idempotency import open_idempotency_store

    redis_url = os.environ.get(REDIS_ENV)
    if redis_url:
        gateway.cache = RecordCache.redis(redis_url)
    data_dir = Path(os.environ.get(DATA_DIR_ENV, Path.home() / ".ledgerql"))
    gateway.idempotency = open_idempotency_store(os.environ.get(DATABASE_ENV), data_dir)


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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ledgerql.app import create_app
    from ledgerql.demo import build_demo
    from ledgerql.sandbox import SandboxSet

    base_url = f"http://{args.host}:{args.port}"
    sandboxes = SandboxSet(rate_limits=not args.no_rate_limits)
    demo = asyncio.run(build_demo(sandboxes, base_url=f"{base_url}/sandbox", secret_key=secret_key()))
    configure_backends(demo.gateway)
    app = create_app(demo.gateway, demo_key=demo.api_key, extra_routes=[Mount("/sandbox", sandboxes.app())])
    print("LedgerQL gateway with its four provider sandboxes", flush=True)
    print(f"  GraphiQL:     {base_url}/graphql", flush=True)
    print(f"  API key:      {demo.api_key}  (send `Authorization: Bearer <key>`)", flush=True)
    print(f"  connections:  {', '.join(sorted(demo.gateway.connections))}", flush=True)
    print(f"  sandboxes:    {base_url}/sandbox/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
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
    serve.set_defaults(func=cmd_serve)

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
