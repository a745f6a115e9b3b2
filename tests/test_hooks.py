"""Hook plugins: discovered as `koyalite.hooks` entry points of installed distributions, run at four hook points."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner import hooks
from provisioner.cli import main
from provisioner.deploy.engine import Engine, Summary
from tests.support import REFERENCE, REPO, Capture, run

EXAMPLE = REPO / "examples" / "hooks" / "koyalite-example-hook"
HINT = "rerun with KOYALITE_DEBUG=1 for the traceback"


class Site:
    """A folder on sys.path where tests install fake distributions: a `*.dist-info` with entry_points.txt."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        self.modules: list[str] = []
        root.mkdir()
        monkeypatch.syspath_prepend(str(root))

    def install(self, dist: str, entries: dict[str, str], module: str = "", source: str = "") -> None:
        """Install distribution `dist` declaring `entries` (entry-point name -> object reference), with one module."""
        info = self.root / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
        lines = "".join(f"{name} = {ref}\n" for name, ref in entries.items())
        (info / "entry_points.txt").write_text(f"[{hooks.GROUP}]\n{lines}", encoding="utf-8")
        if module:
            (self.root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
            self.modules.append(module)
        hooks.use(None)  # discover again


@pytest.fixture(autouse=True)
def fresh_discovery() -> Iterator[None]:
    """Every test discovers the plugins its own sys.path holds; none leak into the next test."""
    hooks.use(None)
    yield
    hooks.use(None)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    found = Site(tmp_path / "site", monkeypatch)
    yield found
    for module in [*found.modules, "koyalite_example_hook"]:
        sys.modules.pop(module, None)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the reference project as the working directory (a deploy writes its state beside it)."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "koyalite.yaml")
    shutil.copytree(REPO / "functions", folder / "functions")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.delenv("KOYALITE_DEBUG", raising=False)
    monkeypatch.delenv("KOYALITE_CHANGE_FREEZE", raising=False)
    monkeypatch.setenv("KOYALITE_TEAM", "payments")
    return folder


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engine adapter patched (STYLE 10): the calls it received, by name."""
    calls: list[str] = []

    def up(self: Engine, *args: Any, **kwargs: Any) -> Summary:
        calls.append("up")
        return Summary({"update": 1, "same": 40}, {"apiUrl": "http://127.0.0.1:8000", "studioUrl": "http://127.0.0.1:3000"})

    monkeypatch.setattr(Engine, "up", up)
    return calls


def install_example(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented example plugin, as `pip install ./examples/hooks/koyalite-example-hook` would install it:
    the distribution name and entry points its pyproject.toml declares, its module importable."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    monkeypatch.syspath_prepend(str(EXAMPLE))
    site.install(project["name"], project["entry-points"][hooks.GROUP])


def test_the_example_declares_its_entry_point() -> None:
    declared = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    assert declared["project"]["entry-points"] == {"koyalite.hooks": {"team": "koyalite_example_hook"}}
    assert declared["tool"]["setuptools"]["py-modules"] == ["koyalite_example_hook"]
    assert (EXAMPLE / "koyalite_example_hook.py").is_file()


# --- discovery ----------------------------------------------------------------------------------------------------


def test_no_plugin_installed() -> None:
    assert hooks.plugins() == ()


def test_plugins_are_discovered_from_entry_points_in_name_order(site: Site) -> None:
    site.install("zeta-hooks", {"zeta": "zeta_hooks"}, "zeta_hooks", "def before_deploy(plan, environment):\n    pass\n")
    site.install(
        "alpha-hooks",
        {"alpha": "alpha_hooks:Hooks"},
        "alpha_hooks",
        """
        class Hooks:
            def transform_plan(self, plan):
                return plan

            def after_deploy(self, plan, environment, outputs):
                pass
        """,
    )
    found = hooks.plugins()
    assert [(p.name, p.distribution, p.points) for p in found] == [
        ("alpha", "alpha-hooks", ("transform_plan", "after_deploy")),  # a class is instantiated once
        ("zeta", "zeta-hooks", ("before_deploy",)),
    ]
    assert hooks.plugins() is found  # discovered once per process


def test_a_plugin_that_cannot_be_imported_exits_5(site: Site, project: Path, capsys: Capture) -> None:
    site.install("broken-hooks", {"broken": "broken_hooks"}, "broken_hooks", "import koyalite_no_such_module\n")
    assert run(capsys, "validate") == (
        5,
        "",
        "error: hook plugin `broken` failed in loading: ModuleNotFoundError: No module named 'koyalite_no_such_module'\n"
        f"  hint: fix the plugin, or uninstall it (pip uninstall broken-hooks); {HINT}\n",
    )


def test_a_hook_that_is_not_a_function_exits_5(site: Site, project: Path, capsys: Capture) -> None:
    site.install("odd-hooks", {"odd": "odd_hooks"}, "odd_hooks", "before_deploy = 'later'\n")
    code, _, err = run(capsys, "render", "--env", "staging")
    assert (code, err.splitlines()[0]) == (
        5,
        "error: hook plugin `odd` failed in loading: TypeError: `before_deploy` is a str, not a function",
    )


# --- the example plugin, at every hook point ----------------------------------------------------------------------


def test_example_after_validate_warns_at_the_manifest_position(
    site: Site, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    install_example(site, monkeypatch)
    code, out, err = run(capsys, "validate")
    assert (code, out) == (0, "")
    assert err.splitlines()[0] == "koyalite.yaml:194:14: warning: webhooks.signup.url: webhook signup delivers over plain http"
    assert err.splitlines()[-1] == "koyalite.yaml: valid for dev, staging, prod (1 warning)"
    code, out, _ = run(capsys, "validate", "--format", "json")
    assert code == 0
    assert json.loads(out)["diagnostics"] == [
        {
            "severity": "warning",
            "code": "hook:team",
            "path": "webhooks.signup.url",
            "file": "koyalite.yaml",
            "line": 194,
            "column": 14,
            "message": "webhook signup delivers over plain http",
            "hint": "use an https:// URL so deliveries and their signatures cannot be read on the way",
        }
    ]
    assert run(capsys, "validate", "--strict")[0] == 2


def env_of(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, str]:
    obj = next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)
    container = obj["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_example_transform_reaches_the_render(site: Site, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    before = list(yaml.safe_load_all(run(capsys, "render", "--env", "staging")[1]))
    install_example(site, monkeypatch)
    code, out, _ = run(capsys, "render", "--env", "staging")
    assert code == 0
    after = list(yaml.safe_load_all(out))
    assert [(o["kind"], o["metadata"]["name"]) for o in after] == [(o["kind"], o["metadata"]["name"]) for o in before]  # no renames
    config = next(o for o in after if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "acme-staging-config")
    assert config["data"]["KOYALITE_TEAM"] == "payments"
    assert env_of(after, "Deployment", "acme-staging-api") == {
        **env_of(before, "Deployment", "acme-staging-api"),
        "KOYALITE_TEAM": "payments",
    }
    assert "KOYALITE_TEAM" not in env_of(after, "StatefulSet", "acme-staging-weaviate")  # data parts are left alone
    changed = [(o["kind"], o["metadata"]["name"]) for o, b in zip(after, before, strict=True) if o != b]
    assert ("StatefulSet", "acme-staging-weaviate") not in changed


def test_diff_and_plan_see_the_transformed_plan(site: Site, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    site.install(
        "scale-hooks",
        {"scale": "scale_hooks"},
        "scale_hooks",
        """
        from dataclasses import replace

        from provisioner.plan.model import StatelessService

        def transform_plan(plan):
            parts = tuple(replace(p, replicas=3) if isinstance(p, StatelessService) and p.role == "project" else p for p in plan.parts)
            return replace(plan, parts=parts)
        """,
    )
    assert main(["render", "--env", "staging", "-o", "committed"]) == 0
    capsys.readouterr()
    # today's render goes through the same transform, so it equals the committed one
    assert run(capsys, "diff", "--env", "staging", "--against", "committed") == (0, "", "staging renders the same objects as committed\n")
    document = json.loads(run(capsys, "plan", "--env", "staging", "--format", "json")[1])
    project_workload = next(w for w in document["environments"][0]["workloads"] if w["name"] == "acme-staging-project")
    assert project_workload["replicas"] == {"min": 3, "max": 3}


def test_example_before_deploy_stops_a_change_freeze(
    site: Site, project: Path, monkeypatch: pytest.MonkeyPatch, engine: list[str], capsys: Capture
) -> None:
    install_example(site, monkeypatch)
    monkeypatch.setenv("KOYALITE_CHANGE_FREEZE", "release week")
    assert run(capsys, "up", "--env", "dev", "--yes") == (
        5,
        "",
        "error: hook plugin `team` failed in before_deploy: RuntimeError: change freeze in effect (release week): acme/dev not deployed\n"
        f"  hint: fix the plugin, or uninstall it (pip uninstall koyalite-example-hook); {HINT}\n",
    )
    assert engine == []  # the engine never started


def test_example_after_deploy_sees_the_outputs(
    site: Site, project: Path, monkeypatch: pytest.MonkeyPatch, engine: list[str], capsys: Capture
) -> None:
    install_example(site, monkeypatch)
    code, out, err = run(capsys, "up", "--env", "dev", "--yes")
    assert (code, engine) == (0, ["up"])  # the outputs come with the update's result
    assert out == "apiUrl: http://127.0.0.1:8000\nstudioUrl: http://127.0.0.1:3000\n"
    assert err.splitlines()[-1] == (
        "koyalite-example-hook: deployed acme/dev for team payments (apiUrl=http://127.0.0.1:8000, studioUrl=http://127.0.0.1:3000)"
    )


def test_a_failing_after_deploy_says_the_update_succeeded(site: Site, project: Path, engine: list[str], capsys: Capture) -> None:
    site.install(
        "notify-hooks",
        {"notify": "notify_hooks"},
        "notify_hooks",
        """
        def after_deploy(plan, environment, outputs):
            raise ConnectionError("chat.example.com unreachable")
        """,
    )
    assert run(capsys, "up", "--env", "dev", "--yes") == (
        5,
        "apiUrl: http://127.0.0.1:8000\nstudioUrl: http://127.0.0.1:3000\n",
        "up dev: 1 to update; 40 unchanged\n"
        "error: hook plugin `notify` failed in after_deploy: ConnectionError: chat.example.com unreachable\n"
        f"  hint: the update itself succeeded; fix the plugin, or uninstall it (pip uninstall notify-hooks); {HINT}\n",
    )


# --- after_validate ----------------------------------------------------------------------------------------------

POLICY = """
from provisioner.errors import Diagnostic

def after_validate(checked):
    if checked.settings is not None and checked.settings.protect and checked.manifest.services.api.replicas < 3:
        yield Diagnostic("a protected environment runs at least 3 API replicas", path="services.api.replicas", hint="raise it to 3")
"""


def test_an_after_validate_error_makes_the_manifest_invalid(site: Site, project: Path, capsys: Capture) -> None:
    site.install("policy-hooks", {"policy": "policy_hooks"}, "policy_hooks", POLICY)
    code, out, err = run(capsys, "validate")
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == "koyalite.yaml:37:15: error: services.api.replicas: a protected environment runs at least 3 API replicas"
    assert err.splitlines()[-1] == "koyalite.yaml: invalid for dev, staging, prod (1 error)"
    code, out, err = run(capsys, "render", "--env", "prod")  # the checks of `koyalite render` are the same
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == "koyalite.yaml:37:15: error: services.api.replicas: a protected environment runs at least 3 API replicas"
    assert run(capsys, "render", "--env", "staging")[0] == 0  # not protected


def test_an_after_validate_generator_that_raises_exits_5(site: Site, project: Path, capsys: Capture) -> None:
    site.install(
        "lazy-hooks",
        {"lazy": "lazy_hooks"},
        "lazy_hooks",
        """
        def after_validate(checked):
            yield from ()
            raise KeyError("owner")
        """,
    )
    code, out, err = run(capsys, "validate")
    assert (code, out) == (5, "")
    assert err.splitlines()[0] == "error: hook plugin `lazy` failed in after_validate: KeyError: 'owner'"


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ("42", "returned a int, not an iterable of provisioner.errors.Diagnostic"),
        ("'looks fine'", "returned a str, not an iterable of provisioner.errors.Diagnostic"),
        ("Diagnostic('x')", "returned a Diagnostic, not an iterable of provisioner.errors.Diagnostic"),
        ("['x']", "returned a str, not a provisioner.errors.Diagnostic"),
    ],
    ids=["int", "str", "one-diagnostic", "list-of-str"],
)
def test_an_after_validate_returning_the_wrong_thing_exits_5(
    returned: str, problem: str, site: Site, project: Path, capsys: Capture
) -> None:
    source = f"from provisioner.errors import Diagnostic\n\ndef after_validate(checked):\n    return {returned}\n"
    site.install("wrong-hooks", {"wrong": "wrong_hooks"}, "wrong_hooks", source)
    code, _, err = run(capsys, "validate")
    assert (code, err.splitlines()[0]) == (5, f"error: hook plugin `wrong` failed in after_validate: {problem}")


# --- transform_plan: what a transform may not change --------------------------------------------------------------

REFUSED = {
    "project": ("replace(plan, project='other')", "staging", "changed the plan's project from 'acme' to 'other'"),
    "environment": ("replace(plan, environment='prod')", "staging", "changed the plan's environment from 'staging' to 'prod'"),
    "target": ("replace(plan, target='docker')", "staging", "changed the plan's target from 'kubernetes' to 'docker'"),
    "namespace": (
        "replace(plan, kubernetes=replace(plan.kubernetes, namespace='elsewhere'))",
        "staging",
        "changed the plan's namespace from 'acme-staging' to 'elsewhere'",
    ),
    "protect": ("replace(plan, protect=False)", "prod", "turned off the protection of environment prod"),
    "none": ("None", "staging", "returned a NoneType, not a Plan (return the plan, even unchanged)"),
}


@pytest.mark.parametrize(("returned", "env", "problem"), REFUSED.values(), ids=REFUSED.keys())
def test_a_transform_may_not_change_what_is_deployed_where(
    returned: str, env: str, problem: str, site: Site, project: Path, capsys: Capture
) -> None:
    source = f"from dataclasses import replace\n\ndef transform_plan(plan):\n    return {returned}\n"
    site.install("sneaky-hooks", {"sneaky": "sneaky_hooks"}, "sneaky_hooks", source)
    assert run(capsys, "render", "--env", env) == (
        5,
        "",
        f"error: hook plugin `sneaky` failed in transform_plan: {problem}\n"
        f"  hint: fix the plugin, or uninstall it (pip uninstall sneaky-hooks); {HINT}\n",
    )


def test_a_transform_may_protect_an_environment(site: Site, project: Path) -> None:
    source = "from dataclasses import replace\n\ndef transform_plan(plan):\n    return replace(plan, protect=True)\n"
    site.install("careful-hooks", {"careful": "careful_hooks"}, "careful_hooks", source)
    from provisioner import manifest, plan

    doc = manifest.load(project / "koyalite.yaml")
    built = plan.build(manifest.check(doc, "staging"), doc.base_dir)
    assert (built.protect, hooks.transform_plan(built).protect) == (False, True)


def test_transforms_chain_in_name_order(site: Site, project: Path) -> None:
    for name, suffix in (("b", "-second"), ("a", "-first")):
        source = (
            f"from dataclasses import replace\n\ndef transform_plan(plan):\n    return replace(plan, regions=(*plan.regions, '{name}'))\n"
        )
        site.install(f"{name}-hooks{suffix}", {name: f"{name}_hooks"}, f"{name}_hooks", source)
    from provisioner import manifest, plan

    doc = manifest.load(project / "koyalite.yaml")
    assert hooks.transform_plan(plan.build(manifest.check(doc, "prod"), doc.base_dir)).regions == ("fra", "iad", "a", "b")


def test_debug_prints_the_plugin_s_traceback(site: Site, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    site.install("boom-hooks", {"boom": "boom_hooks"}, "boom_hooks", "def transform_plan(plan):\n    raise ValueError('boom')\n")
    monkeypatch.setenv("KOYALITE_DEBUG", "1")
    code, _, err = run(capsys, "render", "--env", "staging")
    assert code == 5
    assert err.startswith("Traceback (most recent call last):\n")
    assert 'boom_hooks.py", line 2, in transform_plan' in err
    assert err.endswith(
        "error: hook plugin `boom` failed in transform_plan: ValueError: boom\n"
        f"  hint: fix the plugin, or uninstall it (pip uninstall boom-hooks); {HINT}\n"
    )
