"""`koyalite lsp` in a real editor: Debian's Neovim, headless, with its built-in LSP client, on a copy of the
reference manifest with a known error; the diagnostics Neovim shows are read back (tests/editors/)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deployed import skip_or_fail

REPO = Path(__file__).resolve().parent.parent


def test_neovim_shows_the_diagnostics_at_their_place(tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    if nvim is None:
        skip_or_fail("Debian's neovim is not installed (scripts/host.sh installs it)", "editor")
        pytest.skip("no nvim")
    shutil.copytree(REPO / "functions", tmp_path / "functions")
    text = (REPO / "koyalite.yaml").read_text()
    api = text.index("  api:\n")
    broken = text[:api] + text[api:].replace("    replicas: 2\n", "    repliocas: 2\n", 1)
    (tmp_path / "koyalite.yaml").write_text(broken)
    line = broken[: broken.index("    repliocas: 2")].count("\n")
    out = tmp_path / "diagnostics.txt"
    env = {**os.environ, "KOYALITE_LSP": str(REPO / ".venv" / "bin" / "koyalite"), "KOYALITE_OUT": str(out), "HOME": str(tmp_path)}
    done = subprocess.run(
        [nvim, "--headless", "--clean", "koyalite.yaml", "-c", f"luafile {REPO / 'tests' / 'editors' / 'neovim_diagnostics.lua'}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown = out.read_text().splitlines()
    # severity 1 is vim.diagnostic.severity.ERROR; lines and columns are 0-based in Neovim
    assert f"{line}:4:1:services.api.repliocas: unknown key `repliocas` (did you mean `replicas`?)" in shown, shown
    assert [s for s in shown if s.split(":")[2] == "1"] == [
        f"{line}:4:1:services.api.repliocas: unknown key `repliocas` (did you mean `replicas`?)"
    ]
