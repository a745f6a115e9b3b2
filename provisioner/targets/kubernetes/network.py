"""The network: default-deny NetworkPolicies plus exactly the plan's edges, and the Ingress."""

from __future__ import annotations

from collections import defaultdict

from provisioner.plan.model import Network
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import Context, Obj, metadata

DNS_PORTS = (("UDP", 53), ("TCP", 53))
OUTSIDE_PORTS = (443, 80, 587, 465)
"""Ports egress roles may reach outside the cluster: HTTPS/HTTP for webhooks and fetch(), SMTP submission for email."""
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def _pods(ctx: Context, role: str) -> Obj:
    return {"matchLabels": {"app.kubernetes.io/instance": f"{ctx.plan.project}-{ctx.plan.environment}", "app.kubernetes.io/name": role}}


def _ports(ports: list[int]) -> list[Obj]:
    return [{"protocol": "TCP", "port": p} for p in sorted(set(ports))]


def _policy(ctx: Context, part: Network, name: str, spec: Obj) -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(ctx, name, part), "spec": spec}


def policies(part: Network, ctx: Context) -> list[Obj]:
    base = f"{ctx.plan.project}-{ctx.plan.environment}"
    objs = [
        _policy(ctx, part, f"{base}-default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy(
            ctx,
            part,
            f"{base}-allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"protocol": proto, "port": port} for proto, port in DNS_PORTS]}],
            },
        ),
    ]
    inbound: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    outbound: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for edge in part.edges:
        inbound[edge.target][edge.source].append(edge.port)
        outbound[edge.source][edge.target].append(edge.port)
    public: dict[str, list[int]] = defaultdict(list)
    if ctx.hints.ingress_class:
        for route in part.routes:
            public[route.role].append(route.port)
    for role in sorted(set(inbound) | set(public)):
        rules = [{"from": [{"podSelector": _pods(ctx, source)}], "ports": _ports(ports)} for source, ports in sorted(inbound[role].items())]
        if role in public:
            # the ingress controller runs in a namespace we do not know: admit any namespace on the routed ports only
            rules.append({"from": [{"namespaceSelector": {}}], "ports": _ports(public[role])})
        objs.append(
            _policy(ctx, part, f"{base}-ingress-to-{role}", {"podSelector": _pods(ctx, role), "policyTypes": ["Ingress"], "ingress": rules})
        )
    for role in sorted(set(outbound) | set(part.egress)):
        rules = [{"to": [{"podSelector": _pods(ctx, target)}], "ports": _ports(ports)} for target, ports in sorted(outbound[role].items())]
        if role in part.egress:
            rules.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}], "ports": _ports(list(OUTSIDE_PORTS))})
        objs.append(
            _policy(ctx, part, f"{base}-egress-from-{role}", {"podSelector": _pods(ctx, role), "policyTypes": ["Egress"], "egress": rules})
        )
    return objs


def ingress(part: Network, ctx: Context) -> list[Obj]:
    h = ctx.hints
    if not h.ingress_class or not h.ingress_host:
        return []
    annotations = {"cert-manager.io/cluster-issuer": h.tls_issuer} if h.tls_issuer else {}
    paths = [
        {
            "path": r.path,
            "pathType": "Prefix",
            "backend": {"service": {"name": f"{ctx.plan.project}-{ctx.plan.environment}-{r.role}", "port": {"number": r.port}}},
        }
        for r in sorted(part.routes, key=lambda r: (-len(r.path), r.path))
    ]
    spec: Obj = {"ingressClassName": h.ingress_class, "rules": [{"host": h.ingress_host, "http": {"paths": paths}}]}
    if h.tls_issuer or h.tls_secret:
        spec["tls"] = [{"hosts": [h.ingress_host], "secretName": h.tls_secret or f"{ctx.plan.project}-{ctx.plan.environment}-tls"}]
    meta = metadata(ctx, f"{ctx.plan.project}-{ctx.plan.environment}", part, annotations=annotations)
    return [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}]


@REGISTRY.register(Network)
def translate(part: Network, ctx: Context) -> list[Obj]:
    return [*policies(part, ctx), *ingress(part, ctx)]
