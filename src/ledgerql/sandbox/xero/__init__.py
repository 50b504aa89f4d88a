"""Xero emulator: the Accounting API (api.xro/2.0), `/connections` and the OAuth2 token endpoint."""

from ledgerql.sandbox.xero.emulator import XeroEmulator

__all__ = ["XeroEmulator"]
