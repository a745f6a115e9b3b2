"""The `koyalite` command line: the only place that prints and turns errors into exit codes."""

from __future__ import annotations

import os
import sys
import traceback

import typer
from typer.exceptions import TyperException

from provisioner.errors import KoyaliteError, ManifestError, UsageError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID = 2
EXIT_USAGE = 64


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code.

    0 ok · 2 invalid manifest · 3 refused by the data-loss guard or protect policy · 4 the Pulumi engine failed ·
    5 a hook plugin failed · 64 usage error · 1 a bug of ours.
    """
    from provisioner.cli import (
        deploy,  # noqa: F401 - registers the deploy commands (Pulumi is imported only when they run)
        gitops,  # noqa: F401 - registers diff, plan and docs
    )
    from provisioner.cli.commands import app
    from provisioner.cli.output import human

    try:
        result = app(args=argv, prog_name="koyalite", standalone_mode=False)
        return int(result or 0) if isinstance(result, int) else EXIT_OK
    except ManifestError as exc:
        human(exc.diagnostics, sys.stderr)
        return EXIT_INVALID
    except UsageError as exc:
        sys.stderr.write(f"error: {exc.message}\n" + (f"  hint: {exc.hint}\n" if exc.hint else ""))
        return EXIT_USAGE
    except KoyaliteError as exc:
        if os.environ.get("KOYALITE_DEBUG") and exc.__cause__ is not None:  # e.g. the exception a hook plugin raised
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        hint = getattr(exc, "hint", "")
        for item in getattr(exc, "violations", []):
            sys.stderr.write(f"  refused: {item}\n")
        sys.stderr.write(f"error: {exc.message}\n" + (f"  hint: {hint}\n" if hint else ""))
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return EXIT_USAGE
    except TyperException as exc:  # Typer's usage errors: exit 64, so 2 always means "invalid manifest"
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"error: {exc.format_message()}\n")
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("KOYALITE_DEBUG"):
            raise
        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  hint: this is a bug in koyalite; rerun with KOYALITE_DEBUG=1 and report the traceback\n"
        )
        return EXIT_INTERNAL


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
