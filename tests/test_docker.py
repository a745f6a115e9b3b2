"""The Docker target: compose render (golden, accepted by `docker compose`), volumes, secrets, start order, warnings."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner import manifest, plan
from provisioner.cli import main
from provisioner.errors import Severity
from provisioner.render import compose
from provisioner.targets import docker

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden" / "render"


def _plan(env: str = "dev") -> plan.Plan:
    return plan.build(manifest.check(manifest.load(ROOT / "koyalite.yaml", "koyalite.yaml"), env), ROOT)


def _containers() -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in docker.objects(_plan()) if o["kind"] == "Container"}


def test_every_plan_kind_has_a_docker_translator() -> None:
    from provisioner.plan import model

    kinds = {cls.kind for cls in vars(model).values() if isinstance(cls, type) and issubclass(cls, model.Part) and cls.kind}
    assert kinds - set(docker.REGISTRY.translators) == set()


def test_containers_per_role_and_replica() -> None:
    assert sorted(_containers()) == [
        "acme-dev-api-1",
        "acme-dev-auth-1",
        "acme-dev-cron",
        "acme-dev-email-1",
        "acme-dev-events-1",
        "acme-dev-functions-1",
        "acme-dev-litefs-fra-0",
        "acme-dev-litefs-fra-1",
        "acme-dev-nats-0",
        "acme-dev-project-1",
        "acme-dev-rls-1",
        "acme-dev-search-1",
        "acme-dev-seaweedfs-filer-0",
        "acme-dev-seaweedfs-master-0",
        "acme-dev-seaweedfs-s3",
        "acme-dev-seaweedfs-volume-0",
        "acme-dev-studio-1",
        "acme-dev-weaviate-0",
    ]


def test_named_volumes_only_and_labelled() -> None:
    objs = docker.objects(_plan())
    volumes = {o["name"]: o for o in objs if o["kind"] == "Volume"}
    assert sorted(volumes) == [
        "acme-dev-litefs-fra-0",
        "acme-dev-litefs-fra-1",
        "acme-dev-nats-0",
        "acme-dev-seaweedfs-filer-0",
        "acme-dev-seaweedfs-master-0",
        "acme-dev-seaweedfs-volume-0",
        "acme-dev-weaviate-0",
    ]
    for obj in objs:
        if obj["kind"] == "Container":
            assert all(m["volume"] in volumes for m in obj["volumes"])
    assert volumes["acme-dev-weaviate-0"]["labels"]["koyalite.dev/project"] == "acme"


def test_only_gateway_ports_are_published_on_loopback() -> None:
    published = {name: c["ports"] for name, c in _containers().items() if c["ports"]}
    assert published == {
        "acme-dev-api-1": [{"host_ip": "127.0.0.1", "host": 8000, "container": 8000}],
        "acme-dev-functions-1": [{"host_ip": "127.0.0.1", "host": 9000, "container": 9000}],
        "acme-dev-studio-1": [{"host_ip": "127.0.0.1", "host": 3000, "container": 3000}],
    }


def test_start_order_by_health() -> None:
    c = _containers()
    assert c["acme-dev-litefs-fra-1"]["depends_on"] == ["acme-dev-litefs-fra-0"]
    assert c["acme-dev-api-1"]["depends_on"] == ["acme-dev-litefs-fra-0", "acme-dev-seaweedfs-s3"]
    assert c["acme-dev-seaweedfs-volume-0"]["depends_on"] == ["acme-dev-seaweedfs-master-0"]
    assert c["acme-dev-seaweedfs-filer-0"]["depends_on"] == ["acme-dev-seaweedfs-volume-0"]
    assert c["acme-dev-seaweedfs-s3"]["depends_on"] == ["acme-dev-seaweedfs-filer-0"]
    assert c["acme-dev-search-1"]["depends_on"] == ["acme-dev-weaviate-0"]


def test_secrets_are_files_never_values() -> None:
    api = _containers()["acme-dev-api-1"]
    assert api["secrets"] == [
        {"secret": "jwt_secret", "target": "/run/secrets/jwt_secret"},
        {"secret": "service_role_key", "target": "/run/secrets/service_role_key"},
    ]
    assert api["env"]["JWT_SECRET_FILE"] == "/run/secrets/jwt_secret"
    assert "JWT_SECRET" not in api["env"]


def test_litefs_is_the_one_privileged_exception() -> None:
    for name, c in _containers().items():
        if "litefs" in name:
            assert (c["devices"], c["cap_add"]) == (["/dev/fuse"], ["SYS_ADMIN"])
            assert "user" not in c
        else:
            assert c["user"] == "10001:10001" and c["cap_drop"] == ["ALL"]
            assert c["security_opt"] == ["no-new-privileges:true"]


def test_litefs_nodes_share_one_config_and_one_candidate() -> None:
    c = _containers()
    assert c["acme-dev-litefs-fra-0"]["env"]["LITEFS_CANDIDATE"] == "true"
    assert c["acme-dev-litefs-fra-1"]["env"]["LITEFS_CANDIDATE"] == "false"
    parsed = yaml.safe_load(c["acme-dev-litefs-fra-0"]["files"][0]["content"].replace("${LITEFS_CANDIDATE}", "true"))
    assert parsed["lease"] == {
        "type": "static",
        "candidate": True,
        "hostname": "acme-dev-litefs-fra-0",
        "advertise-url": "http://acme-dev-litefs-fra-0:20202",
    }
    assert parsed["proxy"] == {"addr": ":8080", "target": "localhost:8081", "db": "koyalite.db"}
    assert c["acme-dev-litefs-fra-1"]["files"] == c["acme-dev-litefs-fra-0"]["files"]
    # writes must reach the primary: only it answers to the primary alias
    assert c["acme-dev-litefs-fra-0"]["aliases"] == ["acme-dev-litefs", "acme-dev-litefs-fra"]
    assert c["acme-dev-litefs-fra-1"]["aliases"] == ["acme-dev-litefs"]


def test_warnings_name_the_manifest_path(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = docker.warnings(_plan())
    assert [(w.path, w.message, w.severity) for w in found] == [
        ("project.regions", "2 regions collapse onto one Docker host", Severity.WARNING)
    ]
    monkeypatch.chdir(ROOT)
    assert main(["render", "--env", "dev", "-o", str(tmp_path / "dev")]) == 0
    assert "koyalite.yaml:8:3: warning: project.regions: 2 regions collapse onto one Docker host" in capsys.readouterr().err
    assert main(["render", "--env", "dev", "--strict", "-o", str(tmp_path / "strict")]) == 2
    assert not (tmp_path / "strict").exists()


def test_autoscale_on_docker_warns() -> None:
    doc = manifest.parse(
        (ROOT / "koyalite.yaml")
        .read_text(encoding="utf-8")
        .replace("      api: {replicas: 1, autoscale: null}", "      api: {replicas: 1}"),
        "koyalite.yaml",
        ROOT,
    )
    found = docker.warnings(plan.build(manifest.check(doc, "dev"), ROOT))
    assert [(w.path, w.message, w.hint) for w in found] == [
        ("project.regions", "2 regions collapse onto one Docker host", "per-region placement and failover need the kubernetes target"),
        ("services.api.autoscale", "not enforced by the docker target", "runs 2 fixed replica(s)"),
        ("services.api.replicas", "only the first replica is published on the host", "the others serve through the network alias"),
    ]


def test_compose_golden(update_golden: bool) -> None:
    text = compose.files(docker.objects(_plan()), "acme-dev")["compose.yaml"]
    golden = GOLDEN / "dev.compose.yaml"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_compose_render_has_no_secret_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-5b1e0c7d9a"
    monkeypatch.setenv("JWT_SECRET", canary)
    monkeypatch.chdir(ROOT)
    assert main(["render", "--env", "dev", "-o", str(tmp_path / "dev")]) == 0
    for path in (tmp_path / "dev").rglob("*"):
        if path.is_file():
            assert canary not in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "dev" / "secrets").iterdir()) == ["README"]


def test_docker_compose_config_accepts_the_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_env: dict[str, str]) -> None:
    if shutil.which("docker") is None:
        if os.environ.get("CI"):
            pytest.fail("the docker CLI is required in CI: scripts/host.sh installs Debian's docker.io")
        pytest.skip("no docker CLI")
    monkeypatch.chdir(ROOT)
    out = tmp_path / "dev"
    assert main(["render", "--env", "dev", "-o", str(out)]) == 0
    for key in next(o["keys"] for o in docker.objects(_plan()) if o["kind"] == "SecretSet"):
        (out / "secrets" / key).write_text("test-value\n", encoding="utf-8")
    result = subprocess.run(["docker", "compose", "config", "-q"], cwd=out, env=compose_env, capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")
    names = subprocess.run(["docker", "compose", "config", "--services"], cwd=out, env=compose_env, capture_output=True, text=True)
    # the 18 containers koyalite up creates, and the one-shot that declares the streams and consumers
    assert len(names.stdout.split()) == 19 and "acme-dev-nats-0-streams" in names.stdout.split(), names.stdout + names.stderr
