"""The GraphQL schema: queries over connections, typed errors, and per-response extensions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from ledgerql.model.errors import ErrorCode, LedgerQLError
from ledgerql.schema.connection import Connection
from ledgerql.schema.mutations import Mutation
from ledgerql.schema.types import context
from ledgerql.writes.validation import ValidationFailed

logger = logging.getLogger("ledgerql.graphql")


@strawberry.type
class Query:
    @strawberry.field(description="The connections the caller may use.")
    def connections(self, info: Info) -> list[Connection]:  # type: ignore[valid-type]
        ctx = context(info)
        gateway = ctx.gateway
        return [_connection(gateway.connections[cid]) for cid in sorted(ctx.principal.connection_ids)
                if cid in gateway.connections]

    @strawberry.field(description="One connection by id.")
    def connection(self, info: Info, id: strawberry.ID) -> Connection | None:  # type: ignore[valid-type]
        ctx = context(info)
        connector = ctx.connector(str(id))
        return _connection(connector.config)


def _connection(config: Any) -> Any:
    return Connection(id=strawberry.ID(config.id), provider=config.provider, name=config.name)


_BAD_INPUT_PREFIXES = ("Variable '$", "Expected value of type", "Int cannot represent", "Float cannot represent",
                       "String cannot represent", "ID cannot represent", "Boolean cannot represent",
                       "Enum '", "Value cannot represent", "Argument '")


def typed_error(error: GraphQLError) -> GraphQLError:
    """Every error leaves with an `extensions.code`; crashes leave with no detail at all."""
    original = error.original_error
    if isinstance(original, LedgerQLError):
        extensions = original.to_extensions()
        message = original.message
    elif original is None or isinstance(original, GraphQLError):
        if isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
            code = ErrorCode.GRAPHQL_PARSE_FAILED
        elif error.path is None and not error.message.startswith(_BAD_INPUT_PREFIXES):
            code = ErrorCode.GRAPHQL_VALIDATION_FAILED
        else:
            code = ErrorCode.BAD_USER_INPUT
        extensions = {**(error.extensions or {}), "code": (error.extensions or {}).get("code", code.value)}
        message = error.message
    elif isinstance(original, (ValueError, TypeError)) and error.path and _is_scalar_parse(original):
        extensions, message = {"code": ErrorCode.BAD_USER_INPUT.value}, str(original)
    else:
        extensions, message = {"code": ErrorCode.INTERNAL.value}, "Unexpected error."
    return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, original_error=None, extensions=extensions)


def _expand(error: GraphQLError) -> list[GraphQLError]:
    """A failed validation is reported as one error per problem, each with its input path."""
    if isinstance(error.original_error, ValidationFailed):
        return [typed_error(GraphQLError(p.message, nodes=error.nodes, source=error.source,
                                         positions=error.positions, path=error.path, original_error=p))
                for p in error.original_error.problems]
    return [typed_error(error)]


def _is_scalar_parse(exc: Exception) -> bool:
    text = str(exc)
    return text.startswith(("Invalid isoformat", "time data", "Argument '")) or "cannot be higher" in text


class ResponseExtensions(SchemaExtension):
    """Types every error, and adds trackingId, upstream calls and fallbacks to each response."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [typed for e in result.errors for typed in _expand(e)]

    def get_results(self) -> dict[str, Any]:
        ctx = self.execution_context.context
        tracking_id = getattr(ctx, "tracking_id", None)
        if tracking_id is None:
            return {}
        results: dict[str, Any] = {"trackingId": tracking_id, "upstreamCalls": ctx.stats.calls,
                                   "upstreamRoundTrips": ctx.stats.rounds, "cacheHits": ctx.stats.cache_hits}
        if ctx.stats.quota:
            results["quota"] = ctx.stats.quota
        if ctx.fallbacks:
            results["fallbacks"] = ctx.fallbacks
        return results


class LedgerQLSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log one line per error: code, path, exception type, tracking id. Never a traceback or a
        message that might carry a provider secret."""
        tracking_id = getattr(getattr(execution_context, "context", None), "tracking_id", None)
        for error in errors:
            original = error.original_error
            code = original.code.value if isinstance(original, LedgerQLError) else \
                (error.extensions or {}).get("code", "INTERNAL" if original else "GRAPHQL")
            level = logging.ERROR if original is not None and not isinstance(original, LedgerQLError) else logging.INFO
            logger.log(level, "graphql error code=%s path=%s type=%s tracking_id=%s", code,
                       ".".join(str(p) for p in error.path or []) or "-",
                       type(original).__name__ if original else "GraphQLError", tracking_id)


def build_schema(*, max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 4000,
                 introspection: bool = True) -> LedgerQLSchema:
    extensions: list[Any] = [
        ResponseExtensions,
        lambda: QueryDepthLimiter(max_depth=max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
    ]
    if not introspection:
        from strawberry.extensions import DisableIntrospection

        extensions.append(DisableIntrospection)
    return LedgerQLSchema(query=Query, mutation=Mutation, extensions=extensions,
                          config=StrawberryConfig(disable_field_suggestions=not introspection))
