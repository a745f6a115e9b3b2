"""Functions on hosted edge platforms, proven on the real runtimes offline.

`koyalite render` of an environment whose functions run on Cloudflare Workers and Deno Deploy writes each platform's
project; here the Workers project, bundled as wrangler bundles it (esbuild), runs under workerd (Cloudflare's
open-source Workers runtime, from npm) and the Deno Deploy project under the real deno, as Deno Deploy runs it.
Every function answers on its routes with its variables and a test secret bound, sees only its own environment,
is stopped at its timeout; a Workers cron trigger fires its function (through workerd's service binding
`scheduled()`, what wrangler's local scheduled endpoint does), and a Deno.cron fires on its minute (E2E only: up to a
minute's wait). The functions call the project's API: a recorder here. The uploads to the platforms are not tested
(no account is reachable): see test_edge_deploy.py for what is sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from provisioner import manifest, plan
from provisioner.targets import edge
from provisioner.targets.edge import tools
from tests.deployed import skip_or_fail
from tests.support import images_build

REPO = Path(__file__).resolve().parent.parent
SECRETS = {"jwt_secret": "test-jwt-secret-0123456789abcdef", "service_role_key": "test-service-role-key-42"}
ACCOUNT = "0123456789abcdef0123456789abcdef"


def environment(api_url: str) -> str:
    """An environment of the reference manifest whose functions run on both hosted platforms, with test functions."""
    return f"""
  edge:
    target: docker
    docker: {{publish: {{api: 8100, studio: 3100}}}}
    features: {{events: false, webhooks: false}}  # the event worker delivers to self-hosted functions only
    functions:
      platform: cloudflare-workers
      api_url: {api_url}
      cloudflare: {{account_id: "{ACCOUNT}"}}
      deno_deploy: {{org: acme}}
      items:
        - {{name: thumbnail, memory: 128Mi}}
        - {{name: hello, platform: deno-deploy}}
        - name: ping
          entrypoint: functions/ping/index.ts
          secrets: {{SERVICE_ROLE_KEY: service_role_key}}
        - name: env-view
          entrypoint: functions/env-view/index.ts
          routes: [/env-view]
          env: {{GREETING: hallo}}
          secrets: {{SERVICE_ROLE_KEY: service_role_key}}
        - {{name: slow, entrypoint: functions/slow/index.ts, timeout: 1s}}
        - name: deno-ping
          entrypoint: functions/ping/index.ts
          platform: deno-deploy
          secrets: {{SERVICE_ROLE_KEY: service_role_key}}
        - {{name: deno-env-view, entrypoint: functions/env-view/index.ts, platform: deno-deploy, routes: [/deno-env-view], env: {{GREETING: moin}}}}
        - {{name: deno-slow, entrypoint: functions/slow/index.ts, platform: deno-deploy, timeout: 1s}}
    cron:
      - {{name: weekly-digest, timezone: UTC, schedule: "0 7 * * 1"}}
      - {{name: ping-workers, schedule: "*/5 * * * *", function: ping}}
      - {{name: ping-deno, schedule: "* * * * *", function: deno-ping}}
"""


# -- a recorder for the project's API ----------------------------------------------------------------------------


@dataclass
class Recorder:
    server: ThreadingHTTPServer
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait(self, predicate: Any, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [r for r in self.requests if predicate(r)]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no such request in {seconds}s; got {self.requests}")


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            got.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(body or b"null"),
                }
            )
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Recorder(server, got)
    server.shutdown()


@pytest.fixture(scope="module")
def rendered(recorder: Recorder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`koyalite render --env edge -o OUT` of the project copy; OUT."""
    project = tmp_path_factory.mktemp("edge-project")
    shutil.copy(REPO / "koyalite.yaml", project / "koyalite.yaml")
    shutil.copytree(REPO / "functions", project / "functions")
    shutil.copytree(REPO / "tests" / "edge" / "functions", project / "functions", dirs_exist_ok=True)
    with (project / "koyalite.yaml").open("a") as f:
        f.write(environment(recorder.url))
    out = project / "out"
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "koyalite"), "render", "--env", "edge", "-o", str(out), str(project / "koyalite.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "2 hosted functions project(s) under edge/" in done.stderr
    return out / "edge"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jwt(secret: str, ttl_s: int = 300) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps({"role": "anon", "exp": int(time.time()) + ttl_s}).encode())
    signature = part(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{signature}"


def call(url: str, *, method: str = "GET", body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json"} if body is not None else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode(errors="replace")


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {seconds}s:\n{log.read_text()[-3000:]}")


# -- Cloudflare Workers under workerd ----------------------------------------------------------------------------

TRIGGER = """
// Test harness: fires the Worker's scheduled handler, as Cloudflare's scheduler (and wrangler's local endpoint) do.
export default {
  async fetch(request, env) {
    const cron = new URL(request.url).searchParams.get("cron");
    const result = await env.TARGET.scheduled({ cron, scheduledTime: Date.now() });
    return Response.json(result);
  },
};
"""


def capnp_text(value: str) -> str:
    return json.dumps(value)


def workerd_config(project: Path, bundle: str, work: Path, port: int, trigger_port: int, secrets: dict[str, str]) -> Path:
    """A workerd config that runs the Worker as Cloudflare would from wrangler.jsonc: its module, compatibility date
    and flags, its vars as text bindings and its required secrets as text bindings with test values."""
    text = (project / "wrangler.jsonc").read_text()
    config = json.loads(text[text.index("{") :])
    (work / "index.js").write_text(bundle)
    (work / "trigger.js").write_text(TRIGGER)
    values = {**config["vars"], **{name: secrets[name] for name in config["secrets"]["required"]}}
    bindings = ", ".join(f"(name = {capnp_text(k)}, text = {capnp_text(v)})" for k, v in sorted(values.items()))
    flags = ", ".join(capnp_text(f) for f in config["compatibility_flags"])
    path = work / "config.capnp"
    path.write_text(f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "koyalite", worker = .koyalite),
    (name = "trigger", worker = .trigger),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:{port}", http = (), service = "koyalite"),
    (name = "trigger", address = "127.0.0.1:{trigger_port}", http = (), service = "trigger"),
  ],
);
const koyalite :Workerd.Worker = (
  modules = [(name = "index.js", esModule = embed "index.js")],
  compatibilityDate = {capnp_text(config["compatibility_date"])},
  compatibilityFlags = [{flags}],
  bindings = [{bindings}],
);
const trigger :Workerd.Worker = (
  modules = [(name = "trigger.js", esModule = embed "trigger.js")],
  compatibilityDate = {capnp_text(config["compatibility_date"])},
  compatibilityFlags = ["service_binding_extra_handlers"],
  bindings = [(name = "TARGET", service = "koyalite")],
);
""")
    return path


@dataclass
class Running:
    url: str
    trigger: str
    log: Path


@pytest.fixture(scope="module")
def workers(rendered: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    try:
        found = tools.ensure()
    except tools.ToolsError as e:
        skip_or_fail(str(e), "edge")
        raise
    work = tmp_path_factory.mktemp("workerd")
    project = rendered / "cloudflare-workers"
    bundle = tools.bundle(found, project, work / "bundle.js")
    port, trigger_port = free_port(), free_port()
    config = workerd_config(project, bundle, work, port, trigger_port, SECRETS)
    log = work / "workerd.log"
    with log.open("wb") as out:
        # --experimental: the trigger's service_binding_extra_handlers (Fetcher.scheduled); the Worker needs none
        process = subprocess.Popen([str(found.workerd), "serve", "--experimental", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, process, log)
        yield Running(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{trigger_port}", log)
    finally:
        process.terminate()
        process.wait(10)


def test_the_workers_project_is_what_wrangler_reads(rendered: Path, recorder: Recorder) -> None:
    text = (rendered / "cloudflare-workers" / "wrangler.jsonc").read_text()
    assert text.startswith("// Generated by koyalite from koyalite.yaml (environment edge, cloudflare-workers)")
    config = json.loads(text[text.index("{") :])
    assert config["name"] == "acme-edge-functions" and config["account_id"] == ACCOUNT
    assert config["main"] == "src/koyalite-entry.ts" and config["compatibility_date"] == "2026-11-01"
    # the weekly digest's Monday as a name: Cloudflare counts days from 1 (Sunday), the manifest from 0
    assert config["triggers"] == {"crons": ["*/5 * * * *", "0 2 * * *", "0 7 * * MON"]}
    assert config["vars"] == {
        "KOYALITE_API_URL": recorder.url,
        "KOYALITE_ENVIRONMENT": "edge",
        "KOYALITE_PROJECT": "acme",
        "KOYALITE_PUBLIC_URL": "",
    }
    assert config["secrets"] == {"required": ["jwt_secret", "service_role_key"]}  # names only, never values
    assert config["limits"] == {"cpu_ms": 300_000}  # the longest timeout (cleanup's 5m), at most Workers' 5 minutes
    sources = sorted(
        p.relative_to(rendered / "cloudflare-workers").as_posix() for p in (rendered / "cloudflare-workers" / "src").rglob("*")
    )
    assert "src/functions/thumbnail/index.ts" in sources and "src/functions/hello/index.ts" not in sources
    assert not any(v in p.read_text() for p in rendered.rglob("*") if p.is_file() for v in SECRETS.values())


def test_every_worker_function_answers_on_its_routes(workers: Running) -> None:
    token = jwt(SECRETS["jwt_secret"])
    status, body = call(f"{workers.url}/functions/v1/thumbnail", method="POST", body={"bucket": "b", "key": "k.png"}, token=token)
    assert (status, body) == (202, {"source": "b/k.png", "thumbnail": "b/thumbnails/k.png"})
    status, body = call(f"{workers.url}/functions/v1/env-view", token=token)
    assert status == 200
    assert body["GREETING"] == "hallo" and body["secret_length"] == len(SECRETS["service_role_key"])
    # its own view: its env, its secret, the project's settings; not send-digest's DIGEST_FROM nor other secrets
    assert body["names"] == [
        "GREETING",
        "KOYALITE_API_URL",
        "KOYALITE_ENVIRONMENT",
        "KOYALITE_PROJECT",
        "KOYALITE_PUBLIC_URL",
        "SERVICE_ROLE_KEY",
    ]
    assert call(f"{workers.url}/functions/v1/nothing-here", token=token)[0] == 404


def test_a_worker_call_needs_a_valid_jwt(workers: Running) -> None:
    assert call(f"{workers.url}/functions/v1/env-view") == (401, {"error": "unauthorized: missing Authorization: Bearer <JWT>"})
    assert call(f"{workers.url}/functions/v1/env-view", token=jwt("another-secret"))[1] == {"error": "unauthorized: bad signature"}
    assert call(f"{workers.url}/functions/v1/env-view", token=jwt(SECRETS["jwt_secret"], ttl_s=-10))[1] == {
        "error": "unauthorized: token expired"
    }


def test_a_worker_function_past_its_timeout_is_stopped(workers: Running) -> None:
    started = time.monotonic()
    status, body = call(f"{workers.url}/functions/v1/slow", token=jwt(SECRETS["jwt_secret"]))
    took = time.monotonic() - started
    assert (status, body) == (504, {"error": "function slow exceeded its timeout of 1s"})
    assert 0.9 < took < 3, took


def test_a_cron_trigger_fires_its_function(workers: Running, recorder: Recorder) -> None:
    status, body = call(f"{workers.trigger}/?cron=" + urllib.request.quote("*/5 * * * *"))
    assert status == 200 and body["outcome"] == "ok", body
    ping = recorder.wait(lambda r: r["path"] == "/ping" and r["body"]["cron"] == "ping-workers", 10)
    assert ping["headers"]["authorization"] == f"Bearer {SECRETS['service_role_key']}"
    assert ping["body"]["environment"] == "edge"
    # a schedule no job has is an error the platform records
    assert call(f"{workers.trigger}/?cron=" + urllib.request.quote("1 1 1 1 *"))[1]["outcome"] == "exception"


# -- Deno Deploy under deno ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deno_deploy(rendered: Path, recorder: Recorder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    try:
        deno = images_build().deno_binary()
    except Exception as e:
        skip_or_fail(f"no deno binary: {e}", "edge")
        raise
    project = rendered / "deno-deploy"
    text = (project / "main.ts").read_text()
    assert 'Deno.cron("ping-deno", "* * * * *"' in text
    work = tmp_path_factory.mktemp("deno-deploy")
    port = free_port()
    # Deno Deploy's environment: the app's variables (the project's settings) and secrets
    env = {
        "PATH": os.environ["PATH"],
        "DENO_DIR": str(work / "deno"),
        "PORT": str(port),
        "KOYALITE_API_URL": recorder.url,
        "KOYALITE_ENVIRONMENT": "edge",
        "KOYALITE_PROJECT": "acme",
        "KOYALITE_PUBLIC_URL": "",
        **SECRETS,
    }
    log = work / "deno.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(deno), "run", "--allow-all", "--no-lock", "main.ts"], cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_listening(port, process, log)
        yield Running(f"http://127.0.0.1:{port}", "", log)
    finally:
        process.terminate()
        process.wait(10)


def test_every_deno_deploy_function_answers_on_its_routes(deno_deploy: Running, rendered: Path) -> None:
    config = json.loads((rendered / "deno-deploy" / "deno.json").read_text())
    assert config["deploy"] == {"org": "acme", "app": "acme-edge-functions", "runtime": {"type": "dynamic", "entrypoint": "main.ts"}}
    token = jwt(SECRETS["jwt_secret"])
    assert call(f"{deno_deploy.url}/functions/v1/hello?name=Ada", token=token) == (200, {"message": "hello, Ada"})
    status, body = call(f"{deno_deploy.url}/functions/v1/deno-env-view", token=token)
    assert status == 200 and body["GREETING"] == "moin" and body["secret_length"] is None
    assert body["names"] == ["GREETING", "KOYALITE_API_URL", "KOYALITE_ENVIRONMENT", "KOYALITE_PROJECT", "KOYALITE_PUBLIC_URL"]
    assert call(f"{deno_deploy.url}/functions/v1/env-view", token=token)[0] == 404  # a Worker's function, not here
    assert call(f"{deno_deploy.url}/functions/v1/hello")[0] == 401


def test_a_deno_deploy_function_past_its_timeout_is_stopped(deno_deploy: Running) -> None:
    status, body = call(f"{deno_deploy.url}/functions/v1/deno-slow", token=jwt(SECRETS["jwt_secret"]))
    assert (status, body) == (504, {"error": "function deno-slow exceeded its timeout of 1s"})


@pytest.mark.skipif(os.environ.get("KOYALITE_E2E") != "1", reason="waits up to a minute for Deno.cron; KOYALITE_E2E=1")
def test_a_deno_cron_fires_its_function(deno_deploy: Running, recorder: Recorder) -> None:
    ping = recorder.wait(lambda r: r["path"] == "/ping" and r["body"]["cron"] == "ping-deno", 75)
    assert ping["headers"]["authorization"] == f"Bearer {SECRETS['service_role_key']}"
    ran = '"message":"cron job ran","cron":"ping-deno","function":"deno-ping","status":200'
    deadline = time.monotonic() + 10  # logged once the function has answered, just after its call reached the recorder
    while ran not in deno_deploy.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ran in deno_deploy.log.read_text()


# -- determinism -------------------------------------------------------------------------------------------------


def test_the_projects_are_byte_identical_on_every_render(rendered: Path) -> None:
    checked = manifest.check(manifest.load(rendered.parent.parent / "koyalite.yaml"), "edge")
    built = plan.build(checked, rendered.parent.parent)
    again = edge.files(built.edge, "edge", built.project)
    on_disk = {p.relative_to(rendered.parent).as_posix(): p.read_text() for p in rendered.rglob("*") if p.is_file()}
    assert again == on_disk


def test_plan_counts_the_hosted_functions_against_the_limits(rendered: Path) -> None:
    done = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "koyalite"),
            "plan",
            "--env",
            "edge",
            "--format",
            "json",
            str(rendered.parent.parent / "koyalite.yaml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (found,) = json.loads(done.stdout)["environments"]
    assert found["hosted"] == [
        {
            "platform": "cloudflare-workers",
            "app": "acme-edge-functions",
            "account": ACCOUNT,
            "functions": ["cleanup", "env-view", "ping", "send-digest", "slow", "thumbnail"],
            "crons": ["nightly-cleanup", "ping-workers", "weekly-digest"],
            "secrets": ["jwt_secret", "service_role_key"],
        },
        {
            "platform": "deno-deploy",
            "app": "acme-edge-functions",
            "account": "acme",
            "functions": ["deno-env-view", "deno-ping", "deno-slow", "hello"],
            "crons": ["ping-deno"],
            "secrets": ["jwt_secret", "service_role_key"],
        },
    ]
    limits = {u["name"]: u["used"] for u in found["limits"]}
    assert limits["max_functions"] == 10 and limits["max_cron_jobs"] == 5  # the uptime ping stays on the cron runner
    assert not any(w["name"].startswith("acme-edge-functions") for w in found["workloads"])  # no self-hosted runtime
