"""The GraphQL schema: queries over connections, typed errors, and per-response extensions."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError, GraphQLSyntaxError, ValidationContext, ValidationRule
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension, query_depth_limiter
from strawberry.extensions import max_aliases as alias_limiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, Info

from ledgerql.model.enums import Provider
from ledgerql.model.errors import ErrorCode, LedgerQLError, redacted
from ledgerql.schema.admin import AdminMutation, AdminQuery
from ledgerql.schema.connection import Connection
from ledgerql.schema.cost import CostEstimate, estimate_cost, max_cost_from_env
from ledgerql.schema.mutations import Mutation as WriteMutation
from ledgerql.schema.types import context
from ledgerql.writes.validation import ValidationFailed

logger = logging.getLogger("ledgerql.graphql")

Mutation = merge_types("Mutation", (WriteMutation, AdminMutation))


@strawberry.type
class Query(AdminQuery):
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


_TOKEN_LIMIT = re.compile(r"^Syntax Error: Document contains more than (\d+) tokens")
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.S)


def typed_error(error: GraphQLError) -> GraphQLError:
    """Every error leaves with an `extensions.code`; crashes leave with no detail at all."""
    original = error.original_error
    if isinstance(original, LedgerQLError):
        # Connectors redact what they know is secret; anything credential-shaped left goes too.
        safe = redacted(original)
        extensions = safe.to_extensions()
        message = safe.message
    elif original is None or isinstance(original, GraphQLError):
        if tokens := _TOKEN_LIMIT.search(error.message):
            # graphql-core's parser stops at the token limit (MaxTokensLimiter) with a syntax error.
            code = ErrorCode.QUERY_TOO_COMPLEX
            error.extensions = {**(error.extensions or {}), "limit": {"tokens": int(tokens.group(1))}}
        elif isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
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
            if self.execution_context.schema.config.disable_field_suggestions:
                # In production the schema is not introspectable: no error may spell out its names
                # (strawberry only trims unknown-field suggestions; arguments, enums and types too).
                for typed in result.errors:
                    typed.message = _SUGGESTION.sub("", typed.message)

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


class QueryCost(SchemaExtension):
    """Costs the operation in expected upstream calls before it runs (`extensions.cost`), and
    refuses it with QUERY_TOO_COMPLEX, making no call at all, when that exceeds the limit."""

    def __init__(self, *, max_cost: int) -> None:
        self.estimate = CostEstimate(expected=0, limit=max_cost)

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        assert execution.graphql_document is not None
        self.estimate.expected = estimate_cost(execution.schema._schema, execution.graphql_document,
                                               execution.variables, execution.operation_name,
                                               _visible_connections(execution.context))
        if self.estimate.expected > self.estimate.limit:
            refusal = LedgerQLError(
                ErrorCode.QUERY_TOO_COMPLEX,
                f"This operation is expected to make {self.estimate.expected} upstream calls, over the limit of "
                f"{self.estimate.limit}: ask for fewer records or references, or split it",
                cost=self.estimate.to_extensions())
            # A result set before execution stands in for it: nothing is resolved, nothing is called.
            execution.result = GraphQLExecutionResult(data=None, errors=[
                GraphQLError(refusal.message, original_error=refusal)])
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.estimate.to_extensions()}


def _visible_connections(ctx: Any) -> dict[str, Provider]:
    """The caller's connections and their providers (none when there is no request context)."""
    principal, gateway = getattr(ctx, "principal", None), getattr(ctx, "gateway", None)
    if principal is None or gateway is None:
        return {}
    return {cid: gateway.connections[cid].provider for cid in principal.connection_ids if cid in gateway.connections}


class _Coded:
    """A validation context seen through a limiter: what it reports is tagged QUERY_TOO_COMPLEX."""

    def __init__(self, context: ValidationContext, extensions: dict[str, Any]) -> None:
        self._context = context
        self._extensions = extensions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": ErrorCode.QUERY_TOO_COMPLEX.value,
                            **self._extensions}
        self._context.report_error(error)


def _too_complex(rule: type[ValidationRule], **limit: int) -> type[ValidationRule]:
    """strawberry's depth and alias limiters check the whole document when they are built; built on
    a `_Coded` context, their refusals carry our code and the limit."""

    class Limiter(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            rule(_Coded(context, {"limit": limit}))  # type: ignore[arg-type]

    return Limiter


def build_schema(*, max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 4000, max_cost: int | None = None,
                 introspection: bool = True) -> LedgerQLSchema:
    """The schema with its limits. `max_cost` is in expected upstream calls per operation (default:
    $LEDGERQL_MAX_QUERY_COST, else `cost.DEFAULT_MAX_COST`)."""
    cost_limit = max_cost_from_env() if max_cost is None else max_cost
    limiters: list[type[ASTValidationRule]] = [
        _too_complex(query_depth_limiter.create_validator(max_depth, None, None), depth=max_depth),
        _too_complex(alias_limiter.create_validator(max_aliases), aliases=max_aliases)]
    extensions: list[Any] = [
        ResponseExtensions,
        lambda: AddValidationRules(limiters),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: QueryCost(max_cost=cost_limit),
    ]
    if not introspection:
        from strawberry.extensions import DisableIntrospection

        extensions.append(DisableIntrospection)
    return LedgerQLSchema(query=Query, mutation=Mutation, extensions=extensions,
                          config=StrawberryConfig(disable_field_suggestions=not introspection))
