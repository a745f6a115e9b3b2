"""The stack's settings (Pulumi config, namespace `koyalite`) and the plan they point at."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.errors import ComponentError
from provisioner import hooks, manifest
from provisioner import plan as planner
from provisioner.errors import KoyaliteError, ManifestError, UsageError
from provisioner.plan.model import Plan

NAMESPACE = "koyalite"
"""Config namespace of every KoyaLite key: settings below and the environment's secrets (`koyalite:jwt_secret`)."""

MANIFEST = "manifest"
"""Path of koyalite.yaml, relative to the stack directory (where Pulumi.yaml is)."""
ENVIRONMENT = "environment"
"""The manifest environment to deploy; defaults to the stack name (a render-only stack `prod-gitops` sets `prod`)."""
KUBE_CONTEXT = "kubeContext"
"""The kubeconfig context to deploy to; overrides `environments.<env>.kubernetes.context` of the manifest."""
KUBECONFIG = "kubeconfig"
"""A kubeconfig path or its contents (set it with --secret); defaults to $KUBECONFIG, then ~/.kube/config."""
RENDER_DIRECTORY = "renderYamlToDirectory"
"""Render manifests into this directory instead of applying them to a cluster (GitOps); Secret values are left out."""

SETTINGS = (MANIFEST, ENVIRONMENT, KUBE_CONTEXT, KUBECONFIG, RENDER_DIRECTORY)
"""Every non-secret key; a secret of the same name would be shadowed, so the program refuses one."""

DEFAULT_MANIFEST = "../koyalite.yaml"
MANIFEST_ENV = "KOYALITE_MANIFEST"
"""Set by `koyalite up|preview|destroy`: the manifest it checked, overriding `koyalite:manifest`."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the stack's config says besides secrets: which manifest and environment, and how to reach the cluster."""

    stack: str
    environment: str
    manifest: Path
    kube_context: str | None = None
    kubeconfig: pulumi.Output[str] | None = None
    render_directory: str | None = None

    @classmethod
    def from_config(cls, stack_dir: Path, config: pulumi.Config | None = None) -> Settings:
        """Read the `koyalite:*` settings of the current stack; relative paths resolve against `stack_dir`."""
        config = config or pulumi.Config(NAMESPACE)
        stack = pulumi.get_stack()
        return cls(
            stack=stack,
            environment=config.get(ENVIRONMENT) or stack,
            # `koyalite up` names the manifest it validated; `pulumi up` by hand reads the stack config
            manifest=Path(os.environ[MANIFEST_ENV])
            if os.environ.get(MANIFEST_ENV)
            else (stack_dir / config.get(MANIFEST, DEFAULT_MANIFEST)).resolve(),
            kube_context=config.get(KUBE_CONTEXT),
            # Read as a secret: a kubeconfig's contents hold cluster credentials.
            kubeconfig=config.get_secret(KUBECONFIG),
            render_directory=_resolve(stack_dir, config.get(RENDER_DIRECTORY)),
        )


def _resolve(base: Path, path: str | None) -> str | None:
    return str(base / path) if path else None


def load_plan(settings: Settings) -> Plan:
    """Load, check and plan the manifest for the stack's environment; warnings go to the Pulumi log.

    Every manifest problem is reported at once, as `koyalite validate` would. Installed hook plugins check the
    manifest and transform the plan here too, so `pulumi up` by hand deploys what `koyalite up` would.
    """
    if not settings.manifest.is_file():
        raise ComponentError(
            f"stack `{settings.stack}`: no manifest at {settings.manifest}",
            f"point the stack at it with `pulumi config set {NAMESPACE}:{MANIFEST} PATH -s {settings.stack}` (relative to Pulumi.yaml)",
        )
    try:
        # the hook plugins' checks and transforms, as `koyalite render` and `koyalite up` apply them
        checked = hooks.validated(manifest.check(manifest.load(settings.manifest), settings.environment))
        built = hooks.transform_plan(planner.build(checked, settings.manifest.parent))
    except hooks.HookError as exc:
        raise ComponentError(exc.message, exc.hint) from None
    except ManifestError as exc:
        problems = "\n".join(str(d) for d in exc.diagnostics)
        raise ComponentError(
            f"{settings.manifest} is not valid for environment `{settings.environment}`:\n{problems}",
            f"run `koyalite validate {settings.manifest} --env {settings.environment}` while you fix it",
        ) from None
    except UsageError as exc:
        raise ComponentError(
            exc.message,
            f"{exc.hint}; stack `{settings.stack}` deploys the environment named like it unless `{NAMESPACE}:{ENVIRONMENT}` says otherwise",
        ) from None
    except KoyaliteError as exc:
        raise ComponentError(exc.message) from None
    for warning in checked.warnings:
        pulumi.log.warn(str(warning))
    return built
