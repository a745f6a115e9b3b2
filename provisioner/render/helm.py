"""Helm render: the Kubernetes render as a chart whose default `helm template` output is that render, object for object.

Only what teams tune per install is a value: each workload's replicas (where the render sets them; an autoscaled
Deployment is scaled by its HorizontalPodAutoscaler), each container's image and resources, and the ingress host
(with the public URL in the project config that follows it). Everything else is written literally, so the chart
cannot drift from `koyalite render`: change the manifest and export again. Secrets stay without values, as in the
render: the chart's notes list the keys the Secret must hold.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioner.render.dump import dumps
from provisioner.render.files import MARKER
from provisioner.render.kubernetes import file_name

Obj = dict[str, Any]

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
"""SemVer 2.0 (semver.org's regular expression): Helm requires it of a chart's version."""

DEFAULT_VERSION = "0.1.0"
"""The chart version when project.release is not a SemVer version (`latest`, `2024.01`)."""

POD_SPEC: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
"""Where each workload kind keeps its pod spec."""

SCALED = ("Deployment", "StatefulSet")
"""Kinds whose `spec.replicas` becomes a value (when the render sets it)."""

KEYS_ANNOTATION = "koyalite.dev/secret-keys"

_SENTINEL = "koyalite-helm-value-{}-end"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""Keys a template may reach with `.Values.a.b`; others (`litefs-fra`) need `index .Values "a" "b"`."""
_LITERAL_OPEN = '{{ "{{" }}'
"""A literal `{{` in rendered text (function sources, config files): Helm must print it, not parse it."""


@dataclass
class _Values:
    """Collects values and the Helm expression each template uses in their place."""

    values: Obj = field(default_factory=dict)
    slots: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def put(self, path: tuple[str, ...], value: Any, *, block: bool = False, expression: str | None = None) -> str:
        """Store `value` at `path` of values.yaml; return the sentinel that marks its place in a template."""
        node = self.values
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if path[-1] in node and node[path[-1]] != value:
            raise ValueError(f"two values at {'.'.join(path)}")
        node[path[-1]] = copy.deepcopy(value)
        if expression is None:
            plain = all(_IDENTIFIER.match(k) for k in path)
            expression = ".Values." + ".".join(path) if plain else "index .Values " + " ".join(json.dumps(k) for k in path)
            if not block and isinstance(value, str):
                expression += " | quote"
        sentinel = _SENTINEL.format(len(self.slots))
        self.slots[sentinel] = (expression, block)
        return sentinel


def _workload_key(obj: Obj, prefix: str) -> str:
    name = str(obj["metadata"]["name"])
    return name.removeprefix(prefix) if name.startswith(prefix) and len(name) > len(prefix) else name


def _pod_spec(obj: Obj) -> Obj | None:
    node: Any = obj
    for key in POD_SPEC.get(str(obj["kind"]), ()):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and node is not obj else None


def _containers(pod: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers"):
        yield from pod.get(key, [])


def _parametrize(obj: Obj, values: _Values, prefix: str, host: str | None) -> Obj:
    """A copy of `obj` with sentinels where values go; the values are recorded in `values`."""
    out = copy.deepcopy(obj)
    kind = out["kind"]
    pod = _pod_spec(out)
    if pod is not None:
        base = ("workloads", _workload_key(out, prefix))
        if kind in SCALED and "replicas" in out["spec"]:
            out["spec"]["replicas"] = values.put((*base, "replicas"), out["spec"]["replicas"])
        for container in _containers(pod):
            where = (*base, "containers", str(container["name"]))
            if "image" in container:
                container["image"] = values.put((*where, "image"), container["image"])
            if container.get("resources"):
                container["resources"] = values.put((*where, "resources"), container["resources"], block=True)
    if host is None:
        return out
    if kind == "Ingress":
        for rule in out["spec"].get("rules", []):
            if rule.get("host") == host:
                rule["host"] = values.put(("ingress", "host"), host)
        for tls in out["spec"].get("tls", []):
            tls["hosts"] = [values.put(("ingress", "host"), h) if h == host else h for h in tls.get("hosts", [])]
    elif kind == "ConfigMap":
        data = out.get("data", {})
        for key, value in data.items():
            for scheme in ("https", "http"):
                if value == f"{scheme}://{host}":
                    data[key] = values.put(("ingress", "host"), host, expression=f'printf "{scheme}://%s" .Values.ingress.host | quote')
    return out


def _template(obj: Obj, values: _Values) -> str:
    """The object's YAML with Helm expressions in place of its sentinels; any literal `{{` is escaped."""
    text = dumps(obj).replace("{{", _LITERAL_OPEN)
    for sentinel, (expression, block) in values.slots.items():
        if sentinel not in text:
            continue
        if block:
            # `key: SENTINEL` on its own line (possibly the first key of a list item) -> `key: {{- toYaml ... | nindent N }}`
            pattern = re.compile(rf"^( *)(- )?([^\s:][^:\n]*): {re.escape(sentinel)}$", re.MULTILINE)

            def block_value(match: re.Match[str], expression: str = expression) -> str:
                column = len(match[1]) + len(match[2] or "")
                return f"{match[1]}{match[2] or ''}{match[3]}: {{{{- toYaml ({expression}) | nindent {column + 2} }}}}"

            text, count = pattern.subn(block_value, text)
            if count != 1:
                raise ValueError(f"cannot place a block value ({expression}) in {obj['kind']} {obj['metadata']['name']}")
        else:
            text = text.replace(sentinel, f"{{{{ {expression} }}}}")
    return text


def _ingress_host(objects: list[Obj]) -> str | None:
    hosts = {rule.get("host") for obj in objects if obj["kind"] == "Ingress" for rule in obj["spec"].get("rules", [])}
    hosts.discard(None)
    return str(next(iter(hosts))) if len(hosts) == 1 else None


# -- values.schema.json: the exposed values, typed with the manifest schema's own patterns ---------------------------


def _field(schema: Mapping[str, Any], definition: str, prop: str) -> Obj:
    """A manifest field's schema for one value: its non-null form, keeping type, bounds, pattern and description."""
    found = schema["$defs"][definition]["properties"][prop]
    description = found.get("description")
    options = [o for o in found.get("anyOf", [found]) if o.get("type") != "null"]
    (chosen,) = options
    keep = ("type", "pattern", "minimum", "maximum", "maxLength", "minLength")
    out = {k: chosen[k] for k in keep if k in chosen}
    if description:
        out["description"] = description
    return out


def _closed(properties: Mapping[str, Any], required: list[str] | None = None, description: str = "") -> Obj:
    out: Obj = {"type": "object", "additionalProperties": False, "properties": dict(properties)}
    if required:
        out["required"] = sorted(required)
    if description:
        out["description"] = description
    return out


def values_schema(values: Obj, manifest_schema: Mapping[str, Any]) -> Obj:
    """JSON Schema (draft 7) of the chart's values: exactly the keys values.yaml has, typed as in koyalite.yaml."""
    amounts = _closed(
        {"cpu": _field(manifest_schema, "ResourceAmounts", "cpu"), "memory": _field(manifest_schema, "ResourceAmounts", "memory")},
        description=manifest_schema["$defs"]["ResourceAmounts"].get("description", ""),
    )
    resources = _closed({"requests": amounts, "limits": amounts}, description=manifest_schema["$defs"]["Resources"].get("description", ""))
    image = _field(manifest_schema, "ApiService", "image") | {"description": "Image: repository with :tag or @sha256 digest."}
    replicas = _field(manifest_schema, "ApiService", "replicas") | {"description": "Replicas of this workload."}
    workloads: Obj = {}
    for key, workload in values.get("workloads", {}).items():
        containers = {
            name: _closed(
                {k: v for k, v in (("image", image), ("resources", resources)) if k in container},
                required=list(container),
            )
            for name, container in workload["containers"].items()
        }
        props: Obj = {"containers": _closed(containers, required=list(containers))}
        if "replicas" in workload:
            props["replicas"] = replicas
        workloads[key] = _closed(props, required=list(props))
    top: Obj = {
        "workloads": _closed(
            workloads, required=list(workloads), description="Per workload (object name without the project-environment prefix)."
        )
    }
    if "ingress" in values:
        top["ingress"] = _closed({"host": _field(manifest_schema, "Ingress", "host")}, required=["host"])
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": "Values", **_closed(top, required=list(top))}


# -- the chart -------------------------------------------------------------------------------------------------------


def chart_version(release: str) -> str:
    return release if SEMVER.match(release) else DEFAULT_VERSION


def _notes(objects: list[Obj]) -> str:
    lines = ["KoyaLite {{ .Chart.Name }} ({{ .Chart.AppVersion }}) is installed as release {{ .Release.Name }}.", ""]
    for obj in objects:
        if obj["kind"] == "Secret" and not obj.get("data") and not obj.get("stringData"):
            keys = obj["metadata"].get("annotations", {}).get(KEYS_ANNOTATION, "")
            lines.append(f"Secret {obj['metadata']['namespace']}/{obj['metadata']['name']} is created without values; it must hold: {keys}")
            lines.append("Fill it with External Secrets or Sealed Secrets (or `kubectl create secret ... --dry-run=client -o yaml`).")
    return "\n".join(lines) + "\n"


def files(objects: list[Obj], *, project: str, environment: str, release: str, manifest_schema: Mapping[str, Any]) -> dict[str, str]:
    """The chart's files (relative name -> text) for one environment's translated Kubernetes objects."""
    prefix = f"{project}-{environment}-"
    host = _ingress_host(objects)
    values = _Values()
    templates: dict[str, str] = {}
    for obj in objects:
        name = f"templates/{file_name(obj)}"
        if name in templates:
            raise ValueError(f"two objects render to {name}")
        templates[name] = _template(_parametrize(obj, values, prefix, host), values)
    chart = {
        "apiVersion": "v2",
        "name": project,
        "description": f"KoyaLite project {project}, environment {environment}: `koyalite render --env {environment}` as a chart.",
        "type": "application",
        "version": chart_version(release),
        "appVersion": release,
        "annotations": {"koyalite.dev/environment": environment},
    }
    head = (
        f"# Values of the KoyaLite chart for {project}/{environment}. The defaults reproduce `koyalite render --env {environment}`.\n"
        "# Only replicas, images, resources and the ingress host are values; everything else comes from koyalite.yaml.\n"
    )
    out = {
        "Chart.yaml": dumps(chart),
        "values.yaml": head + dumps(values.values),
        "values.schema.json": json.dumps(values_schema(values.values, manifest_schema), indent=2, sort_keys=True) + "\n",
        ".helmignore": f"{MARKER}\n",
        "templates/NOTES.txt": _notes(objects),
        **templates,
    }
    return dict(sorted(out.items()))
