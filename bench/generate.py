"""Generate the benchmarks' inputs: manifests scaled along the axes users scale (functions, cron jobs, webhooks,
regions, volume servers), and the peers' equivalents (a Helm chart and a kustomize folder of N Deployments)."""

from __future__ import annotations

from pathlib import Path

import yaml

FUNCTION = "export default { fetch(_r: Request): Response { return Response.json({ ok: true }); } };\n"


def manifest(functions: int = 10, cron: int = 0, webhooks: int = 0, regions: int = 1, volume_servers: int = 1) -> dict[str, object]:
    """A valid manifest with the given sizes, a kubernetes environment `prod` and a docker environment `dev`."""
    region_names = [f"r{i}" for i in range(regions)]
    return {
        "apiVersion": "koyalite.dev/v1",
        "project": {"name": "bench", "domain": "bench.example.com", "regions": region_names, "release": "1.4.0"},
        "limits": {"max_functions": max(functions, 1), "max_cron_jobs": max(cron, 1), "max_webhooks": max(webhooks, 1)},
        "database": {"replicas": dict.fromkeys(region_names[1:], 1)},
        "storage": {"volume_servers": volume_servers, "replication": "000", "volume": "10Gi"},
        "functions": {
            "items": [{"name": f"fn-{i}", "entrypoint": f"functions/fn-{i}/index.ts", "routes": [f"/fn-{i}"]} for i in range(functions)]
        },
        "cron": [{"name": f"job-{i}", "schedule": f"{i % 60} * * * *", "function": f"fn-{i % max(functions, 1)}"} for i in range(cron)],
        "webhooks": [
            {"name": f"hook-{i}", "events": ["auth.user.created"], "url": f"https://hooks.example.com/{i}", "secret": "webhook_key"}
            for i in range(webhooks)
        ],
        "environments": {
            "prod": {"target": "kubernetes", "kubernetes": {"ingress": {"class": "nginx"}}},
            "dev": {"target": "docker"},
        },
    }


def write(directory: Path, **sizes: int) -> Path:
    """Write the manifest and its function sources into `directory`; returns the manifest path."""
    data = manifest(**sizes)
    directory.mkdir(parents=True, exist_ok=True)
    for fn in data["functions"]["items"]:  # type: ignore[index]
        path = directory / fn["entrypoint"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FUNCTION, encoding="utf-8")
    target = directory / "koyalite.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


# -- the peers' inputs: N Deployments, written the way each tool's users write them ----------------------------------


def deployment(name: str, namespace: str | None = None) -> dict[str, object]:
    """One Deployment shaped like a koyalite workload: labels, probes, resources, a restricted security context."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "bench"}
    metadata: dict[str, object] = {"name": name, "labels": labels}
    if namespace:
        metadata["namespace"] = namespace
    probe = {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.example.com/{name}:1.4.0",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "env": [{"name": "LOG_LEVEL", "value": "info"}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                            "readinessProbe": probe,
                            "livenessProbe": probe,
                            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
                        }
                    ],
                },
            },
        },
    }


_TEMPLATE = """{{- range $name := .Values.deployments }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    app.kubernetes.io/name: {{ $name }}
    app.kubernetes.io/part-of: {{ $.Chart.Name }}
spec:
  replicas: {{ $.Values.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ $name }}
      app.kubernetes.io/part-of: {{ $.Chart.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ $name }}
        app.kubernetes.io/part-of: {{ $.Chart.Name }}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: app
          image: "{{ $.Values.registry }}/{{ $name }}:{{ $.Chart.AppVersion }}"
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: {{ $.Values.logLevel | quote }}
          resources:
            {{- toYaml $.Values.resources | nindent 12 }}
          readinessProbe:
            {{- toYaml $.Values.probe | nindent 12 }}
          livenessProbe:
            {{- toYaml $.Values.probe | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
{{- end }}
"""


def helm_chart(directory: Path, deployments: int) -> Path:
    """A chart whose one template ranges over `deployments` names, the way charts stamp out workloads."""
    (directory / "templates").mkdir(parents=True, exist_ok=True)
    chart = {"apiVersion": "v2", "name": "bench", "version": "0.1.0", "appVersion": "1.4.0"}
    values = {
        "deployments": [f"fn-{i}" for i in range(deployments)],
        "replicas": 2,
        "registry": "registry.example.com",
        "logLevel": "info",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "probe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
    }
    (directory / "Chart.yaml").write_text(yaml.safe_dump(chart, sort_keys=False), encoding="utf-8")
    (directory / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    (directory / "templates" / "deployments.yaml").write_text(_TEMPLATE, encoding="utf-8")
    return directory


def kustomize_folder(directory: Path, deployments: int) -> Path:
    """A kustomization of `deployments` files with a namespace and common labels, the usual overlay transforms."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"fn-{i}" for i in range(deployments)]
    for name in names:
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(deployment(name), sort_keys=False), encoding="utf-8")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "bench-prod",
        "labels": [{"pairs": {"app.kubernetes.io/instance": "bench-prod"}, "includeSelectors": False}],
        "resources": [f"{name}.yaml" for name in names],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False), encoding="utf-8")
    return directory


def kustomization_of(directory: Path) -> Path:
    """Make a `koyalite render -o DIR` folder a kustomization of exactly its files (the same objects, for kustomize)."""
    files = sorted(p.name for p in directory.glob("*.yaml") if p.name != "kustomization.yaml")
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": files}
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False), encoding="utf-8")
    return directory
