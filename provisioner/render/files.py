"""Write outputs atomically: a complete new folder or file replaces the old one, or nothing changes.

Every file-system failure (a parent that cannot be created, a read-only or full disk, a permission) is an
OutputError that names the path and what to do, never a traceback; what was staged is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from provisioner.errors import OutputError, UsageError

_HINTS = {
    errno.ENOENT: "its folder does not exist and cannot be created there; choose another output path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another output path",
    errno.EEXIST: "a part of the path is a file, not a folder; choose another output path",
    errno.EACCES: "you may not write there; choose a folder you own, or fix its permissions",
    errno.EPERM: "you may not write there; choose a folder you own, or fix its permissions",
    errno.EROFS: "the file system is read-only; choose a writable folder",
    errno.ENOSPC: "the disk is full; free space, or choose a folder on another disk",
    errno.EDQUOT: "the disk quota is used up; free space, or choose a folder on another disk",
}


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing `path` into an OutputError naming it."""
    try:
        yield
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}; nothing was written",
            _HINTS.get(exc.errno or 0, "choose another output path"),
        ) from exc


def write_file(path: Path, text: str) -> None:
    """Replace `path` with `text`: written beside it and renamed into place, or nothing changes."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        staged = Path(name)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            staged.chmod(0o644)
            staged.replace(path)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise


MARKER = ".koyalite-render"
"""Marks a folder as ours: a render replaces only folders that hold it (or empty ones)."""


def write_tree(directory: Path, files: Mapping[str, str]) -> None:
    """Replace `directory` with exactly `files` (relative name -> text). Never leaves a half-written folder."""
    with writing(directory):
        if directory.exists():
            if not directory.is_dir():
                raise UsageError(f"{directory} exists and is not a folder", "choose a folder for -o, or -o - for one stream")
            if any(directory.iterdir()) and not (directory / MARKER).exists():
                raise UsageError(f"{directory} holds files koyalite did not render", "render into a new or empty folder")
        _replace_tree(directory, files)


def _replace_tree(directory: Path, files: Mapping[str, str]) -> None:
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
        if not directory.exists():
            staging.replace(directory)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=parent))
        directory.replace(old / "tree")
        try:
            staging.replace(directory)
        except BaseException:
            (old / "tree").replace(directory)  # the previous render goes back where it was
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
