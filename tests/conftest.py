"""Fixtures shared by every test: generated books, paths to ../shared, the machine's services."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledgerql.sandbox.books import Books, BookSizes, generate_books

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONTRACTS = SHARED / "contracts"


@pytest.fixture(scope="session")
def books() -> Books:
    return generate_books(seed=7)


@pytest.fixture(scope="session")
def tiny_books() -> Books:
    return generate_books(seed=7, sizes=BookSizes.tiny())


def require_contracts(sub: str) -> Path:
    """The contract folder ../shared/contracts/<sub>, or skip the test with the reason."""
    path = CONTRACTS / sub
    if not path.exists():
        pytest.skip(f"{path} is absent: the providers' published contracts live in ../shared beside the checkout")
    return path


def _service_url(variable: str, service: str) -> str:
    """The URL of one of the machine's services, or skip when it is not set (CI sets it: then a test
    using it FAILS when the service cannot be reached, never skips)."""
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{variable} is not set (CI sets it to the machine's {service})")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _service_url("LEDGERQL_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = _service_url("LEDGERQL_TEST_REDIS_URL", "Redis")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"LEDGERQL_TEST_REDIS_URL={url} is set but Redis cannot be reached: {exc}")
    return url
