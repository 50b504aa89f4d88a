"""The README's coverage table is the one generated from providers/*.yaml."""

from __future__ import annotations

import re

from ledgerql.connectors.mapping import coverage_table
from tests.conftest import ROOT


def test_readme_coverage_table_is_generated() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- coverage:start -->\n(.*?)\n<!-- coverage:end -->", readme, re.S)
    assert match, "the README lost its coverage markers"
    assert match.group(1) == coverage_table(), "README coverage is stale: paste `ledgerql coverage` between the markers"


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/pytest"
    assert test_command in readme and test_command in ci
    assert ".venv/bin/ledgerql serve" in readme
