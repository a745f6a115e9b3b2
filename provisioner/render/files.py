"""Write a render to a folder atomically: a complete new folder replaces the old one, or nothing changes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from provisioner.errors import UsageError

MARKER = ".koyalite-render"
"""Marks a folder as ours: a render replaces only folders that hold it (or empty ones)."""


def write_tree(directory: Path, files: Mapping[str, str]) -> None:
    """Replace `directory` with exactly `files` (relative name -> text). Never leaves a half-written folder."""
    if directory.exists():
        if not directory.is_dir():
            raise UsageError(f"{directory} exists and is not a folder", "choose a folder for -o, or -o - for one stream")
        if any(directory.iterdir()) and not (directory / MARKER).exists():
            raise UsageError(f"{directory} holds files koyalite did not render", "render into a new or empty folder")
    parent = directory.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    try:
        for name, text in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (staging / MARKER).write_text("rendered by koyalite; this folder is replaced on every render\n", encoding="utf-8")
        staging.chmod(0o755)
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=parent))
            directory.replace(old / "tree")
            staging.replace(directory)
            shutil.rmtree(old)
        else:
            staging.replace(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
