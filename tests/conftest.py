"""Test options and settings: `--update-golden` rewrites expected files; Hypothesis runs derandomized."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import support
from tests.support import REPO

settings.register_profile(
    "koyalite",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("koyalite")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False, help="Rewrite the expected golden files from actual output.")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether golden tests write their expected files instead of comparing with them."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in the repository, so the reference manifest is `koyalite.yaml` in every message."""
    monkeypatch.chdir(REPO)


@pytest.fixture(scope="session")
def helm_bin() -> Iterator[Path]:
    """helm built from the Go module proxy by scripts/helm.py (once per machine); required in CI."""
    script = support.script("helm")
    try:
        yield script.ensure()
    except script.HelmBuildError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"helm is required in CI (scripts/helm.py builds it from the Go module proxy): {exc}")
        pytest.skip(f"helm cannot be built here: {str(exc).splitlines()[0]}")


@pytest.fixture(scope="session")
def compose_env() -> dict[str, str]:
    """os.environ with DOCKER_CONFIG pointing at Compose v2+ built by scripts/compose.py (once per machine), so
    `docker compose` is what users run and the user's ~/.docker is untouched; required in CI."""
    script = support.script("compose")
    try:
        binary = script.ensure()
    except script.ToolBuildError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Compose is required in CI (scripts/compose.py builds it from the Go module proxy): {exc}")
        pytest.skip(f"Compose cannot be built here: {str(exc).splitlines()[0]}")
    return {**os.environ, "DOCKER_CONFIG": str(script.plugin_config(binary))}
