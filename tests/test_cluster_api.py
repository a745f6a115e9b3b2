"""`koyalite up` of staging and prod onto a real API server: the API tier of the local cluster (scripts/cluster.py:
etcd, kube-apiserver, kube-controller-manager, kube-scheduler built from source; kwok plays the nodes).

Through the real pulumi-kubernetes provider (not render mode), with KUBECONFIG choosing the cluster, in order: staging
deploys with every await satisfied and every object admitted; a preview right after has no changes (server-side
defaults are no diff); one replica more updates one object; a changed function rolls the edge runtime only; the
data-loss guard refuses a claim template change and a namespace change; a killed `up` leaves a lock reported with
its fix; `destroy` keeps the claims and the next `up` binds the same ones; prod deploys, refuses dropping a LiteFS
region and refuses `destroy`; an unreachable cluster, a missing context and a namespace owned by something else are
clear errors with nothing applied. The bus's streams go through their Job here (`streams_via: job`): kwok runs no
container to exec in. Needs KOYALITE_E2E=1, the toolchain and `make cluster-build`; fails in CI without.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import kube
from tests.deployed import ROOT, Project, changes, secret_keys, skip_or_fail

STACK_FILES = [ROOT / "stacks" / f"Pulumi.{env}.yaml" for env in ("staging", "prod")]
TIMES: dict[str, float] = {}
"""Durations of the engine runs, printed at the end (the issue note quotes them)."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[kube.Cluster]:
    skip_or_fail(kube.missing("api"), "API-cluster")
    with kube.running("api") as found:
        yield found


@pytest.fixture(scope="module")
def project(cluster: kube.Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    # `secrets set` writes encrypted values into stacks/Pulumi.<env>.yaml, as Pulumi does: put them back afterwards
    committed = {path: path.read_text() for path in STACK_FILES}
    project = Project.copy(tmp_path_factory.mktemp("cluster"), KUBECONFIG=str(cluster.kubeconfig))
    # kwok's pods run nothing, so nothing can exec in them: the streams go through the Job (which kwok completes);
    # the default, stream resources through pods/exec, is tested on the node tier
    for env in ("staging", "prod"):
        project.edit(f"      namespace: acme-{env}\n", f"      namespace: acme-{env}\n      streams_via: job\n")
    try:
        for env in ("staging", "prod"):
            project.set_secrets(env, {key: secrets.token_urlsafe(24) for key in secret_keys(env)})
        yield project
    finally:
        project.koyalite("destroy", "--env", "staging", "--yes")  # prod is protected: its namespace goes below
        for namespace in ("acme-staging", "acme-prod", "acme-elsewhere"):
            cluster.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false", check=False)
        for path, text in committed.items():
            path.write_text(text)
        print("\n".join(f"timing: {name} {seconds:.1f}s" for name, seconds in TIMES.items()))


def timed(name: str, project: Project, *args: str) -> str:
    started = time.monotonic()
    out = project.ok(*args)
    TIMES[name] = time.monotonic() - started
    return out


def _ready(cluster: kube.Cluster, namespace: str) -> None:
    """What the provider's awaits promise, read back from the API server."""
    for deployment in cluster.items("deployments", "-n", namespace):
        status = deployment["status"]
        assert status.get("readyReplicas") == deployment["spec"]["replicas"], deployment["metadata"]["name"]
    for stateful in cluster.items("statefulsets", "-n", namespace):
        status = stateful["status"]
        assert status.get("readyReplicas") == stateful["spec"]["replicas"], stateful["metadata"]["name"]
    claims = cluster.items("persistentvolumeclaims", "-n", namespace)
    assert claims and {c["status"]["phase"] for c in claims} == {"Bound"}
    for ingress in cluster.items("ingresses", "-n", namespace):
        assert ingress["status"]["loadBalancer"]["ingress"], ingress["metadata"]["name"]


def _claims(cluster: kube.Cluster, namespace: str) -> dict[str, tuple[str, str]]:
    """Claim name -> (uid, bound volume)."""
    return {c["metadata"]["name"]: (c["metadata"]["uid"], c["spec"]["volumeName"]) for c in cluster.items("pvc", "-n", namespace)}


def test_up_staging_satisfies_every_await(cluster: kube.Cluster, project: Project) -> None:
    out = timed("up staging (create)", project, "up", "--env", "staging", "--yes")
    assert re.search(r"^up staging: \d+ to create$", out, re.M), out[-3000:]
    assert "url: https://staging.acme.example.com" in out
    _ready(cluster, "acme-staging")
    namespace = cluster.get("namespace", "acme-staging")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_a_preview_right_after_up_has_no_changes(project: Project) -> None:
    out = timed("preview staging (no changes)", project, "preview", "--env", "staging", "--expect-no-changes")
    assert changes(out, "staging").startswith("no changes")


def test_one_replica_more_updates_one_object(cluster: kube.Cluster, project: Project) -> None:
    project.edit(
        "    database: {replicas: {iad: null, fra: 1}}",
        "    database: {replicas: {iad: null, fra: 1}}\n    services: {auth: {replicas: 3}}",
    )
    out = timed("up staging (one replica)", project, "up", "--env", "staging", "--yes")
    assert changes(out, "staging").startswith("1 to update;"), out[-3000:]
    assert "kubernetes:apps/v1:Deployment deployment-acme-staging-auth update" in out
    assert cluster.get("deployment", "-n", "acme-staging", "acme-staging-auth")["status"]["readyReplicas"] == 3


def test_a_changed_function_rolls_the_edge_runtime_only(cluster: kube.Cluster, project: Project) -> None:
    before = cluster.get("deployment", "-n", "acme-staging", "acme-staging-functions")["metadata"]["generation"]
    hello = project.dir / "functions" / "hello" / "index.ts"
    hello.write_text(hello.read_text() + "// changed by the cluster test\n")
    out = timed("up staging (one function)", project, "up", "--env", "staging", "--yes")
    updated = set(re.findall(r"~ kubernetes:\S+ (\S+) update", out))
    assert updated == {"configmap-acme-staging-fn-hello", "deployment-acme-staging-functions"}, out[-3000:]
    assert changes(out, "staging").startswith("2 to update;")
    after = cluster.get("deployment", "-n", "acme-staging", "acme-staging-functions")
    assert after["metadata"]["generation"] == before + 1
    assert after["status"]["updatedReplicas"] == after["spec"]["replicas"]


@pytest.mark.parametrize(
    ("old", "new", "urn_tail"),
    [
        pytest.param(
            "  volume: 10Gi\n  resources:", "  volume: 20Gi\n  resources:", "statefulset-acme-staging-litefs-fra", id="claim-template"
        ),
        pytest.param("namespace: acme-staging", "namespace: acme-staging-2", "namespace-acme-staging", id="namespace"),
    ],
)
def test_the_guard_refuses_to_replace_data(cluster: kube.Cluster, project: Project, old: str, new: str, urn_tail: str) -> None:
    claims = _claims(cluster, "acme-staging")
    project.edit(old, new)
    try:
        refused = project.koyalite("up", "--env", "staging", "--yes")
        assert refused.returncode == 3, refused.stderr[-3000:]
        urn = re.search(rf"--allow-replace (urn:pulumi:staging::koyalite::\S+::{urn_tail})\b", refused.stderr)
        assert urn, refused.stderr[-3000:]
        assert "refused: " in refused.stderr and urn.group(1) in refused.stderr
    finally:
        project.edit(new, old)
    assert _claims(cluster, "acme-staging") == claims
    assert cluster.kubectl("get", "namespace", "acme-staging-2", check=False).returncode != 0


def test_a_killed_up_leaves_a_lock_that_is_reported_with_the_fix(project: Project) -> None:
    project.edit("services: {auth: {replicas: 3}}", "services: {auth: {replicas: 2}}")
    project.kill_up_and_unlock("staging")


def test_destroy_keeps_the_claims_and_up_binds_them_again(cluster: kube.Cluster, project: Project) -> None:
    claims = _claims(cluster, "acme-staging")
    assert len(claims) >= 6
    out = timed("destroy staging", project, "destroy", "--env", "staging", "--yes")
    assert re.search(r"^destroy staging: \d+ to delete$", out, re.M), out[-2000:]
    assert cluster.items("statefulsets", "-n", "acme-staging") == []
    assert cluster.items("deployments", "-n", "acme-staging") == []
    assert _claims(cluster, "acme-staging") == claims  # the same claims, bound to the same volumes
    timed("up staging (after destroy)", project, "up", "--env", "staging", "--yes")
    assert _claims(cluster, "acme-staging") == claims
    _ready(cluster, "acme-staging")


def test_up_prod_in_two_regions(cluster: kube.Cluster, project: Project) -> None:
    timed("up prod (create)", project, "up", "--env", "prod", "--yes")
    _ready(cluster, "acme-prod")
    regions = {}
    for pod in cluster.items("pods", "-n", "acme-prod", "-l", "app.kubernetes.io/name=litefs"):
        node = cluster.get("node", pod["spec"]["nodeName"])
        regions[pod["metadata"]["name"]] = node["metadata"]["labels"]["topology.kubernetes.io/region"]
    # the primary region's set holds the lease candidate and its replica; each region's pods run on its nodes
    assert regions == {f"acme-prod-litefs-{r}-{i}": r for r in ("fra", "iad") for i in (0, 1)}
    classes = {c["spec"].get("storageClassName") for c in cluster.items("pvc", "-n", "acme-prod")}
    assert classes == {"fast-ssd"}
    out = timed("preview prod (no changes)", project, "preview", "--env", "prod", "--expect-no-changes")
    assert changes(out, "prod").startswith("no changes")


def test_prod_refuses_dropping_a_litefs_region_and_destroy(project: Project) -> None:
    prod, without_iad = (
        "    database:\n      replicas: {fra: 1, iad: 2}",
        "    database:\n      replicas: {fra: 1, iad: null}  # iad dropped",
    )
    project.edit(prod, without_iad)
    try:
        refused = project.koyalite("up", "--env", "prod", "--yes")
        assert refused.returncode == 3, refused.stderr[-3000:]
        assert re.search(r"--allow-replace urn:pulumi:prod::koyalite::\S+::statefulset-acme-prod-litefs-iad\b", refused.stderr)
    finally:
        project.edit(without_iad, prod)
    refused = project.koyalite("destroy", "--env", "prod", "--yes")
    assert refused.returncode == 3
    assert "environment prod is protected" in refused.stderr


def test_an_unreachable_cluster_is_named_with_a_hint(project: Project, tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: gone, context: {cluster: c, user: u}}]\n"
    )
    refused = project.koyalite("up", "--env", "staging", "--yes", KUBECONFIG=str(config))
    assert refused.returncode == 4, refused.stderr[-2000:]
    assert "cannot reach the Kubernetes API of context `gone` (https://127.0.0.1:1) for environment staging: connection refused" in (
        refused.stderr
    )


def test_a_missing_context_is_named_with_the_ones_there(project: Project) -> None:
    project.edit("      namespace: acme-staging\n", "      namespace: acme-staging\n      context: kind-acme\n")
    try:
        refused = project.koyalite("preview", "--env", "staging")
    finally:
        project.edit("      namespace: acme-staging\n      context: kind-acme\n", "      namespace: acme-staging\n")
    assert refused.returncode == 4, refused.stderr[-2000:]
    assert "context `kind-acme` of environment staging is not in" in refused.stderr
    assert "contexts there: koyalite-local" in refused.stderr


def test_a_kubernetes_environment_without_the_provider_says_how_to_build_it(project: Project, tmp_path: Path) -> None:
    """`make up` builds no Kubernetes provider (dev deploys to Docker): a Kubernetes environment deployed without it
    stops before the engine changes anything, saying which command builds it."""
    home = tmp_path / "pulumi-home"  # a plugin cache with nothing in it
    home.mkdir()
    refused = project.koyalite("preview", "--env", "staging", PULUMI_HOME=str(home))
    assert refused.returncode == 4, refused.stderr[-2000:]
    assert "error: a Pulumi provider plugin is missing (environment staging)" in refused.stderr
    assert "hint: run `make toolchain` to build and install the pinned plugins" in refused.stderr


def test_a_namespace_owned_by_something_else_is_refused_untouched(cluster: kube.Cluster, project: Project) -> None:
    cluster.kubectl("create", "namespace", "acme-elsewhere")
    cluster.kubectl("label", "namespace", "acme-elsewhere", "app.kubernetes.io/managed-by=argocd")
    project.edit("namespace: acme-staging", "namespace: acme-elsewhere")
    try:
        refused = project.koyalite("up", "--env", "staging", "--yes")
    finally:
        project.edit("namespace: acme-elsewhere", "namespace: acme-staging")
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert "namespace acme-elsewhere on context `koyalite-local`" in refused.stderr
    assert "already exists and belongs to argocd, not acme-staging" in refused.stderr
    assert cluster.kubectl("get", "all,configmaps,secrets", "-n", "acme-elsewhere", "-o", "name").stdout.split() == [
        "configmap/kube-root-ca.crt"
    ]


# -- the GitOps paths on the same cluster: what Argo CD / Flux or Helm users apply must be what `koyalite up` made ----

DROPPED_ANNOTATIONS = ("pulumi.com/", "kubectl.kubernetes.io/", "deployment.kubernetes.io/")
LIVE_KINDS = "namespaces,configmaps,secrets,services,deployments,statefulsets,cronjobs,hpa,pdb,networkpolicies,ingresses"


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """A live object without what the server or the tool that applied it adds: ids, times, status, allocations."""
    meta = obj["metadata"]
    out: dict[str, Any] = {
        "kind": obj["kind"],
        "name": meta["name"],
        "labels": meta.get("labels") or {},
        "annotations": {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(DROPPED_ANNOTATIONS)},
    }
    spec = dict(obj.get("spec") or {})
    if obj["kind"] == "Service":
        for allocated in ("clusterIP", "clusterIPs"):
            spec.pop(allocated, None)
    if obj["kind"] == "Namespace":
        spec = {}
        out["labels"] = {k: v for k, v in out["labels"].items() if k != "kubernetes.io/metadata.name"}
    out["spec"] = spec
    out["data"] = sorted((obj.get("data") or {}).items()) if obj["kind"] == "ConfigMap" else None
    out["type"] = obj.get("type")
    return out


def _live(cluster: kube.Cluster, namespace: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every object of ours in the namespace (and the namespace), keyed by kind and name."""
    found = cluster.items(LIVE_KINDS, "-n", namespace, "-l", "app.kubernetes.io/managed-by=koyalite")
    live = {(o["kind"], o["metadata"]["name"]): _comparable(o) for o in found}
    for hpa in (o for o in found if o["kind"] == "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        live[(target["kind"], target["name"])]["spec"].pop("replicas", None)  # the HPA's, whenever it last scaled
    return live


def _gone(cluster: kube.Cluster, namespace: str) -> None:
    cluster.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--timeout=180s")


def test_kubectl_apply_of_the_render_gives_the_objects_koyalite_up_gives(cluster: kube.Cluster, project: Project, tmp_path: Path) -> None:
    by_koyalite = _live(cluster, "acme-staging")
    assert len(by_koyalite) >= 75
    project.ok("destroy", "--env", "staging", "--yes")
    _gone(cluster, "acme-staging")
    rendered = tmp_path / "render"
    project.ok("render", "--env", "staging", "-o", str(rendered))
    cluster.kubectl("apply", "--server-side", "--field-manager=gitops", "-f", str(rendered))
    cluster.kubectl("wait", "--for=condition=Available", "deployment", "--all", "-n", "acme-staging", "--timeout=180s")
    cluster.kubectl("rollout", "status", "statefulset", "-n", "acme-staging", "--timeout=180s")
    by_kubectl = _live(cluster, "acme-staging")
    assert by_kubectl.keys() == by_koyalite.keys()
    different = sorted(key for key in by_koyalite if by_koyalite[key] != by_kubectl[key])
    assert different == [], {key: (by_koyalite[key], by_kubectl[key]) for key in different[:2]}
    _ready(cluster, "acme-staging")
    _gone(cluster, "acme-staging")


def test_helm_install_of_the_exported_chart_reaches_ready(cluster: kube.Cluster, project: Project, tmp_path: Path, helm_bin: Path) -> None:
    chart = tmp_path / "chart"
    project.ok("render", "--env", "staging", "--format", "helm", "-o", str(chart))
    binary = helm_bin
    homes = {f"HELM_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
    started = time.monotonic()
    installed = subprocess.run(
        [str(binary), "install", "acme-staging", str(chart), "--namespace", "default", "--wait", "--timeout", "5m",
         f"--kubeconfig={cluster.kubeconfig}"],
        capture_output=True, text=True, check=False, env={**os.environ, **homes},
    )  # fmt: skip
    TIMES["helm install --wait"] = time.monotonic() - started
    assert installed.returncode == 0, installed.stderr[-3000:]
    _ready(cluster, "acme-staging")
    uninstall = [str(binary), "uninstall", "acme-staging", "--namespace", "default", f"--kubeconfig={cluster.kubeconfig}"]
    subprocess.run(uninstall, check=True, capture_output=True, env={**os.environ, **homes})
    _gone(cluster, "acme-staging")
