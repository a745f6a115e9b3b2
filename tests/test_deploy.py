"""The deploy layer without an engine: the data-loss guard, the settings, and the CLI over a patched adapter."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

import pytest

from provisioner.cli import main
from provisioner.deploy import cluster
from provisioner.deploy import engine as engine_module
from provisioner.deploy.engine import DeployError, Engine, Progress, RefusedError, Summary
from provisioner.deploy.guard import Step, Violation, violations
from provisioner.deploy.settings import resolve
from provisioner.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
VOLUME = "urn:pulumi:dev::koyalite::koyalite:index:Platform$koyalite:docker:LiteFS$pulumi-python:dynamic/docker:Volume::volume-acme-dev-litefs-fra-0"
CONTAINER = "urn:pulumi:dev::koyalite::koyalite:docker:Service$pulumi-python:dynamic/docker:Container::container-acme-dev-api-1"
STS = "urn:pulumi:prod::koyalite::koyalite:kubernetes:LiteFS$kubernetes:apps/v1:StatefulSet::statefulset-acme-prod-litefs-fra"


# -- the guard ----------------------------------------------------------------------------------------------------


def test_replacing_a_volume_is_refused_with_the_field_that_forces_it() -> None:
    found = violations(
        [
            Step("replace", VOLUME, "pulumi-python:dynamic/docker:Volume", ("name",)),
            Step("same", CONTAINER, "pulumi-python:dynamic/docker:Container"),
        ]
    )
    assert [str(v) for v in found] == [f"replace {VOLUME}: name changed, which cannot be updated in place"]


def test_deleting_a_statefulset_is_refused() -> None:
    found = violations([Step("delete", STS, "kubernetes:apps/v1:StatefulSet")])
    assert [v.reason for v in found] == ["it is no longer in the plan (a removed or renamed part)"]


def test_a_replacement_reported_twice_is_one_violation() -> None:
    steps = [
        Step("create-replacement", STS, "kubernetes:apps/v1:StatefulSet", ("spec.volumeClaimTemplates",)),
        Step("delete-replaced", STS, "kubernetes:apps/v1:StatefulSet", ("spec.volumeClaimTemplates",)),
    ]
    assert len(violations(steps)) == 1


def test_allowed_urns_and_stateless_resources_pass() -> None:
    steps = [
        Step("replace", VOLUME, "pulumi-python:dynamic/docker:Volume", ("name",)),
        Step("replace", CONTAINER, "pulumi-python:dynamic/docker:Container", ("image",)),
    ]
    assert violations(steps, allowed=[VOLUME]) == []


# -- settings -----------------------------------------------------------------------------------------------------


def test_dev_gets_a_private_passphrase_once(tmp_path: Path) -> None:
    manifest = tmp_path / "koyalite.yaml"
    first = resolve("dev", manifest, environ={"PATH": "/usr/bin"})
    path = Path(first.env["PULUMI_CONFIG_PASSPHRASE_FILE"])
    assert path == tmp_path / ".koyalite" / "dev.passphrase"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text(encoding="utf-8")
    assert resolve("dev", manifest, environ={}).env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(path)
    assert path.read_text(encoding="utf-8") == content


def test_other_environments_need_a_passphrase(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no passphrase for the secrets of environment prod"):
        resolve("prod", tmp_path / "koyalite.yaml", environ={})
    given = resolve("prod", tmp_path / "koyalite.yaml", environ={"PULUMI_CONFIG_PASSPHRASE": "s3cret"})
    assert given.env["PULUMI_CONFIG_PASSPHRASE"] == "s3cret"


def test_defaults_are_offline_with_local_state(tmp_path: Path) -> None:
    settings = resolve("dev", tmp_path / "koyalite.yaml", environ={})
    assert settings.backend == (tmp_path / ".koyalite" / "state").as_uri()
    assert (tmp_path / ".koyalite" / "state").is_dir()
    assert settings.env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert settings.env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert settings.env["KOYALITE_MANIFEST"] == str(tmp_path / "koyalite.yaml")
    assert resolve("dev", tmp_path / "koyalite.yaml", backend="s3://bucket/state", environ={}).backend == "s3://bucket/state"


# -- the CLI over a patched adapter (STYLE 10) ---------------------------------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.targets: list[cluster.Target] = []


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Calls:
    record = Calls()

    def fake(name: str, result: Any = None, error: Exception | None = None) -> Any:
        def method(self: Engine, *args: Any, **kwargs: Any) -> Any:
            record.calls.append((name, {"env": self.settings.environment, **kwargs, **({"args": args[1:]} if len(args) > 1 else {})}))
            if error:
                raise error
            return result

        return method

    monkeypatch.setattr(Engine, "preview", fake("preview", Summary({"create": 3, "same": 2})))
    outputs = {"apiUrl": "http://127.0.0.1:8000", "studioUrl": "http://127.0.0.1:3000"}
    monkeypatch.setattr(Engine, "up", fake("up", Summary({"update": 1, "same": 40}, outputs)))
    monkeypatch.setattr(Engine, "destroy", fake("destroy", Summary({"delete": 20})))
    monkeypatch.setattr(Engine, "outputs", fake("outputs", outputs))
    monkeypatch.setattr(Engine, "set_secret", fake("set_secret"))
    monkeypatch.setattr(
        Engine, "cluster_config", lambda self, create=True: {"kubeContext": "kind-acme"} if self.settings.environment == "prod" else {}
    )

    def preflight(target: cluster.Target) -> str:
        record.targets.append(target)
        return f"context `{target.context}` (https://127.0.0.1:6443)"

    monkeypatch.setattr(cluster, "preflight", preflight)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
    return record


def test_up_passes_its_options_and_prints_where_to_reach_the_stack(calls: Calls, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--env", "dev", "--yes", "--allow-replace", VOLUME]) == 0
    name, kwargs = calls.calls[0]
    assert (name, kwargs["env"], kwargs["allow_replace"], kwargs["plan"]) == ("up", "dev", [VOLUME], None)
    captured = capsys.readouterr()
    assert captured.out == "apiUrl: http://127.0.0.1:8000\nstudioUrl: http://127.0.0.1:3000\n"
    assert "up dev: 1 to update; 40 unchanged" in captured.err


def test_up_without_yes_and_without_a_terminal_deploys_nothing(calls: Calls, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--env", "dev"]) == 64
    assert calls.calls == []
    assert "pass --yes" in capsys.readouterr().err


def test_up_checks_the_manifest_first(calls: Calls, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--env", "prdo", "--yes"]) == 64
    assert calls.calls == [] and "did you mean `prod`?" in capsys.readouterr().err


def test_a_guard_refusal_exits_3_and_names_the_resource(
    monkeypatch: pytest.MonkeyPatch, calls: Calls, capsys: pytest.CaptureFixture[str]
) -> None:
    violation = violations([Step("replace", VOLUME, "pulumi-python:dynamic/docker:Volume", ("name",))])

    def refuse(self: Engine, progress: Progress, **kwargs: Any) -> Summary:
        raise RefusedError(
            "the update would delete or replace 1 stateful resource(s) of environment dev",
            f"rerun with --allow-replace {VOLUME}",
            violation,
        )

    monkeypatch.setattr(Engine, "up", refuse)
    assert main(["up", "--env", "dev", "--yes"]) == 3
    err = capsys.readouterr().err
    assert f"refused: replace {VOLUME}: name changed, which cannot be updated in place" in err
    assert f"hint: rerun with --allow-replace {VOLUME}" in err


def test_destroy_of_a_protected_environment_is_refused_by_the_adapter(tmp_path: Path) -> None:
    settings = resolve("prod", tmp_path / "koyalite.yaml", environ={"PULUMI_CONFIG_PASSPHRASE": "x"})
    with pytest.raises(RefusedError, match="environment prod is protected"):
        Engine(settings).destroy(Progress(), protected=True, allow_protected=False)


def test_destroy_passes_protection(calls: Calls) -> None:
    assert main(["destroy", "--env", "prod", "--yes", "--allow-protected"]) == 0
    name, kwargs = calls.calls[0]
    assert (name, kwargs["env"], kwargs["protected"], kwargs["allow_protected"]) == ("destroy", "prod", True, True)


def test_kubernetes_environments_check_their_cluster_first(calls: Calls, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--env", "staging", "--yes"]) == 0
    assert main(["preview", "--env", "prod"]) == 0
    assert main(["destroy", "--env", "dev", "--yes"]) == 0  # docker: no cluster
    assert calls.targets == [
        cluster.Target("staging", "acme-staging", "acme-staging", context=None, kubeconfig=None),
        cluster.Target("prod", "acme-prod", "acme-prod", context="kind-acme", kubeconfig=None),
    ]
    assert "cluster: context `None` (https://127.0.0.1:6443), namespace acme-staging" in capsys.readouterr().err


def test_a_protected_destroy_is_refused_before_the_cluster_is_asked(calls: Calls) -> None:
    assert main(["destroy", "--env", "prod", "--yes"]) == 0  # the fake engine does not refuse; the preflight is skipped
    assert calls.targets == []


def test_preview_options(calls: Calls, tmp_path: Path) -> None:
    assert main(["preview", "--env", "staging", "--diff", "--expect-no-changes", "--save-plan", str(tmp_path / "plan.json")]) == 0
    _, kwargs = calls.calls[0]
    assert (kwargs["diff"], kwargs["expect_no_changes"], kwargs["save_plan"]) == (True, True, tmp_path / "plan.json")


def test_secrets_set_reads_stdin_and_never_prints_the_value(
    calls: Calls, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("canary-value-7f3a\n"))
    assert main(["secrets", "set", "jwt_secret", "--env", "dev"]) == 0
    assert calls.calls == [("set_secret", {"env": "dev", "args": ("canary-value-7f3a",)})]
    captured = capsys.readouterr()
    assert "canary-value-7f3a" not in captured.out + captured.err


def test_a_secret_name_must_be_a_name(calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("x"))
    assert main(["secrets", "set", "Not-A-Name", "--env", "dev"]) == 64
    assert calls.calls == []


def test_engine_errors_become_ours() -> None:
    settings = resolve("dev", ROOT / "koyalite.yaml", environ={"PULUMI_CONFIG_PASSPHRASE": "x"})
    import pulumi.automation as auto

    with pytest.raises(engine_module.DeployError, match="is locked by another update") as locked, engine_module.mapped(settings):
        raise auto.ConcurrentUpdateError(auto.CommandError(auto._cmd.CommandResult("", "[409] Conflict", 255)))
    assert "koyalite unlock --env dev" in locked.value.hint
    with pytest.raises(engine_module.DeployError, match="passphrase is wrong or missing"), engine_module.mapped(settings):
        raise auto.CommandError(auto._cmd.CommandResult("", "error: incorrect passphrase", 255))
    with pytest.raises(engine_module.DeployError, match="a Pulumi provider plugin is missing"), engine_module.mapped(settings):
        raise auto.CommandError(
            auto._cmd.CommandResult("", "error: no resource plugin 'pulumi-resource-docker' found in the workspace", 255)
        )


# -- the cluster preflight without a cluster (the real one: tests/test_cluster_api.py) --------------------------------


def _kubeconfig(path: Path, server: str = "https://127.0.0.1:1") -> Path:
    """A kubeconfig with one context `local` whose API server is `server` (port 1 on loopback: nothing listens)."""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: local\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}', insecure-skip-tls-verify: true}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: local, context: {cluster: c, user: u}}]\n"
    )
    return path


def test_preflight_names_a_missing_context_and_the_ones_there(tmp_path: Path) -> None:
    target = cluster.Target("staging", "acme-staging", "acme-staging", context="kind-acme", kubeconfig=str(_kubeconfig(tmp_path / "k")))
    with pytest.raises(DeployError) as caught:
        cluster.preflight(target)
    assert caught.value.message == f"context `kind-acme` of environment staging is not in {tmp_path / 'k'}"
    assert caught.value.hint.startswith("contexts there: local; set environments.staging.kubernetes.context")
    assert caught.value.exit_code == 4


def test_preflight_says_the_cluster_is_unreachable_and_nothing_changed(tmp_path: Path) -> None:
    target = cluster.Target("staging", "acme-staging", "acme-staging", kubeconfig=str(_kubeconfig(tmp_path / "k")))
    with pytest.raises(DeployError) as caught:
        cluster.preflight(target)
    assert caught.value.message == (
        "cannot reach the Kubernetes API of context `local` (https://127.0.0.1:1) for environment staging: connection refused"
    )
    assert "nothing was changed" in caught.value.hint


def test_preflight_reads_a_kubeconfig_stored_as_contents(tmp_path: Path) -> None:
    contents = _kubeconfig(tmp_path / "k").read_text()
    target = cluster.Target("prod", "acme-prod", "acme-prod", context="other", kubeconfig=contents)
    with pytest.raises(DeployError, match="context `other` of environment prod is not in the stack's kubeconfig"):
        cluster.preflight(target)


def test_preflight_without_a_kubeconfig_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = cluster.Target("staging", "acme-staging", "acme-staging", kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(DeployError) as caught:
        cluster.preflight(target)
    assert caught.value.message.startswith(f"cannot use the kubeconfig for environment staging ({tmp_path / 'missing'})")


STATEFULSET = "urn:pulumi:staging::koyalite::koyalite:index:Platform$koyalite:kubernetes:LiteFS$kubernetes:apps/v1:StatefulSet::statefulset-acme-staging-litefs-fra"


def _failing_preview(steps: list[Step]) -> Any:
    """A preview that announces `steps` and then fails, as a real cluster's dry run of a replacement does."""

    def preview(self: Engine, progress: Progress, **kwargs: Any) -> Summary:
        progress.steps.extend(steps)
        raise DeployError("the Pulumi engine failed for environment staging: 2 errored", "the lines above show the failing resource")

    return preview


def test_a_failed_preview_of_a_refused_replacement_is_the_guards_refusal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replace = Step("replace", STATEFULSET, "kubernetes:apps/v1:StatefulSet", ("spec",))
    monkeypatch.setattr(Engine, "preview", _failing_preview([Step("same", "urn:x", "kubernetes:core/v1:Service"), replace]))
    monkeypatch.setattr(Engine, "holds_no_data", lambda self: False)  # the StatefulSet is deployed
    settings = resolve("staging", tmp_path / "koyalite.yaml", environ={"PULUMI_CONFIG_PASSPHRASE": "x"})
    assert Engine(settings).guarded_steps(Progress(), allowed=()) == [Violation(replace)]
    with pytest.raises(RefusedError) as refused:
        Engine(settings).up(Progress())
    assert f"--allow-replace {STATEFULSET}" in refused.value.hint


def test_a_failed_preview_the_guard_has_nothing_against_stays_the_engines_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(Engine, "preview", _failing_preview([Step("update", "urn:y", "kubernetes:apps/v1:Deployment")]))
    settings = resolve("staging", tmp_path / "koyalite.yaml", environ={"PULUMI_CONFIG_PASSPHRASE": "x"})
    with pytest.raises(DeployError, match="2 errored"):
        Engine(settings).guarded_steps(Progress(), allowed=())


def test_the_guard_names_the_fields_a_replacement_changes_whatever_the_step_order() -> None:
    steps = [
        Step("delete-replaced", STATEFULSET, "kubernetes:apps/v1:StatefulSet"),
        Step("replace", STATEFULSET, "kubernetes:apps/v1:StatefulSet", ("spec.volumeClaimTemplates[0].spec.resources.requests.storage",)),
    ]
    (found,) = violations(steps)
    assert str(found) == (
        f"replace {STATEFULSET}: spec.volumeClaimTemplates[0].spec.resources.requests.storage changed, which cannot be updated in place"
    )


# --- the guard's fast path -------------------------------------------------------------------------------------


def _checkpoint(resources: list[dict[str, str]]) -> str:
    import json

    return json.dumps({"version": 3, "checkpoint": {"stack": "dev", "latest": {"resources": resources}}})


@pytest.mark.parametrize(
    ("resources", "compressed", "may_be_empty"),
    [
        ([], False, True),
        ([{"type": "pulumi-python:dynamic/docker:Container", "urn": "c"}], False, True),
        ([{"type": "pulumi-python:dynamic/docker:Volume", "urn": "v"}], False, False),
        ([{"type": "kubernetes:core/v1:PersistentVolumeClaim", "urn": "p"}], True, False),
        (None, False, True),  # no checkpoint yet: a new stack
    ],
)
def test_a_checkpoint_holding_data_skips_no_guard(
    tmp_path: Path, resources: list[dict[str, str]] | None, compressed: bool, may_be_empty: bool
) -> None:
    """`up` skips the guard's preview only where nothing it protects is deployed; a file backend's checkpoint that
    holds a volume or a claim says so without a CLI run (an empty-looking one is confirmed by the engine)."""
    import gzip

    state = tmp_path / "state"
    folder = state / ".pulumi" / "stacks" / "koyalite"
    folder.mkdir(parents=True)
    if resources is not None:
        text = _checkpoint(resources)
        if compressed:
            (folder / "dev.json.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / "dev.json").write_text(text)
    engine = Engine(resolve("dev", Path("koyalite.yaml"), state.as_uri()))
    assert engine._checkpoint_may_be_empty() is may_be_empty


def test_an_unreadable_checkpoint_or_another_backend_always_guards(tmp_path: Path) -> None:
    folder = tmp_path / "state" / ".pulumi" / "stacks" / "koyalite"
    folder.mkdir(parents=True)
    (folder / "dev.json").write_text("{not json")
    assert Engine(resolve("dev", Path("koyalite.yaml"), (tmp_path / "state").as_uri()))._checkpoint_may_be_empty() is False
    assert Engine(resolve("dev", Path("koyalite.yaml"), "s3://bucket/state"))._checkpoint_may_be_empty() is False
