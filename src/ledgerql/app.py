"""The ASGI app: POST /graphql (GraphiQL on GET from a browser), GET /healthz, GET /metrics."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message
from strawberry.asgi import GraphQL

from ledgerql.connectors.base import cache_bypass
from ledgerql.connectors.http import current_stats, current_tracking_id, dump_json
from ledgerql.context import RequestContext
from ledgerql.gateway import Gateway
from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.schema import build_schema

logger = logging.getLogger("ledgerql.app")

MAX_BODY_BYTES = 1_000_000
# A partner's API user names the account it acts for in this header on each request.
ACCOUNT_HEADER = "x-ledgerql-account"


class Metrics:
    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.upstream_calls = 0

    def render(self) -> str:
        return (f"ledgerql_graphql_requests_total {self.requests}\n"
                f"ledgerql_graphql_errors_total {self.errors}\n"
                f"ledgerql_upstream_calls_total {self.upstream_calls}\n")


def _error_body(error: LedgerQLError) -> dict[str, Any]:
    return {"errors": [{"message": error.message, "extensions": error.to_extensions()}]}


class GraphQLView(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with our authentication, context, tracking id and IDE defaults."""

    def __init__(self, gateway: Gateway, metrics: Metrics, demo_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gateway = gateway
        self.metrics = metrics
        self.demo_key = demo_key

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        principal = request.state.principal
        ctx = RequestContext(gateway=self.gateway, principal=principal, tracking_id=request.state.tracking_id,
                             request=request, response=response)
        current_stats.set(ctx.stats)
        current_tracking_id.set(ctx.tracking_id)
        # `Cache-Control: no-cache` asks for fresh data: the shared cache is skipped for this request.
        cache_bypass.set("no-cache" in request.headers.get("cache-control", "").lower())
        return ctx

    async def process_result(self, request: Any, result: Any) -> Any:
        data = await super().process_result(request, result)
        self.metrics.requests += 1
        self.metrics.errors += len(result.errors or [])
        stats = current_stats.get()
        if stats is not None:
            self.metrics.upstream_calls += stats.calls
        return data

    def encode_json(self, data: object) -> str | bytes:
        try:
            return json.dumps(data, separators=(",", ":"))
        except TypeError:
            # A provider's raw record keeps its numbers as exact Decimals: write them as the exact JSON
            # numbers the provider sent, never through float.
            return dump_json(data)

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        html = self.graphql_ide_html
        if self.demo_key:
            # The demo account's key is pre-filled so the explorer works at first sight.
            header = json.dumps({"Authorization": f"Bearer {self.demo_key}"})
            html = html.replace("const defaultHeaders = {};", f"const defaultHeaders = {header};", 1)
        return HTMLResponse(html)


def create_app(gateway: Gateway, *, demo_key: str | None = None, graphiql: bool = True,
               introspection: bool = True, extra_routes: list[BaseRoute] | None = None,
               lifespan_hooks: list[Callable[[], Awaitable[None]]] | None = None) -> Starlette:
    metrics = Metrics()
    view = GraphQLView(gateway, metrics, demo_key=demo_key, schema=build_schema(introspection=introspection),
                       graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=False)

    async def graphql_endpoint(request: Request) -> Response:
        tracking_id = request.headers.get("x-tracking-id") or uuid.uuid4().hex
        if len(tracking_id) > 64 or not tracking_id.replace("-", "").isalnum():
            tracking_id = uuid.uuid4().hex
        request.state.tracking_id = tracking_id
        wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_ide:
            if not graphiql:
                return _tracked(PlainTextResponse("GraphiQL is switched off", status_code=404), tracking_id)
            return _tracked(await view.render_graphql_ide(request), tracking_id)
        else:
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                return _tracked(JSONResponse(_error_body(LedgerQLError(
                    ErrorCode.BAD_USER_INPUT, f"The request body exceeds {MAX_BODY_BYTES} bytes")), 413), tracking_id)
            header = request.headers.get("authorization", "")
            key = header[7:].strip() if header.lower().startswith("bearer ") else None
            try:
                request.state.principal = await gateway.authenticate(key, request.headers.get(ACCOUNT_HEADER))
            except LedgerQLError as error:
                status = 401 if error.code == ErrorCode.UNAUTHENTICATED else 403
                return _tracked(JSONResponse(_error_body(error), status_code=status), tracking_id)
            # Content-Length may be absent (chunked) or lie: the body itself is read up to the bound.
            body = await _bounded_body(request)
            if body is None:
                return _tracked(JSONResponse(_error_body(LedgerQLError(
                    ErrorCode.BAD_USER_INPUT, f"The request body exceeds {MAX_BODY_BYTES} bytes")), 413), tracking_id)
            request = _replaying(request, body)
        response = await view.run(request)
        return _tracked(response, tracking_id)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "connections": len(gateway.connections)})

    async def metrics_endpoint(request: Request) -> Response:
        return PlainTextResponse(metrics.render())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        for hook in lifespan_hooks or []:
            await hook()
        yield
        await gateway.aclose()

    routes: list[BaseRoute] = [
        Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
        Route("/healthz", healthz),
        Route("/metrics", metrics_endpoint),
    ]
    routes += extra_routes or []
    return Starlette(routes=routes, lifespan=lifespan)


async def _bounded_body(request: Request) -> bytes | None:
    """The request body, or None as soon as it grows past MAX_BODY_BYTES (the rest is never read)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _replaying(request: Request, body: bytes) -> Request:
    """The same request (scope and state), its already-read body served again to the GraphQL view."""
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def _tracked(response: Response, tracking_id: str) -> Response:
    response.headers["X-Tracking-Id"] = tracking_id
    return response

