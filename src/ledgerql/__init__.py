"""LedgerQL: one GraphQL schema over QuickBooks Online, Xero, Exact Online and NetSuite."""

__version__ = "0.1.0"
