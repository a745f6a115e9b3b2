"""One error hierarchy: every problem carries a manifest path, a source position and a hint."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in a source file: 1-based line and column, as editors show them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a manifest: where it is, what it is, and how to fix it."""

    message: str
    path: str = ""
    position: Position | None = None
    hint: str = ""
    severity: Severity = Severity.ERROR
    code: str = ""

    def sort_key(self) -> tuple[str, int, int, str, str]:
        pos = self.position
        return (
            pos.file if pos else "",
            pos.line if pos else 0,
            pos.column if pos else 0,
            self.path,
            self.message,
        )

    def as_dict(self) -> dict[str, object]:
        pos = self.position
        return {
            "severity": self.severity.value,
            "code": self.code,
            "path": self.path,
            "file": pos.file if pos else None,
            "line": pos.line if pos else None,
            "column": pos.column if pos else None,
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        head = f"{self.position}: " if self.position else ""
        where = f"{self.path}: " if self.path else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"{head}{self.severity.value}: {where}{self.message}{tail}"


class KoyaliteError(Exception):
    """Base of every error the provisioner raises on purpose; the CLI maps these to exit codes."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ManifestError(KoyaliteError):
    """The manifest is invalid; carries every problem found, sorted by position."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        ordered = sorted(diagnostics, key=Diagnostic.sort_key)
        first = str(ordered[0]) if ordered else "invalid manifest"
        more = f" (and {len(ordered) - 1} more)" if len(ordered) > 1 else ""
        super().__init__(first + more)
        self.diagnostics = ordered


class UsageError(KoyaliteError):
    """The command line asks for something that cannot be done (unknown environment, bad option)."""

    exit_code = 64

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class OutputError(KoyaliteError):
    """An output (a rendered folder, a schema, the docs) cannot be written; nothing was half-written."""

    exit_code = 73  # sysexits' EX_CANTCREAT, next to 64 (EX_USAGE)

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint
