"""Pulumi mocks: the stack program registers one typed resource per translated object, with the right parents,
options and secrets.

Mocks see what the program sends to the engine (types, names, parents, inputs, and, through the monitor's
RegisterResource requests, options such as protect and retainOnDelete); they cannot see the provider's diff,
so the options are also checked where they are built (reliability_pain B.8).
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import runpy
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi_kubernetes import apps, batch, core, networking

from components import ComponentError, Settings
from components.kubernetes import KINDS, PARTS, Scope, Secrets, is_retained, is_stateful, logical_name, options
from components.kubernetes.objects import arguments, kind_of
from components.kubernetes.platform import check_objects
from components.secrets import stack_secrets, variable
from provisioner import manifest
from provisioner import plan as planner
from provisioner.plan import model
from provisioner.plan.model import Plan, SecretSet
from provisioner.targets import Bundle
from provisioner.targets.kubernetes import translate

REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "stacks" / "__main__.py"
REFERENCE = REPO / "koyalite.yaml"
ENVIRONMENTS = ["prod", "staging"]
CANARY = f"canary-{uuid.uuid4().hex}"
"""A random secret value: it may appear in registered inputs only inside Pulumi's secret wrapper."""


# -- the harness: run stacks/__main__.py under mocks, recording every registration ------------------------------


@dataclass(frozen=True)
class Registration:
    """One RegisterResource request, as the engine would receive it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    provider: str
    inputs: dict[str, Any]
    protect: bool | None
    retain_on_delete: bool | None
    dependencies: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    delete_before_replace: bool | None
    ignore_changes: tuple[str, ...]


class Echo(pulumi.runtime.Mocks):
    """Every resource's state is its inputs; there are no provider functions to call."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class Recorder(MockMonitor):
    """The mock monitor, keeping each request: Mocks.new_resource alone never sees options."""

    def __init__(self) -> None:
        super().__init__(Echo())
        self.registrations: list[Registration] = []
        self.outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    provider=request.provider,
                    inputs=rpc.deserialize_properties(request.object),
                    protect=request.protect if request.HasField("protect") else None,
                    retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
                    dependencies=tuple(request.dependencies),
                    additional_secret_outputs=tuple(request.additionalSecretOutputs),
                    delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
                    ignore_changes=tuple(request.ignoreChanges),
                )
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


class Logs(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Run:
    """One mocked `pulumi up` of the stack program."""

    stack: str
    registrations: list[Registration]
    outputs: dict[str, dict[str, Any]]
    logs: list[str]
    program: dict[str, Any] = field(default_factory=dict)

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}

    def of_type(self, prefix: str) -> list[Registration]:
        return [r for r in self.registrations if r.type.startswith(prefix)]

    def kubernetes(self) -> list[Registration]:
        """The Kubernetes objects: custom resources other than the provider."""
        return [r for r in self.registrations if r.custom and r.type.startswith("kubernetes:")]

    def one(self, type_: str) -> Registration:
        (found,) = [r for r in self.registrations if r.type == type_]
        return found


def secret_keys(plan: Plan) -> list[str]:
    return [key for part in plan.of(SecretSet) for key in part.keys]


def canary(key: str) -> str:
    return f"{CANARY}-{key}"


def execute(stack: str, body: Callable[[], Any], logger: logging.Logger | None = None) -> Recorder:
    """Run `body` as the Pulumi program of `stack` under fresh mocks (set the config first); `body` may return an awaitable."""
    monitor = Recorder()
    pulumi.runtime.reset_options(project="koyalite", stack=stack)  # a fresh root Stack per run (pulumi/pulumi#8280)
    pulumi.runtime.set_mocks(Echo(), project="koyalite", stack=stack, preview=False, logger=logger, monitor=monitor)
    pulumi.runtime.test(body)()  # type: ignore[no-untyped-call]  # the SDK's decorator is untyped
    return monitor


def run_stack(stack: str, config: dict[str, str] | None = None, secrets: dict[str, str] | None = None) -> Run:
    """Run stacks/__main__.py for `stack` with the given `koyalite:*` settings and secrets (set as secret config)."""
    values = {"manifest": str(REFERENCE), **(config or {})}
    plain = {f"koyalite:{k}": v for k, v in values.items()}
    hidden = {f"koyalite:{k}": v for k, v in (secrets or {}).items()}
    pulumi.runtime.set_all_config({**plain, **hidden}, list(hidden))
    logs = Logs()
    logger = logging.getLogger(f"koyalite.test.{uuid.uuid4().hex}")
    logger.addHandler(logs)
    logger.setLevel(logging.DEBUG)
    program: dict[str, Any] = {}

    def main() -> None:
        program.update(runpy.run_path(str(PROGRAM), run_name="__main__"))

    monitor = execute(stack, main, logger)
    return Run(stack, monitor.registrations, monitor.outputs, logs.messages, program)


def build_plan(env: str) -> Plan:
    return planner.build(manifest.check(manifest.load(REFERENCE), env), REPO)


def run_components(body: Callable[[], None]) -> Run:
    """Run a small program that builds components directly (no manifest)."""
    pulumi.runtime.set_all_config({}, [])
    monitor = execute("unit", body)
    return Run("unit", monitor.registrations, monitor.outputs, [])


@pytest.fixture(scope="module", autouse=True)
def pulumi_runtime() -> Iterator[None]:
    """Mocks and config are process-wide: leave none behind for other test modules."""
    yield
    pulumi.runtime.set_all_config({}, [])
    pulumi.runtime.reset_options()


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {env: build_plan(env) for env in ENVIRONMENTS}


@pytest.fixture(scope="module")
def bundles(plans: dict[str, Plan]) -> dict[str, list[Bundle]]:
    return {env: translate(plan) for env, plan in plans.items()}


@pytest.fixture(scope="module")
def runs(plans: dict[str, Plan]) -> dict[str, Run]:
    """One mocked run per environment, every secret set to a canary value."""
    return {env: run_stack(env, secrets={k: canary(k) for k in secret_keys(plan)}) for env, plan in plans.items()}


def objects(bundles: list[Bundle], *, jobs: bool = True) -> Iterator[tuple[Bundle, dict[str, Any]]]:
    """Every translated object; without the Jobs (`jobs=False`): the objects `up` applies when the stream resources
    declare the bus's streams instead of its Job (`kubernetes.streams_via: exec`, the default)."""
    for bundle in bundles:
        for obj in bundle.objects:
            if jobs or obj["kind"] != "Job":
                yield bundle, obj


def type_token(obj: dict[str, Any]) -> str:
    """The Pulumi type of a Kubernetes object: core kinds live under `core/v1`."""
    group = "core/v1" if obj["apiVersion"] == "v1" else obj["apiVersion"]
    return f"kubernetes:{group}:{obj['kind']}"


def leaks(value: Any, needle: str) -> list[str]:
    """Where `needle` appears in `value` outside a Pulumi secret wrapper (paths, for the failure message)."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [f"{k}.{p}" for k, v in value.items() for p in leaks(v, needle)]
    if isinstance(value, list):
        return [f"[{i}].{p}" for i, v in enumerate(value) for p in leaks(v, needle)]
    return ["value"] if needle in str(value) else []


# -- registries --------------------------------------------------------------------------------------------------


def test_every_plan_kind_has_a_component() -> None:
    kinds = {cls.kind for _, cls in inspect.getmembers(model, inspect.isclass) if issubclass(cls, model.Part) and cls.kind}
    assert kinds, "no plan kinds found"
    assert sorted(kinds | {"namespace"}) == sorted(PARTS)


def test_component_types_are_unique_and_namespaced() -> None:
    types = [cls.TYPE for cls in PARTS.values()]
    assert len(set(types)) == len(types)
    assert all(t.startswith("koyalite:kubernetes:") for t in types)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_translated_kind_is_registered(env: str, bundles: dict[str, list[Bundle]]) -> None:
    missing = {(obj["apiVersion"], obj["kind"]) for _, obj in objects(bundles[env])} - set(KINDS)
    assert not missing


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ComponentError) as caught:
        kind_of({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}})
    assert str(caught.value).startswith("no Pulumi resource for Kubernetes kind v1/Pod (object `debug`)")
    assert "apps/v1/StatefulSet" in str(caught.value)


def test_a_field_the_resource_cannot_take_is_an_error() -> None:
    with pytest.raises(ComponentError, match=r"ConfigMap `x` has fields the Pulumi resource cannot take: status"):
        arguments({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "status": {}})


def test_objects_sharing_a_urn_are_refused_before_anything_registers() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}}
    with pytest.raises(ComponentError, match=r"the translation has several objects named configmap-a"):
        check_objects([Bundle("config", "x", (config_map,)), Bundle("webhooks", "y", (config_map,))])
    with pytest.raises(ComponentError, match=r"no Pulumi resource for Kubernetes kind v1/Pod"):
        check_objects([Bundle("config", "x", ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},))])


def test_arguments_rename_top_level_fields_only() -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "ownerReferences": []}, "stringData": {"aB": "c"}}
    assert arguments(obj) == {"metadata": {"name": "s", "ownerReferences": []}, "string_data": {"aB": "c"}}


# -- the stack program, per environment --------------------------------------------------------------------------


PROD_COMPONENTS = {
    "koyalite:index:Platform": 1,
    "koyalite:kubernetes:Namespace": 1,
    "koyalite:kubernetes:Config": 1,
    "koyalite:kubernetes:Secrets": 1,
    "koyalite:kubernetes:Service": 7,
    "koyalite:kubernetes:EdgeRuntime": 1,
    "koyalite:kubernetes:LiteFS": 1,
    "koyalite:kubernetes:SeaweedFS": 1,
    "koyalite:kubernetes:Weaviate": 1,
    "koyalite:kubernetes:EventBus": 1,
    "koyalite:kubernetes:EventWorker": 1,
    "koyalite:kubernetes:Cron": 3,
    "koyalite:kubernetes:Network": 1,
}


def test_prod_components(runs: dict[str, Run]) -> None:
    assert Counter(r.type for r in runs["prod"].of_type("koyalite:")) == PROD_COMPONENTS


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_component_per_bundle(env: str, runs: dict[str, Run], bundles: dict[str, list[Bundle]]) -> None:
    registered = sorted((r.type, r.name) for r in runs[env].of_type("koyalite:kubernetes:"))
    assert registered == sorted((PARTS[b.kind].TYPE, b.name) for b in bundles[env])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_typed_resource_per_object(env: str, runs: dict[str, Run], bundles: dict[str, list[Bundle]]) -> None:
    registered = sorted((r.type, r.name) for r in runs[env].kubernetes())
    assert registered == sorted((type_token(obj), logical_name(obj)) for _, obj in objects(bundles[env], jobs=False))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_inputs_are_the_translated_objects(env: str, runs: dict[str, Run], bundles: dict[str, list[Bundle]]) -> None:
    """The components add nothing to a spec: each resource's inputs are its object (the Secret adds values only, a
    Service the readiness the provider awaits)."""
    registered = {r.name: r.inputs for r in runs[env].kubernetes()}
    for _, obj in objects(bundles[env], jobs=False):
        inputs = copy.deepcopy(registered[logical_name(obj)])
        if obj["kind"] == "Secret":
            inputs.pop("stringData")
        if obj["kind"] == "Service":
            annotations = dict(inputs["metadata"].pop("annotations"))
            assert annotations.pop("pulumi.com/waitFor") == "jsonpath={.spec.clusterIP}"
            if annotations:
                inputs["metadata"]["annotations"] = annotations
        assert inputs == obj, logical_name(obj)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_parents(env: str, runs: dict[str, Run], bundles: dict[str, list[Bundle]]) -> None:
    run = runs[env]
    by_urn = run.by_urn()
    platform = run.one("koyalite:index:Platform")
    assert platform.parent.endswith("::pulumi:pulumi:Stack::koyalite-" + env)
    for component in run.of_type("koyalite:kubernetes:"):
        assert component.parent == platform.urn, component.name
    provider = run.one("pulumi:providers:kubernetes")
    assert provider.parent == platform.urn
    bundle_of = {logical_name(obj): bundle for bundle, obj in objects(bundles[env])}
    for resource in run.kubernetes():
        parent = by_urn[resource.parent]
        bundle = bundle_of[resource.name]
        assert (parent.type, parent.name) == (PARTS[bundle.kind].TYPE, bundle.name), resource.name
        assert resource.provider.startswith(provider.urn + "::"), f"{resource.name} uses the default provider"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_namespace_comes_first(env: str, runs: dict[str, Run], plans: dict[str, Plan]) -> None:
    run = runs[env]
    namespace = run.one("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == plans[env].kubernetes.namespace  # type: ignore[union-attr]
    for resource in run.kubernetes():
        if resource is not namespace:
            assert namespace.urn in resource.dependencies, resource.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_workloads_wait_for_the_configuration_they_mount(env: str, runs: dict[str, Run]) -> None:
    """A pod cannot start before its ConfigMaps and Secret exist: the engine must create those first."""
    run = runs[env]
    by_name = {r.name: r for r in run.kubernetes()}
    config, secret = by_name[f"configmap-acme-{env}-config"], by_name[f"secret-acme-{env}-secrets"]
    events, routes = by_name[f"configmap-acme-{env}-events"], by_name[f"configmap-acme-{env}-functions-routes"]
    worker, functions = by_name[f"deployment-acme-{env}-events"], by_name[f"deployment-acme-{env}-functions"]
    assert {config.urn, secret.urn, events.urn} <= set(worker.dependencies)
    assert {config.urn, secret.urn, routes.urn} <= set(functions.dependencies)
    assert config.urn not in secret.dependencies


# -- the event bus's streams and consumers -----------------------------------------------------------------------

STREAM, CONSUMER = "pulumi-python:dynamic/nats:Stream", "pulumi-python:dynamic/nats:Consumer"


def declared(bundles: list[Bundle], env: str) -> dict[str, Any]:
    (found,) = [o for _, o in objects(bundles) if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"acme-{env}-nats-streams"]
    return {key: json.loads(text) for key, text in found["data"].items() if key.endswith(".json")}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_streams_and_consumers_are_guarded_resources_run_in_the_first_server(
    env: str, runs: dict[str, Run], bundles: dict[str, list[Bundle]], plans: dict[str, Plan]
) -> None:
    """By default `up` declares each stream and consumer of the streams ConfigMap as a resource (components/nats.py)
    that runs the nats CLI in the bus's first pod: kept on destroy, protected in prod, after the servers; no Job."""
    run, configs = runs[env], declared(bundles[env], env)
    by_name = {r.name: r for r in run.registrations}
    nats = by_name[f"statefulset-acme-{env}-nats"]
    streams, consumers = run.of_type(STREAM), run.of_type(CONSUMER)
    assert {r.name: r.inputs["config"] for r in streams} == {
        f"stream-acme-{env}-nats-{c['name']}": c for k, c in configs.items() if k.startswith("stream.")
    }
    assert {r.name: r.inputs["config"] for r in consumers} == {
        f"consumer-acme-{env}-nats-{k.split('.')[1]}-{k.split('.')[2]}": c for k, c in configs.items() if k.startswith("consumer.")
    }
    assert {"koyalite-webhooks", "storage", "deadletter"} <= {r.inputs["config"]["name"] for r in streams}
    for r in [*streams, *consumers]:
        where = {k: r.inputs.get(k) for k in ("via", "namespace", "pod", "container", "user")}
        assert where == {
            "via": "kubernetes",
            "namespace": f"acme-{env}",
            "pod": f"acme-{env}-nats-0",
            "container": "nats",
            "user": "koyalite",
        }
        assert nats.urn in r.dependencies and r.retain_on_delete is True
        assert r.additional_secret_outputs == ("kubeconfig",)
    assert {r.protect for r in streams} == {plans[env].protect}
    stream_urns = {r.inputs["config"]["name"]: r.urn for r in streams}
    assert all(stream_urns[r.inputs["stream"]] in r.dependencies for r in consumers)
    assert not run.of_type("kubernetes:batch/v1:Job")


def test_streams_via_a_job_and_in_render_mode_are_declared_by_the_job(tmp_path: Path) -> None:
    """`kubernetes.streams_via: job` (no pods/exec permission) and render mode (no cluster) apply the Job instead."""
    manifest_path = tmp_path / "koyalite.yaml"
    text = REFERENCE.read_text()
    assert "    kubernetes:\n      namespace: acme-staging\n" in text
    manifest_path.write_text(
        text.replace(
            "    kubernetes:\n      namespace: acme-staging\n", "    kubernetes:\n      namespace: acme-staging\n      streams_via: job\n"
        )
    )
    for file in ("functions", "secrets"):
        if (REPO / file).exists():
            (tmp_path / file).symlink_to(REPO / file)
    keys = secret_keys(build_plan("staging"))
    for config in ({"manifest": str(manifest_path)}, {"renderYamlToDirectory": str(tmp_path / "out")}):
        run = run_stack("staging", config=config, secrets={k: canary(k) for k in keys})
        assert not run.of_type(STREAM) and not run.of_type(CONSUMER)
        (job,) = run.of_type("kubernetes:batch/v1:Job")
        assert job.name.startswith("job-acme-staging-nats-streams-")
        by_name = {r.name: r for r in run.registrations}
        assert {by_name["configmap-acme-staging-nats-streams"].urn, by_name["statefulset-acme-staging-nats"].urn} <= set(job.dependencies)


def test_the_kubeconfig_the_streams_reach_the_cluster_with_is_a_secret(plans: dict[str, Plan]) -> None:
    """Set as secret stack config, its contents (credentials) reach the stream resources only wrapped as a secret."""
    kubeconfig = f"apiVersion: v1\nkind: Config\n# {CANARY}\n"
    run = run_stack(
        "staging",
        config={"kubeContext": "kind-koyalite"},
        secrets={"kubeconfig": kubeconfig, **{k: canary(k) for k in secret_keys(plans["staging"])}},
    )
    (stream, *_) = run.of_type(STREAM)
    assert rpc.is_rpc_secret(stream.inputs["kubeconfig"]) and stream.inputs["context"] == "kind-koyalite"
    assert all(leaks(r.inputs, CANARY) == [] for r in run.registrations)


# -- data survives: protect and retain_on_delete -----------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stateful_options_are_built(env: str, plans: dict[str, Plan], bundles: dict[str, list[Bundle]]) -> None:
    """The option builder, checked directly: mocks cannot show what the engine does with options."""
    protect = plans[env].protect
    stateful = []
    for _, obj in objects(bundles[env]):
        opts = options(obj, protect=protect)
        if is_stateful(obj):
            stateful.append((obj["kind"], obj["metadata"]["name"]))
            retained = True if obj["kind"] in ("Namespace", "PersistentVolumeClaim") else None
            assert (opts.protect, opts.retain_on_delete) == (protect, retained), logical_name(obj)
            assert is_retained(obj) is (retained is True)
        else:
            assert (opts.protect, opts.retain_on_delete) == (None, None), logical_name(obj)
        assert opts.delete_before_replace is None and opts.ignore_changes is None
    kinds = Counter(kind for kind, _ in stateful)
    assert kinds["Namespace"] == 1 and kinds["StatefulSet"] >= 3, stateful
    with_claims = [obj for _, obj in objects(bundles[env]) if obj["kind"] == "StatefulSet" and obj["spec"].get("volumeClaimTemplates")]
    assert len(with_claims) == kinds["StatefulSet"]


def test_prod_is_protected_and_staging_is_not(plans: dict[str, Plan]) -> None:
    assert (plans["prod"].protect, plans["staging"].protect) == (True, False)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stateful_options_reach_the_engine(
    env: str, runs: dict[str, Run], plans: dict[str, Plan], bundles: dict[str, list[Bundle]]
) -> None:
    stateful = {logical_name(obj) for _, obj in objects(bundles[env]) if is_stateful(obj)}
    retained = {logical_name(obj) for _, obj in objects(bundles[env]) if is_retained(obj)}
    assert retained == {f"namespace-acme-{env}"}
    for resource in runs[env].kubernetes():
        if resource.name in stateful:
            expected = True if resource.name in retained else None
            assert (resource.protect, resource.retain_on_delete) == (plans[env].protect, expected), resource.name
        else:
            assert (resource.protect, resource.retain_on_delete) == (None, None), resource.name
        assert resource.delete_before_replace is None, resource.name
        assert resource.ignore_changes == (), resource.name


def test_claims_and_volumes_of_a_hand_built_bundle() -> None:
    """Kinds the reference translation may not use (a bare PVC, a StatefulSet without claims) follow the rule too."""
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "ns"}, "spec": {}}
    bare = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "cache", "namespace": "ns"}, "spec": {"replicas": 1}}
    claims = {**bare, "metadata": {"name": "db", "namespace": "ns"}, "spec": {"volumeClaimTemplates": [{"metadata": {"name": "d"}}]}}

    def body() -> None:
        from components.kubernetes import LiteFS

        LiteFS("db", [pvc, bare, claims], Scope(protect=True))

    run = run_components(body)
    seen = {r.name: (r.protect, r.retain_on_delete) for r in run.kubernetes()}
    assert seen == {
        "persistentvolumeclaim-data": (True, True),
        "statefulset-cache": (None, None),
        "statefulset-db": (True, None),
    }


# -- secrets -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_secret_values_stay_secret(env: str, runs: dict[str, Run], plans: dict[str, Plan], bundles: dict[str, list[Bundle]]) -> None:
    run = runs[env]
    for resource in run.registrations:
        assert not leaks(resource.inputs, CANARY), f"{resource.name}: {leaks(resource.inputs, CANARY)}"
    assert not leaks(run.outputs, CANARY)
    assert not [m for m in run.logs if CANARY in m]
    assert CANARY not in repr([obj for _, obj in objects(bundles[env])])

    secret = run.one("kubernetes:core/v1:Secret")
    assert set(secret.additional_secret_outputs) >= {"data", "stringData"}
    values = secret.inputs["stringData"]
    plain = rpc.unwrap_rpc_secret(values) if rpc.is_rpc_secret(values) else values
    assert sorted(plain) == sorted(secret_keys(plans[env]))
    for key, value in plain.items():
        assert rpc.is_rpc_secret(value) or rpc.is_rpc_secret(values), key
        assert (rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value) == canary(key)


def settings(stack: str = "prod") -> Settings:
    return Settings(stack=stack, environment=stack, manifest=REFERENCE)


def test_stack_secrets_are_outputs_marked_secret() -> None:
    checked: list[bool] = []
    pulumi.runtime.set_all_config({"koyalite:jwt_secret": canary("jwt")}, ["koyalite:jwt_secret"])

    async def verify(values: dict[str, pulumi.Output[str]]) -> None:
        for value in values.values():
            checked.append(await value.is_secret())

    def body() -> Any:
        values = stack_secrets(["jwt_secret", "smtp_password"], settings(), environ={variable("smtp_password"): canary("smtp")})
        return verify(values)

    execute("prod", body)
    assert checked == [True, True]


def test_missing_secrets_are_reported_at_once() -> None:
    pulumi.runtime.set_all_config({"koyalite:jwt_secret": canary("jwt")}, ["koyalite:jwt_secret"])
    with pytest.raises(ComponentError) as caught:
        stack_secrets(["jwt_secret", "smtp_password", "webhook_key"], settings(), environ={})
    message = str(caught.value)
    assert message == (
        "stack `prod` has no value for 2 secret(s) of environment `prod`: smtp_password, webhook_key "
        "(set each with `koyalite secrets set KEY --env prod` or `pulumi config set --secret koyalite:KEY -s prod`, "
        "or export KOYALITE_SECRET_<KEY>)"
    )
    assert CANARY not in message


def test_a_secret_named_like_a_setting_is_refused() -> None:
    pulumi.runtime.set_all_config({}, [])
    with pytest.raises(ComponentError, match=r"secret names manifest clash with the stack settings `koyalite:manifest`"):
        stack_secrets(["manifest"], settings(), environ={})


def test_a_translated_secret_with_values_is_refused() -> None:
    leaked = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}, "data": {"k": "dg=="}}

    def body() -> None:
        Secrets("s", [leaked], Scope(protect=False, secrets={}))

    with pytest.raises(ComponentError, match=r"the translated Secret `s` carries values"):
        run_components(body)


def test_a_missing_secret_stops_the_program(plans: dict[str, Plan]) -> None:
    keys = secret_keys(plans["staging"])
    with pytest.raises(ComponentError, match=rf"has no value for 1 secret\(s\) of environment `staging`: {keys[0]} "):
        run_stack("staging", secrets={k: canary(k) for k in keys[1:]})


# -- stack config --------------------------------------------------------------------------------------------------


def test_render_mode_and_context(tmp_path: Path) -> None:
    """renderYamlToDirectory reaches the provider, and the Secret is rendered without values (none are needed)."""
    run = run_stack("staging", config={"renderYamlToDirectory": str(tmp_path / "out"), "kubeContext": "kind-koyalite"})
    provider = run.one("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == str(tmp_path / "out")
    assert provider.inputs["context"] == "kind-koyalite"
    assert provider.inputs["enableServerSideApply"] == "true"  # provider inputs travel as strings
    assert "stringData" not in run.one("kubernetes:core/v1:Secret").inputs
    assert any("Secrets are written without values" in m for m in run.logs)
    platform = run.one("koyalite:index:Platform")
    assert run.outputs[platform.urn]["renderedTo"] == str(tmp_path / "out")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_exports(env: str, runs: dict[str, Run], plans: dict[str, Plan]) -> None:
    platform = runs[env].one("koyalite:index:Platform")
    hints = plans[env].kubernetes
    assert hints is not None
    assert runs[env].outputs[platform.urn] == {"environment": env, "namespace": hints.namespace, "url": f"https://{hints.ingress_host}"}


def test_typed_outputs(runs: dict[str, Run]) -> None:
    platform = runs["prod"].program["platform"]
    parts = platform.parts
    assert isinstance(parts["acme-prod-api"].deployment, apps.v1.Deployment)
    assert isinstance(parts["acme-prod-api"].service, core.v1.Service)
    assert isinstance(parts["acme-prod-secrets"].secret, core.v1.Secret)
    assert isinstance(parts["acme-prod-cron-nightly-cleanup"].cron_job, batch.v1.CronJob)
    assert all(isinstance(s, apps.v1.StatefulSet) for s in parts["acme-prod-litefs"].stateful_sets)
    assert len(parts["acme-prod-litefs"].stateful_sets) == 2
    assert isinstance(parts["acme-prod-network"].ingress, networking.v1.Ingress)
    assert parts["acme-prod-network"].url == "https://acme.example.com"


def test_logical_names_are_stable_across_runs(runs: dict[str, Run], plans: dict[str, Plan]) -> None:
    again = run_stack("prod", secrets={k: canary(k) for k in secret_keys(plans["prod"])})

    def shape(run: Run) -> list[tuple[str, str, str]]:
        return [(r.urn, r.parent, repr(r.inputs)) for r in sorted(run.registrations, key=lambda r: r.urn)]

    assert shape(again) == shape(runs["prod"])


def test_a_stack_may_name_its_environment() -> None:
    with pytest.raises(
        ComponentError, match=r"environment `stagign` is not defined .*did you mean `staging`\?; stack `staging-render` deploys"
    ):
        run_stack("staging-render", config={"environment": "stagign"})


def test_a_missing_manifest_names_the_config_key(tmp_path: Path) -> None:
    with pytest.raises(ComponentError, match=r"stack `prod`: no manifest at .*pulumi config set koyalite:manifest PATH -s prod"):
        run_stack("prod", config={"manifest": str(tmp_path / "nope.yaml")})


def test_an_invalid_manifest_reports_every_problem(tmp_path: Path) -> None:
    text = REFERENCE.read_text().replace("replicas: 2\n    resources:", "replicas: -2\n    resources:")  # api and auth
    bad = tmp_path / "koyalite.yaml"
    bad.write_text(text)
    with pytest.raises(ComponentError) as caught:
        run_stack("prod", config={"manifest": str(bad)})
    message = str(caught.value)
    assert message.startswith(f"{bad} is not valid for environment `prod`:\n")
    assert ": error: services.api.replicas: " in message and ": error: services.auth.replicas: " in message, message
