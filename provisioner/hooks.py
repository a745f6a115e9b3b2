"""Lifecycle hooks: plugins installed as `koyalite.hooks` entry points extend validation, planning and deploys.

A plugin is any installed distribution that declares an entry point in the `koyalite.hooks` group:

    [project.entry-points."koyalite.hooks"]
    team = "koyalite_team_hook"            # a module, an object, or a class (instantiated once)

and implements any subset of the four hook points (functions or methods of that name):

    after_validate(checked) -> diagnostics     add warnings or errors to a checked manifest
    transform_plan(plan) -> plan               return a new frozen Plan (labels, env, sidecar settings, ...)
    before_deploy(plan, environment)           runs in `koyalite up` before the engine starts
    after_deploy(plan, environment, outputs)   runs in `koyalite up` after a successful update

Plugins are discovered only when a hook point first runs, and imported only if one is installed: with none, the
cost is one scan of the installed distributions' metadata. They run in entry-point name order; transforms chain.
A hook that raises stops the run with `HookError` (exit code 5) naming the plugin and the hook point.

What a hook cannot do: change which project, environment, target or namespace a plan deploys, turn off a protected
environment's protection, or get past the data-loss guard. The guard runs inside the engine adapter on the real
engine's preview of the Pulumi program, which builds its plan through `transform_plan` too: whatever a transform
produces is what the guard inspects.

Pure: no Pulumi, Typer or printing here (the CLI reports, the Pulumi program logs).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Protocol

from provisioner.errors import Diagnostic, KoyaliteError, ManifestError, Severity
from provisioner.manifest import Checked
from provisioner.manifest.diagnose import locate

if TYPE_CHECKING:  # the plan stage is imported where a plan exists: `koyalite validate` never needs it
    from provisioner.plan.model import Plan

GROUP = "koyalite.hooks"
"""The entry-point group plugins declare."""

POINTS = ("after_validate", "transform_plan", "before_deploy", "after_deploy")
"""Every hook point, in the order a deploy reaches them."""

EXIT_HOOK = 5
"""Exit code of a run stopped by a failing hook."""


class AfterValidate(Protocol):
    """Extra checks on a valid manifest for one environment (or the base when `checked.environment` is None).

    Return diagnostics (an empty iterable or None when all is well). A diagnostic without a position is placed at
    its manifest `path`; any of severity ERROR makes the manifest invalid (exit 2), like a built-in rule.
    """

    def __call__(self, checked: Checked, /) -> Iterable[Diagnostic] | None: ...


class TransformPlan(Protocol):
    """Return the plan to deploy: a new frozen Plan (`dataclasses.replace`), or the same one unchanged.

    Must be deterministic: `koyalite render`, `koyalite up` and the Pulumi program each run it and must agree.
    """

    def __call__(self, plan: Plan, /) -> Plan: ...


class BeforeDeploy(Protocol):
    """Runs in `koyalite up` after confirmation and before the engine starts; raise to stop the deploy."""

    def __call__(self, plan: Plan, environment: str, /) -> None: ...


class AfterDeploy(Protocol):
    """Runs in `koyalite up` after a successful update, with the stack outputs (secret outputs read `[secret]`)."""

    def __call__(self, plan: Plan, environment: str, outputs: Mapping[str, Any], /) -> None: ...


@dataclass(frozen=True, slots=True)
class Plugin:
    """One installed plugin: its entry-point name, its distribution, and the hook points it implements."""

    name: str
    distribution: str = ""
    after_validate: AfterValidate | None = None
    transform_plan: TransformPlan | None = None
    before_deploy: BeforeDeploy | None = None
    after_deploy: AfterDeploy | None = None

    @classmethod
    def of(cls, name: str, target: object, distribution: str = "") -> Plugin:
        """The hooks of a loaded entry point: a module or object with hook functions, or a class to instantiate."""
        if isinstance(target, Plugin):
            return replace(target, name=name, distribution=distribution or target.distribution)
        if inspect.isclass(target):
            target = target()
        found: dict[str, Any] = {}
        for point in POINTS:
            hook = getattr(target, point, None)
            if hook is not None and not callable(hook):
                raise TypeError(f"`{point}` is a {type(hook).__name__}, not a function")
            found[point] = hook
        return cls(name, distribution, **found)

    @property
    def points(self) -> tuple[str, ...]:
        """The hook points this plugin implements."""
        return tuple(f.name for f in fields(self) if f.name in POINTS and getattr(self, f.name) is not None)


class HookError(KoyaliteError):
    """A plugin's hook raised (or returned something it must not); the run stops with exit code 5."""

    exit_code = EXIT_HOOK

    def __init__(self, plugin: Plugin, point: str, problem: str) -> None:
        super().__init__(f"hook plugin `{plugin.name}` failed in {point}: {problem}")
        self.plugin = plugin.name
        self.point = point
        dist = plugin.distribution
        done = "the update itself succeeded; " if point == "after_deploy" else ""
        self.hint = (
            f"{done}fix the plugin, or uninstall it ({f'pip uninstall {dist}' if dist else 'remove its `koyalite.hooks` entry point'}); "
            "rerun with KOYALITE_DEBUG=1 for the traceback"
        )


# -- discovery: once per process, on first use ---------------------------------------------------------------------

_lock = threading.Lock()
_loaded: tuple[Plugin, ...] | None = None


def _discover() -> tuple[Plugin, ...]:
    from importlib.metadata import entry_points  # already imported by the CLI's dependencies; cheap

    found: list[Plugin] = []
    for point in sorted(entry_points(group=GROUP), key=lambda ep: ep.name):
        dist = point.dist.name if point.dist is not None else ""
        plugin = Plugin(point.name, dist)
        try:
            found.append(Plugin.of(point.name, point.load(), dist))
        except Exception as exc:
            raise HookError(plugin, "loading", _describe(exc)) from exc
    return tuple(found)


def plugins() -> tuple[Plugin, ...]:
    """The installed plugins in name order, discovered and imported on first use."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _discover()
    return _loaded


def use(found: Sequence[Plugin] | None) -> None:
    """Replace the discovered plugins (tests, embedding); None forgets them, so the next use discovers again."""
    global _loaded
    with _lock:
        _loaded = None if found is None else tuple(found)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _call(plugin: Plugin, point: str, *args: Any, collect: bool = False) -> Any:
    """Run one hook; with `collect`, its result (None or an iterable, maybe a generator) is read into a list here,
    so an exception raised while a generator runs is the plugin's failure too, not an internal error of ours."""
    hook = getattr(plugin, point)
    try:
        result = hook(*args)
        if not collect or result is None:
            return result
        if isinstance(result, Diagnostic) or not isinstance(result, Iterable) or isinstance(result, str | bytes | Mapping):
            raise HookError(plugin, point, f"returned a {type(result).__name__}, not an iterable of provisioner.errors.Diagnostic")
        return list(result)
    except KoyaliteError as exc:
        if isinstance(exc, HookError):
            raise
        raise HookError(plugin, point, exc.message) from exc
    except Exception as exc:
        raise HookError(plugin, point, _describe(exc)) from exc


# -- the hook points -------------------------------------------------------------------------------------------------


def after_validate(checked: Checked) -> list[Diagnostic]:
    """Every plugin's diagnostics for a checked manifest, placed at their paths when they carry no position."""
    found: list[Diagnostic] = []
    for plugin in plugins():
        if plugin.after_validate is None:
            continue
        for item in _call(plugin, "after_validate", checked, collect=True) or ():
            if not isinstance(item, Diagnostic):
                raise HookError(plugin, "after_validate", f"returned a {type(item).__name__}, not a provisioner.errors.Diagnostic")
            if item.position is None and item.path:
                item = replace(item, position=locate(checked.source, item.path))
            found.append(item if item.code else replace(item, code=f"hook:{plugin.name}"))
    return sorted(found, key=Diagnostic.sort_key)


def validated(checked: Checked) -> Checked:
    """`checked` with the plugins' warnings added; their errors raise ManifestError, as a rule's would."""
    found = after_validate(checked)
    if not found:
        return checked
    errors = [d for d in found if d.severity is Severity.ERROR]
    if errors:
        raise ManifestError(errors)
    return replace(checked, warnings=(*checked.warnings, *found))


def transform_plan(plan: Plan) -> Plan:
    """The plan after every plugin's transform, in order; each result must be a Plan of the same stack."""
    from provisioner.plan.model import Plan

    for plugin in plugins():
        if plugin.transform_plan is None:
            continue
        result = _call(plugin, "transform_plan", plan)
        if not isinstance(result, Plan):
            raise HookError(plugin, "transform_plan", f"returned a {type(result).__name__}, not a Plan (return the plan, even unchanged)")
        for key in ("project", "environment", "target"):
            if getattr(result, key) != getattr(plan, key):
                raise HookError(
                    plugin, "transform_plan", f"changed the plan's {key} from {getattr(plan, key)!r} to {getattr(result, key)!r}"
                )
        where = (plan.kubernetes.namespace if plan.kubernetes else None, result.kubernetes.namespace if result.kubernetes else None)
        if where[0] != where[1]:  # a namespace holds the environment's claims: moving it is a new environment
            raise HookError(plugin, "transform_plan", f"changed the plan's namespace from {where[0]!r} to {where[1]!r}")
        if plan.protect and not result.protect:
            raise HookError(plugin, "transform_plan", f"turned off the protection of environment {plan.environment}")
        plan = result
    return plan


def before_deploy(plan: Plan, environment: str) -> None:
    for plugin in plugins():
        if plugin.before_deploy is not None:
            _call(plugin, "before_deploy", plan, environment)


def after_deploy(plan: Plan, environment: str, outputs: Mapping[str, Any]) -> None:
    for plugin in plugins():
        if plugin.after_deploy is not None:
            _call(plugin, "after_deploy", plan, environment, dict(outputs))
