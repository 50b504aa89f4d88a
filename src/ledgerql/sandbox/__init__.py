"""Provider sandboxes: four emulators over one seeded set of books.

`SandboxSet` builds the QuickBooks Online, Xero, Exact Online and NetSuite emulators from the same
books and serves them from one ASGI app under distinct path prefixes. `ledgerql serve` embeds it;
`ledgerql sandbox` serves it alone; the tests and benchmarks run against it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from ledgerql.sandbox.books import Books, BookSizes, generate_books
from ledgerql.sandbox.common import Emulator, Faults, RateLimits, SandboxTenant

FAULTS_ENV = "LEDGERQL_SANDBOX_FAULTS"

#: provider → path prefix under which its emulator is served
PREFIXES = {
    "QUICKBOOKS": "/quickbooks",
    "XERO": "/xero",
    "EXACT_ONLINE": "/exact",
    "NETSUITE": "/netsuite",
}


def emulator_classes() -> dict[str, type[Emulator]]:
    from ledgerql.sandbox.exact_online import ExactOnlineEmulator
    from ledgerql.sandbox.netsuite import NetSuiteEmulator
    from ledgerql.sandbox.quickbooks import QuickBooksEmulator
    from ledgerql.sandbox.xero import XeroEmulator

    return {
        "QUICKBOOKS": QuickBooksEmulator,
        "XERO": XeroEmulator,
        "EXACT_ONLINE": ExactOnlineEmulator,
        "NETSUITE": NetSuiteEmulator,
    }


def faults_from_env() -> Faults:
    return Faults.from_json(os.environ.get(FAULTS_ENV))


class SandboxSet:
    """The four emulators, each holding `companies` tenants (tenant i has the books of seed + i)."""

    def __init__(self, *, seed: int = 7, sizes: BookSizes | None = None, companies: int = 1,
                 faults: Faults | None = None, rate_limits: bool = True,
                 books: list[Books] | None = None) -> None:
        self.books = books or [generate_books(seed + i, sizes) for i in range(companies)]
        faults = faults if faults is not None else faults_from_env()
        self.emulators: dict[str, Emulator] = {}
        for provider, cls in emulator_classes().items():
            tenants = [SandboxTenant(cls.tenant_id_for(i), b) for i, b in enumerate(self.books)]
            limits = RateLimits(**{**cls.default_limits.__dict__, "enabled": rate_limits})
            self.emulators[provider] = cls(tenants, faults=Faults(**faults.__dict__), limits=limits)

    def app(self) -> Starlette:
        routes: list[Any] = [Route("/", self._index)]
        routes += [Mount(PREFIXES[p], app=emu.build_app()) for p, emu in self.emulators.items()]
        return Starlette(routes=routes)

    async def _index(self, request: Any) -> JSONResponse:
        return JSONResponse(self.describe(str(request.base_url).rstrip("/")))

    def describe(self, base_url: str) -> dict[str, Any]:
        """Per provider: baseUrl, tokens, client credentials and tenant ids (see DESIGN.md)."""
        return {p: emu.describe(base_url.rstrip("/") + PREFIXES[p]) for p, emu in self.emulators.items()}

    def set_faults(self, faults: Faults) -> None:
        for emu in self.emulators.values():
            emu.faults.set(Faults(**faults.__dict__))

    def request_counts(self) -> dict[str, int]:
        return {p: emu.counter.total for p, emu in self.emulators.items()}

    def reset_counts(self) -> None:
        for emu in self.emulators.values():
            emu.counter.reset()


def describe_json(sandboxes: SandboxSet, base_url: str) -> str:
    return json.dumps(sandboxes.describe(base_url), indent=2)
