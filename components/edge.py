"""Functions on hosted edge platforms, deployed beside the target's parts: one resource per platform app.

- `pulumi-python:dynamic/cloudflare:Worker`: the Worker script uploaded through Cloudflare's API (the module wrangler
  would bundle, its vars as plain_text bindings, its secrets as secret_text bindings), then its cron triggers, its
  workers.dev subdomain and its zone routes; deleted with its routes when it leaves the stack.
- `pulumi-python:dynamic/denodeploy:App`: the app created if needed, then a revision deployed through Deno Deploy's
  API (the project's files, the project's settings and secrets as environment variables, secrets marked secret),
  awaited until it is live; the app is deleted when it leaves the stack.

Functions are stateless: the data-loss guard is not involved. Each function's digest is an input of its own
(`function:<name>`), so a preview names exactly the functions that change.

Tokens are read from the deployer's environment when the provider runs (CLOUDFLARE_API_TOKEN, DENO_DEPLOY_TOKEN):
never an input, never in the state. Secret values come from the stack's encrypted config as Pulumi secrets (kept
encrypted in the state) and travel only to the platform. The APIs' addresses can be pointed elsewhere with
CLOUDFLARE_API_BASE_URL (as wrangler reads it) and DENO_DEPLOY_API_URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.errors import ComponentError
from provisioner.plan.model import EdgeApp
from provisioner.targets import edge

CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"
DENO_DEPLOY_API = "https://api.deno.com/v2"
TOKENS = {"cloudflare-workers": "CLOUDFLARE_API_TOKEN", "deno-deploy": "DENO_DEPLOY_TOKEN"}
"""The variable holding each platform's API token, in the deployer's environment."""
MODULE = "koyalite-entry.js"
LIVE_WAIT_S = 300


class EdgeError(Exception):
    """A platform's API refused a call, or cannot be reached; the engine prints the message."""


def token(platform: str) -> str:
    value = os.environ.get(TOKENS[platform], "")
    if not value:
        raise EdgeError(f"{TOKENS[platform]} is not set: the {platform} deploy needs an API token in the deployer's environment")
    return value


class Api:
    """A JSON API with a bearer token: the platforms' envelopes unwrapped, their errors as EdgeError."""

    def __init__(self, base: str, bearer: str, what: str) -> None:
        self.base, self.bearer, self.what = base.rstrip("/"), bearer, what

    def call(self, method: str, path: str, body: Any = None, *, data: bytes | None = None, content_type: str = "") -> Any:
        headers = {"authorization": f"Bearer {self.bearer}", "user-agent": "koyalite"}
        if body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        if content_type:
            headers["content-type"] = content_type
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:500]
            if e.code == 404 and method in ("GET", "DELETE"):
                return None
            raise EdgeError(f"{self.what}: {method} {path} answered {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise EdgeError(f"{self.what}: {method} {self.base}{path}: {getattr(e, 'reason', e)}") from None
        found = json.loads(text) if text else None
        return found.get("result", found) if isinstance(found, dict) and "success" in found else found


def _multipart(parts: list[tuple[str, str, str, bytes]]) -> tuple[bytes, str]:
    """multipart/form-data of (field, file name, content type, body) parts."""
    boundary = f"koyalite-{uuid.uuid4().hex}"
    out = b""
    for field, filename, kind, body in parts:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'.encode()
        out += f"Content-Type: {kind}\r\n\r\n".encode() + body + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


OUTPUTS = frozenset({"revision"})
"""Keys the providers add to their state (the olds a diff gets), never inputs: no part of a change."""


def _changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    return any(olds.get(k) != news.get(k) for k in {*olds, *news} if not k.startswith("__") and k not in OUTPUTS)


class WorkerProvider(ResourceProvider):
    serialize_as_secret_always = False

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("account", "name") if olds.get(k) != news.get(k)]
        return DiffResult(changes=_changed(olds, news), replaces=replaces, delete_before_replace=False)

    def _api(self) -> Api:
        return Api(os.environ.get("CLOUDFLARE_API_BASE_URL") or CLOUDFLARE_API, token("cloudflare-workers"), "Cloudflare")

    def _apply(self, props: dict[str, Any]) -> None:
        api, account, name = self._api(), props["account"], props["name"]
        bindings = [{"type": "plain_text", "name": k, "text": v} for k, v in sorted(props["vars"].items())]
        bindings += [{"type": "secret_text", "name": k, "text": v} for k, v in sorted(props["secrets"].items())]
        metadata: dict[str, Any] = {
            "main_module": MODULE,
            "compatibility_date": props["compatibility_date"],
            "compatibility_flags": props["compatibility_flags"],
            "bindings": bindings,
        }
        if props.get("cpu_ms"):
            metadata["limits"] = {"cpu_ms": int(props["cpu_ms"])}
        data, kind = _multipart(
            [
                ("metadata", "metadata.json", "application/json", json.dumps(metadata).encode()),
                (MODULE, MODULE, "application/javascript+module", props["module"].encode()),
            ]
        )
        script = f"/accounts/{account}/workers/scripts/{name}"
        api.call("PUT", script, data=data, content_type=kind)
        api.call("PUT", f"{script}/schedules", [{"cron": c} for c in props["crons"]])
        api.call("POST", f"{script}/subdomain", {"enabled": bool(props["workers_dev"])})
        self._routes(api, name, props["routes"])

    def _routes(self, api: Api, name: str, routes: list[dict[str, str]], zones: set[str] | None = None) -> None:
        """Make the script's routes in each zone the declared ones (routes of other scripts are left alone)."""
        wanted: dict[str, set[str]] = {}
        for route in routes:
            wanted.setdefault(route["zone_name"], set()).add(route["pattern"])
        for zone_name in sorted(set(wanted) | (zones or set())):
            found = api.call("GET", f"/zones?name={urllib.parse.quote(zone_name)}") or []
            if not found:
                raise EdgeError(f"Cloudflare: no zone {zone_name} in this account (routes of {name})")
            zone = found[0]["id"]
            existing = {r["pattern"]: r["id"] for r in api.call("GET", f"/zones/{zone}/workers/routes") or [] if r.get("script") == name}
            for pattern in sorted(wanted.get(zone_name, set()) - set(existing)):
                api.call("POST", f"/zones/{zone}/workers/routes", {"pattern": pattern, "script": name})
            for pattern in sorted(set(existing) - wanted.get(zone_name, set())):
                api.call("DELETE", f"/zones/{zone}/workers/routes/{existing[pattern]}")

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._apply(props)
        return CreateResult(f"{props['account']}/{props['name']}", props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._apply(news)
        gone = {r["zone_name"] for r in olds.get("routes", [])} - {r["zone_name"] for r in news["routes"]}
        if gone:
            self._routes(self._api(), news["name"], news["routes"], gone)
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        api = self._api()
        self._routes(api, props["name"], [], {r["zone_name"] for r in props.get("routes", [])})
        api.call("DELETE", f"/accounts/{props['account']}/workers/scripts/{props['name']}?force=true")


class DenoAppProvider(ResourceProvider):
    serialize_as_secret_always = False

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("org", "app") if olds.get(k) != news.get(k)]
        return DiffResult(changes=_changed(olds, news), replaces=replaces, delete_before_replace=False)

    def _api(self) -> Api:
        return Api(os.environ.get("DENO_DEPLOY_API_URL") or DENO_DEPLOY_API, token("deno-deploy"), "Deno Deploy")

    def _apply(self, props: dict[str, Any]) -> str:
        api, app = self._api(), props["app"]
        if api.call("GET", f"/apps/{app}") is None:
            api.call("POST", "/apps", {"slug": app})
        env_vars = [{"key": k, "value": v, "secret": False} for k, v in sorted(props["vars"].items())]
        env_vars += [{"key": k, "value": v, "secret": True} for k, v in sorted(props["secrets"].items())]
        revision = api.call(
            "POST",
            f"/apps/{app}/deploy",
            {
                "assets": {path: {"kind": "file", "content": text, "encoding": "utf-8"} for path, text in sorted(props["files"].items())},
                "config": {"runtime": {"type": "dynamic", "entrypoint": "main.ts"}},
                "env_vars": env_vars,
            },
        )
        rid = str(revision["id"])
        deadline = time.monotonic() + LIVE_WAIT_S
        while True:
            status = (api.call("GET", f"/revisions/{rid}") or {}).get("status", "")
            if status in ("succeeded", "ready", "live"):
                return rid
            if status in ("failed", "error", "errored") or time.monotonic() > deadline:
                raise EdgeError(f"Deno Deploy: revision {rid} of {app} is {status or 'not live'} (see its build log in the dashboard)")
            time.sleep(2)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['org']}/{props['app']}", {**props, "revision": self._apply(props)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, "revision": self._apply(news)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._api().call("DELETE", f"/apps/{props['app']}")


class Worker(Resource, module="cloudflare", name="Worker"):
    """A Cloudflare Worker serving an environment's functions."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(WorkerProvider(), name, props, opts)


class DenoApp(Resource, module="denodeploy", name="App"):
    """A Deno Deploy app serving an environment's functions."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(DenoAppProvider(), name, props, opts)


def _digests(app: EdgeApp) -> dict[str, str]:
    """`function:<name>` -> a digest of what the function is (source and settings): the preview names the changed ones."""
    out = {}
    for fn in app.functions:
        what = json.dumps([fn.source, fn.routes, fn.env, [(s.env, s.secret) for s in fn.secrets], fn.timeout_s], sort_keys=True)
        out[f"function:{fn.name}"] = hashlib.sha256(what.encode()).hexdigest()[:16]
    return out


def _worker_module(files: Mapping[str, str]) -> str:
    """The Worker project's module, bundled from its files (written to a temporary folder: esbuild reads files)."""
    from provisioner.targets.edge import tools

    try:
        found = tools.ensure()
    except tools.ToolsError as e:
        raise ComponentError(e.message, e.hint) from None
    with tempfile.TemporaryDirectory(prefix="koyalite-worker-") as tmp:
        folder = Path(tmp)
        for path, text in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(text, encoding="utf-8")
        try:
            return tools.bundle(found, folder, folder / "bundle.js")
        except tools.ToolsError as e:
            raise ComponentError(e.message, e.hint) from None


def deploy(
    parent: pulumi.Resource, apps: tuple[EdgeApp, ...], environment: str, project: str, secrets: Mapping[str, pulumi.Output[str]]
) -> dict[str, Resource]:
    """One resource per hosted app, children of `parent`."""
    made: dict[str, Resource] = {}
    for app in apps:
        values = {name: secrets[name] for name in app.secrets}
        common: dict[str, Any] = {"vars": dict(app.shared), "secrets": values, **_digests(app)}
        opts = pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["secrets"])
        files = edge.project(app, environment, project)
        if app.platform == "cloudflare-workers":
            wrangler = edge.wrangler_config(files["wrangler.jsonc"])
            props = {
                **common,
                "account": app.account,
                "name": app.name,
                "module": _worker_module(files),
                "compatibility_date": app.compatibility_date,
                "compatibility_flags": wrangler["compatibility_flags"],
                "crons": wrangler["triggers"]["crons"],
                "routes": [{"pattern": p, "zone_name": z} for p, z in app.routes],
                "workers_dev": app.workers_dev,
                "cpu_ms": app.cpu_ms,
            }
            made[app.name] = Worker(f"worker-{app.name}", props, opts)
        else:
            props = {**common, "org": app.account, "app": app.name, "files": files}
            made[app.name] = DenoApp(f"deno-deploy-{app.name}", props, opts)
    return made
