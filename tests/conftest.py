"""Fixtures shared by every test: generated books and paths to ../shared."""

from __future__ import annotations

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
