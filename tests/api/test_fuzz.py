"""Random queries and mutations over the whole schema (hypothesis-graphql), sent over HTTP to a gateway
with its sandboxes: whatever arrives, the answer is JSON, never a 500, and every error carries one of our
codes and never INTERNAL (an unexpected crash) or a traceback.

Valid documents (POSITIVE) and invalid ones (NEGATIVE: wrong types, missing arguments) both run;
derandomized, so CI sees the same documents every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from ledgerql.model.errors import ErrorCode
from ledgerql.sandbox.books import BookSizes
from ledgerql.schema import build_schema
from tests.harness import GatewayHarness

SCHEMA = build_schema().as_str()
CODES = {code.value for code in ErrorCode} - {ErrorCode.INTERNAL.value}

# Our scalars as clients send them: mostly well-formed, sometimes not, so both paths are walked.
SCALARS = {
    "Date": st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12)).map(nodes.String),
    "DateTime": st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), st.text(max_size=12)).map(nodes.String),
    "Decimal": st.one_of(st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
                         st.text(max_size=8)).map(nodes.String),
    "JSON": st.just(nodes.String("{}")),
}


class Gateway:
    """One gateway and its sandboxes on an event loop of its own, so that hypothesis (synchronous) can
    drive it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._harness = GatewayHarness.start(sizes=BookSizes.tiny())
        self.gw = self.loop.run_until_complete(self._harness.__aenter__())

    def send(self, document: str) -> tuple[int, Any, str]:
        response = self.loop.run_until_complete(self.gw.client.post("/graphql", json={"query": document}))
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body, response.text

    def close(self) -> None:
        self.loop.run_until_complete(self._harness.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    running = Gateway()
    yield running
    running.close()


def _check(document: str, status: int, body: Any, text: str) -> None:
    assert status in (200, 400, 413), f"HTTP {status} for {document!r}: {text[:300]}"
    assert isinstance(body, dict), f"not JSON for {document!r}: {text[:300]}"
    assert "Traceback" not in text
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in CODES, f"{code} for {document!r}: {error}"


FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE])
def test_random_queries_never_crash_the_gateway(gateway: Gateway, mode: Mode) -> None:
    @FUZZ
    @given(document=queries(SCHEMA, custom_scalars=SCALARS, mode=mode))
    def run(document: str) -> None:
        _check(document, *gateway.send(document))

    run()


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE])
def test_random_mutations_never_crash_the_gateway(gateway: Gateway, mode: Mode) -> None:
    @FUZZ
    @given(document=mutations(SCHEMA, custom_scalars=SCALARS, mode=mode))
    def run(document: str) -> None:
        _check(document, *gateway.send(document))

    run()
