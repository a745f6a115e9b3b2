"""Test options and settings: `--update-golden` rewrites expected files; Hypothesis runs derandomized."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

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
