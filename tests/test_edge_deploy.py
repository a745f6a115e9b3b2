"""`koyalite up` of an environment whose functions run on Cloudflare Workers and Deno Deploy drives the deploy
resources (components/edge.py) through the real engine, against a local server standing in for both platforms' APIs.

The stand-in answers as the APIs document and records each request: the test checks the shape of what koyalite
sends (methods, paths, body fields, that secrets travel as the platforms' secrets), not that a platform accepts it.
No Cloudflare or Deno Deploy account is reachable here: the uploads themselves are untested (README).

Needs KOYALITE_E2E=1, the Pulumi toolchain and a Docker daemon (the environment's own containers deploy beside).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from provisioner import manifest, plan
from tests.deployed import ROOT, Project, engine_missing, skip_or_fail

ACCOUNT = "0123456789abcdef0123456789abcdef"
ENV = "edgedeploy"
STACK_FILE = ROOT / "stacks" / f"Pulumi.{ENV}.yaml"
TOKENS = {"CLOUDFLARE_API_TOKEN": "cf-token-1234", "DENO_DEPLOY_TOKEN": "dd-token-5678"}
ENVIRONMENT = f"""
  {ENV}:
    target: docker
    docker: {{publish: {{api: 8110}}}}
    features: {{storage: false, search: false, email: false, studio: false, events: false, webhooks: false}}
    functions:
      platform: cloudflare-workers
      api_url: https://api.acme.example.com
      cloudflare:
        account_id: "{ACCOUNT}"
        routes: [{{pattern: "acme.example.com/functions/v1/*", zone_name: example.com}}]
      deno_deploy: {{org: acme}}
      items:
        - {{name: thumbnail, memory: 128Mi}}
        - {{name: hello, platform: deno-deploy}}
    cron:
      - {{name: weekly-digest, timezone: UTC, schedule: "0 7 * * 1"}}
"""


@dataclass
class Platforms:
    """A stand-in for Cloudflare's and Deno Deploy's APIs: answers what they document, records every request."""

    server: ThreadingHTTPServer
    requests: list[dict[str, Any]] = field(default_factory=list)
    routes: dict[str, dict[str, str]] = field(default_factory=dict)
    apps: set[str] = field(default_factory=set)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls(self) -> list[str]:
        return [f"{r['method']} {r['path']}" for r in self.requests]

    def one(self, method: str, path: str) -> dict[str, Any]:
        (found,) = [r for r in self.requests if r["method"] == method and r["path"] == path]
        return found


@pytest.fixture(scope="module")
def platforms() -> Iterator[Platforms]:
    state = Platforms(None)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, result: Any, cloudflare: bool) -> None:
            body = {"success": status < 400, "errors": [], "messages": [], "result": result} if cloudflare else result
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            kind = self.headers.get("content-type", "")
            record: dict[str, Any] = {"method": self.command, "path": self.path, "authorization": self.headers.get("authorization")}
            if kind.startswith("multipart/form-data"):
                message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + raw)
                record["parts"] = {
                    p.get_param("name", header="content-disposition"): (p.get_content_type(), p.get_payload(decode=True).decode())
                    for p in message.iter_parts()
                }
            elif raw:
                record["json"] = json.loads(raw)
            state.requests.append(record)
            path, cloudflare = self.path, self.path.startswith("/client/v4/")
            if cloudflare:
                path = path.removeprefix("/client/v4")
                if path.startswith("/zones?name="):
                    return self._answer(200, [{"id": "zone-1", "name": path.split("=", 1)[1]}], True)
                if path == "/zones/zone-1/workers/routes" and self.command == "GET":
                    return self._answer(200, list(state.routes.values()), True)
                if path == "/zones/zone-1/workers/routes" and self.command == "POST":
                    rid = uuid.uuid4().hex
                    state.routes[rid] = {"id": rid, **record["json"]}
                    return self._answer(200, state.routes[rid], True)
                if path.startswith("/zones/zone-1/workers/routes/") and self.command == "DELETE":
                    state.routes.pop(path.rsplit("/", 1)[1], None)
                return self._answer(200, {"id": path.rsplit("/", 1)[-1]}, True)
            path = path.removeprefix("/v2")
            if path.startswith("/apps/") and path.count("/") == 2:
                app = path.split("/")[2]
                if self.command == "GET":
                    return (
                        self._answer(200, {"slug": app}, False) if app in state.apps else self._answer(404, {"code": "appNotFound"}, False)
                    )
                if self.command == "DELETE":
                    state.apps.discard(app)
                    return self._answer(200, {}, False)
            if path == "/apps" and self.command == "POST":
                state.apps.add(record["json"]["slug"])
                return self._answer(200, {"slug": record["json"]["slug"]}, False)
            if path.endswith("/deploy"):
                return self._answer(202, {"id": f"rev-{len(state.requests)}"}, False)
            if path.startswith("/revisions/"):
                return self._answer(200, {"id": path.rsplit("/", 1)[1], "status": "succeeded"}, False)
            return self._answer(404, {"code": "notFound"}, False)

        do_GET = do_PUT = do_POST = do_DELETE = _handle

        def log_message(self, *_: Any) -> None:
            pass

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=state.server.serve_forever, daemon=True).start()
    yield state
    state.server.shutdown()


@pytest.fixture(scope="module")
def project(platforms: Platforms, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    skip_or_fail(engine_missing(), "edge deploy")
    project = Project.copy(
        tmp_path_factory.mktemp("edge-deploy"),
        CLOUDFLARE_API_BASE_URL=f"{platforms.base}/client/v4",
        DENO_DEPLOY_API_URL=f"{platforms.base}/v2",
    )
    project.manifest.write_text(project.manifest.read_text() + ENVIRONMENT)
    doc = manifest.load(project.manifest)
    keys = plan.build(manifest.check(doc, ENV), doc.base_dir).secret_keys()
    assert {"jwt_secret", "service_role_key"} <= set(keys)  # the hosted functions' secrets are the stack's too
    try:
        project.set_secrets(ENV, {key: secrets.token_urlsafe(24) for key in keys})
        yield project
    finally:
        project.koyalite("destroy", "--env", ENV, "--yes", **TOKENS)
        STACK_FILE.unlink(missing_ok=True)


def test_a_missing_token_stops_up_before_anything(project: Project, platforms: Platforms) -> None:
    refused = project.koyalite("up", "--env", ENV, "--yes", DENO_DEPLOY_TOKEN="dd-token-5678")
    assert refused.returncode == 4, refused.stderr[-2000:]
    assert "runs functions on cloudflare-workers (app acme-edgedeploy-functions), and CLOUDFLARE_API_TOKEN is not set" in refused.stderr
    assert "export CLOUDFLARE_API_TOKEN" in refused.stderr
    assert platforms.requests == []
    made = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=acme-{ENV}-"], capture_output=True, text=True, check=True)
    assert made.stdout == ""  # nothing of the environment was deployed either


def test_up_uploads_each_platform_app_with_its_secrets_as_secrets(project: Project, platforms: Platforms) -> None:
    out = project.ok("up", "--env", ENV, "--yes", **TOKENS)
    assert "functions:cloudflare-workers: acme-edgedeploy-functions" in out
    stored = project.secrets
    script = f"/client/v4/accounts/{ACCOUNT}/workers/scripts/acme-edgedeploy-functions"
    # the two platforms deploy concurrently; each in its own order
    assert [c for c in platforms.calls() if "/client/v4/" in c] == [
        f"PUT {script}",
        f"PUT {script}/schedules",
        f"POST {script}/subdomain",
        "GET /client/v4/zones?name=example.com",
        "GET /client/v4/zones/zone-1/workers/routes",
        "POST /client/v4/zones/zone-1/workers/routes",
    ]
    upload = platforms.one("PUT", script)
    assert upload["authorization"] == "Bearer cf-token-1234"
    kind, metadata_text = upload["parts"]["metadata"]
    metadata = json.loads(metadata_text)
    assert kind == "application/json" and metadata["main_module"] == "koyalite-entry.js"
    assert metadata["compatibility_date"] == "2026-11-01" and metadata["compatibility_flags"] == ["nodejs_compat"]
    bindings = {b["name"]: (b["type"], b["text"]) for b in metadata["bindings"]}
    assert bindings["KOYALITE_API_URL"] == ("plain_text", "https://api.acme.example.com")
    assert bindings["service_role_key"] == ("secret_text", stored["service_role_key"])
    assert bindings["jwt_secret"] == ("secret_text", stored["jwt_secret"])
    assert metadata["limits"] == {"cpu_ms": 300_000}
    module_kind, module = upload["parts"]["koyalite-entry.js"]
    assert module_kind == "application/javascript+module"
    # one bundled module: the functions inside (thumbnail's code), only the runtime's own module imported
    assert re.findall(r'^import .* from "([^"]+)";$', module, re.M) == ["node:async_hooks"] and "/thumbnails/" in module
    assert platforms.one("PUT", f"{script}/schedules")["json"] == [{"cron": "0 2 * * *"}, {"cron": "0 7 * * MON"}]
    assert platforms.one("POST", "/client/v4/zones/zone-1/workers/routes")["json"] == {
        "pattern": "acme.example.com/functions/v1/*",
        "script": "acme-edgedeploy-functions",
    }
    assert [c.split("/rev-")[0] for c in platforms.calls() if "/v2/" in c] == [
        "GET /v2/apps/acme-edgedeploy-functions",
        "POST /v2/apps",
        "POST /v2/apps/acme-edgedeploy-functions/deploy",
        "GET /v2/revisions",
    ]
    deploy = platforms.one("POST", "/v2/apps/acme-edgedeploy-functions/deploy")
    assert platforms.one("POST", "/v2/apps")["json"] == {"slug": "acme-edgedeploy-functions"}
    assert deploy["authorization"] == "Bearer dd-token-5678"
    assert sorted(deploy["json"]["assets"]) == ["deno.json", "functions/hello/index.ts", "koyalite_edge.ts", "main.ts"]
    assert deploy["json"]["config"] == {"runtime": {"type": "dynamic", "entrypoint": "main.ts"}}
    env_vars = {e["key"]: (e["value"], e["secret"]) for e in deploy["json"]["env_vars"]}
    assert env_vars["KOYALITE_ENVIRONMENT"] == (ENV, False) and env_vars["jwt_secret"] == (stored["jwt_secret"], True)
    # nothing changed, nothing to do: the revision the app's state keeps is no input
    project.ok("preview", "--env", ENV, "--expect-no-changes", **TOKENS)
    # secrets are in the state only encrypted
    state = "".join(p.read_text() for p in (project.dir / "state").rglob("*.json"))
    assert stored["jwt_secret"] not in state and stored["service_role_key"] not in state


def test_a_changed_function_updates_only_its_platform(project: Project, platforms: Platforms) -> None:
    hello = project.dir / "functions" / "hello" / "index.ts"
    hello.write_text(hello.read_text() + "// changed\n")
    preview = " ".join(project.ok("preview", "--env", ENV, **TOKENS).split())  # the console wraps at 80 columns
    # the preview names the function that changes, and nothing else changes
    assert "~ pulumi-python:dynamic/denodeploy:App deno-deploy-acme-edgedeploy-functions update (files, function:hello)" in preview
    assert f"preview {ENV}: 1 to update;" in preview, preview[-3000:]
    before = len(platforms.requests)
    project.ok("up", "--env", ENV, "--yes", **TOKENS)
    again = [f"{r['method']} {r['path']}" for r in platforms.requests[before:]]
    assert all(c.split()[1].startswith("/v2/") for c in again), again
    assert "POST /v2/apps/acme-edgedeploy-functions/deploy" in again and "POST /v2/apps" not in again


def test_destroy_removes_the_apps_and_their_routes(project: Project, platforms: Platforms) -> None:
    before = len(platforms.requests)
    project.ok("destroy", "--env", ENV, "--yes", **TOKENS)
    gone = [f"{r['method']} {r['path']}" for r in platforms.requests[before:]]
    assert f"DELETE /client/v4/accounts/{ACCOUNT}/workers/scripts/acme-edgedeploy-functions?force=true" in gone
    assert "DELETE /v2/apps/acme-edgedeploy-functions" in gone
    assert any(c.startswith("DELETE /client/v4/zones/zone-1/workers/routes/") for c in gone)
    assert platforms.routes == {} and platforms.apps == set()
