"""Outputs that cannot be written: every file-system failure is exit 73 with the path named and a hint, and nothing
is left behind (no staging file or folder, the previous output intact).

Read-only and full disks are real: a tmpfs mounted for the test (root only; CI runs as root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.cli import main
from tests.support import Capture


def _fails(capsys: Capture, argv: list[str], path: Path, hint: str) -> None:
    assert main(argv) == 73
    err = capsys.readouterr().err
    assert f"error: cannot write {path}: " in err and "; nothing was written" in err, err
    assert f"hint: {hint}" in err, err
    assert "Traceback" not in err and "internal error" not in err


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of the test's own, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "mnt"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_parent_that_cannot_be_created(capsys: Capture, in_repo: None) -> None:
    _fails(capsys, ["render", "--env", "prod", "-o", "/proc/koyalite-x"], Path("/proc/koyalite-x"), "its folder does not exist")


def test_a_file_where_a_folder_should_be(capsys: Capture, in_repo: None, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "schema.json"
    _fails(capsys, ["schema", "-o", str(target)], target, "a part of the path is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_read_only_disk_keeps_the_previous_render(capsys: Capture, in_repo: None, tmpfs: Path) -> None:
    out = tmpfs / "dev"
    assert main(["render", "--env", "dev", "-o", str(out)]) == 0
    before = _tree(out)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    _fails(capsys, ["render", "--env", "dev", "-o", str(out)], out, "the file system is read-only")
    assert _tree(out) == before
    assert sorted(p.name for p in tmpfs.iterdir()) == ["dev"]


def test_a_full_disk_leaves_nothing_half_written(capsys: Capture, in_repo: None, tmpfs: Path) -> None:
    (tmpfs / "filler").write_bytes(b"\0" * (1024 * 1024 - 64 * 1024))  # less room than a prod render needs
    _fails(capsys, ["render", "--env", "prod", "-o", str(tmpfs / "prod")], tmpfs / "prod", "the disk is full")
    assert sorted(p.name for p in tmpfs.iterdir()) == ["filler"]
    (tmpfs / "docs").mkdir()
    with (tmpfs / "filler").open("ab") as filler, pytest.raises(OSError):
        filler.write(b"\0" * 1024 * 1024)  # now no room at all
        filler.flush()
    _fails(capsys, ["docs", "-o", str(tmpfs / "docs")], tmpfs / "docs" / "manifest.md", "the disk is full")
    assert list((tmpfs / "docs").iterdir()) == []
