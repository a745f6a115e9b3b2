"""The Kubernetes target as a whole: registry coverage, validity, labels, determinism, secrets, render files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from provisioner import manifest, plan
from provisioner.cli import main
from provisioner.plan import model
from provisioner.render import kubernetes as render_k8s
from provisioner.targets import kubernetes

ROOT = Path(__file__).resolve().parents[1]
PINNED = "1.31.0"
NEWEST = kubernetes_validate.latest_version()
K8S_ENVS = ("staging", "prod")


def _objects(env: str, path: Path = ROOT / "koyalite.yaml") -> list[dict[str, Any]]:
    doc = manifest.load(path, "koyalite.yaml")
    return kubernetes.objects(plan.build(manifest.check(doc, env), path.parent))


@pytest.fixture(scope="module", params=K8S_ENVS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return _objects(request.param)


def test_every_plan_kind_has_a_kubernetes_translator() -> None:
    kinds = {cls.kind for cls in vars(model).values() if isinstance(cls, type) and issubclass(cls, model.Part) and cls.kind}
    assert kinds - set(kubernetes.REGISTRY.translators) == set()


@pytest.mark.parametrize("version", [PINNED, NEWEST])
def test_every_object_passes_kubernetes_validate_strict(objects: list[dict[str, Any]], version: str) -> None:
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_every_object_is_labelled_and_namespaced(objects: list[dict[str, Any]]) -> None:
    namespace = objects[0]["metadata"]["name"]
    assert objects[0]["kind"] == "Namespace"
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "koyalite"
        assert labels["koyalite.dev/project"] == "acme"
        assert labels["koyalite.dev/environment"] in K8S_ENVS
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace


def test_names_are_unique_per_kind(objects: list[dict[str, Any]]) -> None:
    keys = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys))


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    if obj["kind"] in ("Deployment", "StatefulSet"):
        return [spec["template"]["spec"]]
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def test_stateless_pods_run_restricted(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] not in ("Deployment", "CronJob"):
            continue
        for pod in _pod_specs(obj):
            assert pod["automountServiceAccountToken"] is False
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            for container in pod["containers"]:
                sc = container["securityContext"]
                assert sc["readOnlyRootFilesystem"] is True
                assert sc["allowPrivilegeEscalation"] is False
                assert sc["capabilities"] == {"drop": ["ALL"]}


SECRET_VARS = {
    "JWT_SECRET",
    "SERVICE_ROLE_KEY",
    "SMTP_PASSWORD",
    "AUTHENTICATION_APIKEY_ALLOWED_KEYS",
    "KOYALITE_FN_CLEANUP_SERVICE_ROLE_KEY",
}


def test_secret_variables_come_from_the_secret(objects: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for obj in objects:
        for pod in _pod_specs(obj):
            for container in pod["containers"]:
                for var in container.get("env", []):
                    if var["name"] in SECRET_VARS:
                        seen.add(var["name"])
                        assert "value" not in var, f"{obj['metadata']['name']}: {var['name']} is a literal"
                        assert var["valueFrom"]["secretKeyRef"]["name"].endswith("-secrets")
    assert seen == SECRET_VARS


def test_statefulsets_retain_their_claims(objects: list[dict[str, Any]]) -> None:
    sets = [o for o in objects if o["kind"] == "StatefulSet"]
    assert sets
    for obj in sets:
        assert obj["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_prod_services_prod_shape() -> None:
    objs = {(o["kind"], o["metadata"]["name"]): o for o in _objects("prod")}
    api = objs[("Deployment", "acme-prod-api")]
    assert "replicas" not in api["spec"]  # the HPA owns the count
    hpa = objs[("HorizontalPodAutoscaler", "acme-prod-api")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert objs[("PodDisruptionBudget", "acme-prod-api")]["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/instance": "acme-prod", "app.kubernetes.io/name": "api"}},
    }
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "koyalite/api:1.4.0"
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    assert {"name": "JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": "acme-prod-secrets", "key": "jwt_secret"}}} in container["env"]
    spread = api["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert [s["topologyKey"] for s in spread] == ["topology.kubernetes.io/region", "topology.kubernetes.io/zone"]
    ingress = objs[("Ingress", "acme-prod")]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["acme.example.com"], "secretName": "acme-prod-tls"}]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]] == ["/functions/v1", "/studio", "/"]


def test_cron_jobs_forbid_overlap_and_call_their_target() -> None:
    jobs = {o["metadata"]["name"]: o for o in _objects("prod") if o["kind"] == "CronJob"}
    assert sorted(jobs) == ["acme-prod-cron-nightly-cleanup", "acme-prod-cron-uptime-ping", "acme-prod-cron-weekly-digest"]
    digest = jobs["acme-prod-cron-weekly-digest"]["spec"]
    assert (digest["schedule"], digest["timeZone"], digest["concurrencyPolicy"]) == ("0 8 * * MON", "Europe/Berlin", "Forbid")
    assert digest["successfulJobsHistoryLimit"] == 3 and digest["startingDeadlineSeconds"] == 300
    args = digest["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--url") + 1] == "http://acme-prod-functions:9000/send-digest"
    assert jobs["acme-prod-cron-uptime-ping"]["spec"]["schedule"] == "* * * * *"  # the prod overlay's schedule


def test_functions_ship_their_source_and_routes() -> None:
    objs = {(o["kind"], o["metadata"]["name"]): o for o in _objects("staging")}
    code = objs[("ConfigMap", "acme-staging-fn-hello")]["data"]["index.ts"]
    assert code == (ROOT / "functions/hello/index.ts").read_text(encoding="utf-8")
    routes = json.loads(objs[("ConfigMap", "acme-staging-functions-routes")]["data"]["functions.json"])
    hello = next(f for f in routes["functions"] if f["name"] == "hello")
    assert hello == {
        "name": "hello",
        "module": "/functions/hello/index.ts",
        "routes": ["/hello"],
        "env": {},
        "secret_env": {},
        "timeout_s": 60.0,
        "memory": "150Mi",
    }
    cleanup = next(f for f in routes["functions"] if f["name"] == "cleanup")
    assert cleanup["secret_env"] == {"SERVICE_ROLE_KEY": "KOYALITE_FN_CLEANUP_SERVICE_ROLE_KEY"}


def test_network_policies_default_deny_and_exact_edges() -> None:
    policies = {o["metadata"]["name"]: o["spec"] for o in _objects("prod") if o["kind"] == "NetworkPolicy"}
    assert policies["acme-prod-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    to_litefs = policies["acme-prod-ingress-to-litefs"]["ingress"]
    sources = [rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for rule in to_litefs]
    assert sources == ["api", "auth", "litefs", "project", "rls"]
    assert "acme-prod-ingress-to-email" in policies and "acme-prod-egress-from-studio" in policies
    assert not any(r.get("from") == [{"namespaceSelector": {}}] for r in policies["acme-prod-ingress-to-litefs"]["ingress"])


def test_secret_is_rendered_without_values() -> None:
    secret = next(o for o in _objects("prod") if o["kind"] == "Secret")
    assert "data" not in secret and "stringData" not in secret
    assert secret["metadata"]["annotations"]["koyalite.dev/secret-keys"] == (
        "events_source_token,jwt_secret,nats_password,service_role_key,smtp_password,weaviate_api_key,webhook_signup_key,webhook_uploads_key"
    )


def test_a_disabled_feature_produces_nothing(tmp_path: Path) -> None:
    text = (ROOT / "koyalite.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["features"].update({"search": False, "storage": False, "edge_functions": False, "cron": False, "events": False, "webhooks": False})
    data.pop("cron")
    data.pop("webhooks")
    data.pop("events")
    for env in data["environments"].values():
        for key in ("search", "storage", "cron", "functions", "webhooks", "events"):
            env.pop(key, None)
    data.pop("functions")
    data.pop("search")
    data.pop("storage")
    (tmp_path / "koyalite.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    names = {o["metadata"]["name"] for o in _objects("prod", tmp_path / "koyalite.yaml")}
    assert not any(
        n.startswith(
            (
                "acme-prod-weaviate",
                "acme-prod-seaweedfs",
                "acme-prod-functions",
                "acme-prod-cron",
                "acme-prod-search",
                "acme-prod-nats",
                "acme-prod-events",
            )
        )
        for n in names
    )
    assert "acme-prod-api" in names


def test_plan_is_frozen() -> None:
    built = plan.build(manifest.check(manifest.load(ROOT / "koyalite.yaml"), "prod"), ROOT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.parts[0].name = "x"  # type: ignore[misc]


@pytest.mark.parametrize("env", K8S_ENVS)
def test_render_is_byte_identical(env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    outputs = []
    for _ in range(2):
        assert main(["render", "--env", env]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("---\napiVersion: v1\nkind: Namespace\n")


def test_render_to_a_folder_replaces_it_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "prod"
    assert main(["render", "--env", "prod", "-o", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files[0] == ".koyalite-render" and files[1] == "00-namespace-acme-prod.yaml" and files[-1] == "70-ingress-acme-prod.yaml"
    (out / "99-stale.yaml").write_text("stale\n", encoding="utf-8")
    assert main(["render", "--env", "prod", "-o", str(out)]) == 0
    assert not (out / "99-stale.yaml").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine\n", encoding="utf-8")
    assert main(["render", "--env", "prod", "-o", str(foreign)]) == 64
    assert (foreign / "keep.txt").read_text(encoding="utf-8") == "mine\n"
    assert "holds files koyalite did not render" in capsys.readouterr().err


def test_render_refuses_a_target_the_environment_does_not_have(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["render", "--env", "dev", "--target", "kubernetes"]) == 64
    assert "environment dev targets docker, not kubernetes" in capsys.readouterr().err
    assert main(["render", "--env", "prod", "--target", "nomad"]) == 64
    assert "no renderer for target `nomad`" in capsys.readouterr().err


def test_file_names_follow_apply_order() -> None:
    names = list(render_k8s.files(_objects("prod")))
    assert names == sorted(names)
    assert names[0].startswith("00-namespace") and names[-1].startswith("70-ingress")


def test_a_changed_function_changes_its_code_map_and_the_runtime_template_only(tmp_path: Path) -> None:
    """The runtime's processes keep the code they started with: a code change must roll its pods, and nothing else."""
    import shutil

    shutil.copy(ROOT / "koyalite.yaml", tmp_path / "koyalite.yaml")
    shutil.copytree(ROOT / "functions", tmp_path / "functions")
    before = {(o["kind"], o["metadata"]["name"]): o for o in _objects("staging", tmp_path / "koyalite.yaml")}
    hello = tmp_path / "functions" / "hello" / "index.ts"
    hello.write_text(hello.read_text() + "// changed\n")
    after = {(o["kind"], o["metadata"]["name"]): o for o in _objects("staging", tmp_path / "koyalite.yaml")}
    assert sorted(key for key in before if before[key] != after[key]) == [
        ("ConfigMap", "acme-staging-fn-hello"),
        ("Deployment", "acme-staging-functions"),
    ]
    annotation = "koyalite.dev/code-hash"
    old, new = (objs[("Deployment", "acme-staging-functions")]["spec"]["template"]["metadata"]["annotations"] for objs in (before, after))
    assert old[annotation] != new[annotation] and len(new[annotation]) == 16


def test_filers_report_object_changes_to_the_event_worker_with_a_token_from_the_secret() -> None:
    filer = next(o for o in _objects("prod") if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "acme-prod-seaweedfs-filer")
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in filer["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WEED_NOTIFICATION_WEBHOOK_ENABLED"] == "true"
    assert env["WEED_NOTIFICATION_WEBHOOK_ENDPOINT"] == "http://acme-prod-events:8080/sources/seaweedfs"
    assert (env["WEED_NOTIFICATION_WEBHOOK_EVENT_TYPES"], env["WEED_NOTIFICATION_WEBHOOK_PATH_PREFIXES"]) == ("create delete", "/buckets/")
    token = {"secretKeyRef": {"name": "acme-prod-secrets", "key": "events_source_token"}}
    assert env["WEED_NOTIFICATION_WEBHOOK_BEARER_TOKEN"] == token
    worker = next(o for o in _objects("prod") if o["kind"] == "Deployment" and o["metadata"]["name"] == "acme-prod-events")
    assert {"name": "KOYALITE_SOURCE_TOKEN", "valueFrom": token} in worker["spec"]["template"]["spec"]["containers"][0]["env"]
