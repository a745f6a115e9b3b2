#!/usr/bin/env python3
"""A local Kubernetes cluster from the binaries scripts/cluster_build.py builds: start it, stop it, say how it is.

    python3 scripts/cluster.py up [--tier api|node] [--regions fra,iad]   # make cluster [TIER=node]
    python3 scripts/cluster.py down                                        # make cluster-down
    python3 scripts/cluster.py status

Two tiers share one control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler):

* **api**: kwok plays the nodes (two per region, with the region and zone labels), marks pods Ready, finishes and
  deletes them, and publishes an Ingress's load-balancer address as an ingress controller would. Every object is
  applied, admitted, defaulted and reconciled by the real control plane; no container runs. Seconds to start.
* **node**: one real node (scripts/cluster_node.py): kubelet on containerd and runc, CNI bridge, kube-proxy, CoreDNS.

State lives in ``.koyalite/cluster/`` beside the project's Pulumi state (git-ignored; ``KOYALITE_CLUSTER_DIR``
moves it): PKI, etcd data, logs, pid files and ``kubeconfig`` (context ``koyalite-local``). ``down`` stops exactly
the processes it started (pid files, in reverse order), removes what the tier added to the host and the state.
Python 3.11 standard library only; root is needed for the node tier.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster_build

REPO = Path(__file__).resolve().parents[1]
CONTEXT = "koyalite-local"
SERVICE_CIDR = "10.96.0.0/12"
POD_CIDR = "10.244.0.0/16"
API_PORT = 6443
HOSTPATH_PV = Path(tempfile.gettempdir()) / "hostpath_pv"
"""Where the controller-manager's host-path provisioner puts volumes (hard-coded under the temp directory)."""
STORAGE_CLASSES = ("standard", "fast-ssd")
"""Classes the cluster offers: `standard` (the default) and the class the reference manifest's prod asks for."""
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"


def log(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


class ClusterError(RuntimeError):
    """The cluster could not start or stop; the message says what and where the log is."""


def state_dir() -> Path:
    return Path(os.environ.get("KOYALITE_CLUSTER_DIR") or REPO / ".koyalite" / "cluster")


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def tier_file(self) -> Path:
        return self.root / "tier"

    def component_kubeconfig(self, name: str) -> Path:
        return self.pki / f"{name}.kubeconfig"


def node_ip() -> str:
    """The address of the default route's interface: the hostname resolves to loopback here, so it is passed."""
    out = subprocess.run(["ip", "-4", "route", "get", "1"], capture_output=True, text=True, check=False).stdout.split()
    if "src" in out:
        return out[out.index("src") + 1]
    return "127.0.0.1"


# --------------------------------------------------------------------------------------------------------------------
# PKI: one CA, the apiserver's serving certificate and a client certificate per component (openssl, Debian's).
# --------------------------------------------------------------------------------------------------------------------
CLIENTS = {
    "admin": "/O=system:masters/CN=koyalite-admin",
    "kcm": "/CN=system:kube-controller-manager",
    "sched": "/CN=system:kube-scheduler",
    "proxy": "/CN=system:kube-proxy",
    "kwok": "/O=system:masters/CN=koyalite-kwok",
}


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def certificate(pki: Path, name: str, subject: str, extensions: str) -> None:
    key, csr, crt = (pki / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", subject)
    ext = pki / f"{name}.ext"
    ext.write_text(extensions + "\n")
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-out",
        str(crt),
        "-extfile",
        str(ext),
    )
    csr.unlink()
    ext.unlink()


def kubeconfig(path: Path, pki: Path, client: str, server: str) -> None:
    """A kubeconfig with embedded certificates (JSON is valid YAML), context `koyalite-local`."""

    def b64(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server, "certificate-authority-data": b64(pki / "ca.crt")}}],
        "users": [
            {
                "name": CONTEXT,
                "user": {"client-certificate-data": b64(pki / f"{client}.crt"), "client-key-data": b64(pki / f"{client}.key")},
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT}}],
        "current-context": CONTEXT,
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)


def make_pki(paths: Paths, ip: str, node_name: str) -> None:
    pki = paths.pki
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    if (pki / "ca.crt").exists():
        return
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(pki / "ca.key"),
        "-out",
        str(pki / "ca.crt"),
        "-days",
        "3650",
        "-subj",
        "/CN=koyalite-local-ca",
    )
    names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]
    alt = ",".join([f"IP:{a}" for a in ("127.0.0.1", "10.96.0.1", ip)] + [f"DNS:{n}" for n in names])
    certificate(pki, "apiserver", "/CN=kube-apiserver", f"subjectAltName={alt}\nextendedKeyUsage=serverAuth")
    for name, subject in CLIENTS.items():
        certificate(pki, name, subject, "extendedKeyUsage=clientAuth")
    certificate(pki, "kubelet", f"/O=system:nodes/CN=system:node:{node_name}", "extendedKeyUsage=clientAuth")
    certificate(pki, "kubelet-serving", f"/CN={node_name}", f"subjectAltName=IP:{ip},DNS:{node_name}\nextendedKeyUsage=serverAuth")
    openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
    openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    server = f"https://127.0.0.1:{API_PORT}"
    for client in (*CLIENTS, "kubelet"):
        kubeconfig(paths.component_kubeconfig(client), pki, client, server)


# --------------------------------------------------------------------------------------------------------------------
# Processes: each daemon runs in its own session with a pid file and a log; stopping reads the pid files back.
# --------------------------------------------------------------------------------------------------------------------
def start(paths: Paths, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.pids.mkdir(parents=True, exist_ok=True)
    with (paths.logs / f"{name}.log").open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=paths.root,
        )
    # the order files are written in is the order they are started in: `down` stops them in reverse
    (paths.pids / f"{time.time_ns()}-{name}.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie of ours (we are its parent when `up` and `down` run in one process) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def stop_all(paths: Paths, grace: float = 30.0) -> list[str]:
    """TERM each started process, newest first, waiting for it (KILL after `grace` seconds); returns their names."""
    stopped = []
    for pid_file in sorted(paths.pids.glob("*.pid"), reverse=True) if paths.pids.is_dir() else []:
        name = pid_file.stem.split("-", 1)[1]
        try:
            pid = int(pid_file.read_text().strip())
        except ValueError:
            pid_file.unlink()
            continue
        if alive(pid) and _ours(pid, paths):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if alive(pid):
                log(f"{name} (pid {pid}) did not stop in {grace:.0f}s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            stopped.append(name)
        pid_file.unlink()
    return stopped


def _ours(pid: int, paths: Paths) -> bool:
    """Whether the pid still runs one of our binaries (a pid reused by something else is never signalled)."""
    try:
        exe = str(Path(f"/proc/{pid}/exe").readlink())
    except OSError:
        return True  # no /proc access: trust the pid file
    return exe.startswith((str(cluster_build.cache_root()), str(paths.root))) or "containerd" in exe


def kubectl(paths: Paths, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = cluster_build.binaries()["kubectl"]
    return subprocess.run(
        [str(binary), f"--kubeconfig={paths.kubeconfig}", *args], input=input, capture_output=True, text=True, check=check
    )


def wait_for(what: str, ready: Callable[[], bool], timeout: float, paths: Paths, logs: Sequence[str]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ready():
            return time.monotonic() - started
        time.sleep(0.25)
    tails = "\n".join(f"--- {paths.logs / (n + '.log')} (last lines)\n{_tail(paths.logs / (n + '.log'))}" for n in logs)
    raise ClusterError(f"{what} not ready after {timeout:.0f}s\n{tails}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------------------------------
# The control plane (both tiers)
# --------------------------------------------------------------------------------------------------------------------
def control_plane(paths: Paths, ip: str) -> None:
    b = cluster_build.binaries()
    pki = paths.pki
    start(paths, "etcd", [
        str(b["etcd"]), "--name=koyalite", f"--data-dir={paths.root / 'etcd'}",
        "--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=koyalite=http://127.0.0.1:2380", "--listen-metrics-urls=", "--unsafe-no-fsync",
    ])  # fmt: skip
    start(paths, "kube-apiserver", [
        str(b["kube-apiserver"]), "--etcd-servers=http://127.0.0.1:2379", f"--secure-port={API_PORT}",
        "--bind-address=0.0.0.0", f"--advertise-address={ip}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--authorization-mode=Node,RBAC", "--allow-privileged=true",
        f"--kubelet-client-certificate={pki / 'admin.crt'}", f"--kubelet-client-key={pki / 'admin.key'}",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}", "--kubelet-preferred-address-types=InternalIP,Hostname",
    ])  # fmt: skip
    wait_for(
        "kube-apiserver /readyz",
        lambda: kubectl(paths, "get", "--raw", "/readyz", check=False).returncode == 0,
        90,
        paths,
        ["etcd", "kube-apiserver"],
    )
    start(paths, "kube-controller-manager", [
        str(b["kube-controller-manager"]), f"--kubeconfig={paths.component_kubeconfig('kcm')}",
        "--bind-address=127.0.0.1", "--leader-elect=false",
        f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
        "--use-service-account-credentials=true",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--enable-hostpath-provisioner=true",
        f"--cluster-cidr={POD_CIDR}", "--allocate-node-cidrs=false",
    ])  # fmt: skip
    start(paths, "kube-scheduler", [
        str(b["kube-scheduler"]), f"--kubeconfig={paths.component_kubeconfig('sched')}",
        "--bind-address=127.0.0.1", "--leader-elect=false",
    ])  # fmt: skip


def storage_classes(provisioner: str = "kubernetes.io/host-path", binding: str = "Immediate", default: str = "standard") -> str:
    docs = []
    for name in STORAGE_CLASSES:
        annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if name == default else {}
        docs.append({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "annotations": annotations, "labels": {"app.kubernetes.io/managed-by": "koyalite-cluster"}},
            "provisioner": provisioner, "reclaimPolicy": "Delete", "volumeBindingMode": binding,
        })  # fmt: skip
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


# --------------------------------------------------------------------------------------------------------------------
# API tier: kwok
# --------------------------------------------------------------------------------------------------------------------
KWOK_STAGES = ("node/fast/node-initialize", "node/heartbeat-with-lease/node-heartbeat-with-lease",
               "pod/fast/pod-ready", "pod/fast/pod-complete", "pod/fast/pod-delete")  # fmt: skip
"""kwok's own stages (from its module), for node heartbeats and the pod lifecycle."""


def ingress_stage(ip: str) -> str:
    """A kwok Stage that does what an ingress controller's status sync does: publish its address on every Ingress.

    Pulumi's Ingress await waits for `status.loadBalancer.ingress` (pulumi-kubernetes provider/pkg/await/ingress.go),
    which only a controller writes; on a user's cluster that is ingress-nginx or the cloud's controller."""
    return f"""apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: koyalite-ingress-status
spec:
  resourceRef:
    apiGroup: networking.k8s.io/v1
    kind: Ingress
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.loadBalancer.ingress'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      loadBalancer:
        ingress:
        - ip: {ip}
"""


def kwok_config(paths: Paths, ip: str) -> Path:
    source = Path(cluster_build.module("sigs.k8s.io/kwok", cluster_build.KWOK, paths.root)["Dir"]) / "kustomize" / "stage"
    # kwok applies its option defaults only when no KwokConfiguration is given; zero parallelism makes it exit
    docs = [
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions:\n"
        "  nodeLeaseParallelism: 4\n  podPlayStageParallelism: 4\n  nodePlayStageParallelism: 4\n  podsOnNodeSyncParallelism: 1\n"
    ]
    docs += [(source / f"{stage}.yaml").read_text() for stage in KWOK_STAGES]
    docs.append(ingress_stage(ip))
    path = paths.root / "kwok.yaml"
    path.write_text("---\n".join(docs))
    return path


def kwok_nodes(regions: Sequence[str], per_region: int, region_label: str) -> str:
    """Fake Nodes, `per_region` in each region (one zone each), with room for the reference prod and more."""
    items = []
    for region in regions:
        for i in range(per_region):
            name = f"kwok-{region}-{chr(ord('a') + i)}"
            labels = {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok",
                REGION_LABEL: region, ZONE_LABEL: f"{region}-{chr(ord('a') + i)}", region_label: region,
            }  # fmt: skip
            capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "500Gi"}
            items.append({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
                "status": {"capacity": capacity, "allocatable": capacity},
            })  # fmt: skip
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def api_tier(paths: Paths, ip: str, regions: Sequence[str], per_region: int, region_label: str) -> None:
    b = cluster_build.binaries()
    start(paths, "kwok", [
        str(b["kwok"]), f"--kubeconfig={paths.component_kubeconfig('kwok')}", f"--config={kwok_config(paths, ip)}",
        "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--node-ip={ip}", "--cidr=10.244.0.0/16", "--node-lease-duration-seconds=40", "--server-address=127.0.0.1:10247",
    ])  # fmt: skip
    kubectl(paths, "apply", "-f", "-", input=kwok_nodes(regions, per_region, region_label))
    count = len(regions) * per_region
    wait_for(
        f"{count} kwok nodes",
        lambda: _ready_nodes(paths) >= count,
        60,
        paths,
        ["kwok", "kube-controller-manager"],
    )


def _ready_nodes(paths: Paths) -> int:
    out = kubectl(paths, "get", "nodes", "-o", "json", check=False)
    if out.returncode != 0:
        return 0
    ready = 0
    for node in json.loads(out.stdout).get("items", []):
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        ready += conditions.get("Ready") == "True"
    return ready


# --------------------------------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------------------------------
def up(tier: str, regions: Sequence[str], per_region: int, region_label: str) -> Paths:
    paths = Paths(state_dir())
    if paths.tier_file.exists():
        running = paths.tier_file.read_text().strip()
        if running == tier and kubectl(paths, "get", "--raw", "/readyz", check=False).returncode == 0:
            log(f"the {tier} tier is already running (KUBECONFIG={paths.kubeconfig})")
            return paths
        log(f"a {running} tier was left behind: stopping it first")
        down()
    if tier == "node" and os.geteuid() != 0:
        raise ClusterError("the node tier needs root (containerd, CNI, iptables, mounts)")
    missing = [c.name for c in cluster_build.COMPONENTS if not c.ready()]
    if missing:
        raise ClusterError(f"not built yet: {', '.join(missing)}; run `python3 scripts/cluster_build.py` (make cluster does)")
    started = time.monotonic()
    paths.root.mkdir(parents=True, exist_ok=True)
    ip = node_ip()
    node_name = "koyalite-node"
    make_pki(paths, ip, node_name)
    shutil.copyfile(paths.component_kubeconfig("admin"), paths.kubeconfig)
    paths.kubeconfig.chmod(0o600)
    paths.tier_file.write_text(tier + "\n")
    try:
        control_plane(paths, ip)
        kubectl(paths, "apply", "-f", "-", input=storage_classes())
        if tier == "api":
            api_tier(paths, ip, regions, per_region, region_label)
        else:
            import cluster_node

            cluster_node.up(paths, ip, node_name)
    except BaseException:
        if os.environ.get("KOYALITE_CLUSTER_KEEP") == "1":
            log(f"start-up failed; KOYALITE_CLUSTER_KEEP=1 leaves it as it is for a look ({paths.logs}); `down` removes it")
            raise
        log("start-up failed: stopping what was started")
        down()
        raise
    log(f"{tier} tier ready in {time.monotonic() - started:.1f}s; export KUBECONFIG={paths.kubeconfig}")
    return paths


def down() -> list[str]:
    paths = Paths(state_dir())
    tier = paths.tier_file.read_text().strip() if paths.tier_file.exists() else ""
    if tier == "node":
        import cluster_node

        cluster_node.drain(paths)
    stopped = stop_all(paths)
    if tier == "node":
        import cluster_node

        cluster_node.clean_host(paths)
    shutil.rmtree(HOSTPATH_PV, ignore_errors=True)
    shutil.rmtree(paths.root, ignore_errors=True)
    log(f"stopped {', '.join(stopped) or 'nothing'}; removed {paths.root}")
    return stopped


def status() -> int:
    paths = Paths(state_dir())
    if not paths.tier_file.exists():
        log("no cluster")
        return 1
    ready = kubectl(paths, "get", "--raw", "/readyz", check=False).returncode == 0
    log(f"{paths.tier_file.read_text().strip()} tier, apiserver {'ready' if ready else 'NOT ready'}, {_ready_nodes(paths)} node(s) Ready")
    log(f"KUBECONFIG={paths.kubeconfig}")
    return 0 if ready else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the cluster (builds nothing: run scripts/cluster_build.py first)")
    p_up.add_argument("--tier", choices=("api", "node"), default="api")
    p_up.add_argument("--regions", default="fra,iad", help="regions of the kwok nodes (api tier), comma-separated")
    p_up.add_argument("--nodes-per-region", type=int, default=2)
    p_up.add_argument("--region-label", default=REGION_LABEL, help="the node label the manifest's region_label names")
    sub.add_parser("down", help="stop everything `up` started and remove the cluster's state")
    sub.add_parser("status", help="say whether a cluster runs and where its kubeconfig is")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            paths = up(args.tier, [r for r in args.regions.split(",") if r], args.nodes_per_region, args.region_label)
            print(paths.kubeconfig)
            return 0
        if args.command == "down":
            down()
            return 0
        return status()
    except (ClusterError, subprocess.CalledProcessError) as exc:
        detail = f"\n{exc.stderr}" if isinstance(exc, subprocess.CalledProcessError) and exc.stderr else ""
        log(f"error: {exc}{detail}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
