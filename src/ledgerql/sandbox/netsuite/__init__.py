"""NetSuite REST Web Services emulator: record/v1, query/v1 (SuiteQL) and the OAuth 2.0 token endpoint."""

from ledgerql.sandbox.netsuite.emulator import NetSuiteEmulator, account_slug

__all__ = ["NetSuiteEmulator", "account_slug"]
