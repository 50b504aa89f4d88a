"""schema.graphql is the exported SDL, kept in sync by this test and `ledgerql export-schema`."""

from __future__ import annotations

import subprocess
import sys

from ledgerql.schema import build_schema
from tests.conftest import ROOT


def test_schema_file_matches_the_code() -> None:
    expected = build_schema().as_str() + "\n"
    actual = (ROOT / "schema.graphql").read_text()
    assert actual == expected, "schema.graphql is stale: run `ledgerql export-schema > schema.graphql`"


def test_export_schema_command_prints_the_sdl() -> None:
    result = subprocess.run([sys.executable, "-m", "ledgerql.cli", "export-schema"], capture_output=True,
                            text=True, check=True)
    assert result.stdout == (ROOT / "schema.graphql").read_text()
    assert "type Connection" in result.stdout and "scalar Decimal" in result.stdout
