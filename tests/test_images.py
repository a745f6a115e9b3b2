"""Local images (images/build.py) and the programs in them: entrypoint, edge runtime, cron, database gateway, probe.

Tiers:
- no Docker: the image catalogue (names and tags are a contract with the Docker target), the `_FILE` entrypoint run
  by the host's sh, and — when Deno can be had (PyPI's deno wheel, cached in ~/.cache/koyalite/images/) — the cron parser;
- Docker daemon reachable: the Deno-based images are built (cached by input hash) and run together on a private
  network: edge runtime serving the repo's functions, koyalite-db, the Weaviate stand-in script, and the probe;
- KOYALITE_E2E=1: every image (Go builds: long the first time) and the rendered dev stack under `docker compose` (v2+),
  probed, restarted, probed again with --check-persisted, taken down, volumes still there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import images_build

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"


build = images_build()


def _docker_ok() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


if os.environ.get("CI") and not _docker_ok():
    # CI starts dockerd (scripts/host.sh); a daemon that is not there is a broken setup, not a reason to skip
    pytest.fail("no reachable Docker daemon in CI: .ci/run starts one with scripts/host.sh", pytrace=False)
needs_docker = pytest.mark.skipif(not _docker_ok(), reason="no reachable Docker daemon (scripts/host.sh starts one)")
needs_e2e = pytest.mark.skipif(os.environ.get("KOYALITE_E2E") != "1", reason="set KOYALITE_E2E=1 for the full stack run")


# --------------------------------------------------------------------------------------------------- no Docker


def test_catalogue_refs_are_the_docker_targets_contract() -> None:
    refs = {image.ref for image in build.catalogue().values()}
    expected = {
        "koyalite/edge-runtime:1.4.0",
        "koyalite/seaweedfs:4.44",
        "koyalite/litefs:1.4.0",
        "koyalite/weaviate:1.38.2",
        "koyalite/nats:2.15.2",
        "koyalite/events:1.4.0",
        "koyalite/cron:1.4.0",
        "koyalite/probe:1.4.0",
        *(f"koyalite/{role}:1.4.0" for role in ("api", "auth", "project", "rls", "search", "email", "studio")),
    }
    assert expected <= refs
    assert refs - expected == {"koyalite/base:1.4.0", "koyalite/deno:2.9.8"}


def test_stand_ins_are_labelled_as_such() -> None:
    real = build.catalogue("real")
    assert {k for k, i in real.items() if i.stand_in} == {"api", "auth", "project", "rls", "search", "email", "studio"}
    assert build.catalogue("stand-in")["weaviate"].stand_in
    labels = build.image_labels_for(build.catalogue("stand-in")["weaviate"], "x")
    assert labels[build.STAND_IN_LABEL] == "true"
    assert labels[build.INPUTS_LABEL] == "x"


def test_runtime_images_run_as_10001_and_litefs_as_root() -> None:
    images = build.catalogue()
    assert images["litefs"].user == "root"
    for key in ("edge-runtime", "seaweedfs", "weaviate", "cron", "probe", "api", "studio"):
        assert images[key].user == "10001:10001", key


def test_only_expands_groups_and_rejects_unknown_names() -> None:
    images = build.catalogue()
    assert build.expand(images, ["standins"]) == ["api", "auth", "project", "rls", "search", "email", "studio"]
    assert [i.key for i in build.ordered(images, ["probe"])] == ["base", "deno", "probe"]
    with pytest.raises(build.BuildError, match="unknown image 'nope'"):
        build.expand(images, ["nope"])


def _entrypoint(env: dict[str, str], *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(IMAGES / "base" / "koyalite-entrypoint"), *cmd], env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True
    )


def test_entrypoint_exports_file_contents(tmp_path: Path) -> None:
    secret = tmp_path / "jwt"
    secret.write_text("s3cr3t value\n")
    result = _entrypoint({"JWT_SECRET_FILE": str(secret)}, "sh", "-c", 'printf "%s|" "$JWT_SECRET"')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "s3cr3t value|"


def test_entrypoint_refuses_a_missing_file() -> None:
    result = _entrypoint({"API_KEY_FILE": "/nonexistent/key"}, "true")
    assert result.returncode == 64
    assert "API_KEY_FILE=/nonexistent/key: no readable file there" in result.stderr


def _deno() -> Path:
    try:
        return build.deno_binary()
    except (build.BuildError, OSError, subprocess.CalledProcessError) as exc:  # no PyPI here: the rest still runs
        pytest.skip(f"Deno unavailable: {exc}")


def test_cron_next_runs_in_each_time_zone(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.json"
    jobs = [
        ("digest", "0 8 * * MON", "Europe/Berlin"),
        ("nightly", "0 2 * * *", "UTC"),
        ("dst-gap", "30 2 * * *", "Europe/Berlin"),  # 02:30 does not exist on 2026-03-29 in Berlin
        ("either-day", "0 0 13 * FRI", "UTC"),  # day-of-month OR day-of-week
        ("yearly", "@yearly", "America/New_York"),
    ]
    schedule.write_text(json.dumps({"jobs": [{"name": n, "schedule": s, "timezone": tz, "url": "http://x/"} for n, s, tz in jobs]}))
    out = subprocess.run(
        [
            str(_deno()),
            "run",
            "--no-config",
            "--no-lock",
            "-A",
            str(IMAGES / "cron" / "cron.ts"),
            *("--schedule", str(schedule)),
            "--check",
            "--now",
            "2026-03-29T00:30:00Z",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "DENO_DIR": str(tmp_path / "deno")},
        check=True,
    )
    found = {j["name"]: j["next_run"] for j in json.loads(out.stdout)["jobs"]}
    assert found == {
        "digest": "2026-03-30T06:00:00.000Z",
        "nightly": "2026-03-29T02:00:00.000Z",
        "dst-gap": "2026-03-30T00:30:00.000Z",
        "either-day": "2026-04-03T00:00:00.000Z",
        "yearly": "2027-01-01T05:00:00.000Z",
    }


def test_cron_rejects_bad_schedules_with_the_job_name(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.json"
    schedule.write_text(json.dumps({"jobs": [{"name": "bad", "schedule": "61 * * * *", "timezone": "Mars/Base", "url": "http://x/"}]}))
    out = subprocess.run(
        [str(_deno()), "run", "--no-config", "--no-lock", "-A", str(IMAGES / "cron" / "cron.ts"), "--schedule", str(schedule), "--check"],
        capture_output=True,
        text=True,
        env={**os.environ, "DENO_DIR": str(tmp_path / "deno")},
    )
    assert out.returncode == 65
    assert "jobs[0] (bad)" in out.stderr


# --------------------------------------------------------------------------------------------------- Docker


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def deno_images() -> list[str]:
    results = build.build(["edge-runtime", "cron", "probe", "api"])
    return [r.ref for r in results]


@pytest.fixture
def network() -> Iterator[str]:
    name = f"koyalite-test-{uuid.uuid4().hex[:8]}"
    _docker("network", "create", name)
    containers: list[str] = []
    try:
        yield name
    finally:
        out = _docker("ps", "-aq", "--filter", f"network={name}", check=False).stdout.split()
        containers += out
        if containers:
            _docker("rm", "-f", *containers, check=False)
        _docker("network", "rm", name, check=False)


def _wait_healthy(container: str, url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _docker("exec", container, "wget", "-q", "-O", "/dev/null", url, check=False).returncode == 0:
            return
        time.sleep(0.5)
    logs = _docker("logs", container, check=False)
    raise AssertionError(f"{container} never answered {url}:\n{logs.stdout}\n{logs.stderr}")


RESTRICTED = ["--user", "10001:10001", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"]


@needs_docker
def test_images_are_cached_by_their_inputs(deno_images: list[str]) -> None:
    again = build.build(["probe"])
    assert {r.key: r.status for r in again} == {"base": "cached", "deno": "cached", "probe": "cached"}
    labels = json.loads(_docker("image", "inspect", "--format", "{{json .Config.Labels}}", "koyalite/probe:1.4.0").stdout)
    assert labels[build.INPUTS_LABEL] == again[-1].inputs
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", "koyalite/api:1.4.0").stdout)
    assert config["Entrypoint"] == ["/usr/local/bin/koyalite-entrypoint"]
    assert config["User"] == "10001:10001"
    assert config["Labels"][build.STAND_IN_LABEL] == "true"


@needs_docker
def test_probe_passes_against_runtime_gateway_and_weaviate_stand_in(deno_images: list[str], network: str, tmp_path: Path) -> None:
    """The probe's database, Weaviate and function checks against real programs, S3 left out (needs SeaweedFS)."""
    tag = network.rsplit("-", 1)[1]
    functions = {
        "functions": [
            {
                "name": "hello",
                "module": "/functions/hello/index.ts",
                "routes": ["/hello"],
                "env": {},
                "secret_env": {},
                "timeout_s": 10,
                "memory": "64Mi",
            }
        ],
        "verify_jwt": True,
    }
    (tmp_path / "functions.json").write_text(json.dumps(functions))
    (tmp_path / "jwt").write_text("test-jwt-secret")
    (tmp_path / "key").write_text("test-weaviate-key")
    for f in tmp_path.iterdir():
        f.chmod(0o644)
    edge, db, wv = f"edge-{tag}", f"db-{tag}", f"wv-{tag}"
    _docker(
        "run", "-d", "--name", edge, "--network", network, *RESTRICTED,
        "-e", "KOYALITE_FUNCTIONS_FILE=/etc/functions.json", "-e", "JWT_SECRET_FILE=/run/secrets/jwt",
        "-v", f"{tmp_path / 'functions.json'}:/etc/functions.json:ro", "-v", f"{tmp_path / 'jwt'}:/run/secrets/jwt:ro",
        "-v", f"{ROOT / 'functions' / 'hello' / 'index.ts'}:/functions/hello/index.ts:ro",
        "koyalite/edge-runtime:1.4.0",
    )  # fmt: skip
    _docker(
        "run", "-d", "--name", db, "--network", network, "--user", "10001:10001", "--tmpfs", "/tmp",
        "-v", f"{IMAGES / 'litefs' / 'db.ts'}:/opt/db.ts:ro", "--entrypoint", "deno", "koyalite/deno:2.9.8",
        "run", "-A", "--no-config", "--no-lock", "/opt/db.ts", "--listen", ":8081", "--db", "/tmp/koyalite.db",
    )  # fmt: skip
    _docker(
        "run", "-d", "--name", wv, "--network", network, *RESTRICTED,
        "-e", "AUTHENTICATION_APIKEY_ENABLED=true", "-e", "AUTHENTICATION_APIKEY_ALLOWED_KEYS_FILE=/run/secrets/key",
        "-e", "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false", "-e", "PERSISTENCE_DATA_PATH=/tmp/weaviate",
        "-v", f"{tmp_path / 'key'}:/run/secrets/key:ro", "-v", f"{IMAGES / 'standins' / 'weaviate.ts'}:/opt/weaviate.ts:ro",
        "koyalite/deno:2.9.8", "deno", "run", "-A", "--no-config", "--no-lock", "/opt/weaviate.ts", "--port", "8080",
    )  # fmt: skip
    _wait_healthy(edge, "http://127.0.0.1:9000/_internal/health")
    _wait_healthy(db, "http://127.0.0.1:8081/health")
    _wait_healthy(wv, "http://127.0.0.1:8080/v1/.well-known/ready")
    probe = [
        "run", "--rm", "--network", network, *RESTRICTED,
        "-e", f"KOYALITE_DATABASE_PRIMARY_URL=http://{db}:8081", "-e", f"KOYALITE_DATABASE_URL=http://{db}:8081",
        "-e", f"KOYALITE_WEAVIATE_URL=http://{wv}:8080", "-e", "WEAVIATE_API_KEY_FILE=/run/secrets/key",
        "-e", f"KOYALITE_FUNCTIONS_URL=http://{edge}:9000", "-e", "JWT_SECRET_FILE=/run/secrets/jwt",
        "-v", f"{tmp_path / 'key'}:/run/secrets/key:ro", "-v", f"{tmp_path / 'jwt'}:/run/secrets/jwt:ro",
        "koyalite/probe:1.4.0", "koyalite-probe", "--skip", "s3", "--wait-s", "20",
    ]  # fmt: skip
    first = _docker(*probe, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    written = json.loads(first.stdout.strip().splitlines()[-1])
    assert written["ok"] and written["functions"] == {"hello": "hello, probe"}
    again = _docker(*probe, "--check-persisted", "--token", written["token"], check=False)
    assert again.returncode == 0, again.stdout + again.stderr

    # the runtime enforces verify_jwt once it has the secret: no token, no function
    anonymous = _docker("exec", edge, "wget", "-q", "-O", "-", "http://127.0.0.1:9000/functions/v1/hello", check=False)
    assert anonymous.returncode != 0 and "401" in anonymous.stderr
    # a probe pointed at nothing fails with the step and the reason
    broken = _docker(
        "run", "--rm", "--network", network, "-e", f"KOYALITE_FUNCTIONS_URL=http://{edge}:9000",
        "koyalite/probe:1.4.0", "koyalite-probe", "--skip", "db,s3,weaviate", "--wait-s", "2",
        check=False,
    )  # fmt: skip
    assert broken.returncode == 1
    assert "FAIL  functions.hello: the runtime wants a JWT (verify_jwt) and the probe has no JWT_SECRET" in broken.stderr


# --------------------------------------------------------------------------------------------------- full stack


@needs_docker
@needs_e2e
def test_dev_stack_end_to_end(tmp_path: Path, compose_env: dict[str, str]) -> None:
    """Every image, the rendered dev compose file, the probe, a restart, --check-persisted, down without -v."""
    build.build()
    out = tmp_path / "dev"
    subprocess.run([str(ROOT / ".venv" / "bin" / "koyalite"), "render", "--env", "dev", "-o", str(out)], cwd=ROOT, check=True)
    script = IMAGES / "e2e.sh"
    result = subprocess.run(["bash", str(script), str(out)], env=compose_env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
