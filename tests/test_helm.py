"""The Helm chart export: structure, values schema, and — with a helm built from source — `helm template`/`helm lint`.

Equality is object for object after parsing both YAML streams, keyed by kind/namespace/name. helm is built once per
machine by scripts/helm.py through the Go module proxy (minutes, cold); without Go the helm tests skip, in CI they fail.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from provisioner import manifest, plan
from provisioner.cli import main
from provisioner.manifest.schema import json_schema
from provisioner.render import helm
from provisioner.render.files import MARKER
from provisioner.render.kubernetes import file_name
from provisioner.targets import kubernetes

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "koyalite.yaml"
ENVIRONMENTS = ["staging", "prod"]

Key = tuple[str, str, str]


def objects_of(env: str) -> list[dict[str, Any]]:
    return kubernetes.objects(plan.build(manifest.check(manifest.load(REFERENCE), env), REPO))


def keyed(documents: list[Any]) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {}
    for doc in documents:
        if doc:
            key = (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
            assert key not in out, f"{key} twice"
            out[key] = doc
    return out


def render_stream(env: str, capsys: pytest.CaptureFixture[str]) -> dict[Key, dict[str, Any]]:
    assert main(["render", "--env", env, str(REFERENCE)]) == 0
    return keyed(list(yaml.safe_load_all(capsys.readouterr().out)))


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for env in ENVIRONMENTS:
        folder = tmp_path_factory.mktemp("charts") / env
        assert main(["render", "--env", env, "--format", "helm", "-o", str(folder), str(REFERENCE)]) == 0
        out[env] = folder
    return out


def load(folder: Path, name: str) -> Any:
    text = (folder / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


# -- a tiny evaluator for exactly the expressions the chart writer emits: the chart's defaults without helm ----------

_ACTION = re.compile(r"\{\{(-?) (.*?) \}\}")


def _lookup(values: dict[str, Any], expression: str) -> Any:
    expression = expression.strip()
    if expression.startswith("(") and expression.endswith(")"):
        expression = expression[1:-1]
    if expression.startswith(".Values."):
        path = expression.removeprefix(".Values.").split(".")
    else:
        assert expression.startswith("index .Values "), expression
        path = json.loads("[" + ", ".join(expression.removeprefix("index .Values ").split(" ")) + "]")
    node: Any = values
    for key in path:
        node = node[key]
    return node


def evaluate(template: str, values: dict[str, Any]) -> str:
    def action(match: re.Match[str]) -> str:
        trim, body = match[1], match[2]
        if body == '"{{"':
            return "{{"
        if m := re.fullmatch(r"toYaml (.*) \| nindent (\d+)", body):
            block = yaml.safe_dump(_lookup(values, m[1]), default_flow_style=False).rstrip("\n")
            return "\n" + "\n".join(" " * int(m[2]) + line for line in block.splitlines())
        if m := re.fullmatch(r'printf "([a-z]+)://%s" (.*) \| quote', body):
            return json.dumps(f"{m[1]}://{_lookup(values, m[2])}")
        if body.endswith(" | quote"):
            return json.dumps(str(_lookup(values, body.removesuffix(" | quote"))))
        assert not trim
        return str(_lookup(values, body))

    out = _ACTION.sub(action, template)
    return re.sub(r" +\n", "\n", out)  # `{{-` trimmed the space before it


def evaluate_chart(folder: Path, values: dict[str, Any] | None = None) -> dict[Key, dict[str, Any]]:
    values = values if values is not None else load(folder, "values.yaml")
    docs = [yaml.safe_load(evaluate(p.read_text(encoding="utf-8"), values)) for p in sorted((folder / "templates").glob("*.yaml"))]
    return keyed(docs)


# -- structure (no helm needed) -------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_chart_yaml_names_the_project_and_its_release(env: str, charts: dict[str, Path]) -> None:
    chart = load(charts[env], "Chart.yaml")
    assert {k: chart[k] for k in ("apiVersion", "name", "version", "appVersion", "type")} == {
        "apiVersion": "v2",
        "name": "acme",
        "version": "1.4.0",
        "appVersion": "1.4.0",
        "type": "application",
    }
    assert chart["annotations"] == {"koyalite.dev/environment": env}


def test_a_release_that_is_not_semver_gives_version_0_1_0() -> None:
    assert [helm.chart_version(r) for r in ("1.4.0", "2.0.0-rc.1", "latest", "1.4", "2024.01")] == [
        "1.4.0",
        "2.0.0-rc.1",
        "0.1.0",
        "0.1.0",
        "0.1.0",
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_template_per_object_and_nothing_else(env: str, charts: dict[str, Path]) -> None:
    folder = charts[env]
    names = sorted(p.name for p in (folder / "templates").iterdir())
    assert names == sorted(["NOTES.txt", *(file_name(o) for o in objects_of(env))])
    top = sorted(p.name for p in folder.iterdir())
    assert top == sorted([".helmignore", MARKER, "Chart.yaml", "templates", "values.schema.json", "values.yaml"])
    assert (folder / ".helmignore").read_text(encoding="utf-8") == f"{MARKER}\n"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_default_values_reproduce_the_render(env: str, charts: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate_chart(charts[env]) == render_stream(env, capsys)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_replicas_images_resources_and_host_are_values(env: str, charts: dict[str, Path]) -> None:
    folder = charts[env]
    actions = sorted(
        {
            (trim, re.sub(r'"[^"]*"|\.Values(?:\.[\w.]+)?', "X", action))
            for p in (folder / "templates").glob("*.yaml")
            for trim, action in _ACTION.findall(p.read_text())
        }
    )
    assert actions == [
        ("", "X"),
        ("", "X | quote"),
        ("", "index X X X X"),
        ("", "index X X X X X X | quote"),
        ("", "printf X X | quote"),
        ("-", "toYaml (X) | nindent 10"),
        ("-", "toYaml (index X X X X X X) | nindent 10"),
        ("-", "toYaml (index X X X X X X) | nindent 14"),
    ]
    values = load(folder, "values.yaml")
    assert sorted(values) == ["ingress", "workloads"]
    leaves = {key for workload in values["workloads"].values() for key in workload}
    assert leaves == {"replicas", "containers"}
    assert {k for w in values["workloads"].values() for c in w["containers"].values() for k in c} == {"image", "resources"}
    assert "replicas" not in values["workloads"]["api"], "the autoscaled api is scaled by its HPA"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_secrets_stay_without_values(env: str, charts: dict[str, Path]) -> None:
    secret = yaml.safe_load((charts[env] / "templates" / f"20-secret-acme-{env}-secrets.yaml").read_text())
    assert "data" not in secret and "stringData" not in secret
    notes = (charts[env] / "templates" / "NOTES.txt").read_text()
    assert f"Secret acme-{env}/acme-{env}-secrets is created without values; it must hold: events_source_token,jwt_secret," in notes


# -- values.schema.json --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_values_schema_validates_the_defaults(env: str, charts: dict[str, Path]) -> None:
    schema = load(charts[env], "values.schema.json")
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(load(charts[env], "values.yaml"))


def _errors(schema: dict[str, Any], values: dict[str, Any]) -> list[str]:
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.validator}" for e in jsonschema.Draft7Validator(schema).iter_errors(values))


def test_values_schema_types_come_from_the_manifest_schema(charts: dict[str, Path]) -> None:
    schema = load(charts["prod"], "values.schema.json")
    defaults = load(charts["prod"], "values.yaml")
    bad = copy.deepcopy(defaults)
    auth = bad["workloads"]["auth"]
    auth["replicas"] = -1
    auth["containers"]["auth"]["image"] = "koyalite/auth 1.4"
    auth["containers"]["auth"]["resources"]["limits"]["memory"] = "512MB"
    auth["containers"]["auth"]["resources"]["requests"]["cpu"] = "0.5cores"
    auth["containers"]["auth"]["resources"]["requests"]["gpu"] = "1"
    bad["ingress"]["host"] = "Bad_Host"
    bad["workloads"]["unknown"] = {}
    assert _errors(schema, bad) == [
        "ingress.host: pattern",
        "workloads.auth.containers.auth.image: pattern",
        "workloads.auth.containers.auth.resources.limits.memory: pattern",
        "workloads.auth.containers.auth.resources.requests.cpu: pattern",
        "workloads.auth.containers.auth.resources.requests: additionalProperties",
        "workloads.auth.replicas: minimum",
        "workloads: additionalProperties",
    ]
    manifest_defs = json_schema()["$defs"]
    cpu = next(o for o in manifest_defs["ResourceAmounts"]["properties"]["cpu"]["anyOf"] if o.get("type") == "string")
    limits = schema["properties"]["workloads"]["properties"]["auth"]["properties"]["containers"]["properties"]["auth"]["properties"]
    assert limits["resources"]["properties"]["limits"]["properties"]["cpu"]["pattern"] == cpu["pattern"]


# -- the CLI -------------------------------------------------------------------------------------------------------


def test_a_chart_needs_a_folder_and_a_kubernetes_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--env", "prod", "--format", "helm", str(REFERENCE)]) == 64
    assert "hint: pass -o DIR" in capsys.readouterr().err
    assert main(["render", "--env", "dev", "--format", "helm", "-o", str(tmp_path / "c"), str(REFERENCE)]) == 64
    assert "environment dev targets docker; render it with --format yaml" in capsys.readouterr().err
    assert main(["render", "--env", "prod", "--format", "kustomize", str(REFERENCE)]) == 64


def test_the_chart_is_deterministic(tmp_path: Path, charts: dict[str, Path]) -> None:
    again = tmp_path / "again"
    assert main(["render", "--env", "prod", "--format", "helm", "-o", str(again), str(REFERENCE)]) == 0
    first = {p.relative_to(charts["prod"]): p.read_bytes() for p in charts["prod"].rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second


def _with_braces() -> list[dict[str, Any]]:
    """A config file holding Go-template braces, as function sources and config files may."""
    objs = objects_of("staging")
    for obj in objs:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].endswith("-fn-hello"):
            key = next(iter(obj["data"]))
            obj["data"][key] += 'const t = "{{ .Values.oops }} and {{- x }}";\n'
    return objs


def test_literal_braces_are_escaped() -> None:
    files = helm.files(_with_braces(), project="acme", environment="staging", release="1.4.0", manifest_schema=json_schema())
    text = files["templates/20-configmap-acme-staging-fn-hello.yaml"]
    assert '{{ "{{" }} .Values.oops }} and {{ "{{" }}- x }}' in text
    values = yaml.safe_load(files["values.yaml"])
    rendered = yaml.safe_load(evaluate(text, values))
    assert 'const t = "{{ .Values.oops }} and {{- x }}";' in next(iter(rendered["data"].values()))


# -- with a real helm ----------------------------------------------------------------------------------------------


def run_helm(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HELM_CACHE_HOME": "/nonexistent/cache",
        "HELM_CONFIG_HOME": "/nonexistent/config",
        "HELM_DATA_HOME": "/nonexistent/data",
    }
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helm_lint_passes_strict(env: str, charts: dict[str, Path], helm_bin: Path) -> None:
    result = run_helm(helm_bin, "lint", "--strict", str(charts[env]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helm_template_equals_the_render(env: str, charts: dict[str, Path], helm_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_helm(helm_bin, "template", "koyalite", str(charts[env]))
    assert result.returncode == 0, result.stderr
    assert keyed(list(yaml.safe_load_all(result.stdout))) == render_stream(env, capsys)


def test_helm_overrides_change_exactly_their_fields(charts: dict[str, Path], helm_bin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_helm(
        helm_bin,
        "template",
        "koyalite",
        str(charts["prod"]),
        "--set",
        "workloads.auth.replicas=5",
        "--set",
        "workloads.litefs-iad.replicas=3",
        "--set",
        "workloads.api.containers.api.image=registry.example.com/acme/api:1.4.1",
        "--set",
        "workloads.api.containers.api.resources.limits.memory=1Gi",
        "--set",
        "ingress.host=koyalite.example.org",
    )
    assert result.returncode == 0, result.stderr
    got = keyed(list(yaml.safe_load_all(result.stdout)))
    want = render_stream("prod", capsys)
    ns = "acme-prod"
    want[("Deployment", ns, "acme-prod-auth")]["spec"]["replicas"] = 5
    want[("StatefulSet", ns, "acme-prod-litefs-iad")]["spec"]["replicas"] = 3
    api = want[("Deployment", ns, "acme-prod-api")]["spec"]["template"]["spec"]["containers"][0]
    api["image"] = "registry.example.com/acme/api:1.4.1"
    api["resources"]["limits"]["memory"] = "1Gi"
    ingress = want[("Ingress", ns, "acme-prod")]["spec"]
    ingress["rules"][0]["host"] = "koyalite.example.org"
    ingress["tls"][0]["hosts"] = ["koyalite.example.org"]
    want[("ConfigMap", ns, "acme-prod-config")]["data"]["KOYALITE_PUBLIC_URL"] = "https://koyalite.example.org"
    assert got == want


def test_helm_refuses_values_the_schema_forbids(charts: dict[str, Path], helm_bin: Path) -> None:
    result = run_helm(helm_bin, "template", "koyalite", str(charts["prod"]), "--set", "workloads.auth.replicas=-1")
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert "replicas" in result.stderr


def test_helm_prints_literal_braces(tmp_path: Path, helm_bin: Path) -> None:
    from provisioner.render.files import write_tree

    objs = _with_braces()
    write_tree(tmp_path / "chart", helm.files(objs, project="acme", environment="staging", release="1.4.0", manifest_schema=json_schema()))
    result = run_helm(helm_bin, "template", "koyalite", str(tmp_path / "chart"))
    assert result.returncode == 0, result.stderr
    assert keyed(list(yaml.safe_load_all(result.stdout))) == keyed(objs)
