"""GitOps commands: diff between environments, diff against a committed render (replacement risks, exit codes), plan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.cli import main
from provisioner.gitops.changes import Change, Named, Op, dotted, json_path
from provisioner.gitops.diff import renders
from tests.support import REFERENCE, REPO, Capture, run

GI = 1024**3
MI = 1024**2


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the reference project (manifest and function code) as the working directory."""
    shutil.copy(REFERENCE, tmp_path / "koyalite.yaml")
    shutil.copytree(REPO / "functions", tmp_path / "functions")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def edit(project: Path, old: str, new: str) -> None:
    """Replace one exact passage of the project's koyalite.yaml."""
    path = project / "koyalite.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def committed(capsys: Capture, env: str, folder: str = "committed") -> str:
    """Render an environment into a folder, as a repository would commit it."""
    assert main(["render", "--env", env, "-o", folder]) == 0
    capsys.readouterr()
    return folder


# --- diff: two environments -----------------------------------------------------------------------


def test_diff_of_two_environments_lists_every_effective_difference(capsys: Capture, in_repo: None) -> None:
    code, out, err = run(capsys, "diff", "--env", "staging", "--env", "prod")
    assert code == 1
    assert out.splitlines() == [
        "--- staging",
        "+++ prod",
        "~ project.regions: [fra] → [fra, iad]",
        "~ services.project.replicas: 1 → 2",
        "~ services.rls.replicas: 1 → 2",
        "~ services.search.replicas: 1 → 2",
        "~ services.email.replicas: 1 → 2",
        "~ services.studio.replicas: 1 → 2",
        "+ database.replicas.iad: 2",
        "~ storage.masters: 1 → 3",
        "~ storage.volume_servers: 2 → 6",
        "~ storage.volume: 50Gi → 100Gi",
        "~ search.replicas: 2 → 3",
        "~ search.volume: 20Gi → 50Gi",
        "~ cron.uptime-ping.schedule: '*/5 * * * *' → '* * * * *'",
        "~ events.bus.replicas: 1 → 3",
        "~ events.streams.storage.replicas: 1 → 3",
        "~ events.streams.deadletter.replicas: 1 → 3",
        "~ environment.protect: false → true",
        "~ environment.kubernetes.namespace: acme-staging → acme-prod",
        "- environment.kubernetes.ingress.host: staging.acme.example.com",
        "~ environment.kubernetes.ingress.tls.issuer: letsencrypt-staging → letsencrypt",
        "+ environment.kubernetes.storage_class: fast-ssd",
    ]
    assert err == "staging and prod: 21 differences\n"


def test_diff_of_an_environment_with_itself_exits_0(capsys: Capture, in_repo: None) -> None:
    assert run(capsys, "diff", "-e", "prod", "-e", "prod") == (0, "", "prod and prod: the same effective configuration\n")


def test_diff_of_two_environments_as_json(capsys: Capture, in_repo: None) -> None:
    code, out, err = run(capsys, "diff", "-e", "dev", "-e", "staging", "--format", "json")
    assert (code, err) == (1, "")
    document = json.loads(out)
    assert (document["file"], document["from"], document["to"], document["differences"]) == ("koyalite.yaml", "dev", "staging", 19)
    changes = {c["path"]: (c["op"], c["old"], c["new"]) for c in document["changes"]}
    assert len(changes) == 19
    assert changes["services.api.autoscale"] == ("changed", None, {"min": 2, "max": 10, "cpu": 70})
    assert changes["features.experimental.graphql"] == ("changed", True, False)
    assert changes["storage.replication"] == ("changed", "000", "010")
    assert changes["webhooks.signup.url"] == ("changed", "http://localhost:9999/hooks/signup", "https://hooks.example.com/acme/signup")
    assert changes["environment.target"] == ("changed", "docker", "kubernetes")
    assert changes["environment.docker"] == (
        "removed",
        {"publish": {"api": 8000, "studio": 3000, "functions": 9000}, "bind": "127.0.0.1"},
        None,
    )
    assert changes["environment.kubernetes"][0:2] == ("added", None)
    assert changes["environment.kubernetes"][2]["namespace"] == "acme-staging"


def test_a_named_list_item_added_in_one_environment(capsys: Capture, project: Path) -> None:
    edit(
        project,
        "    cron:\n      - name: uptime-ping\n",
        "    cron:\n      - name: hourly-report\n        schedule: '@hourly'\n        function: hello\n      - name: uptime-ping\n",
    )
    code, out, err = run(capsys, "diff", "-e", "staging", "-e", "prod")
    assert code == 1
    assert "+ cron.hourly-report.name: hourly-report" in out.splitlines()
    assert "+ cron.hourly-report.schedule: '@hourly'" in out.splitlines()
    assert "+ cron.hourly-report.function: hello" in out.splitlines()
    assert err == "staging and prod: 22 differences\n"


DIFF_USAGE = {
    "one-env-without-against": (
        ["diff", "--env", "prod"],
        "error: diff compares two environments, or one with --against\n  hint: pass --env A --env B, or --env NAME --against DIR\n",
    ),
    "three-envs": (
        ["diff", "-e", "dev", "-e", "staging", "-e", "prod"],
        "error: diff compares two environments, or one with --against\n  hint: pass --env A --env B, or --env NAME --against DIR\n",
    ),
    "two-envs-with-against": (
        ["diff", "-e", "dev", "-e", "prod", "--against", "rendered"],
        "error: --against compares one environment with a committed render\n  hint: pass --env once with --against\n",
    ),
    "unknown-env": (
        ["diff", "-e", "prod", "-e", "stagin"],
        "error: environment `stagin` is not defined in koyalite.yaml\n  hint: did you mean `staging`?\n",
    ),
    "no-such-folder": (
        ["diff", "-e", "prod", "--against", "nowhere"],
        "error: nowhere does not exist\n  hint: render the committed state first: koyalite render --env ENV -o DIR\n",
    ),
}


@pytest.mark.parametrize(("argv", "err"), DIFF_USAGE.values(), ids=DIFF_USAGE.keys())
def test_diff_usage_errors_exit_64(argv: list[str], err: str, capsys: Capture, in_repo: None) -> None:
    assert run(capsys, *argv) == (64, "", err)


# --- diff: against a committed render -------------------------------------------------------------


def test_an_unchanged_render_exits_0(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "staging")
    assert run(capsys, "diff", "--env", "staging", "--against", folder) == (0, "", "staging renders the same objects as committed\n")


def test_an_unchanged_render_as_one_stream_exits_0(capsys: Capture, project: Path) -> None:
    assert main(["render", "--env", "prod"]) == 0
    (project / "prod.yaml").write_text(capsys.readouterr().out, encoding="utf-8")
    assert run(capsys, "diff", "--env", "prod", "--against", "prod.yaml") == (0, "", "prod renders the same objects as prod.yaml\n")


def test_a_stateless_change_differs_without_risk(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "staging")
    edit(project, "    project: {regions: [fra]}\n", "    project: {regions: [fra]}\n    services: {project: {replicas: 3}}\n")
    assert run(capsys, "diff", "--env", "staging", "--against", folder) == (
        1,
        "--- committed (committed)\n"
        "+++ staging (rendered now)\n"
        "~ Deployment acme-staging/acme-staging-project\n"
        "    ~ spec.replicas: 1 → 3\n"
        "+ PodDisruptionBudget acme-staging/acme-staging-project\n",
        "staging differs from committed: 1 changed, 1 added, 0 removed\n",
    )


IMMUTABLE = "volumeClaimTemplates are immutable: the StatefulSet must be deleted and recreated"


def test_a_shrinking_claim_template_is_a_replacement_risk(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "staging")
    edit(project, "volume: 20Gi}", "volume: 10Gi}")
    assert run(capsys, "diff", "--env", "staging", "--against", folder) == (
        3,
        "--- committed (committed)\n"
        "+++ staging (rendered now)\n"
        "~ StatefulSet acme-staging/acme-staging-weaviate\n"
        "    ~ spec.volumeClaimTemplates[name=data].spec.resources.requests.storage: 20Gi → 10Gi\n"
        f"      ! replacement risk: storage shrinks from 20Gi to 10Gi: a volume cannot shrink; and {IMMUTABLE}\n",
        "staging differs from committed: 1 changed, 0 added, 0 removed; 1 replacement risk\n",
    )


def test_a_growing_claim_template_is_a_replacement_risk_too(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "staging")
    edit(project, "volume: 20Gi}", "volume: 30Gi}")
    code, out, _ = run(capsys, "diff", "--env", "staging", "--against", folder, "--format", "json")
    assert code == 3
    assert json.loads(out) == {
        "environment": "staging",
        "target": "kubernetes",
        "against": "committed",
        "summary": {"changed": 1, "added": 0, "removed": 0, "risks": 1},
        "objects": [
            {
                "kind": "StatefulSet",
                "namespace": "acme-staging",
                "name": "acme-staging-weaviate",
                "status": "changed",
                "changes": [
                    {
                        "path": "spec.volumeClaimTemplates[name=data].spec.resources.requests.storage",
                        "op": "changed",
                        "old": "20Gi",
                        "new": "30Gi",
                    }
                ],
                "risks": [
                    {
                        "path": "spec.volumeClaimTemplates[name=data].spec.resources.requests.storage",
                        "reason": "volumeClaimTemplates cannot change in place: the StatefulSet must be deleted and recreated, "
                        "and the claims it already made keep their old size and class",
                    }
                ],
            }
        ],
    }


def test_a_new_storage_class_is_a_risk_for_every_claim_template(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "staging")
    edit(project, "      namespace: acme-staging\n", "      namespace: acme-staging\n      storage_class: standard\n")
    code, out, err = run(capsys, "diff", "--env", "staging", "--against", folder, "-f", "json")
    assert (code, err) == (3, "")
    document = json.loads(out)
    assert document["summary"] == {"changed": 7, "added": 0, "removed": 0, "risks": 7}
    reason = (
        "storageClassName changes from unset to standard: a bound volume cannot change its class, "
        f"only new (empty) claims get it; and {IMMUTABLE}"
    )
    assert [(o["name"], [(r["path"], r["reason"]) for r in o["risks"]]) for o in document["objects"]] == [
        (f"acme-staging-{name}", [(f"spec.volumeClaimTemplates[name={claim}].spec.storageClassName", reason)])
        for name, claim in [
            ("litefs-fra", "data"),
            ("nats", "data"),
            ("seaweedfs-filer", "filer"),
            ("seaweedfs-master", "master"),
            ("seaweedfs-volume-fra-rack1", "data"),
            ("seaweedfs-volume-fra-rack2", "data"),
            ("weaviate", "data"),
        ]
    ]


def test_removing_a_statefulset_is_a_risk(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "staging")
    edit(
        project,
        "    storage: {volume_servers: 2, racks: 2, masters: 1, volume: 50Gi}",
        '    storage: {volume_servers: 1, racks: 1, masters: 1, volume: 50Gi, replication: "000"}',
    )
    assert run(capsys, "diff", "--env", "staging", "--against", folder) == (
        3,
        "--- committed (committed)\n"
        "+++ staging (rendered now)\n"
        "~ StatefulSet acme-staging/acme-staging-seaweedfs-master\n"
        "    ~ spec.template.spec.containers[name=master].args[8]: -defaultReplication=010 → -defaultReplication=000\n"
        "- StatefulSet acme-staging/acme-staging-seaweedfs-volume-fra-rack2\n"
        "    ! replacement risk: removing the StatefulSet stops its pods: the claims it made stay, but nothing serves their data any more\n"
        "- PodDisruptionBudget acme-staging/acme-staging-seaweedfs-volume\n",
        "staging differs from committed: 1 changed, 0 added, 2 removed; 1 replacement risk\n",
    )


def test_another_environment_s_render_removes_its_namespace(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "staging")
    code, out, err = run(capsys, "diff", "--env", "prod", "--against", folder, "-f", "json")
    assert (code, err) == (3, "")
    document = json.loads(out)
    assert document["summary"] == {"changed": 0, "added": 107, "removed": 94, "risks": 8}
    risky = [(o["kind"], o["name"], o["risks"][0]["reason"]) for o in document["objects"] if o["risks"]]
    assert risky[0] == (
        "Namespace",
        "acme-staging",
        "removing the Namespace deletes every object in it, PersistentVolumeClaims and their data included",
    )
    assert [name for kind, name, _ in risky[1:]] == [
        "acme-staging-litefs-fra",
        "acme-staging-nats",
        "acme-staging-seaweedfs-filer",
        "acme-staging-seaweedfs-master",
        "acme-staging-seaweedfs-volume-fra-rack1",
        "acme-staging-seaweedfs-volume-fra-rack2",
        "acme-staging-weaviate",
    ]


def test_docker_a_removed_named_volume_is_a_risk(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "dev")
    edit(project, "      experimental.graphql: true\n", "      experimental.graphql: true\n      search: false\n")
    code, out, err = run(capsys, "diff", "--env", "dev", "--against", folder, "-f", "json")
    assert (code, err) == (3, "")
    document = json.loads(out)
    assert (document["target"], document["summary"]) == ("docker", {"changed": 10, "added": 0, "removed": 4, "risks": 1})
    assert [(o["kind"], o["name"]) for o in document["objects"] if o["status"] == "removed"] == [
        ("service", "acme-dev-search-1"),
        ("service", "acme-dev-weaviate-0"),
        ("volume", "acme-dev-weaviate-0"),
        ("secret", "weaviate_api_key"),
    ]
    assert [r for o in document["objects"] for r in o["risks"]] == [
        {
            "path": "",
            "reason": "the named volume leaves the render: no container mounts its data any more, and a deploy that prunes volumes deletes it",
        }
    ]
    api = next(o for o in document["objects"] if o["name"] == "acme-dev-api-1")
    assert api["changes"][0] == {"path": "environment.KOYALITE_FEATURE_SEARCH", "op": "changed", "old": "true", "new": "false"}


def test_docker_an_unchanged_compose_render_exits_0(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "dev")
    assert run(capsys, "diff", "--env", "dev", "--against", folder) == (0, "", "dev renders the same objects as committed\n")


def test_the_wrong_kind_of_render_is_a_usage_error(capsys: Capture, project: Path) -> None:
    committed(capsys, "dev", "dev-render")
    committed(capsys, "staging", "staging-render")
    assert run(capsys, "diff", "--env", "staging", "--against", "dev-render") == (
        64,
        "",
        "error: dev-render holds a Docker Compose render, not Kubernetes objects\n  hint: compare a Kubernetes environment's render\n",
    )
    assert run(capsys, "diff", "--env", "dev", "--against", "staging-render") == (
        64,
        "",
        "error: staging-render has no compose.yaml\n  hint: compare against a folder written by `koyalite render --env ENV -o DIR`\n",
    )


def test_an_empty_or_foreign_folder_is_a_usage_error(capsys: Capture, project: Path) -> None:
    (project / "empty").mkdir()
    (project / "empty" / "notes.txt").write_text("not yaml\n", encoding="utf-8")
    assert run(capsys, "diff", "--env", "staging", "--against", "empty") == (
        64,
        "",
        "error: empty holds no rendered YAML files\n  hint: render the committed state first: koyalite render --env ENV -o DIR\n",
    )
    (project / "foreign").mkdir()
    (project / "foreign" / "values.yaml").write_text("replicas: 2\n---\nkind: Service\nmetadata: {name: x}\n", encoding="utf-8")
    assert run(capsys, "diff", "--env", "staging", "--against", "foreign") == (
        64,
        "",
        "error: foreign/values.yaml: document 1 is not a Kubernetes object (no kind or metadata.name)\n"
        "  hint: compare against a folder written by `koyalite render --env ENV -o DIR`\n",
    )
    (project / "broken").mkdir()
    (project / "broken" / "a.yaml").write_text("kind: [\n", encoding="utf-8")
    code, out, err = run(capsys, "diff", "--env", "staging", "--against", "broken")
    assert (code, out) == (64, "")
    assert err.startswith("error: broken/a.yaml:2:1 is not valid YAML: ")


def test_an_invalid_manifest_exits_2(capsys: Capture, project: Path) -> None:
    folder = committed(capsys, "staging")
    edit(
        project,
        "    storage: {volume_servers: 2, racks: 2, masters: 1, volume: 50Gi}",
        "    storage: {volume_servers: 2, racks: 2, masters: 2}",
    )
    code, out, err = run(capsys, "diff", "--env", "staging", "--against", folder)
    assert (code, out) == (2, "")
    assert "storage.masters: 2 masters cannot hold a Raft majority safely" in err


# --- replacement-risk rules, one object at a time ---------------------------------------------------


def _files(*objects: dict[str, Any]) -> dict[str, str]:
    return {f"{i:02d}.yaml": yaml.safe_dump(obj) for i, obj in enumerate(objects)}


def _obj(kind: str, spec: dict[str, Any], name: str = "acme-prod-x") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "acme-prod"}, "spec": spec}


def _risks(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[tuple[str, str]]:
    keep = _obj("ConfigMap", {}, "keep")  # so neither side is empty
    found = renders("kubernetes", _files(keep, *([new] if new else [])), _files(keep, *([old] if old else [])), "committed")
    return [(json_path(r.loc), r.reason) for _, r in found.risks]


STS = {
    "replicas": 3,
    "serviceName": "acme-prod-x-headless",
    "podManagementPolicy": "Parallel",
    "selector": {"matchLabels": {"app.kubernetes.io/name": "x"}},
    "template": {"spec": {"containers": [{"name": "x", "image": "x:1"}]}},
    "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "10Gi"}}}}],
}


def _with(spec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(spec)), **changes}


RULES = {
    "statefulset-replicas-and-image-are-in-place": (
        _obj("StatefulSet", STS),
        _obj("StatefulSet", _with(STS, replicas=5, template={"spec": {"containers": [{"name": "x", "image": "x:2"}]}})),
        [],
    ),
    "statefulset-service-name": (
        _obj("StatefulSet", STS),
        _obj("StatefulSet", _with(STS, serviceName="acme-prod-y")),
        [
            (
                "spec.serviceName",
                "serviceName cannot change in place: the StatefulSet must be deleted and recreated, and its pods' DNS names change",
            )
        ],
    ),
    "statefulset-selector": (
        _obj("StatefulSet", STS),
        _obj("StatefulSet", _with(STS, selector={"matchLabels": {"app.kubernetes.io/name": "y"}})),
        [
            (
                "spec.selector.matchLabels['app.kubernetes.io/name']",
                "the selector cannot change in place: the StatefulSet must be deleted and recreated",
            )
        ],
    ),
    "statefulset-pod-management-policy": (
        _obj("StatefulSet", STS),
        _obj("StatefulSet", _with(STS, podManagementPolicy="OrderedReady")),
        [("spec.podManagementPolicy", "podManagementPolicy cannot change in place: the StatefulSet must be deleted and recreated")],
    ),
    "statefulset-removed-deleting-its-claims": (
        _obj("StatefulSet", _with(STS, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"})),
        None,
        [("", "removing the StatefulSet deletes its PersistentVolumeClaims (whenDeleted: Delete) and their data")],
    ),
    "deployment-selector": (
        _obj("Deployment", {"replicas": 2, "selector": {"matchLabels": {"app": "x"}}}),
        _obj("Deployment", {"replicas": 2, "selector": {"matchLabels": {"app": "y"}}}),
        [("spec.selector.matchLabels.app", "the selector cannot change in place: the Deployment must be deleted and recreated")],
    ),
    "deployment-replicas": (
        _obj("Deployment", {"replicas": 2, "selector": {"matchLabels": {"app": "x"}}}),
        _obj("Deployment", {"replicas": 4, "selector": {"matchLabels": {"app": "x"}}}),
        [],
    ),
    "deployment-removed": (_obj("Deployment", {"replicas": 2}), None, []),
    "service-cluster-ip": (
        _obj("Service", {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}),
        _obj("Service", {"ports": [{"name": "http", "port": 80}]}),
        [("spec.clusterIP", "clusterIP cannot change in place: the Service must be deleted and recreated")],
    ),
    "service-port": (
        _obj("Service", {"ports": [{"name": "http", "port": 80}]}),
        _obj("Service", {"ports": [{"name": "http", "port": 8080}]}),
        [],
    ),
    "claim-shrink": (
        _obj("PersistentVolumeClaim", {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Ti"}}}),
        _obj("PersistentVolumeClaim", {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "512Gi"}}}),
        [("spec.resources.requests.storage", "storage shrinks from 1Ti to 512Gi: a volume cannot shrink")],
    ),
    "claim-growth": (
        _obj("PersistentVolumeClaim", {"resources": {"requests": {"storage": "10Gi"}}}),
        _obj("PersistentVolumeClaim", {"resources": {"requests": {"storage": "20Gi"}}}),
        [],
    ),
    "claim-access-modes": (
        _obj("PersistentVolumeClaim", {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}),
        _obj("PersistentVolumeClaim", {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}}}),
        [("spec.accessModes[0]", "spec.accessModes[0] cannot change in place: only spec.resources.requests of a claim may change")],
    ),
    "claim-storage-class": (
        _obj("PersistentVolumeClaim", {"storageClassName": "standard", "resources": {"requests": {"storage": "10Gi"}}}),
        _obj("PersistentVolumeClaim", {"storageClassName": "fast-ssd", "resources": {"requests": {"storage": "10Gi"}}}),
        [
            (
                "spec.storageClassName",
                "storageClassName changes from standard to fast-ssd: a bound volume cannot change its class, only new (empty) claims get it",
            )
        ],
    ),
    "claim-removed": (
        _obj("PersistentVolumeClaim", {"resources": {"requests": {"storage": "10Gi"}}}),
        None,
        [("", "removing a PersistentVolumeClaim deletes its volume's data unless the volume's reclaim policy is Retain")],
    ),
    "job-template": (
        _obj("Job", {"template": {"spec": {"containers": [{"name": "x", "image": "x:1"}]}}}),
        _obj("Job", {"template": {"spec": {"containers": [{"name": "x", "image": "x:2"}]}}}),
        [("spec.template.spec.containers[name=x].image", "spec.template of a Job cannot change: the Job must be deleted and recreated")],
    ),
    "cronjob-schedule": (
        _obj("CronJob", {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {}}}}),
        _obj("CronJob", {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {}}}}),
        [],
    ),
}


@pytest.mark.parametrize(("old", "new", "expected"), RULES.values(), ids=RULES.keys())
def test_replacement_risk_rules(old: dict[str, Any], new: dict[str, Any] | None, expected: list[tuple[str, str]]) -> None:
    assert _risks(old, new) == expected


def test_objects_are_keyed_by_kind_namespace_and_name_in_apply_order() -> None:
    old = _files(_obj("Service", {"ports": []}, "a"), _obj("Namespace", {}, "acme-prod"))
    new = _files(_obj("Service", {"ports": []}, "a"), _obj("Service", {"ports": []}, "b"), _obj("ConfigMap", {}, "c"))
    found = renders("kubernetes", new, old, "committed")
    assert [(str(o.key), o.status) for o in found.objects] == [
        ("Namespace acme-prod/acme-prod", Op.REMOVED),
        ("ConfigMap acme-prod/c", Op.ADDED),
        ("Service acme-prod/b", Op.ADDED),
    ]


def test_an_object_twice_is_a_usage_error() -> None:
    from provisioner.errors import UsageError

    twice = {"a.yaml": yaml.safe_dump(_obj("Service", {})), "b.yaml": yaml.safe_dump(_obj("Service", {"ports": []}))}
    with pytest.raises(UsageError, match=r"^committed: Service acme-prod/acme-prod-x appears twice$"):
        renders("kubernetes", _files(_obj("Service", {})), twice, "committed")


def test_paths_for_people() -> None:
    loc = ("spec", "template", "metadata", "labels", "app.kubernetes.io/name")
    assert json_path(loc) == "spec.template.metadata.labels['app.kubernetes.io/name']"
    assert json_path(("spec", "containers", Named("api"), "args", 2)) == "spec.containers[name=api].args[2]"
    assert json_path(("data", "it's")) == "data['it\\'s']"
    assert dotted(("functions", "items", Named("hello"), "memory")) == "functions.items.hello.memory"
    assert Change(("a",), Op.ADDED, new=1).old is None


# --- plan -------------------------------------------------------------------------------------------


def span(low: int, high: int | None = None) -> dict[str, int]:
    return {"min": low, "max": low if high is None else high}


def test_plan_json_totals_of_the_reference_environments(capsys: Capture, in_repo: None) -> None:
    code, out, err = run(capsys, "plan", "--format", "json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["file"] == "koyalite.yaml"
    dev, staging, prod = document["environments"]
    # dev (docker): one container per part; requests are not reserved, so only the limits are summed
    assert (dev["environment"], dev["target"], dev["where"]) == ("dev", "docker", "the local Docker host")
    assert dev["objects"] == {"Consumer": 3, "Container": 18, "Network": 1, "SecretSet": 1, "Stream": 3, "Volume": 7}
    assert dev["totals"] == {
        "replicas": span(18),
        "cpu_requests_millicores": None,
        # api 1 + auth, project, rls, search 0.5 each + email, studio 0.25 each + functions 1 + 2 LiteFS 1 each
        # + 4 SeaweedFS containers (master, volume server, filer, S3 gateway) 1 each + Weaviate 2 + NATS and the
        # event worker 0.5 each
        "cpu_limits_millicores": span(1000 + 4 * 500 + 2 * 250 + 1000 + 2 * 1000 + 4 * 1000 + 2000 + 2 * 500),
        "memory_requests_bytes": span((256 + 4 * 128 + 64 + 128 + 256 + 2 * 256 + 4 * 256 + 1024 + 128 + 64) * MI),
        "memory_limits_bytes": span((512 + 4 * 256 + 128 + 256 + 1024 + 2 * 1024 + 4 * 1024 + 4096 + 512 + 256) * MI),
        "storage_bytes": (2 * 10 + 1 + 10 + 10 + 5 + 5) * GI,
        "storage_enforced": False,
    }
    # staging: api autoscales 2-10; LiteFS primary + 1 replica in fra; 2 racks of 1 volume server; 2 Weaviate nodes
    assert (staging["where"], staging["objects"]["StatefulSet"], staging["objects"]["Deployment"]) == ("namespace acme-staging", 7, 10)
    # LiteFS 2, SeaweedFS master 1, volume servers 1 + 1, filer 2 and S3 gateway 2 (both at storage.resources), Weaviate 2,
    # one NATS server
    data = 2 + 1 + 1 + 1 + 2 + 2 + 2 + 1
    assert staging["totals"] == {
        # api, auth, the five single services, the functions runtime, the event worker, then the data plane
        "replicas": span(2 + 2 + 5 + 2 + 1 + data, 10 + 2 + 5 + 2 + 1 + data),
        "cpu_requests_millicores": span(
            2 * 250 + 2 * 100 + 3 * 100 + 2 * 50 + 2 * 250 + 2 * 250 + 5 * 250 + 2 * 250 + 2 * 500 + 100 + 50,
            10 * 250 + 2 * 100 + 3 * 100 + 2 * 50 + 2 * 250 + 2 * 250 + 5 * 250 + 2 * 250 + 2 * 500 + 100 + 50,
        ),
        "cpu_limits_millicores": span(21_000, 29_000),
        "memory_requests_bytes": span((6208 + 192) * MI, (8256 + 192) * MI),
        "memory_limits_bytes": span((22144 + 768) * MI, (26240 + 768) * MI),
        "storage_bytes": (2 * 10 + 1 + 2 * 50 + 2 * 10 + 2 * 20 + 5) * GI,
        "storage_enforced": True,
    }
    # prod: every service at 2; LiteFS 2 in fra and 2 in iad; 3 masters; 6 volume servers over 2 regions x 2 racks;
    # 3 NATS servers and 2 event workers
    assert prod["totals"] == {
        "replicas": span(41, 49),
        "cpu_requests_millicores": span(7750 + 400, 7750 + 400 + 8 * 250),
        "cpu_limits_millicores": span(34_500, 34_500 + 8 * 1000),
        "memory_requests_bytes": span((9856 + 512) * MI, (9856 + 512 + 8 * 256) * MI),
        "memory_limits_bytes": span((35584 + 2048) * MI, (35584 + 2048 + 8 * 512) * MI),
        "storage_bytes": (4 * 10 + 3 * 1 + 6 * 100 + 2 * 10 + 3 * 50 + 3 * 5) * GI,
        "storage_enforced": True,
    }
    assert prod["storage"] == [
        {"part": "litefs", "claim": "data", "count": 4, "each_bytes": 10 * GI, "total_bytes": 40 * GI},
        {"part": "seaweedfs/master", "claim": "master", "count": 3, "each_bytes": 1 * GI, "total_bytes": 3 * GI},
        {"part": "seaweedfs/volume", "claim": "data", "count": 6, "each_bytes": 100 * GI, "total_bytes": 600 * GI},
        {"part": "seaweedfs/filer", "claim": "filer", "count": 2, "each_bytes": 10 * GI, "total_bytes": 20 * GI},
        {"part": "weaviate", "claim": "data", "count": 3, "each_bytes": 50 * GI, "total_bytes": 150 * GI},
        {"part": "event-bus", "claim": "data", "count": 3, "each_bytes": 5 * GI, "total_bytes": 15 * GI},
    ]
    assert prod["limits"] == [
        {"name": "max_functions", "used": 4, "limit": 50, "unit": "count"},
        {"name": "max_cron_jobs", "used": 3, "limit": 20, "unit": "count"},
        {"name": "max_webhooks", "used": 2, "limit": 20, "unit": "count"},
        {"name": "max_streams", "used": 2, "limit": 10, "unit": "count"},
        {"name": "max_queues", "used": 1, "limit": 20, "unit": "count"},
        {"name": "storage_quota", "used": 828 * GI, "limit": 2 * 1024 * GI, "unit": "bytes"},
    ]
    assert prod["notes"] == [
        "3 CronJobs run briefly on schedule and are not counted",
        "1 Job runs once per deploy (declaring the event streams) and is not counted",
    ]
    api = next(w for w in prod["workloads"] if w["name"] == "acme-prod-api")
    assert api == {
        "kind": "Deployment",
        "name": "acme-prod-api",
        "replicas": span(2, 10),
        "each": {
            "cpu_requests_millicores": 250,
            "cpu_limits_millicores": 1000,
            "memory_requests_bytes": 256 * MI,
            "memory_limits_bytes": 512 * MI,
        },
    }


def test_plan_storage_agrees_with_the_quota_rule(capsys: Capture, in_repo: None) -> None:
    """Kubernetes counts claims from the translated objects; the manifest's quota rule counts the manifest."""
    from provisioner import manifest
    from provisioner.manifest.rules.limits import claims

    document = json.loads(run(capsys, "plan", "-f", "json")[1])
    doc = manifest.load(REFERENCE)
    for env in document["environments"]:
        declared = sum(count * each for _, count, each in claims(manifest.check(doc, env["environment"]).manifest))
        assert env["totals"]["storage_bytes"] == declared, env["environment"]


def test_plan_tables_for_people(capsys: Capture, in_repo: None) -> None:
    code, out, err = run(capsys, "plan", "--env", "staging")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "staging: kubernetes, namespace acme-staging"
    assert all(line == line.rstrip() for line in lines)
    assert "…" not in out  # no cell cut short
    totals = lines.index("Totals (autoscale min–max)")
    assert lines[totals + 2 : totals + 8] == [
        "                 requests            limits",
        " ──────────────────────────────────────────",
        " replicas           24–32",
        " CPU                  5–7             21–29",
        " memory     6400Mi–8448Mi   22912Mi–27008Mi",
        " storage            186Gi",
    ]
    assert (
        " StatefulSet acme-staging-seaweedfs-volume-fra-rack2          1          250m           1            256Mi            1Gi" in lines
    )
    limits = lines.index("Limits")
    assert lines[limits + 2 :] == [
        " limit                   used    of   use",
        " ────────────────────────────────────────",
        " limits.max_functions       4    50    8%",
        " limits.max_cron_jobs       3    20   15%",
        " limits.max_webhooks        2    20   10%",
        " limits.max_streams         2    10   20%",
        " limits.max_queues          1    20    5%",
        " limits.storage_quota   186Gi   2Ti    9%",
        "",
        "note: 3 CronJobs run briefly on schedule and are not counted",
        "note: 1 Job runs once per deploy (declaring the event streams) and is not counted",
    ]


def test_plan_on_docker_reserves_no_cpu(capsys: Capture, in_repo: None) -> None:
    out = run(capsys, "plan", "-e", "dev")[1]
    lines = out.splitlines()
    assert lines[0] == "dev: docker, the local Docker host"
    assert " CPU             n/a    13500m" in lines
    assert "Storage (declared)" in lines
    assert lines[-2:] == [
        "note: Docker reserves no CPU: requests become relative weights (cpu_shares), so only limits are summed",
        "note: Docker volumes have no size: storage is what the manifest declares, as limits.storage_quota counts it",
    ]


def test_plan_summarises_the_environments_asked_in_their_order(capsys: Capture, in_repo: None) -> None:
    document = json.loads(run(capsys, "plan", "-e", "prod", "-e", "staging", "-f", "json")[1])
    assert [(e["environment"], e["totals"]["storage_bytes"]) for e in document["environments"]] == [
        ("prod", 828 * GI),
        ("staging", 186 * GI),
    ]


def test_plan_without_a_quota_is_unbounded(capsys: Capture, project: Path) -> None:
    edit(project, "  storage_quota: 2Ti\n", "")
    document = json.loads(run(capsys, "plan", "-e", "staging", "-f", "json")[1])
    assert document["environments"][0]["limits"][-1] == {"name": "storage_quota", "used": 186 * GI, "limit": None, "unit": "bytes"}
    out = run(capsys, "plan", "-e", "staging")[1]
    assert " limits.storage_quota   186Gi   unbounded     -" in out.splitlines()


def test_plan_usage_errors(capsys: Capture, in_repo: None) -> None:
    assert run(capsys, "plan", "--env", "prod", "--all-envs") == (
        64,
        "",
        "error: --env and --all-envs cannot be combined\n  hint: pass one of them\n",
    )
    assert run(capsys, "plan", "--env", "qa") == (
        64,
        "",
        "error: environment `qa` is not defined in koyalite.yaml\n  hint: environments: dev, staging, prod\n",
    )
