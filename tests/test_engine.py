"""The real Pulumi engine on the real Docker daemon: `koyalite up|preview|destroy|unlock --env dev`, end to end.

Needs the toolchain (`make toolchain`: the Pulumi CLI and the Python language host built from Go source), a
Docker daemon (scripts/host.sh) and the local images (images/build.py); set KOYALITE_E2E=1. In CI all of it is
required: a missing piece fails instead of skipping.

One module-scoped deployment of a copy of the reference manifest (its state in a temporary file backend), then, in
order: the probe passes; a second preview has no changes; an up held to a saved plan stops where the daemon
changed since; one replica more creates one container and nothing else;
a changed function replaces only the edge runtime; a killed `up` leaves a lock that is reported with its fix; dropping
a LiteFS replica is refused before its volume goes;
`destroy` removes containers and the network and keeps every volume; a new `up` finds the probe's data again.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployed import ROOT, Project, changes, docker, engine_missing, secret_keys, skip_or_fail, stream_state
from tests.support import images_build

PREFIX = "acme-dev"


def _ours(kind: str) -> set[str]:
    """Names of this environment's containers, networks or volumes on the daemon."""
    fmt = "{{.Names}}" if kind == "container" else "{{.Name}}"
    listed = docker(kind, "ls", "-a" if kind == "container" else "-q", "--filter", "label=koyalite.dev/environment=dev", "--format", fmt)
    return {n for n in listed.stdout.split() if n.startswith(PREFIX)}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    skip_or_fail(engine_missing(), "real-engine")
    images_build().build()  # cached by inputs: seconds when the images are there
    for leftover in _ours("container"):  # an earlier run's compose stack or killed deploy
        docker("rm", "-f", leftover, check=False)
    # `secrets set` writes the encrypted values into stacks/Pulumi.dev.yaml, as Pulumi does: git-ignored local state.
    # A developer's own (their dev secrets, salted for their passphrase) is moved aside and put back afterwards.
    stack_config = ROOT / "stacks" / "Pulumi.dev.yaml"
    before = stack_config.read_text() if stack_config.exists() else None
    stack_config.unlink(missing_ok=True)
    project = Project.copy(tmp_path_factory.mktemp("engine"))
    try:
        # the probe needs these two values; the rest are generated
        project.set_secrets("dev", {key: secrets.token_urlsafe(24) for key in ("jwt_secret", "weaviate_api_key")})
        rest = sorted(secret_keys("dev") - set(project.secrets))
        assert f"generated {len(rest)} secret(s) for dev: {', '.join(rest)}" in project.ok("secrets", "generate", "--env", "dev")
        assert "generated 0 secret(s) for dev; every one has a value" in project.ok("secrets", "generate", "--env", "dev")
        status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True)
        assert "stacks/" not in status.stdout, f"dev's secrets changed a tracked file:\n{status.stdout}"
        yield project
    finally:
        project.koyalite("destroy", "--env", "dev", "--yes")
        if before is None:
            stack_config.unlink(missing_ok=True)
        else:
            stack_config.write_text(before)


def _probe(project: Project, *args: str) -> str:
    """koyalite-probe on the environment's network, with the URLs the provisioner gave the API container."""
    env = dict(
        line.split("=", 1)
        for line in docker("inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", f"{PREFIX}-api-1").stdout.split("\n")
        if "=" in line
    )
    replica = next(
        name
        for name in sorted(_ours("container"))
        if "LITEFS_CANDIDATE=false" in docker("inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", name).stdout
    )
    files = project.dir / "probe-secrets"
    files.mkdir(exist_ok=True)
    for key in ("weaviate_api_key", "jwt_secret"):
        (files / key).write_text(project.secrets[key])
        (files / key).chmod(0o644)
    cmd = [
        "run", "--rm", "--network", PREFIX, "--user", "10001:10001", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "-e", f"PROBE_PRIMARY_URL={env['KOYALITE_DATABASE_PRIMARY_URL']}", "-e", f"PROBE_REPLICA_URL=http://{replica}:8080",
        "-e", f"KOYALITE_DATABASE_URL={env['KOYALITE_DATABASE_URL']}", "-e", f"KOYALITE_S3_URL={env['KOYALITE_S3_URL']}",
        "-e", f"KOYALITE_WEAVIATE_URL={env['KOYALITE_WEAVIATE_URL']}", "-e", f"KOYALITE_FUNCTIONS_URL={env['KOYALITE_FUNCTIONS_URL']}",
        "-e", f"KOYALITE_EVENTS_URL={env['KOYALITE_EVENTS_URL']}",
        "-e", "WEAVIATE_API_KEY_FILE=/run/secrets/weaviate_api_key", "-e", "JWT_SECRET_FILE=/run/secrets/jwt_secret",
        "-v", f"{files}:/run/secrets:ro", "koyalite/probe:1.4.0", "koyalite-probe", *args,
    ]  # fmt: skip
    result = docker(*cmd, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_up_deploys_dev_and_the_probe_passes(project: Project) -> None:
    out = project.ok("up", "--env", "dev", "--yes")
    assert "apiUrl: http://127.0.0.1:8000" in out
    assert len(_ours("container")) == 18
    written = json.loads(_probe(project).strip().splitlines()[-1])
    assert written["ok"] is True
    (project.dir / "token").write_text(written["token"])


def test_a_second_preview_has_no_changes(project: Project) -> None:
    out = project.ok("preview", "--env", "dev", "--expect-no-changes")
    assert changes(out, "dev").startswith("no changes")
    # an up whose approved plan changes nothing applies nothing, and says so as the preview does
    assert changes(project.ok("up", "--env", "dev", "--yes"), "dev") == changes(out, "dev")


def test_a_docker_environment_needs_no_kubernetes_provider(project: Project, tmp_path: Path) -> None:
    """`make up` builds no Kubernetes provider: the engine must not need its plugin for a Docker environment."""
    home = tmp_path / "pulumi-home"  # a plugin cache with nothing in it
    home.mkdir()
    out = project.ok("preview", "--env", "dev", "--expect-no-changes", PULUMI_HOME=str(home))
    assert changes(out, "dev").startswith("no changes")


def test_up_applies_only_the_approved_plan(project: Project) -> None:
    """The guard and the update share one plan: an image rebuilt on the daemon after the preview that saved the plan
    makes `up --plan` stop at that image, naming it, before any container is touched."""
    plan = project.dir / "plan.json"
    project.ok("preview", "--env", "dev", "--save-plan", str(plan))
    containers = docker("ps", "-aq", "--no-trunc", "--filter", "label=koyalite.dev/environment=dev").stdout.split()
    docker("tag", "koyalite/email:1.4.0", "koyalite/email:before-drift")
    try:
        build = ["build", "-q", "-t", "koyalite/email:1.4.0", "--label", "koyalite.test=drift", "-"]
        subprocess.run(["docker", *build], input="FROM koyalite/email:before-drift\n", text=True, capture_output=True, check=True)
        refused = project.koyalite("up", "--env", "dev", "--yes", "--plan", str(plan))
        assert refused.returncode == 3, refused.stdout[-2000:] + refused.stderr[-3000:]
        said = "error: environment dev changed after the data-loss guard approved its update: urn:pulumi:dev::koyalite::"
        assert said in refused.stderr, refused.stderr[-3000:]
        assert (
            "dynamic/docker:Image::image-koyalite/email:1.4.0 would now differ from the approved plan (update is not allowed"
            in refused.stderr
        )
        assert "run `koyalite up --env dev` again" in refused.stderr
        assert docker("ps", "-aq", "--no-trunc", "--filter", "label=koyalite.dev/environment=dev").stdout.split() == containers
    finally:
        docker("tag", "koyalite/email:before-drift", "koyalite/email:1.4.0")
        docker("rmi", "koyalite/email:before-drift", check=False)
    assert changes(project.ok("preview", "--env", "dev"), "dev").startswith("no changes")


def test_one_more_replica_creates_one_container(project: Project) -> None:
    before = _ours("container")
    project.edit("      auth: {replicas: 1}", "      auth: {replicas: 2}")
    # the new container, and the Health resource that now awaits it too
    assert changes(project.ok("preview", "--env", "dev"), "dev").startswith("1 to create, 1 to update;")
    project.ok("up", "--env", "dev", "--yes")
    assert _ours("container") - before == {f"{PREFIX}-auth-2"}


def test_a_changed_function_replaces_only_the_edge_runtime(project: Project) -> None:
    hello = project.dir / "functions" / "hello" / "index.ts"
    hello.write_text(hello.read_text() + "// changed by the end-to-end test\n")
    out = project.ok("preview", "--env", "dev")
    assert set(re.findall(r"docker:Container (container-[\w-]+)", out)) == {f"container-{PREFIX}-functions-1"}, out[-3000:]
    assert changes(out, "dev").startswith("1 to replace, 1 to update;"), out[-3000:]  # and Health awaits the new one
    project.ok("up", "--env", "dev", "--yes")


def test_a_killed_up_leaves_a_lock_that_is_reported_with_the_fix(project: Project) -> None:
    project.edit("      auth: {replicas: 2}", "      auth: {replicas: 1}")
    project.kill_up_and_unlock("dev")
    assert f"{PREFIX}-auth-2" not in _ours("container")


def test_dropping_a_replica_is_refused_before_its_volume_goes(project: Project) -> None:
    """The data-loss guard on the engine's real preview: the replica's volume would leave the stack."""
    project.edit("replicas: {fra: 1, iad: null}", "replicas: {fra: 0, iad: null}")
    try:
        refused = project.koyalite("up", "--env", "dev", "--yes")
        assert refused.returncode == 3, refused.stderr[-3000:]
        urn = "urn:pulumi:dev::koyalite::koyalite:index:Platform$koyalite:docker:LiteFS$pulumi-python:dynamic/docker:Volume::volume-acme-dev-litefs-fra-1"
        assert f"  refused: delete {urn}: it is no longer in the plan (a removed or renamed part)" in refused.stderr
        assert f"--allow-replace {urn}" in refused.stderr
        assert f"{PREFIX}-litefs-fra-1" in _ours("container"), "nothing changed"
    finally:
        project.edit("replicas: {fra: 0, iad: null}", "replicas: {fra: 1, iad: null}")


def test_destroy_keeps_the_volumes_and_up_finds_the_data_again(project: Project) -> None:
    volumes = _ours("volume")
    assert len(volumes) == 7
    stored = stream_state(PREFIX, "storage")  # the probe's event, and what its consumer delivered
    assert stored["messages"] >= 1
    project.ok("destroy", "--env", "dev", "--yes")
    assert _ours("container") == set()
    assert PREFIX not in docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert _ours("volume") == volumes
    project.ok("up", "--env", "dev", "--yes")
    token = (project.dir / "token").read_text()
    _probe(project, "--check-persisted", "--token", token)
    kept = stream_state(PREFIX, "storage")  # the stream outlived the destroy, and its consumer goes on where it stopped
    assert (kept["messages"], kept["last_seq"], kept["consumer_count"]) == (
        stored["messages"],
        stored["last_seq"],
        stored["consumer_count"],
    )
