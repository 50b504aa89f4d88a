"""Connectors: one per provider, each turning unified questions into that provider's calls.

`connector_class(provider)` gives the class; `Connector.build(config, tokens)` makes one for a
connection. Field mappings and capabilities are data in providers/<name>.yaml.
"""

from __future__ import annotations

from ledgerql.connectors.base import Connector
from ledgerql.model.enums import Provider


def connector_class(provider: Provider) -> type[Connector]:
    if provider == Provider.QUICKBOOKS:
        from ledgerql.connectors.quickbooks import QuickBooksConnector

        return QuickBooksConnector
    if provider == Provider.XERO:
        from ledgerql.connectors.xero import XeroConnector

        return XeroConnector
    if provider == Provider.EXACT_ONLINE:
        from ledgerql.connectors.exact_online import ExactOnlineConnector

        return ExactOnlineConnector
    from ledgerql.connectors.netsuite import NetSuiteConnector

    return NetSuiteConnector
