"""The edge runtime: a Deno Deployment serving every function, with each function's code in a ConfigMap."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re

from provisioner.plan.model import EdgeRuntime, FunctionCode, SecretEnv
from provisioner.targets.json_file import json_file
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import (
    Context,
    Obj,
    config_from,
    container_security,
    deployment,
    drain,
    metadata,
    pdb,
    probes,
    resources,
    secret_env,
    selector,
    service,
    tmp_volume,
)
from provisioner.targets.kubernetes.services import hpa

FUNCTIONS_DIR = "/functions"
MANIFEST_FILE = "/etc/koyalite/functions/functions.json"


def function_env_prefix(fn: FunctionCode) -> str:
    """Secrets of function `send-digest` reach the runtime as KOYALITE_FN_SEND_DIGEST_<VAR>; it hands each
    function only its own."""
    return "KOYALITE_FN_" + re.sub(r"[^A-Z0-9]", "_", fn.name.upper()) + "_"


def functions_document(part: EdgeRuntime) -> dict[str, object]:
    """What the runtime's main service reads: each function's module, routes and limits (no secret values)."""
    return {
        "functions": [
            {
                "name": fn.name,
                "module": f"{FUNCTIONS_DIR}/{fn.name}/{posixpath.basename(fn.entrypoint)}",
                "routes": list(fn.routes),
                "env": dict(fn.env),
                "secret_env": {s.env: function_env_prefix(fn) + s.env for s in fn.secrets},
                "timeout_s": fn.timeout_s,
                "memory": fn.memory,
            }
            for fn in part.functions
        ],
        "verify_jwt": part.verify_jwt,
    }


def code_map(ctx: Context, part: EdgeRuntime, fn: FunctionCode) -> Obj:
    name = f"{ctx.plan.project}-{ctx.plan.environment}-fn-{fn.name}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ctx, name, part, "function"),
        "data": {posixpath.basename(fn.entrypoint): fn.source},
    }


@REGISTRY.register(EdgeRuntime)
def translate(part: EdgeRuntime, ctx: Context) -> list[Obj]:
    match = selector(ctx, part)
    routes_name = f"{part.name}-routes"
    tmp, tmp_mount = tmp_volume()
    volumes = [tmp, {"name": "deno-dir", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "routes", "configMap": {"name": routes_name}}]
    mounts = [
        tmp_mount,
        {"name": "deno-dir", "mountPath": "/deno-dir"},
        {"name": "routes", "mountPath": posixpath.dirname(MANIFEST_FILE), "readOnly": True},
    ]
    for fn in part.functions:
        volumes.append({"name": f"fn-{fn.name}", "configMap": {"name": f"{ctx.plan.project}-{ctx.plan.environment}-fn-{fn.name}"}})
        mounts.append({"name": f"fn-{fn.name}", "mountPath": f"{FUNCTIONS_DIR}/{fn.name}", "readOnly": True})
    secrets = [SecretEnv(function_env_prefix(fn) + s.env, s.secret) for fn in part.functions for s in fn.secrets]
    env = [
        {"name": "PORT", "value": str(part.port)},
        {"name": "DENO_DIR", "value": "/deno-dir"},
        {"name": "KOYALITE_FUNCTIONS_FILE", "value": MANIFEST_FILE},
        *secret_env(ctx, tuple(secrets)),
    ]
    container: Obj = {
        "name": "runtime",
        "image": str(part.image),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": part.port, "protocol": "TCP"}],
        "env": env,
        "envFrom": config_from(ctx),
        "resources": resources(part.resources),
        "securityContext": container_security(),
        "volumeMounts": mounts,
        **probes(part.probe),
        **drain(),
    }
    routes = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ctx, routes_name, part),
        "data": {posixpath.basename(MANIFEST_FILE): json_file(functions_document(part))},
    }
    code = [code_map(ctx, part, fn) for fn in part.functions]
    # A function's process keeps the code it started with, and a mounted ConfigMap changes under it only a minute
    # later: a change to any function or route rolls the runtime's pods (and nothing else) through this annotation.
    code_hash = hashlib.sha256(json.dumps([m["data"] for m in (*code, routes)], sort_keys=True).encode()).hexdigest()[:16]
    fixed = None if part.autoscale else part.replicas  # an HPA owns the count of an autoscaled one
    rollout = deployment(ctx, part, match, container, volumes, replicas=fixed, annotations={"koyalite.dev/code-hash": code_hash})
    objs = [
        *code,
        routes,
        rollout,
        service(ctx, part.name, part, match, [("http", part.port)]),
    ]
    if part.autoscale:
        objs.append(hpa(ctx, part, part.autoscale))
    replicas = part.autoscale.min if part.autoscale else part.replicas
    if replicas > 1:
        objs.append(pdb(ctx, part.name, part, match))
    return objs
