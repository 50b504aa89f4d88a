"""Cursor pagination over providers' own paging.

A cursor is opaque to clients: a signed token carrying the connection, the resource, the filter's
fingerprint, the provider's paging state of one upstream page, and an offset into that page. It
never expires (nothing is stored server-side), and it is only accepted for the very list it came
from. Pages are filled from upstream pages without ever splitting one upstream page across two
GraphQL pages needlessly: walking a whole list costs ceil(n / provider page size) calls.
"""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from ledgerql.connectors.base import Connector, ListFilter, Page
from ledgerql.model.enums import Resource
from ledgerql.model.errors import ErrorCode, LedgerQLError

T = TypeVar("T")
MAX_FIRST = 100
DEFAULT_FIRST = 50


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list. totalCount costs upstream calls only when selected.")
class ListResult(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many records match the filter, across all pages.")
    async def total_count(self) -> int:
        return await self._count()


class CursorCodec:
    """Signs and checks cursors with the gateway's secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, payload: dict[str, Any]) -> str:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")

    def decode(self, cursor: str) -> dict[str, Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            mac, body = raw[:12], raw[12:]
            if not hmac.compare_digest(mac, hmac.new(self._secret, body, hashlib.sha256).digest()[:12]):
                raise ValueError("signature")
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("shape")
            return payload
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _invalid_cursor() from None


async def paginate(*, connector: Connector, codec: CursorCodec, connection_id: str, resource: Resource,
                   first: int | None, after: str | None, filter: ListFilter,
                   on_page: Callable[[Page], None] | None = None) -> tuple[list[tuple[str, Any]], bool, Page | None]:
    """Up to `first` records after the cursor, each with its own cursor, and whether more follow."""
    first = DEFAULT_FIRST if first is None else first
    if first < 1 or first > MAX_FIRST:
        raise LedgerQLError(ErrorCode.BAD_USER_INPUT, f"`first` must be between 1 and {MAX_FIRST}", argument="first")
    scope = {"c": connection_id, "r": resource.value, "f": filter.fingerprint()}
    state: dict[str, Any] | None = None
    offset = 0
    if after:
        payload = codec.decode(after)
        if any(payload.get(k) != v for k, v in scope.items()):
            # The same answer as for a forged cursor: a cursor from another connection (perhaps another
            # account's) must not be told apart from garbage.
            raise _invalid_cursor()
        if payload.get("end"):
            return [], False, None
        state, offset = payload.get("s"), int(payload.get("o", 0))

    edges: list[tuple[str, Any]] = []
    first_page: Page | None = None
    while True:
        page = await connector.list_page(resource, filter, state, first)
        first_page = first_page or page
        if on_page:
            on_page(page)
        rows = page.records[offset:]
        take = rows[: first - len(edges)]
        for index, record in enumerate(take):
            position = offset + index + 1
            if position >= len(page.records):
                # The last row of an upstream page points at the next page, so resuming costs no
                # call for the page already read.
                after_state = {**scope, "end": True} if page.next_state is None else \
                    {**scope, "s": page.next_state, "o": 0}
            else:
                after_state = {**scope, "s": page.state, "o": position}
            edges.append((codec.encode(after_state), record))
        if offset + len(take) < len(page.records):
            return edges, True, first_page
        if page.next_state is None:
            return edges, False, first_page
        remaining = first - len(edges)
        # Continue into the next upstream page only if it can be read whole; otherwise the next
        # GraphQL page starts there, and no upstream page is fetched twice.
        if remaining <= 0 or remaining < connector.page_size(resource, remaining):
            return edges, True, first_page
        state, offset = page.next_state, 0


def _invalid_cursor() -> LedgerQLError:
    return LedgerQLError(ErrorCode.BAD_USER_INPUT, "The cursor is not valid for this list (a cursor only works on "
                         "the list, filter and connection that gave it)", argument="after")
