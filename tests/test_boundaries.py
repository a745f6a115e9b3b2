"""The pipeline's one-way arrow: a stage imports only stages to its left (DESIGN §3, STYLE rule 1)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# stage -> modules it must never import (its right-hand neighbours and the outside systems it must not see)
FORBIDDEN = {
    "provisioner/errors.py": ("provisioner.", "pydantic", "yaml", "pulumi", "typer"),
    "provisioner/manifest": (
        "provisioner.plan",
        "provisioner.targets",
        "provisioner.render",
        "provisioner.cli",
        "components",
        "stacks",
        "pulumi",
        "typer",
    ),
    "provisioner/plan": ("provisioner.targets", "provisioner.render", "provisioner.cli", "components", "stacks", "pulumi", "typer", "yaml"),
    "provisioner/plan/model.py": ("provisioner.manifest", "pydantic", "yaml", "pulumi"),
    "provisioner/targets": ("provisioner.render", "provisioner.cli", "components", "stacks", "pulumi", "typer", "yaml"),
    "provisioner/render": ("provisioner.cli", "components", "stacks", "pulumi", "typer"),
    "provisioner/gitops": ("provisioner.cli", "provisioner.deploy", "components", "stacks", "pulumi", "typer", "rich"),
    "components": ("provisioner.cli", "provisioner.deploy", "stacks", "typer"),
    "provisioner/deploy/guard.py": ("pulumi", "provisioner.cli", "components", "stacks"),
    "provisioner/deploy/settings.py": ("pulumi", "provisioner.cli", "components", "stacks"),
    "provisioner/deploy/engine.py": ("provisioner.cli", "components", "stacks", "typer"),
    "provisioner/cli": ("pulumi", "components", "stacks"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _files(stage: str) -> list[Path]:
    path = ROOT / stage
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


@pytest.mark.parametrize("stage", sorted(FORBIDDEN))
def test_stage_imports_only_to_its_left(stage: str) -> None:
    files = _files(stage)
    assert files, f"{stage} has no Python files"
    violations = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in files
        for line, module in _imports(path)
        if any(module == bad.rstrip(".") or module.startswith(bad if bad.endswith(".") else bad + ".") for bad in FORBIDDEN[stage])
    ]
    assert violations == []


def test_validate_does_not_import_pulumi() -> None:
    """`koyalite validate` stays fast: nothing from Pulumi or the Kubernetes SDK on its path."""
    code = (
        "import sys\n"
        "from provisioner.cli import main\n"
        "code = main(['validate', 'koyalite.yaml'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes', 'docker', 'kubernetes', 'grpc'))\n"
        "print(code, heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 []"
