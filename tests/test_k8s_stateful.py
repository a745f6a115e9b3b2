"""The Kubernetes translators of the data plane: LiteFS, SeaweedFS and Weaviate, on the reference manifest."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import provisioner.targets.kubernetes.litefs as litefs
import provisioner.targets.kubernetes.seaweedfs as seaweedfs
import provisioner.targets.kubernetes.weaviate as weaviate
from provisioner import manifest, plan
from provisioner.plan.model import LiteFS, Plan, ProjectConfig, SeaweedFS, Weaviate
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import RUN_AS, Context, container_security, resources

ROOT = Path(__file__).resolve().parents[1]
K8S_ENVS = ("staging", "prod")
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    doc = manifest.load(ROOT / "koyalite.yaml", "koyalite.yaml")
    return {env: plan.build(manifest.check(doc, env), ROOT) for env in K8S_ENVS}


def _ctx(p: Plan) -> Context:
    assert p.kubernetes is not None
    return Context(p, p.kubernetes)


def _translate(p: Plan, part: LiteFS | SeaweedFS | Weaviate) -> list[Obj]:
    return REGISTRY.translators[part.kind](part, _ctx(p))


def _stateful(p: Plan) -> dict[str, list[Obj]]:
    """Objects per stateful part kind."""
    return {part.kind: _translate(p, part) for part in p.parts if isinstance(part, LiteFS | SeaweedFS | Weaviate)}


def _by_key(objs: list[Obj]) -> dict[tuple[str, str], Obj]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def _container(obj: Obj) -> Obj:
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def _env(obj: Obj) -> dict[str, Any]:
    """name -> literal value, or the valueFrom mapping."""
    return {v["name"]: v.get("value", v.get("valueFrom")) for v in _container(obj)["env"]}


def _flag(obj: Obj, name: str) -> str:
    """The value of a `-name=value` argument."""
    values: list[str] = [a.split("=", 1)[1] for a in _container(obj)["args"] if a.startswith(f"-{name}=")]
    assert len(values) == 1, f"{name}: {values}"
    return values[0]


def _expand(text: str, env: dict[str, str]) -> str:
    """LiteFS's config expansion: `${VAR}` and `${VAR == "literal"}` (cmd/litefs/config.go ExpandEnv)."""

    def one(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        compare = re.fullmatch(r'(\w+)\s*(==|!=)\s*"(.*)"', expr)
        if compare:
            equal = env.get(compare.group(1), "") == compare.group(3)
            return str(equal if compare.group(2) == "==" else not equal).lower()
        return env.get(expr, "")

    return re.sub(r"\$\{([^}]*)\}", one, text)


# --- the whole bundle ----------------------------------------------------------------------------------


def test_the_registry_dispatches_to_these_translators() -> None:
    assert REGISTRY.translators[LiteFS.kind] is litefs.translate
    assert REGISTRY.translators[SeaweedFS.kind] is seaweedfs.translate
    assert REGISTRY.translators[Weaviate.kind] is weaviate.translate


def test_prod_object_names(plans: dict[str, Plan]) -> None:
    names = {kind: [(o["kind"], o["metadata"]["name"]) for o in objs] for kind, objs in _stateful(plans["prod"]).items()}
    assert names == {
        "litefs": [
            ("ConfigMap", "acme-prod-litefs-config"),
            ("Service", "acme-prod-litefs"),
            ("Service", "acme-prod-litefs-fra"),
            ("Service", "acme-prod-litefs-fra-headless"),
            ("StatefulSet", "acme-prod-litefs-fra"),
            ("PodDisruptionBudget", "acme-prod-litefs-fra"),
            ("Service", "acme-prod-litefs-iad-headless"),
            ("StatefulSet", "acme-prod-litefs-iad"),
            ("PodDisruptionBudget", "acme-prod-litefs-iad"),
        ],
        "seaweedfs": [
            ("Service", "acme-prod-seaweedfs-master"),
            ("StatefulSet", "acme-prod-seaweedfs-master"),
            ("PodDisruptionBudget", "acme-prod-seaweedfs-master"),
            ("Service", "acme-prod-seaweedfs-volume"),
            ("StatefulSet", "acme-prod-seaweedfs-volume-fra-rack1"),
            ("StatefulSet", "acme-prod-seaweedfs-volume-fra-rack2"),
            ("StatefulSet", "acme-prod-seaweedfs-volume-iad-rack1"),
            ("StatefulSet", "acme-prod-seaweedfs-volume-iad-rack2"),
            ("PodDisruptionBudget", "acme-prod-seaweedfs-volume"),
            ("Service", "acme-prod-seaweedfs-filer-headless"),
            ("StatefulSet", "acme-prod-seaweedfs-filer"),
            ("Service", "acme-prod-seaweedfs-filer"),
            ("PodDisruptionBudget", "acme-prod-seaweedfs-filer"),
            ("Deployment", "acme-prod-seaweedfs-s3"),
            ("Service", "acme-prod-seaweedfs-s3"),
            ("PodDisruptionBudget", "acme-prod-seaweedfs-s3"),
        ],
        "weaviate": [
            ("Service", "acme-prod-weaviate-headless"),
            ("Service", "acme-prod-weaviate"),
            ("StatefulSet", "acme-prod-weaviate"),
            ("PodDisruptionBudget", "acme-prod-weaviate"),
        ],
    }


@pytest.mark.parametrize("env", K8S_ENVS)
def test_every_object_passes_kubernetes_validate_strict(plans: dict[str, Plan], env: str) -> None:
    for objs in _stateful(plans[env]).values():
        for obj in objs:
            kubernetes_validate.validate(obj, "1.31", strict=True)


@pytest.mark.parametrize("env", K8S_ENVS)
def test_translating_twice_gives_equal_objects(plans: dict[str, Plan], env: str) -> None:
    doc = manifest.load(ROOT / "koyalite.yaml", "koyalite.yaml")
    again = plan.build(manifest.check(doc, env), ROOT)
    assert _stateful(plans[env]) == _stateful(plans[env]) == _stateful(again)


@pytest.mark.parametrize("env", K8S_ENVS)
def test_published_urls_name_services_that_exist(plans: dict[str, Plan], env: str) -> None:
    """build.py publishes KOYALITE_*_URL by name; each must be a ClusterIP Service exposing that port."""
    p = plans[env]
    config = dict(next(part for part in p.parts if isinstance(part, ProjectConfig)).data)
    services = {o["metadata"]["name"]: o for objs in _stateful(p).values() for o in objs if o["kind"] == "Service"}
    keys = ["KOYALITE_DATABASE_URL", "KOYALITE_DATABASE_PRIMARY_URL", "KOYALITE_FILER_URL", "KOYALITE_S3_URL"]
    keys += ["KOYALITE_WEAVIATE_URL", "KOYALITE_WEAVIATE_GRPC"]
    for key in keys:
        host, port = config[key].removeprefix("http://").split(":")
        spec = services[host]["spec"]
        assert spec["type"] == "ClusterIP" and "clusterIP" not in spec, key
        assert int(port) in [p["port"] for p in spec["ports"]], key


@pytest.mark.parametrize("env", K8S_ENVS)
def test_every_statefulset_keeps_its_data_and_runs_pinned(plans: dict[str, Plan], env: str) -> None:
    p = plans[env]
    parts = {part.kind: part for part in p.parts if isinstance(part, LiteFS | SeaweedFS | Weaviate)}
    namespace = _ctx(p).namespace
    for kind, objs in _stateful(p).items():
        services = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "Service"}
        for obj in objs:
            assert obj["metadata"]["namespace"] == namespace
            assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "koyalite"
            assert obj["metadata"]["labels"]["koyalite.dev/role"] == kind
            if obj["kind"] != "StatefulSet":
                continue
            spec = obj["spec"]
            name = obj["metadata"]["name"]
            assert len(name) <= 52, f"{name}: pods get a `-N` suffix and a controller-revision-hash label"
            assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
            assert services[spec["serviceName"]]["clusterIP"] == "None"
            assert services[spec["serviceName"]]["publishNotReadyAddresses"] is True
            assert spec["updateStrategy"] == {"type": "RollingUpdate"}
            assert spec["volumeClaimTemplates"], name
            template = spec["template"]
            assert spec["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
            pod = template["spec"]
            assert pod["automountServiceAccountToken"] is False
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert [t["topologyKey"] for t in pod["topologySpreadConstraints"]][-1] == "kubernetes.io/hostname"
            container = _container(obj)
            assert container["image"] == str(parts[kind].image)
            assert container["imagePullPolicy"] == "IfNotPresent"
            assert container["resources"] == resources(parts[kind].resources)
            assert container["resources"]["limits"].keys() == {"cpu", "memory"}
            assert {"readinessProbe", "livenessProbe"} <= container.keys()
            mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
            for claim in spec["volumeClaimTemplates"]:
                assert claim["metadata"]["name"] in mounted
                expected_class = "fast-ssd" if env == "prod" else None
                assert claim["spec"].get("storageClassName") == expected_class


@pytest.mark.parametrize("env", K8S_ENVS)
def test_workload_selectors_never_overlap(plans: dict[str, Plan], env: str) -> None:
    """Each workload's selector matches its own pod template and no other workload's."""
    workloads = [o for objs in _stateful(plans[env]).values() for o in objs if o["kind"] in ("StatefulSet", "Deployment")]
    for a in workloads:
        for b in workloads:
            selects = a["spec"]["selector"]["matchLabels"].items() <= b["spec"]["template"]["metadata"]["labels"].items()
            assert selects == (a is b), (a["metadata"]["name"], b["metadata"]["name"])


@pytest.mark.parametrize("env", K8S_ENVS)
def test_only_litefs_relaxes_the_restricted_profile(plans: dict[str, Plan], env: str) -> None:
    for kind, objs in _stateful(plans[env]).items():
        for obj in objs:
            if obj["kind"] not in ("StatefulSet", "Deployment"):
                continue
            pod = obj["spec"]["template"]["spec"]
            if kind == "litefs":
                assert pod["securityContext"]["runAsUser"] == 0
                continue
            assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["fsGroup"] == RUN_AS
            assert _container(obj)["securityContext"] == container_security()
            assert not any("hostPath" in v for v in pod["volumes"])


@pytest.mark.parametrize("env", K8S_ENVS)
def test_no_literal_secret_and_no_load_balancer(plans: dict[str, Plan], env: str) -> None:
    for objs in _stateful(plans[env]).values():
        for obj in objs:
            if obj["kind"] == "Service":
                assert obj["spec"]["type"] == "ClusterIP"
            if obj["kind"] in ("StatefulSet", "Deployment"):
                for var in _container(obj).get("env", []):
                    if var["name"].endswith(("_KEY", "_KEYS", "SECRET", "PASSWORD", "TOKEN")):
                        assert var.keys() == {"name", "valueFrom"} and "secretKeyRef" in var["valueFrom"], var["name"]


# --- LiteFS ----------------------------------------------------------------------------------------------


def test_litefs_yml_static_lease_prod(plans: dict[str, Plan]) -> None:
    objs = _by_key(_stateful(plans["prod"])["litefs"])
    text = objs[("ConfigMap", "acme-prod-litefs-config")]["data"]["litefs.yml"]
    primary = "acme-prod-litefs-fra-0.acme-prod-litefs-fra-headless.acme-prod.svc"
    assert yaml.safe_load(text) == {
        "fuse": {"dir": "/litefs"},
        "data": {"dir": "/var/lib/litefs"},
        "http": {"addr": ":20202"},
        "proxy": {"addr": ":8080", "target": "localhost:8081", "db": "koyalite.db"},
        "lease": {
            "type": "static",
            "hostname": primary,
            "advertise-url": f"http://{primary}:20202",
            "candidate": '${POD_NAME == "acme-prod-litefs-fra-0"}',
        },
        "exec": [{"cmd": "koyalite-db --listen :8081 --db /litefs/koyalite.db"}],
    }
    # unquoted, so that LiteFS's expansion leaves a YAML boolean
    assert 'candidate: ${POD_NAME == "acme-prod-litefs-fra-0"}\n' in text


def test_litefs_static_lease_has_one_candidate_pod_in_the_primary_region(plans: dict[str, Plan]) -> None:
    """Candidacy as LiteFS sees it, per pod: expand the file with the pod's environment, then parse it."""
    objs = _by_key(_stateful(plans["prod"])["litefs"])
    text = objs[("ConfigMap", "acme-prod-litefs-config")]["data"]["litefs.yml"]
    candidates = {}
    for region in ("fra", "iad"):
        sts = objs[("StatefulSet", f"acme-prod-litefs-{region}")]
        assert sts["spec"]["replicas"] == 2
        assert _env(sts) == {"POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}}, "KOYALITE_REGION": region}
        for i in range(sts["spec"]["replicas"]):
            pod = f"acme-prod-litefs-{region}-{i}"
            candidates[pod] = yaml.safe_load(_expand(text, {"POD_NAME": pod}))["lease"]["candidate"]
    assert candidates == {
        "acme-prod-litefs-fra-0": True,
        "acme-prod-litefs-fra-1": False,
        "acme-prod-litefs-iad-0": False,
        "acme-prod-litefs-iad-1": False,
    }
    writer = objs[("Service", "acme-prod-litefs-fra")]["spec"]["selector"]
    assert writer["statefulset.kubernetes.io/pod-name"] == "acme-prod-litefs-fra-0"
    readers = objs[("Service", "acme-prod-litefs")]["spec"]
    assert readers["selector"] == {"app.kubernetes.io/instance": "acme-prod", "app.kubernetes.io/name": "litefs"}
    assert readers["ports"] == [{"name": "proxy", "port": 8080, "targetPort": 8080, "protocol": "TCP"}]


def test_litefs_consul_lease_makes_the_primary_region_candidates(plans: dict[str, Plan]) -> None:
    p = plans["prod"]
    part = dataclasses.replace(p.of(LiteFS)[0], lease="consul", consul_url="http://consul:8500", consul_key="litefs/acme-prod")
    objs = _by_key(_translate(p, part))
    lease = yaml.safe_load(objs[("ConfigMap", "acme-prod-litefs-config")]["data"]["litefs.yml"])["lease"]
    assert lease == {
        "type": "consul",
        "hostname": "${LITEFS_HOSTNAME}",
        "advertise-url": "http://${LITEFS_HOSTNAME}:20202",
        "candidate": "${LITEFS_CANDIDATE}",
        "promote": True,
        "consul": {"url": "http://consul:8500", "key": "litefs/acme-prod", "ttl": "10s", "lock-delay": "1s"},
    }
    for region, candidate in (("fra", "true"), ("iad", "false")):
        env = _env(objs[("StatefulSet", f"acme-prod-litefs-{region}")])
        assert env["LITEFS_CANDIDATE"] == candidate
        assert env["LITEFS_HOSTNAME"] == f"$(POD_NAME).acme-prod-litefs-{region}-headless.acme-prod.svc"
    # the lease moves between the primary region's nodes, so the write Service selects all of them
    assert "statefulset.kubernetes.io/pod-name" not in objs[("Service", "acme-prod-litefs-fra")]["spec"]["selector"]


def test_litefs_statefulset_prod(plans: dict[str, Plan]) -> None:
    objs = _by_key(_stateful(plans["prod"])["litefs"])
    sts = objs[("StatefulSet", "acme-prod-litefs-iad")]
    spec = sts["spec"]
    assert spec["serviceName"] == "acme-prod-litefs-iad-headless"
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["volumeClaimTemplates"] == [
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "fast-ssd"},
        }
    ]
    pod = spec["template"]["spec"]
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "topology.kubernetes.io/region", "operator": "In", "values": ["iad"]}]}]
    }
    assert not [v for v in pod["volumes"] if "hostPath" in v]  # privileged sees /dev/fuse; no host path mounted
    assert {"name": "config", "configMap": {"name": "acme-prod-litefs-config"}} in pod["volumes"]
    container = _container(sts)
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": True,
        "privileged": True,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": False,
        "runAsUser": 0,
        "runAsGroup": 0,
    }
    assert container["command"] == ["litefs", "mount", "-config", "/etc/litefs/litefs.yml"]
    assert container["envFrom"] == [{"configMapRef": {"name": "acme-prod-config"}}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/litefs/health", "port": 8080}
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]} == {
        "data": "/var/lib/litefs",
        "config": "/etc/litefs",
        "mount": "/litefs",
        "tmp": "/tmp",
    }
    assert objs[("PodDisruptionBudget", "acme-prod-litefs-iad")]["spec"]["maxUnavailable"] == 1
    headless = objs[("Service", "acme-prod-litefs-iad-headless")]["spec"]
    assert [(port["name"], port["port"]) for port in headless["ports"]] == [("api", 20202), ("proxy", 8080)]


def test_litefs_carries_its_checkov_skips(plans: dict[str, Plan]) -> None:
    assert [check for check, _ in litefs.CHECKOV_SKIPS] == [
        "CKV_K8S_16",
        "CKV_K8S_20",
        "CKV_K8S_23",
        "CKV_K8S_28",
        "CKV_K8S_37",
        "CKV_K8S_40",
    ]
    sts = _by_key(_stateful(plans["prod"])["litefs"])[("StatefulSet", "acme-prod-litefs-fra")]
    annotations = sts["metadata"]["annotations"]
    assert sorted(annotations) == [f"checkov.io/skip{i}" for i in range(1, 7)]
    for value in annotations.values():
        check, reason = value.split("=")  # checkov splits on `=`: a reason must not contain one
        assert check.startswith("CKV_K8S_") and reason


def test_litefs_single_region_has_no_region_affinity(plans: dict[str, Plan]) -> None:
    objs = _by_key(_stateful(plans["staging"])["litefs"])
    assert "affinity" not in objs[("StatefulSet", "acme-staging-litefs-fra")]["spec"]["template"]["spec"]
    assert ("Service", "acme-staging-litefs-iad-headless") not in objs


def test_litefs_pods_roll_when_litefs_yml_changes(plans: dict[str, Plan]) -> None:
    p = plans["prod"]
    part = p.of(LiteFS)[0]

    def digest(part: LiteFS) -> str:
        sts = _by_key(_translate(p, part))[("StatefulSet", "acme-prod-litefs-fra")]
        return sts["spec"]["template"]["metadata"]["annotations"]["koyalite.dev/config-hash"]  # type: ignore[no-any-return]

    assert digest(part) == digest(part)
    assert digest(part) != digest(dataclasses.replace(part, database="other.db"))


# --- SeaweedFS -------------------------------------------------------------------------------------------


def test_seaweedfs_masters_prod(plans: dict[str, Plan]) -> None:
    objs = _by_key(_stateful(plans["prod"])["seaweedfs"])
    sts = objs[("StatefulSet", "acme-prod-seaweedfs-master")]
    assert (sts["spec"]["replicas"], sts["spec"]["podManagementPolicy"]) == (3, "Parallel")
    peers = ",".join(f"acme-prod-seaweedfs-master-{i}.acme-prod-seaweedfs-master.acme-prod.svc:9333" for i in range(3))
    assert _flag(sts, "peers") == peers
    assert _flag(sts, "ip") == "$(POD_NAME).acme-prod-seaweedfs-master.acme-prod.svc"
    assert (_flag(sts, "mdir"), _flag(sts, "defaultReplication"), _flag(sts, "volumeSizeLimitMB")) == ("/data", "010", "1000")
    assert _container(sts)["args"][:2] == ["-logtostderr=true", "master"]
    assert _container(sts)["readinessProbe"]["httpGet"] == {"path": "/cluster/status", "port": 9333}
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert (claim["metadata"]["name"], claim["spec"]["resources"]["requests"]["storage"]) == ("master", "1Gi")
    assert objs[("PodDisruptionBudget", "acme-prod-seaweedfs-master")]["spec"]["minAvailable"] == 2
    for role in ("volume", "filer"):
        assert _flag(objs[("StatefulSet", f"acme-prod-seaweedfs-{role}" + ("-fra-rack1" if role == "volume" else ""))], "master") == peers


def test_seaweedfs_volume_servers_one_set_per_cell_prod(plans: dict[str, Plan]) -> None:
    objs = _stateful(plans["prod"])["seaweedfs"]
    cells = {
        o["metadata"]["name"]: (
            o["spec"]["replicas"],
            _flag(o, "dataCenter"),
            _flag(o, "rack"),
            o["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
                "nodeSelectorTerms"
            ][0]["matchExpressions"][0]["values"],
            o["spec"]["serviceName"],
        )
        for o in objs
        if o["kind"] == "StatefulSet" and "-volume-" in o["metadata"]["name"]
    }
    service = "acme-prod-seaweedfs-volume"
    assert cells == {
        "acme-prod-seaweedfs-volume-fra-rack1": (2, "fra", "rack1", ["fra"], service),
        "acme-prod-seaweedfs-volume-fra-rack2": (1, "fra", "rack2", ["fra"], service),
        "acme-prod-seaweedfs-volume-iad-rack1": (2, "iad", "rack1", ["iad"], service),
        "acme-prod-seaweedfs-volume-iad-rack2": (1, "iad", "rack2", ["iad"], service),
    }
    assert sum(replicas for replicas, *_ in cells.values()) == 6
    by_key = _by_key(objs)
    assert by_key[("PodDisruptionBudget", service)]["spec"]["maxUnavailable"] == 1
    volume = by_key[("StatefulSet", "acme-prod-seaweedfs-volume-iad-rack2")]
    assert _flag(volume, "ip") == "$(POD_NAME).acme-prod-seaweedfs-volume.acme-prod.svc"
    assert (_flag(volume, "dir"), _flag(volume, "port"), _flag(volume, "port.grpc")) == ("/data", "8080", "18080")
    assert _container(volume)["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    assert _container(volume)["livenessProbe"]["httpGet"] == {"path": "/status", "port": 8080}
    assert volume["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "100Gi"


def test_seaweedfs_filer_and_s3_prod(plans: dict[str, Plan]) -> None:
    objs = _by_key(_stateful(plans["prod"])["seaweedfs"])
    filer = objs[("StatefulSet", "acme-prod-seaweedfs-filer")]
    assert (filer["spec"]["replicas"], filer["spec"]["serviceName"]) == (2, "acme-prod-seaweedfs-filer-headless")
    assert _flag(filer, "defaultStoreDir") == "/data"
    assert _env(filer)["WEED_LEVELDB2_DIR"] == "/data/filerldb2"
    assert filer["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "filer"
    client = objs[("Service", "acme-prod-seaweedfs-filer")]["spec"]
    assert [(port["name"], port["port"]) for port in client["ports"]] == [("http", 8888), ("grpc", 18888)]
    s3 = objs[("Deployment", "acme-prod-seaweedfs-s3")]
    assert _container(s3)["args"] == [
        "-logtostderr=true",
        "s3",
        "-port=8333",
        "-filer=acme-prod-seaweedfs-filer.acme-prod.svc:8888",
        "-ip.bind=0.0.0.0",
    ]
    assert _container(s3)["readinessProbe"]["httpGet"] == {"path": "/status", "port": 8333}
    assert objs[("Service", "acme-prod-seaweedfs-s3")]["spec"]["ports"] == [
        {"name": "http", "port": 8333, "targetPort": 8333, "protocol": "TCP"}
    ]


def test_seaweedfs_without_s3_has_no_gateway(plans: dict[str, Plan]) -> None:
    p = plans["prod"]
    names = {o["metadata"]["name"] for o in _translate(p, dataclasses.replace(p.of(SeaweedFS)[0], s3=False))}
    assert not any(n.startswith("acme-prod-seaweedfs-s3") for n in names)


def test_seaweedfs_staging_single_master_single_region(plans: dict[str, Plan]) -> None:
    objs = _by_key(_stateful(plans["staging"])["seaweedfs"])
    master = objs[("StatefulSet", "acme-staging-seaweedfs-master")]
    assert _flag(master, "peers") == "acme-staging-seaweedfs-master-0.acme-staging-seaweedfs-master.acme-staging.svc:9333"
    assert ("PodDisruptionBudget", "acme-staging-seaweedfs-master") not in objs  # one master: a PDB would block every drain
    for name in ("acme-staging-seaweedfs-volume-fra-rack1", "acme-staging-seaweedfs-volume-fra-rack2"):
        assert objs[("StatefulSet", name)]["spec"]["replicas"] == 1
        assert "affinity" not in objs[("StatefulSet", name)]["spec"]["template"]["spec"]


def test_seaweedfs_grpc_off_the_default_port_is_spelled_out() -> None:
    assert seaweedfs.address("m-0.m.ns.svc", 9333, 19333) == "m-0.m.ns.svc:9333"
    assert seaweedfs.address("m-0.m.ns.svc", 9333, 9999) == "m-0.m.ns.svc:9333.9999"


# --- Weaviate --------------------------------------------------------------------------------------------


def test_weaviate_prod(plans: dict[str, Plan]) -> None:
    objs = _by_key(_stateful(plans["prod"])["weaviate"])
    sts = objs[("StatefulSet", "acme-prod-weaviate")]
    spec = sts["spec"]
    assert (spec["replicas"], spec["podManagementPolicy"], spec["serviceName"]) == (3, "Parallel", "acme-prod-weaviate-headless")
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 600
    env = _env(sts)
    assert env == {
        "CLUSTER_HOSTNAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "PERSISTENCE_DATA_PATH": "/var/lib/weaviate",
        "CLUSTER_GOSSIP_BIND_PORT": "7000",
        "CLUSTER_DATA_BIND_PORT": "7001",
        "CLUSTER_JOIN": "acme-prod-weaviate-headless.acme-prod.svc",
        "RAFT_PORT": "8300",
        "RAFT_INTERNAL_RPC_PORT": "8301",
        "RAFT_JOIN": "acme-prod-weaviate-0,acme-prod-weaviate-1,acme-prod-weaviate-2",
        "RAFT_BOOTSTRAP_EXPECT": "3",
        "GRPC_PORT": "50051",
        "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
        "AUTHENTICATION_APIKEY_ENABLED": "true",
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": {"secretKeyRef": {"name": "acme-prod-secrets", "key": "weaviate_api_key"}},
        "AUTHENTICATION_APIKEY_USERS": "koyalite",
        "DEFAULT_VECTORIZER_MODULE": "none",
        "ENABLE_MODULES": "backup-s3",
        "QUERY_DEFAULTS_LIMIT": "100",
        "QUERY_MAXIMUM_RESULTS": "100000",
        "REPLICATION_MINIMUM_FACTOR": "2",
        "BACKUP_S3_BUCKET": "acme-prod-weaviate-backups",
        "BACKUP_S3_ENDPOINT": "acme-prod-seaweedfs-s3.acme-prod.svc:8333",
        "BACKUP_S3_USE_SSL": "false",
    }
    container = _container(sts)
    assert container["readinessProbe"]["httpGet"] == {"path": "/v1/.well-known/ready", "port": 8080}
    assert (container["livenessProbe"]["httpGet"]["path"], container["livenessProbe"]["initialDelaySeconds"]) == (
        "/v1/.well-known/live",
        900,
    )
    assert {"name": "data", "mountPath": "/var/lib/weaviate"} in container["volumeMounts"]
    claim = spec["volumeClaimTemplates"][0]
    assert (claim["metadata"]["name"], claim["spec"]["resources"]["requests"]["storage"]) == ("data", "50Gi")
    public = objs[("Service", "acme-prod-weaviate")]["spec"]
    assert public["type"] == "ClusterIP"
    assert [(port["name"], port["port"]) for port in public["ports"]] == [("http", 8080), ("grpc", 50051)]
    headless = objs[("Service", "acme-prod-weaviate-headless")]["spec"]
    assert (headless["clusterIP"], headless["publishNotReadyAddresses"]) == ("None", True)
    assert [port["port"] for port in headless["ports"]] == [7000, 7001, 8300, 8301]
    assert objs[("PodDisruptionBudget", "acme-prod-weaviate")]["spec"]["maxUnavailable"] == 1


def test_weaviate_staging_bootstraps_one_voter_and_omits_empty_modules(plans: dict[str, Plan]) -> None:
    p = plans["staging"]
    env = _env(_by_key(_stateful(p)["weaviate"])[("StatefulSet", "acme-staging-weaviate")])
    assert (env["RAFT_BOOTSTRAP_EXPECT"], env["RAFT_JOIN"]) == ("1", "acme-staging-weaviate-0")
    bare = _by_key(_translate(p, dataclasses.replace(p.of(Weaviate)[0], modules=())))
    env = _env(bare[("StatefulSet", "acme-staging-weaviate")])
    assert "ENABLE_MODULES" not in env and not any(name.startswith("BACKUP_S3") for name in env)
