"""The node tier of scripts/cluster.py: one real node on this host, and its exact removal.

kubelet on a containerd of its own (Debian's containerd and runc; Docker's private containerd is left alone), the CNI
bridge plugin, kube-proxy in iptables mode, CoreDNS as a Deployment, and local-path-provisioner for claims (a
directory per claim, made writable by a helper pod, so non-root pods can write). Images come from the local Docker
daemon (`docker save | ctr import`): nothing is pulled. Settings follow shared/research/kubernetes_from_source.md
section 6, corrected where this host disagreed (see the comments).

Everything it adds to the host is listed here and removed by `clean_host`: processes (pid files), pods' mounts
under the kubelet's directory, containerd's task mounts, the `cni0` bridge, the kubelet's, kube-proxy's and the CNI
plugins' iptables chains, the kubelet's `kubepods` cgroups, /etc/cni/net.d/10-koyalite.conflist, the pods' logs and
the node's state directories. The node's containerd keeps its image store (/var/lib/koyalite/containerd) as a cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import cluster_build

if TYPE_CHECKING:
    from cluster import Paths

CONTAINERD_ROOT = Path("/var/lib/koyalite/containerd")
CONTAINERD_SOCKET = Path("/run/containerd/containerd.sock")  # the kubelet's cadvisor looks here and nowhere else
CONTAINERD_STATE = Path("/run/containerd")
KUBELET_ROOT = Path("/var/lib/kubelet")
CNI_CONF = Path("/etc/cni/net.d/10-koyalite.conflist")
CNI_BIN = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
CNI_STATE = Path("/var/lib/cni")
LOCAL_PATH_DIR = Path("/var/lib/koyalite/local-path")
LOG_DIRS = (Path("/var/log/pods"), Path("/var/log/containers"))
"""Where the kubelet keeps container logs."""
POD_SUBNET = "10.244.0.0/24"
CLUSTER_DNS = "10.96.0.10"
PAUSE_IMAGE = f"koyalite.local/pause:{cluster_build.PAUSE}"
COREDNS_IMAGE = f"koyalite.local/coredns:{cluster_build.COREDNS.removeprefix('v')}"
HELPER_IMAGE = "koyalite/base:1.4.0"
"""The local-path helper pod's image: images/build.py's busybox base (mkdir, chmod, rm)."""
REGION, ZONE = "fra", "fra-a"
PACKAGES = {"containerd": "containerd", "runc": "runc", "ctr": "containerd", str(CNI_BIN / "bridge"): "containernetworking-plugins"}


def log(message: str) -> None:
    print(f"cluster(node): {message}", flush=True)


def run(*argv: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(argv), check=check, capture_output=True, input=input)


def prepare_host() -> None:
    missing = sorted({pkg for binary, pkg in PACKAGES.items() if shutil.which(binary) is None and not Path(binary).exists()})
    if missing:
        from cluster import ClusterError

        raise ClusterError(f"the node tier needs Debian's {', '.join(missing)}: apt-get install {' '.join(missing)}")
    # mount propagation for the kubelet's volumes (kind's entrypoint does the same); `/` is private on this host
    run("mount", "--make-rshared", "/")
    for directory in (CNI_CONF.parent, KUBELET_ROOT, CONTAINERD_ROOT, LOCAL_PATH_DIR):
        directory.mkdir(parents=True, exist_ok=True)


FENCE = "KUBE-KOYALITE-FENCE"
"""A filter chain: a packet still addressed to the service range when it is forwarded was not translated by kube-proxy."""


def fence_services(service_cidr: str) -> None:
    """Refuse forwarded traffic to a Service address kube-proxy has no rule for (yet), instead of routing it out.

    On this host everything off the node goes to a gateway that answers any HTTP request itself (404, `server:
    keryx`): a pod's connection to a Service in the moment between its endpoints changing and kube-proxy's next
    sync reached that gateway, and a client keeping the connection alive kept asking it (the LiteFS primary's
    restart test, 1 run in 3). On a real network such a packet is dropped; here it is refused at once. Removed with
    the other KUBE- chains (_remove_chains)."""
    run("iptables", "-N", FENCE, check=False)
    run("iptables", "-F", FENCE)
    run("iptables", "-A", FENCE, "-d", service_cidr, "-j", "REJECT", "--reject-with", "icmp-port-unreachable")
    if run("iptables", "-C", "FORWARD", "-j", FENCE, check=False).returncode != 0:
        run("iptables", "-I", "FORWARD", "1", "-j", FENCE)


def containerd_config(paths: Paths) -> Path:
    # version 2 config for containerd 1.6; root and state are ours, the socket is the default one
    text = f"""version = 2
root = "{CONTAINERD_ROOT}"
state = "{CONTAINERD_STATE}"
[grpc]
  address = "{CONTAINERD_SOCKET}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # this host withholds CAP_SYS_RESOURCE even from root, so no process may lower its oom_score_adj below 0; the
  # kubelet asks -998 for sandboxes and -997 for Guaranteed pods, and runc then fails ("oom_score_adj: Permission
  # denied"). Clamped to containerd's own score instead, as rootless setups do.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{CNI_CONF.parent}"
"""
    path = paths.root / "containerd.toml"
    path.write_text(text)
    return path


def cni_config() -> None:
    # `firewall` adds ACCEPT rules for pod addresses: Docker set the FORWARD policy to DROP on this host
    conf = {
        "cniVersion": "1.0.0",
        "name": "koyalite",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET}]], "routes": [{"dst": "0.0.0.0/0"}]},
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "firewall"},
        ],
    }
    CNI_CONF.write_text(json.dumps(conf, indent=2) + "\n")


def ctr(*args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return run("ctr", "--address", str(CONTAINERD_SOCKET), "--namespace", "k8s.io", *args, input=input, check=check)


def docker_image(name: str, files: dict[str, Path], entrypoint: list[str]) -> None:
    """`docker import` of a root file system holding just `files` (path in the image -> file here)."""
    with tempfile.TemporaryDirectory() as root:
        for inside, source in files.items():
            target = Path(root) / inside.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        tar = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True).stdout
        run("docker", "import", "--change", f"ENTRYPOINT {json.dumps(entrypoint)}", "-", name, input=tar)


def import_images(stack_images: list[str]) -> int:
    """Our cluster images built into Docker, then every image streamed into the node's containerd (an image whose
    Docker id was imported before and is still there is skipped)."""
    b = cluster_build.binaries()
    docker_image(PAUSE_IMAGE, {"/pause": b["pause"]}, ["/pause"])
    docker_image(COREDNS_IMAGE, {"/coredns": b["coredns"]}, ["/coredns"])
    present = set(ctr("images", "ls", "-q").stdout.decode().split())
    record = CONTAINERD_ROOT / "koyalite-imported.json"
    imported: dict[str, str] = json.loads(record.read_text()) if record.exists() else {}
    wanted = [PAUSE_IMAGE, COREDNS_IMAGE, HELPER_IMAGE, *stack_images]
    for image in wanted:
        docker_id = run("docker", "image", "inspect", "-f", "{{.Id}}", image, check=False).stdout.decode().strip()
        if not docker_id:
            from cluster import ClusterError

            raise ClusterError(f"image {image} is not in the local Docker daemon: build it first (make images)")
        # containerd names `koyalite/x:1` docker.io/koyalite/x:1, as the kubelet resolves it
        ref = image if "." in image.split("/")[0] else f"docker.io/{image}"
        if ref in present and imported.get(ref) == docker_id:
            continue
        saved = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
        ctr("images", "import", "--all-platforms", "-", input=saved)
        imported[ref] = docker_id
    record.write_text(json.dumps(imported, indent=2, sort_keys=True) + "\n")
    return len(wanted)


def local_stack_images() -> list[str]:
    """Every `koyalite/*` image of the local Docker daemon (the stack's images, built by images/build.py)."""
    out = run("docker", "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode().split()
    return sorted(i for i in out if i.startswith("koyalite/") and not i.endswith(":<none>"))


def kubelet_config(paths: Paths) -> Path:
    pki = paths.pki
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "cgroupDriver": "cgroupfs",  # containerd 1.6 has no RuntimeConfig RPC, so the kubelet uses this value
        "failCgroupV1": False,  # this host has cgroup v1; 1.35 refuses it unless told
        "failSwapOn": False,
        "imageGCHighThresholdPercent": 100,  # containerd 1.6.20 does not pin the sandbox image: never collect images
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
        "clusterDNS": [CLUSTER_DNS],
        "clusterDomain": "cluster.local",
        "readOnlyPort": 0,
        "tlsCertFile": str(pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False}, "x509": {"clientCAFile": str(pki / "ca.crt")}},
        "authorization": {"mode": "AlwaysAllow"},
        "serializeImagePulls": False,
        "maxPods": 110,
        "podCIDR": POD_SUBNET,
    }
    path = paths.root / "kubelet.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def proxy_config(paths: Paths, node_name: str) -> Path:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clusterCIDR": "10.244.0.0/16",
        "hostnameOverride": node_name,
        "clientConnection": {"kubeconfig": str(paths.component_kubeconfig("proxy"))},
        "conntrack": {"maxPerCore": 0},  # leave the host's nf_conntrack_max alone
        "metricsBindAddress": "127.0.0.1:10249",
        "oomScoreAdj": 0,  # -999 by default: refused here (no CAP_SYS_RESOURCE), see containerd_config
    }
    path = paths.root / "kube-proxy.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def coredns_objects() -> str:
    """CoreDNS as kubeadm deploys it (service account, RBAC, Corefile, Deployment, Service at CLUSTER_DNS)."""
    ns = "kube-system"
    labels = {"k8s-app": "kube-dns"}
    corefile = (
        ".:53 {\n    errors\n    health {\n        lameduck 5s\n    }\n    ready\n"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n"
        "        ttl 30\n    }\n    forward . /etc/resolv.conf {\n        max_concurrent 1000\n    }\n    cache 30\n    loop\n    reload\n}\n"
    )
    items = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": ns}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": ns}],
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": ns}, "data": {"Corefile": corefile}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "dnsPolicy": "Default",
                        "priorityClassName": "system-cluster-critical",
                        "containers": [
                            {
                                "name": "coredns",
                                "image": COREDNS_IMAGE,
                                "imagePullPolicy": "IfNotPresent",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                ],
                                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "170Mi"}},
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                                    "readOnlyRootFilesystem": True,
                                },
                                "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10},
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": ns, "labels": labels},
            "spec": {
                "clusterIP": CLUSTER_DNS,
                "selector": labels,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
            },
        },
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


LOCAL_PATH_NS = "local-path-storage"


def local_path_objects() -> str:
    """The provisioner's namespace, service account and configuration (it runs on the host, like the control
    plane, and makes each claim's directory through a helper pod on the node)."""
    config = {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [str(LOCAL_PATH_DIR)]}]}
    helper = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helper-pod"},
        # root: it makes and removes directories under LOCAL_PATH_DIR (the base image's user is 10001)
        "spec": {
            "containers": [
                {"name": "helper-pod", "image": HELPER_IMAGE, "imagePullPolicy": "IfNotPresent", "securityContext": {"runAsUser": 0}}
            ]
        },
    }
    items = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LOCAL_PATH_NS}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "local-path-provisioner", "namespace": LOCAL_PATH_NS}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "local-path-config", "namespace": LOCAL_PATH_NS},
            "data": {
                "config.json": json.dumps(config),
                # the pod's user must be able to write its volume: the directory is world-writable, as upstream's is
                "setup": '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
                "teardown": '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
                "helperPod.yaml": json.dumps(helper),
            },
        },
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def up(paths: Paths, ip: str, node_name: str) -> None:
    from cluster import kubectl, start, storage_classes, wait_for

    b = cluster_build.binaries()
    prepare_host()
    started = time.monotonic()
    start(paths, "containerd", ["containerd", "--config", str(containerd_config(paths))])
    wait_for("containerd", lambda: ctr("version", check=False).returncode == 0, 30, paths, ["containerd"])
    cni_config()
    from cluster import SERVICE_CIDR

    fence_services(SERVICE_CIDR)
    count = import_images(local_stack_images())
    log(f"{count} images in the node's containerd ({time.monotonic() - started:.0f}s)")
    labels = f"topology.kubernetes.io/region={REGION},topology.kubernetes.io/zone={ZONE}"
    start(paths, "kubelet", [
        str(b["kubelet"]), f"--config={kubelet_config(paths)}", f"--kubeconfig={paths.component_kubeconfig('kubelet')}",
        f"--node-ip={ip}", f"--hostname-override={node_name}", f"--node-labels={labels}", "--oom-score-adj=0",
    ])  # fmt: skip
    start(paths, "kube-proxy", [str(b["kube-proxy"]), f"--config={proxy_config(paths, node_name)}"])
    wait_for(
        f"node {node_name}",
        lambda: "True" in kubectl(paths, "get", "node", node_name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False).stdout,
        120, paths, ["kubelet", "containerd"],
    )  # fmt: skip
    kubectl(paths, "apply", "-f", "-", input=coredns_objects())
    kubectl(paths, "apply", "-f", "-", input=local_path_objects())
    # the api tier's classes were made for the controller-manager's provisioner: here claims wait for their pod
    kubectl(paths, "delete", "storageclass", "--all", "--wait=true")
    kubectl(paths, "apply", "-f", "-", input=storage_classes(provisioner="rancher.io/local-path", binding="WaitForFirstConsumer"))
    start(paths, "local-path-provisioner", [
        str(b["local-path-provisioner"]), "--debug", "start", f"--kubeconfig={paths.component_kubeconfig('admin')}",
        f"--namespace={LOCAL_PATH_NS}", f"--helper-image={HELPER_IMAGE}", "--service-account-name=local-path-provisioner",
        "--provisioner-name=rancher.io/local-path",
    ])  # fmt: skip
    wait_for(
        "CoreDNS",
        lambda: kubectl(paths, "-n", "kube-system", "get", "deploy", "coredns", "-o", "jsonpath={.status.readyReplicas}", check=False).stdout
        == "1",
        120, paths, ["kubelet"],
    )  # fmt: skip


def drain(paths: Paths) -> None:
    """Stop every pod through the kubelet while it still runs, so CNI removes each pod's address and rules."""
    from cluster import kubectl

    if kubectl(paths, "get", "--raw", "/readyz", check=False).returncode != 0:
        return
    nodes = kubectl(paths, "get", "nodes", "-o", "name", check=False).stdout.split()
    for node in nodes:
        kubectl(paths, "cordon", node, check=False)  # controllers' replacement pods stay Pending
    kubectl(paths, "delete", "pods", "--all", "--all-namespaces", "--grace-period=2", "--timeout=90s", check=False)


def clean_host(paths: Paths) -> None:
    """Remove what the node added to the host, after its processes stopped (cluster.stop_all)."""
    b = cluster_build.binaries()
    # containers whose pods the drain missed: their shims outlive containerd
    for line in run("ps", "-eo", "pid=,args=").stdout.decode().splitlines():
        pid, _, args = line.strip().partition(" ")
        if "containerd-shim" in args and "-namespace k8s.io" in args and f"-address {CONTAINERD_SOCKET}" in args:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
    for mount in reversed(_mounts_under((KUBELET_ROOT, CONTAINERD_STATE, CONTAINERD_ROOT))):
        run("umount", "-l", mount, check=False)
    run(str(b["kube-proxy"]), "--cleanup", check=False)  # kube-proxy's own removal of its KUBE-* rules
    run("ip", "link", "delete", "cni0", check=False)
    _remove_chains()
    CNI_CONF.unlink(missing_ok=True)
    _remove_cgroups()
    for directory in (KUBELET_ROOT, CONTAINERD_STATE, CNI_STATE / "networks" / "koyalite", LOCAL_PATH_DIR, *LOG_DIRS):
        shutil.rmtree(directory, ignore_errors=True)
    # CONTAINERD_ROOT keeps the imported images (a cache, like the built binaries): containers and snapshots of
    # containers are gone with their tasks; `ctr` content is re-checked on the next start


def _remove_cgroups(name: str = "kubepods") -> None:
    """The kubelet's cgroup tree in every v1 hierarchy (empty now that its processes are gone), deepest first."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        top = hierarchy / name
        if top.is_dir():
            for directory in sorted((d for d in top.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()


def _mounts_under(roots: tuple[Path, ...]) -> list[str]:
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if any(point == str(r) or point.startswith(f"{r}/") for r in roots):
            found.append(point)
    return found


def _remove_chains(prefixes: tuple[str, ...] = ("CNI-", "KUBE-")) -> None:
    """The chains the kubelet (KUBE-FIREWALL, canaries), kube-proxy and the CNI plugins (masquerade, portmap,
    firewall) made, in every table and both address families, and the rules that jump to them."""
    for binary in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            rules = run(binary, "-t", table, "-S", check=False).stdout.decode().splitlines()
            for rule in rules:
                if rule.startswith("-A ") and not rule.split()[1].startswith(prefixes) and any(f"-j {p}" in rule for p in prefixes):
                    run(binary, "-t", table, *shlex.split(rule.replace("-A ", "-D ", 1)), check=False)
            chains = [rule.split()[1] for rule in rules if rule.startswith("-N ") and rule.split()[1].startswith(prefixes)]
            for chain in chains:
                run(binary, "-t", table, "-F", chain, check=False)
            for chain in chains:
                run(binary, "-t", table, "-X", chain, check=False)
