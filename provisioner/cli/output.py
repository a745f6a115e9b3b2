"""Print diagnostics for people (with the source line), for machines (JSON) and for GitHub Actions."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from provisioner.errors import Diagnostic, Severity

FORMATS = ("human", "json", "github")

_COLOURS = {"error": "\033[1;31m", "warning": "\033[1;33m", "hint": "\033[36m", "dim": "\033[2m", "bold": "\033[1m"}
_RESET = "\033[0m"


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class _Sources:
    """Source lines for snippets, read once per file."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str] | None] = {}

    def line(self, file: str, number: int) -> str | None:
        if file not in self.lines:
            try:
                self.lines[file] = Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                self.lines[file] = None
        lines = self.lines[file]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]


def human(diagnostics: Sequence[Diagnostic], stream: TextIO, colour: bool | None = None) -> None:
    """`file:line:col: error: path: message`, the source line with a caret, and the hint."""
    colour = use_colour(stream) if colour is None else colour

    def paint(style: str, text: str) -> str:
        return f"{_COLOURS[style]}{text}{_RESET}" if colour else text

    sources = _Sources()
    for d in diagnostics:
        where = f"{d.position}: " if d.position else ""
        path = f"{d.path}: " if d.path else ""
        stream.write(f"{paint('bold', where)}{paint(d.severity.value, d.severity.value)}: {path}{d.message}\n")
        if d.position is not None and d.code != "secret":  # the line would show the secret the message leaves out
            text = sources.line(d.position.file, d.position.line)
            if text is not None and len(text) <= 240:
                gutter = str(d.position.line)
                stream.write(paint("dim", f" {gutter} | ") + text.replace("\t", " ") + "\n")
                stream.write(paint("dim", f" {' ' * len(gutter)} | ") + " " * (d.position.column - 1) + paint(d.severity.value, "^") + "\n")
        if d.hint:
            stream.write(f"  {paint('hint', 'hint')}: {d.hint}\n")


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    parts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors else []
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)


def as_json(diagnostics: Sequence[Diagnostic], file: str, environments: Sequence[str], valid: bool, stream: TextIO) -> None:
    document = {"file": file, "environments": list(environments), "valid": valid, "diagnostics": [d.as_dict() for d in diagnostics]}
    stream.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics: Sequence[Diagnostic], stream: TextIO) -> None:
    """GitHub Actions workflow commands: one `::error file=…,line=…,col=…::…` line each."""
    for d in diagnostics:
        props = []
        if d.position is not None:
            props += [f"file={_escape_property(d.position.file)}", f"line={d.position.line}", f"col={d.position.column}"]
        if d.path:
            props.append(f"title={_escape_property(d.path)}")
        message = d.message + (f" ({d.hint})" if d.hint else "")
        stream.write(f"::{d.severity.value} {','.join(props)}::{_escape_data(message)}\n")


def report(diagnostics: Sequence[Diagnostic], fmt: str, file: str, environments: Sequence[str], valid: bool) -> None:
    """Print diagnostics in one format: JSON and GitHub lines to stdout, human text to stderr."""
    if fmt == "json":
        as_json(diagnostics, file, environments, valid, sys.stdout)
    elif fmt == "github":
        github(diagnostics, sys.stdout)
    else:
        human(diagnostics, sys.stderr)
