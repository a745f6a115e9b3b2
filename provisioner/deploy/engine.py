"""The one adapter to the Pulumi engine (Automation API): every call, and every Pulumi error mapped to ours."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import yaml
from pulumi.automation import events

from provisioner.deploy.guard import STATEFUL_TYPES, Step, Violation, violations
from provisioner.deploy.settings import STACKS_DIR, DeploySettings, toolchain_bin
from provisioner.errors import KoyaliteError

SECRET_NAMESPACE = "koyalite"
PARALLEL = 64
"""Resource operations at once. The CLI's default is 4 per core (8 here), which queues a Kubernetes deploy's awaits
(each waits on the API server, not on a core): bench/REPORT-deploy.md measures the difference."""


class DeployError(KoyaliteError):
    """The engine failed; the message says what and the hint how to go on."""

    exit_code = 4

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class RefusedError(KoyaliteError):
    """The data-loss guard or the protect policy refused the run before the engine changed anything."""

    exit_code = 3

    def __init__(self, message: str, hint: str, violations: Sequence[Violation] = ()) -> None:
        super().__init__(message)
        self.hint = hint
        self.violations = list(violations)


class PlanDriftError(RefusedError):
    """`up` stopped at a resource whose live update differs from the plan the guard approved."""

    def __init__(self, environment: str, urn: str, why: str) -> None:
        super().__init__(
            f"environment {environment} changed after the data-loss guard approved its update: {urn} would now "
            f"differ from the approved plan ({why.strip()}); the engine stopped before changing it",
            f"run `koyalite up --env {environment}` again: it guards and applies a fresh plan "
            "(what was applied before the stop was in the approved plan)",
        )
        self.urn = urn


def _changed_keys(meta: events.StepEventMetadata) -> tuple[str, ...]:
    """The top-level inputs an update changes: the provider's own diff, else the old and new inputs compared (a dynamic
    provider reports none: the edge apps' `function:<name>` keys tell which functions change)."""
    found = {key.split(".", 1)[0].split("[", 1)[0] for key in meta.diffs or ()}
    if not found and meta.old is not None and meta.new is not None:
        old, new = meta.old.inputs or {}, meta.new.inputs or {}
        found = {k for k in {*old, *new} if old.get(k) != new.get(k) and not k.startswith("__")}
    return tuple(sorted(found))


_PLAN_VIOLATION = re.compile(r"resource (?P<urn>urn:pulumi:\S+) violates plan: (?P<why>[^\n]*)")
"""The engine's refusal of a step outside the update plan (pkg/resource/deploy/step_generator.go)."""


@dataclass
class Progress:
    """What the CLI shows while the engine runs: a callback per step and per engine message."""

    on_step: Callable[[str, str, str, tuple[str, ...]], None] = lambda op, type_, name, keys: None
    """(operation, type, name, the top-level inputs an update changes)."""
    on_failed: Callable[[str], None] = lambda name: None
    on_message: Callable[[str, str], None] = lambda severity, text: None
    steps: list[Step] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    """The engine's error diagnostics as (URN, message); the URN is "" for the stack's own."""

    def __call__(self, event: events.EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            op = getattr(meta.op, "value", str(meta.op))
            self.steps.append(Step(op, meta.urn, meta.type, tuple(meta.keys or ()), tuple(meta.diffs or ())))
            if op != "same":
                self.on_step(op, meta.type, meta.urn.rsplit("::", 1)[-1], _changed_keys(meta) if op == "update" else ())
        elif event.res_op_failed_event is not None:
            self.on_failed(event.res_op_failed_event.metadata.urn.rsplit("::", 1)[-1])
        elif event.diagnostic_event is not None and event.diagnostic_event.severity in ("error", "warning"):
            diagnostic = event.diagnostic_event
            if diagnostic.severity == "error":
                self.errors.append((diagnostic.urn or "", diagnostic.message.strip()))
            self.on_message(diagnostic.severity, diagnostic.message.strip())

    def plan_violation(self, failure: str) -> tuple[str, str] | None:
        """(URN, reason) of the step the engine refused because the update plan does not allow it, if it did.

        The engine says so in two ways (pkg/resource/deploy/step_generator.go): `<op> is not allowed by the plan:
        <why>` on the resource, or `resource <urn> violates plan: <why>` in the failure's text."""
        for urn, message in self.errors:
            if "is not allowed by the plan" in message:
                return urn, message
        found = _PLAN_VIOLATION.search(failure)
        return (found.group("urn"), found.group("why")) if found else None


@dataclass(frozen=True, slots=True)
class Summary:
    """Resource changes by operation (create, update, replace, delete, same); an update's stack outputs."""

    changes: dict[str, int]
    outputs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        shown = {k: v for k, v in sorted(self.changes.items()) if k != "same" and v}
        same = self.changes.get("same", 0)
        parts = [f"{v} to {k}" if k in ("create", "update", "replace", "delete") else f"{v} {k}" for k, v in shown.items()]
        return (", ".join(parts) or "no changes") + (f"; {same} unchanged" if same else "")


_ERRORS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"incorrect passphrase|failed to decrypt|passphrase must be set", re.I),
        "the secrets passphrase is wrong or missing",
        "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE to the passphrase this stack was created with",
    ),
    (
        re.compile(r"no resource plugin '?(pulumi-resource-)?(\w+)|could not find .*plugin|plugin .* not found", re.I),
        "a Pulumi provider plugin is missing",
        "run `make toolchain` to build and install the pinned plugins (no download is attempted)",
    ),
    (
        re.compile(r"executable file not found|pulumi: not found|Failed to find the pulumi CLI", re.I),
        "the Pulumi CLI is not installed",
        "run `make toolchain`",
    ),
)


@contextlib.contextmanager
def mapped(settings: DeploySettings) -> Iterator[None]:
    """Turn Pulumi's exceptions into ours, each with a hint; never a traceback."""
    env = settings.environment
    try:
        yield
    except auto.ConcurrentUpdateError as exc:
        raise DeployError(
            f"environment {env} is locked by another update",
            f"wait for it; if none runs (a killed `up` leaves its lock behind), run `koyalite unlock --env {env}`",
        ) from exc
    except auto.StackNotFoundError as exc:
        raise DeployError(f"environment {env} has never been deployed to {settings.backend}", f"run `koyalite up --env {env}`") from exc
    except auto.CommandError as exc:
        text = str(exc)
        for pattern, message, hint in _ERRORS:
            if pattern.search(text):
                raise DeployError(f"{message} (environment {env})", hint) from exc
        raise DeployError(
            f"the Pulumi engine failed for environment {env}: {_last_error(text)}",
            "the lines above show the failing resource; fix it and run again",
        ) from exc
    except FileNotFoundError as exc:
        raise DeployError("the Pulumi CLI is not installed", "run `make toolchain`") from exc


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if "error" in ln.lower()]
    return lines[-1] if lines else text.strip().splitlines()[-1] if text.strip() else "unknown error"


class Engine:
    """One environment's stack in the stacks/ project."""

    def __init__(self, settings: DeploySettings, stacks_dir: Path = STACKS_DIR) -> None:
        self.settings = settings
        self.stacks_dir = stacks_dir
        self._cli: auto.PulumiCommand | None = None
        self._stack: auto.Stack | None = None

    def _workspace_options(self) -> auto.LocalWorkspaceOptions:
        return auto.LocalWorkspaceOptions(
            work_dir=str(self.stacks_dir), env_vars=self.settings.env, secrets_provider="passphrase", pulumi_command=self._command()
        )

    def _command(self) -> auto.PulumiCommand | None:
        """The toolchain's CLI when `make toolchain` built one (the Automation API looks only at $PATH otherwise)."""
        if self._cli is None and (toolchain_bin() / "pulumi").exists():
            with mapped(self.settings):
                self._cli = auto.PulumiCommand(root=str(toolchain_bin().parent))
        return self._cli

    def stack(self, create: bool = True) -> auto.Stack:
        """The environment's stack, selected once per Engine (each selection is a CLI run)."""
        if self._stack is None:
            with mapped(self.settings):
                name, work_dir, opts = self.settings.environment, str(self.stacks_dir), self._workspace_options()
                select = auto.create_or_select_stack if create else auto.select_stack
                self._stack = select(name, work_dir=work_dir, opts=opts)
        return self._stack

    def preview(self, progress: Progress, *, diff: bool = False, expect_no_changes: bool = False, save_plan: Path | None = None) -> Summary:
        stack = self.stack()
        with mapped(self.settings):
            result = stack.preview(
                parallel=PARALLEL,
                on_event=progress,
                diff=diff,
                expect_no_changes=expect_no_changes or None,
                plan=str(save_plan) if save_plan else None,
                color="never",
            )
        return Summary(_changes(result.change_summary or {}))

    def guarded_steps(self, progress: Progress, allowed: Sequence[str], save_plan: Path | None = None) -> list[Violation]:
        """Preview (saving its update plan to `save_plan`) and return what the data-loss guard refuses."""
        return violations(self._previewed_steps(progress, allowed, save_plan), allowed)

    def _previewed_steps(self, progress: Progress, allowed: Sequence[str], save_plan: Path | None) -> list[Step]:
        """A preview's steps: with `save_plan`, read from the saved plan, the one `up` is then held to (the preview's
        own events only add the names of the fields that force each replacement).

        On a real cluster the preview of a replacement under a fixed name can itself fail: the provider dry-runs the
        replacement's create, which the API server takes as an update of the existing object and refuses (a
        StatefulSet's claim templates are immutable). The steps announced before the failure still say what would
        have been replaced; if the guard refuses one of them, that refusal is the answer, not the engine's error.
        """
        try:
            self.preview(progress, save_plan=save_plan)
        except DeployError:
            if violations(progress.steps, allowed):
                return progress.steps
            raise
        return plan_steps(save_plan, progress.steps) if save_plan else progress.steps

    def up(self, progress: Progress, *, allow_replace: Sequence[str] = (), plan: Path | None = None, diff: bool = False) -> Summary:
        """Guard one update plan and apply exactly that plan.

        Without `plan`, the guard's preview saves one (in a private temporary folder, secrets encrypted as in the
        state); with `plan` (from `preview --save-plan`), the guard reads that file and runs no preview. Either way
        the engine is held to the plan: a resource whose live update would differ from it (the daemon, the cluster
        or the state changed since) stops the update before that resource is touched (PlanDriftError). A plan this
        run made whose every step is `same` is not applied at all: there is nothing to do.
        """
        if plan is None and self.holds_no_data():
            # nothing the guard protects is deployed (a first deploy, or after a destroy that dropped the claims):
            # no step can delete or replace data, so the guard's preview would only cost its time
            return self._apply(progress, None, diff)
        with tempfile.TemporaryDirectory(prefix="koyalite-plan-") as private:
            fresh = plan is None
            if plan is None:
                plan = Path(private) / "plan.json"
                steps = self._previewed_steps(Progress(), allow_replace, plan)
            else:
                steps = plan_steps(plan)
            found = violations(steps, allow_replace)
            if found:
                raise RefusedError(
                    f"the update would delete or replace {len(found)} stateful resource(s) of environment {self.settings.environment}",
                    "data is never lost by an ordinary change: revert the change, or if the data may go, rerun with "
                    + " ".join(f"--allow-replace {v.step.urn}" for v in found),
                    found,
                )
            if fresh and steps and all(step.op == "same" for step in steps):
                # the plan this run just approved changes nothing: an update held to it could only do nothing, so none
                # runs (a plan given with --plan is always applied: the world may have moved since, and that is news)
                with mapped(self.settings):
                    outputs = self.stack().outputs()
                return Summary({"same": sum(step.type != "pulumi:pulumi:Stack" for step in steps)}, _shown(outputs))
            return self._apply(progress, plan, diff)

    def _apply(self, progress: Progress, plan: Path | None, diff: bool) -> Summary:
        """`pulumi up` without its own preview, held to `plan` when there is one."""
        stack = self.stack()
        try:
            with mapped(self.settings):
                result = stack.up(
                    on_event=progress, diff=diff, plan=str(plan) if plan else None, parallel=PARALLEL, color="never", show_secrets=False
                )
        except DeployError as exc:
            drift = progress.plan_violation(str(exc.__cause__ or "")) if plan else None
            if drift is None:
                raise
            raise PlanDriftError(self.settings.environment, *drift) from exc
        return Summary(_changes(result.summary.resource_changes or {}), _shown(result.outputs))

    def holds_no_data(self) -> bool:
        """Whether the stack's state holds no resource the guard protects (STATEFUL_TYPES).

        A file backend's checkpoint is read first, without a CLI run: holding such a resource there (or a file this
        cannot read) answers False at once, so an ordinary update pays nothing. Only a state that looks empty is
        confirmed with `pulumi stack export`, the engine's own answer."""
        if not self._checkpoint_may_be_empty():
            return False
        stack = self.stack()
        with mapped(self.settings):
            deployment = stack.export_stack().deployment or {}
        return not any(r.get("type") in STATEFUL_TYPES for r in deployment.get("resources") or ())

    def _checkpoint_may_be_empty(self) -> bool:
        if not self.settings.backend.startswith("file://"):
            return False  # a service backend: always guard
        stacks = Path(self.settings.backend.removeprefix("file://")) / ".pulumi" / "stacks"
        try:
            project = yaml.safe_load((self.stacks_dir / "Pulumi.yaml").read_text())["name"]
            found = [stacks / str(project) / f"{self.settings.environment}.json", stacks / f"{self.settings.environment}.json"]
            paths = [p for base in found for p in (base, base.with_suffix(".json.gz")) if p.exists()]
            texts = [gzip.decompress(p.read_bytes()).decode() if p.suffix == ".gz" else p.read_text() for p in paths]
            resources = [r for text in texts for r in (json.loads(text).get("checkpoint", {}).get("latest") or {}).get("resources") or ()]
        except (OSError, ValueError, AttributeError, KeyError, TypeError, yaml.YAMLError):
            return False
        return not any(r.get("type") in STATEFUL_TYPES for r in resources)

    def destroy(self, progress: Progress, *, protected: bool, allow_protected: bool) -> Summary:
        if protected and not allow_protected:
            raise RefusedError(
                f"environment {self.settings.environment} is protected",
                "pass --allow-protected to remove what is not protected; protected data resources stay in any case",
            )
        stack = self.stack(create=False)
        with mapped(self.settings):
            result = stack.destroy(
                on_event=progress, exclude_protected=True if protected else None, parallel=PARALLEL, color="never", show_secrets=False
            )
        return Summary(_changes(result.summary.resource_changes or {}))

    def refresh(self, progress: Progress) -> Summary:
        stack = self.stack(create=False)
        with mapped(self.settings):
            result = stack.refresh(on_event=progress, parallel=PARALLEL, color="never", show_secrets=False)
        return Summary(_changes(result.summary.resource_changes or {}))

    def outputs(self) -> dict[str, Any]:
        stack = self.stack(create=False)
        with mapped(self.settings):
            found = stack.outputs()
        return _shown(found)

    def secret_names(self) -> set[str]:
        """Names of the secrets the stack's config holds (values are never read here)."""
        stack = self.stack()
        with mapped(self.settings):
            found = stack.get_all_config()
        prefix = f"{SECRET_NAMESPACE}:"
        return {k.removeprefix(prefix) for k, v in found.items() if k.startswith(prefix) and v.secret}

    def cluster_config(self, create: bool = True) -> dict[str, str]:
        """The stack config that says how to reach the cluster (components.stack: kubeContext, kubeconfig,
        renderYamlToDirectory); a kubeconfig stored as a secret is decrypted for the preflight only."""
        stack = self.stack(create=create)
        with mapped(self.settings):
            found = stack.get_all_config()
        keys = {f"{SECRET_NAMESPACE}:{k}": k for k in ("kubeContext", "kubeconfig", "renderYamlToDirectory")}
        return {keys[k]: v.value for k, v in found.items() if k in keys and v.value}

    def set_secret(self, name: str, value: str) -> None:
        stack = self.stack()
        with mapped(self.settings):
            stack.set_config(f"{SECRET_NAMESPACE}:{name}", auto.ConfigValue(value=value, secret=True))

    def unlock(self) -> list[Path]:
        """Remove the file backend's lock files of this stack (a killed update leaves them behind)."""
        backend = self.settings.backend
        if not backend.startswith("file://"):
            raise DeployError(f"unlock works on file backends only, not {backend}", "use `pulumi cancel` for other backends")
        root = Path(backend.removeprefix("file://")) / ".pulumi" / "locks"
        found = sorted(p for p in root.rglob("*.json") if f"/{self.settings.environment}/" in p.as_posix())
        running = [p for p in found if _alive(p)]
        if running:
            raise DeployError(
                f"an update of environment {self.settings.environment} is still running ({running[0].name})",
                "wait for it to finish; only a lock whose process is gone is removed",
            )
        for path in found:
            path.unlink()
        return found


def plan_steps(plan: Path, events: Sequence[Step] = ()) -> list[Step]:
    """The steps a saved update plan allows (Pulumi's DeploymentPlanV1: `resourcePlans[urn].steps`).

    A resource's type comes from its goal, or from its URN when the plan deletes it (no goal); the fields that force
    a replacement come from the preview `events` that produced the plan, which the plan file does not keep."""
    try:
        document = json.loads(plan.read_text())
    except (OSError, ValueError) as exc:
        raise DeployError(f"cannot read the update plan {plan}: {exc}", "save one with `koyalite preview --save-plan FILE`") from exc
    keys = {step.urn: step.replace_keys for step in events if step.replace_keys}
    diffs = {step.urn: step.diffs for step in events if step.diffs}
    found: list[Step] = []
    for urn, resource in (document.get("resourcePlans") or {}).items():
        type_ = (resource.get("goal") or {}).get("type") or urn.split("::")[-2].rsplit("$", 1)[-1]
        for op in resource.get("steps") or ():
            found.append(Step(op, urn, type_, keys.get(urn, ()), diffs.get(urn, ())))
    return found


def _shown(outputs: Mapping[str, auto.OutputValue]) -> dict[str, Any]:
    """Stack outputs as printed: a secret output's value never is."""
    return {k: ("[secret]" if v.secret else v.value) for k, v in sorted(outputs.items())}


def _changes(found: Mapping[Any, int]) -> dict[str, int]:
    """Pulumi's change counts keyed by plain operation names (it keys them by OpType)."""
    return {getattr(k, "value", str(k)): int(v) for k, v in found.items()}


def _alive(lock: Path) -> bool:
    """Whether the process that wrote a lock still runs on this host."""
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.get("hostname") not in (socket.gethostname(), None):
        return True  # another host: we cannot tell, so we do not remove it
    try:
        os.kill(int(info.get("pid", 0)), 0)
    except (OSError, ValueError):
        return False
    return int(info.get("pid", 0)) > 0
