"""`ledgerql serve --config`: the README's example file is valid, and a bad file stops the command with a
clear message before any server starts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ledgerql.tenancy.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```yaml\n(partners:.*?)```", readme, re.S)
    assert match, "the README shows a configuration file"
    return match.group(1)


def test_the_readme_example_is_a_valid_configuration(tmp_path: Path) -> None:
    path = tmp_path / "ledgerql.yaml"
    path.write_text(_readme_example())
    names = set(re.findall(r"\$\{(\w+)\}", _readme_example()))
    config = load_config(path, {name: f"value-of-{name}" for name in names})
    [account] = config.accounts
    assert account.partner == config.partners[0].id
    assert account.connections[0].client_secret == "value-of-XERO_CLIENT_SECRET"
    shown = repr(config)  # secrets stay out of reprs, and so out of logs and tracebacks
    for secret in ("XERO_CLIENT_SECRET", "SHOP_XERO_ACCESS_TOKEN", "SHOP_XERO_REFRESH_TOKEN", "SHOP_API_KEY",
                   "ACME_API_KEY"):
        assert f"value-of-{secret}" not in shown
    with pytest.raises(ValueError, match=r"\$\{SHOP_API_KEY\}"):
        load_config(path, {name: "x" for name in names - {"SHOP_API_KEY"}})


@pytest.mark.parametrize(("content", "message"), [
    ("accounts: [{id: a, name: A, colour: blue}]", "colour"),
    ("accounts: [{id: a, name: A, api_users: [{id: u, key: '${NOT_SET_ANYWHERE}'}]}]", "NOT_SET_ANYWHERE"),
])
def test_a_bad_file_stops_serve_with_a_clear_message(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "ledgerql.cli", "serve", "--config", str(path), "--port", "1"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "", "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
