"""The real Pulumi engine and the real pulumi-kubernetes provider, with no cluster: render-to-directory mode.

`pulumi up` of the stacks/ program for `staging` and `prod`, with `koyalite:renderYamlToDirectory` set, makes the
provider write every object as YAML instead of applying it. What it writes must be what `koyalite render` prints,
object for object (values compared after normalisation: documents parsed, provider-only metadata dropped), and pass
kubernetes-validate. Needs the toolchain (`make toolchain`); in CI with KOYALITE_E2E=1 a missing one fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from provisioner.deploy.settings import resolve, toolchain_bin

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("staging", "prod")
KOYALITE = Path(sys.executable).parent / "koyalite"


def _plugin_present() -> bool:
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    return (toolchain_bin() / "pulumi").exists() and any((home / "plugins").glob("resource-kubernetes-v*/pulumi-resource-kubernetes"))


@pytest.fixture(scope="module", autouse=True)
def _toolchain() -> None:
    if os.environ.get("KOYALITE_E2E") != "1":
        pytest.skip("set KOYALITE_E2E=1 for the real-engine run")
    if not _plugin_present():
        why = f"no Pulumi CLI in {toolchain_bin()} or no kubernetes plugin installed (make toolchain)"
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def normalise(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop what only the provider adds: empty maps and lists, status, and Pulumi's own annotations (ours included:
    the readiness a Service is awaited for, components.kubernetes.objects.WAIT_FOR)."""
    if isinstance(obj, dict):
        out = {k: normalise(v) for k, v in obj.items() if k != "status"}
        annotations = out.get("metadata", {}).get("annotations") if isinstance(out.get("metadata"), dict) else None
        if isinstance(annotations, dict):
            for key in [k for k in annotations if k.startswith("pulumi.com/")]:
                del annotations[key]
            if not annotations:
                del out["metadata"]["annotations"]
        return {k: v for k, v in out.items() if v not in ({}, [], None)}
    if isinstance(obj, list):
        return [normalise(v) for v in obj]  # type: ignore[return-value]
    return obj


def _objects(texts: list[str]) -> dict[tuple[str, str, str], dict[str, Any]]:
    docs = [d for text in texts for d in yaml.safe_load_all(text) if d]
    return {_key(d): normalise(d) for d in docs}


def _render_with_the_provider(env: str, tmp: Path) -> Path:
    """`pulumi up` of a copy of stacks/ (so no Pulumi.<stack>.yaml lands in the repo) into tmp/rendered."""
    project = tmp / "stacks"
    project.mkdir()
    shutil.copy(ROOT / "stacks" / "__main__.py", project / "__main__.py")
    (project / "Pulumi.yaml").write_text(
        f"name: koyalite\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: {Path(sys.executable).parent.parent}\n"
    )
    out = tmp / "rendered"
    # the environment `koyalite up` gives the engine (backend, passphrase, offline), with the toolchain on PATH
    settings = resolve(env, ROOT / "koyalite.yaml", (tmp / "state").as_uri(), {"PULUMI_CONFIG_PASSPHRASE": "render-test"})
    env_vars = {**os.environ, **settings.env, "PATH": f"{toolchain_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}

    def pulumi(*args: str) -> str:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=project, env=env_vars, capture_output=True, text=True, timeout=900, check=False
        )
        assert result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        return result.stdout

    pulumi("stack", "init", env)
    pulumi("config", "set", "koyalite:renderYamlToDirectory", str(out))
    pulumi("up", "--yes", "--skip-preview")
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {env: _render_with_the_provider(env, tmp_path_factory.mktemp(f"provider-{env}")) for env in ENVIRONMENTS}


def _ours(env: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    result = subprocess.run(
        [str(KOYALITE), "render", "--env", env, "-o", "-", str(ROOT / "koyalite.yaml")], capture_output=True, text=True, check=True
    )
    return _objects([result.stdout])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_provider_writes_what_koyalite_render_prints(env: str, rendered: dict[str, Path]) -> None:
    theirs = _objects([p.read_text() for p in sorted(rendered[env].rglob("*.yaml"))])
    ours = _ours(env)
    assert sorted(theirs) == sorted(ours)
    different = [key for key in ours if theirs[key] != ours[key]]
    assert different == [], f"first difference: {different[0]}\nprovider: {theirs[different[0]]}\nrender: {ours[different[0]]}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_providers_files_pass_kubernetes_validate(env: str, rendered: dict[str, Path]) -> None:
    docs = [d for p in sorted(rendered[env].rglob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    assert len(docs) > 20
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
