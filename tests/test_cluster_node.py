"""The stack running on the node tier of the local cluster (scripts/cluster.py: a real kubelet on containerd, CNI,
kube-proxy, CoreDNS, local-path volumes, the local images imported into the node).

An environment of the reference manifest sized for one 2-core node (NODE_ENVIRONMENT, added to a copy) deploys with
`koyalite up`; every pod becomes Ready; koyalite-probe, run in the cluster as a Job, passes the checks it passes on
Docker (a write through the LiteFS primary read back on a replica, S3 put/get through SeaweedFS, Weaviate with its
API key and anonymous refused, an edge function through its Service); the cron job fires; the LiteFS primary, killed,
comes back with its data; a rolling update of the API serves every request of a probe loop. Needs KOYALITE_E2E=1,
root, the toolchain, the local images and `make cluster-build`; fails in CI without.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import kube
from tests.deployed import ROOT, Project, changes, secret_keys, skip_or_fail
from tests.support import images_build

ENV = "node"
NS = "acme-node"
SMALL = "{requests: {cpu: 10m, memory: 32Mi}}"
NODE_ENVIRONMENT = f"""
  {ENV}:
    target: kubernetes
    kubernetes: {{namespace: {NS}}}
    project: {{regions: [fra]}}
    limits: {{max_db_size: 1Gi}}
    services:
      api: {{replicas: 2, autoscale: null, resources: {SMALL}}}
      auth: {{replicas: 1, resources: {SMALL}}}
      project: {{resources: {SMALL}}}
      rls: {{resources: {SMALL}}}
      search: {{resources: {SMALL}}}
      email: {{resources: {SMALL}}}
      studio: {{resources: {SMALL}}}
    database: {{replicas: {{fra: 1, iad: null}}, volume: 1Gi, resources: {{requests: {{cpu: 50m, memory: 64Mi}}}}}}
    storage: {{masters: 1, volume_servers: 1, racks: 1, replication: "000", volume: 2Gi, filer: {{replicas: 1}},
              resources: {{requests: {{cpu: 50m, memory: 64Mi}}}}}}
    search: {{replicas: 1, shards: 1, replication_factor: 1, volume: 1Gi, resources: {{requests: {{cpu: 100m, memory: 256Mi}}}}}}
    functions:
      runtime: {{replicas: 1, resources: {{requests: {{cpu: 50m, memory: 128Mi}}}}}}
    cron:
      - name: hello-every-minute
        schedule: "* * * * *"
        function: hello
"""
"""Requests small enough for one 2-core node next to CoreDNS (limits stay the reference's); one region; a cron job
every minute calling a function that answers 2xx without a backend (the stand-in API has no business logic)."""

STACK_FILE = ROOT / "stacks" / f"Pulumi.{ENV}.yaml"


@pytest.fixture(scope="module")
def cluster() -> Iterator[kube.Cluster]:
    skip_or_fail(kube.missing("node"), "node-cluster")
    images_build().build()  # the node imports every local image; cached by inputs
    with kube.running("node") as found:
        yield found


@pytest.fixture(scope="module")
def project(cluster: kube.Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project.copy(tmp_path_factory.mktemp("node"), KUBECONFIG=str(cluster.kubeconfig))
    project.manifest.write_text(project.manifest.read_text() + NODE_ENVIRONMENT)
    try:
        project.set_secrets(ENV, {key: secrets.token_urlsafe(24) for key in secret_keys("staging")})
        yield project
    finally:
        project.koyalite("destroy", "--env", ENV, "--yes")
        cluster.kubectl("delete", "namespace", NS, "--ignore-not-found", "--timeout=120s", check=False)
        STACK_FILE.unlink(missing_ok=True)


def _job(cluster: kube.Cluster, name: str, args: list[str], timeout: int = 300) -> str:
    """koyalite-probe as a Job in the environment's namespace, with the configuration the services get; its log."""
    replica = f"http://{NS}-litefs-fra-1.{NS}-litefs-fra-headless.{NS}.svc:8080"
    secret = f"{NS}-secrets"
    container = {
        "name": "probe",
        "image": "koyalite/probe:1.4.0",
        "imagePullPolicy": "IfNotPresent",
        "command": ["koyalite-probe", *args],
        "envFrom": [{"configMapRef": {"name": f"{NS}-config"}}],
        "env": [
            {"name": "PROBE_REPLICA_URL", "value": replica},
            {"name": "WEAVIATE_API_KEY", "valueFrom": {"secretKeyRef": {"name": secret, "key": "weaviate_api_key"}}},
            {"name": "JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": secret, "key": "jwt_secret"}}},
        ],
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }  # fmt: skip
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "probe"}},
                "spec": {"restartPolicy": "Never", "containers": [container], "volumes": [{"name": "tmp", "emptyDir": {}}]},
            },
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(job))
    done = cluster.kubectl("wait", f"job/{name}", "-n", NS, "--for=condition=Complete", f"--timeout={timeout}s", check=False)
    log = cluster.kubectl("logs", f"job/{name}", "-n", NS, check=False).stdout
    assert done.returncode == 0, f"probe job {name} did not complete:\n{log[-3000:]}\n{_scene(cluster)}"
    return log


def _scene(cluster: kube.Cluster) -> str:
    """What a failed check needs next to its own log: where every pod runs, what each Service routes to, and the
    LiteFS nodes' recent log lines."""
    wide = cluster.kubectl("get", "pods,endpointslices", "-n", NS, "-o", "wide", check=False).stdout
    litefs = [
        f"--- {pod}\n" + cluster.kubectl("logs", "-n", NS, pod, "--tail=40", check=False).stdout
        for pod in (f"{NS}-litefs-fra-0", f"{NS}-litefs-fra-1")
    ]
    return "\n".join([wide, *litefs])


def _pods_ready(cluster: kube.Cluster) -> dict[str, bool]:
    found = {}
    for pod in cluster.items("pods", "-n", NS):
        if pod["metadata"].get("ownerReferences", [{}])[0].get("kind") == "Job":
            continue
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        found[pod["metadata"]["name"]] = conditions.get("Ready") == "True"
    return found


def test_up_runs_every_pod(cluster: kube.Cluster, project: Project) -> None:
    started = time.monotonic()
    out = project.ok("up", "--env", ENV, "--yes")
    print(f"timing: up {ENV} (node tier) {time.monotonic() - started:.1f}s")
    assert changes(out, ENV).endswith("to create"), out[-2000:]
    ready = _pods_ready(cluster)
    assert ready and all(ready.values()), ready
    assert len(ready) >= 14


def test_the_probe_passes_in_the_cluster(cluster: kube.Cluster, project: Project) -> None:
    log = _job(cluster, "probe-1", [])
    written = json.loads(log.strip().splitlines()[-1])
    assert written["ok"] is True
    (project.dir / "token").write_text(written["token"])


def _nats(cluster: kube.Cluster, *args: str) -> str:
    """The nats CLI in the first bus server, as an operator runs it (the container has the URL and credentials)."""
    return cluster.kubectl("exec", "-n", NS, f"{NS}-nats-0", "-c", "nats", "--", "nats", *args).stdout


def test_the_streams_are_resources_the_guard_protects(cluster: kube.Cluster, project: Project) -> None:
    """`up` declared every stream through the API server (pods/exec); a preview right after sees no change; a change
    NATS makes only by recreating a stream is refused before anything, naming the stream's resource."""
    assert {"storage", "deadletter", "koyalite-webhooks"} <= set(_nats(cluster, "stream", "ls", "--names").split())
    assert "queue-thumbnails" in _nats(cluster, "consumer", "ls", "storage", "--names").split()
    kept = json.loads(_nats(cluster, "stream", "info", "storage", "--json"))["state"]
    project.ok("preview", "--env", ENV, "--expect-no-changes")
    declared = "      max_age: 30d\n      max_bytes: 512Mi\n"
    project.edit(declared, declared + "      storage: memory\n")
    try:
        refused = project.koyalite("up", "--env", ENV, "--yes")
    finally:
        project.edit(declared + "      storage: memory\n", declared)
    assert refused.returncode == 3, refused.stderr[-3000:]
    urn = f"urn:pulumi:{ENV}::koyalite::koyalite:index:Platform$koyalite:kubernetes:EventBus$pulumi-python:dynamic/nats:Stream::stream-{NS}-nats-deadletter"
    assert f"--allow-replace {urn}" in refused.stderr, refused.stderr[-3000:]
    assert json.loads(_nats(cluster, "stream", "info", "storage", "--json"))["state"]["messages"] >= kept["messages"]


def test_the_cron_job_fires(cluster: kube.Cluster) -> None:
    deadline = time.monotonic() + 150
    succeeded: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not succeeded:
        jobs = cluster.items("jobs", "-n", NS, "-l", "app.kubernetes.io/name=cron")
        mine = [j for j in jobs if j["metadata"]["name"].startswith(f"{NS}-cron-hello-every-minute-")]
        succeeded = [j for j in mine if j.get("status", {}).get("succeeded")]
        time.sleep(5)
    assert succeeded, "the every-minute cron job never succeeded"


def test_the_litefs_primary_comes_back_with_its_data(cluster: kube.Cluster, project: Project) -> None:
    primary = f"{NS}-litefs-fra-0"
    uid = cluster.get("pod", "-n", NS, primary)["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "-n", NS, primary, "--wait=true")
    cluster.kubectl("wait", "pod", "-n", NS, primary, "--for=condition=Ready", "--timeout=180s")
    assert cluster.get("pod", "-n", NS, primary)["metadata"]["uid"] != uid
    token = (project.dir / "token").read_text()
    # The restarted primary's Service once answered 404 (`server: keryx`) for the whole wait in 1 run of 3: this host's
    # gateway, reached by a connection made while kube-proxy had no rule for the Service and then kept alive. The
    # node fences the service range (scripts/cluster_node.py fence_services) and the probe opens a connection per
    # request; on failure the message carries who answered and where every pod and endpoint was (_scene).
    _job(cluster, "probe-2", ["--check-persisted", "--token", token, "--wait-s", "150"])


def test_a_rolling_update_of_the_api_drops_no_request(cluster: kube.Cluster, project: Project) -> None:
    """A loop of requests through the API's Service while `koyalite up` rolls its pods (maxUnavailable 0)."""
    url = f"http://{NS}-api:8000/health"
    loop = (
        "ok=0; bad=0; end=$(( $(date +%s) + 75 )); "
        f"while [ $(date +%s) -lt $end ]; do if timeout 2 wget -q -O /dev/null {url}; then ok=$((ok+1)); else bad=$((bad+1)); fi; sleep 0.2; done; "
        'echo "ok=$ok bad=$bad"'
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api-loop", "namespace": NS},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "loop", "image": "koyalite/base:1.4.0", "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", loop]}
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    cluster.kubectl("wait", "pod/api-loop", "-n", NS, "--for=condition=Ready", "--timeout=60s")
    project.edit("    env: {LOG_LEVEL: info}", "    env: {LOG_LEVEL: debug}")
    out = project.ok("up", "--env", ENV, "--yes")
    assert "deployment-acme-node-api update" in out
    cluster.kubectl("wait", "pod/api-loop", "-n", NS, "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s")
    result = cluster.kubectl("logs", "api-loop", "-n", NS).stdout.strip().splitlines()[-1]
    ok, bad = (int(part.split("=")[1]) for part in result.split())
    assert bad == 0 and ok > 100, result
