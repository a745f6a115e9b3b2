#!/usr/bin/env python3
"""Build (or reuse) the binaries of the local Kubernetes cluster from Go source, through the Go module proxy only.

Run as ``python3 scripts/cluster_build.py [--force] [--only NAME ...]`` (``make cluster`` calls it first).

What it builds, each cached once per machine under ``${XDG_CACHE_HOME:-~/.cache}/koyalite/cluster/<name>-<version>/``:

* ``kubernetes``: kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubectl (static) and kubelet
  (cgo, as upstream) from ``k8s.io/kubernetes``. That module cannot be ``go install``-ed: its go.mod replaces every
  ``k8s.io/*`` staging module with a directory its module zip does not hold. A wrapper module requires it and
  replaces each staging module with its published tag instead (``v0.<minor>.<patch>``, the same code);
* ``etcd`` from ``go.etcd.io/etcd/server/v3`` through a wrapper module (the server module has replace directives);
* ``kwok`` (the API tier's fake nodes), ``coredns`` (the node tier's DNS) and ``local-path-provisioner`` (the node
  tier's volumes: a directory per claim, writable by the pod's user) with ``go install``;
* ``pause``, the pod sandbox, compiled statically with gcc from ``build/pause/linux/pause.c`` of the Kubernetes module.

The pins are below; shared/research/kubernetes_from_source.md says why these versions (cgroup v1, containerd 1.6).
Builds run in a staging folder and are moved into place under a lock, so a half-built binary is never used.
Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gobuild

KUBERNETES = "v1.35.4"  # ≤ 1.37: the last minors whose kubelet runs on cgroup v1 and containerd 1.x (see the note)
ETCD = "v3.6.6"  # what kubeadm of KUBERNETES pins
KWOK = "v0.8.0"
COREDNS = "v1.14.7"  # built against client-go v0.35.x
PAUSE = "3.10.1"  # what kubeadm of KUBERNETES pins
LOCAL_PATH = "v0.0.30"  # the node tier's volume provisioner (k3s's default); the newest the proxy serves

STATIC_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubectl")
CGO_COMMANDS = ("kubelet",)  # upstream's KUBE_STATIC_BINARIES leaves the kubelet out


def log(message: str) -> None:
    print(f"cluster-build: {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "koyalite" / "cluster"


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    binaries: tuple[str, ...]
    build: Callable[[Path, str], None]  # (staging bin dir, version)

    @property
    def directory(self) -> Path:
        return cache_root() / f"{self.name}-{self.version}"

    def ready(self) -> bool:
        stamp = self.directory / ".complete"
        return stamp.is_file() and all((self.directory / b).is_file() for b in self.binaries)


def go(args: list[str], cwd: Path, **env: str) -> None:
    subprocess.run(["go", *args], cwd=cwd, env=gobuild.go_env(GOTOOLCHAIN="local", GOWORK="off", **env), check=True)


def module(path: str, version: str, cwd: Path) -> dict[str, str]:
    """`go mod download -json` of path@version: where its go.mod (GoMod) and its files (Dir) are in the module
    cache, downloaded through the proxy if needed."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{path}@{version}"],
        cwd=cwd,
        env=gobuild.go_env(GOWORK="off"),
        capture_output=True,
        text=True,
        check=False,
    )
    info: dict[str, str] = json.loads(out.stdout or "{}")
    if out.returncode != 0 or "GoMod" not in info:
        raise gobuild.ToolBuildError(f"the Go module proxy does not serve {path}@{version}: {info.get('Error') or out.stderr.strip()}")
    return info


def wrapper_gomod(version: str, gomod: Path) -> str:
    """A go.mod requiring k8s.io/kubernetes@version with each staging module (required upstream at the
    nonexistent v0.0.0 and replaced by a directory) replaced by its published v0.<minor>.<patch> tag."""
    staging = "v0." + version.removeprefix("v1.")
    lines = gomod.read_text().splitlines()
    go_line = next(line for line in lines if line.startswith("go "))
    godebug = [line for line in lines if line.startswith("godebug")]
    replaced = sorted(
        {parts[0] for line in lines if len(parts := line.split()) >= 2 and parts[1] == "v0.0.0" and parts[0].startswith("k8s.io/")}
    )
    if not replaced:
        raise gobuild.ToolBuildError(f"k8s.io/kubernetes@{version}: no v0.0.0 staging requirements in its go.mod")
    body = ["module koyalite.local/k8sbuild", "", go_line, *godebug, "", f"require k8s.io/kubernetes {version}", "", "replace ("]
    body += [f"\t{m} => {m} {staging}" for m in replaced]
    body += [")", ""]
    return "\n".join(body)


def version_ldflags(version: str) -> str:
    minor = version.split(".")[1]
    flags = ["-s", "-w"]
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor=1",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={date}",
        ]
    return " ".join(flags)


def build_kubernetes(out: Path, version: str) -> None:
    work = out.parent / "module"
    work.mkdir()
    gomod = Path(module("k8s.io/kubernetes", version, work)["GoMod"])
    (work / "go.mod").write_text(wrapper_gomod(version, gomod))
    imports = "".join(f'\t_ "k8s.io/kubernetes/cmd/{c}"\n' for c in (*STATIC_COMMANDS, *CGO_COMMANDS))
    (work / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{imports})\n")
    go(["mod", "tidy"], work)
    common = ["build", "-p", "2", "-trimpath", "-tags", "selinux,notest", "-ldflags", version_ldflags(version), "-o", str(out) + "/"]
    go([*common, *(f"k8s.io/kubernetes/cmd/{c}" for c in STATIC_COMMANDS)], work, CGO_ENABLED="0")
    go([*common, *(f"k8s.io/kubernetes/cmd/{c}" for c in CGO_COMMANDS)], work, CGO_ENABLED="1")


def build_etcd(out: Path, version: str) -> None:
    work = out.parent / "module"
    work.mkdir()
    (work / "go.mod").write_text(f"module koyalite.local/etcdbuild\n\ngo 1.25\n\nrequire go.etcd.io/etcd/server/v3 {version}\n")
    (work / "main.go").write_text(
        'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n'
    )
    go(["mod", "tidy"], work)
    go(["build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"), "."], work)


def go_install(module: str) -> Callable[[Path, str], None]:
    def build(out: Path, version: str) -> None:
        go(["install", "-trimpath", "-ldflags", "-s -w", f"{module}@{version}"], out, GOBIN=str(out))

    return build


def build_pause(out: Path, version: str) -> None:
    if shutil.which("gcc") is None:
        raise gobuild.ToolBuildError("gcc is not installed: apt-get install gcc libc6-dev")
    source = Path(module("k8s.io/kubernetes", KUBERNETES, out)["Dir"]) / "build" / "pause" / "linux" / "pause.c"
    # Flags from build/pause/Makefile; a static binary, so the image needs nothing else.
    subprocess.run(
        ["gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{version}-koyalite", "-o", str(out / "pause"), str(source)],
        check=True,
    )


COMPONENTS: tuple[Component, ...] = (
    Component("kubernetes", KUBERNETES, (*STATIC_COMMANDS, *CGO_COMMANDS), build_kubernetes),
    Component("etcd", ETCD, ("etcd",), build_etcd),
    Component("kwok", KWOK, ("kwok",), go_install("sigs.k8s.io/kwok/cmd/kwok")),
    Component("coredns", COREDNS, ("coredns",), go_install("github.com/coredns/coredns")),
    Component("pause", PAUSE, ("pause",), build_pause),
    Component("local-path-provisioner", LOCAL_PATH, ("local-path-provisioner",), go_install("github.com/rancher/local-path-provisioner")),
)


def ensure(component: Component, force: bool = False) -> Path:
    """component.directory with every binary in it, built once per machine."""
    if not force and component.ready():
        return component.directory
    if shutil.which("go") is None:
        raise gobuild.ToolBuildError(f"Go is not installed: {component.name} is built from source through the Go module proxy")
    with gobuild.locked(cache_root() / f".{component.name}.lock", log):
        if not force and component.ready():
            return component.directory
        cache_root().mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{component.name}-{component.version}.", dir=cache_root()))
        try:
            started = time.monotonic()
            log(f"building {component.name} {component.version} ...")
            (staging / "bin").mkdir()
            component.build(staging / "bin", component.version)
            if component.directory.exists():
                shutil.rmtree(component.directory)
            component.directory.mkdir(parents=True)
            for binary in component.binaries:
                shutil.move(str(staging / "bin" / binary), component.directory / binary)
            seconds = time.monotonic() - started
            (component.directory / ".complete").write_text(f"{component.version} built in {seconds:.0f}s\n")
            log(f"built {component.name} {component.version} in {seconds:.0f}s")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return component.directory


def binaries() -> dict[str, Path]:
    """Every cluster binary by name, from the cache (build first)."""
    return {b: c.directory / b for c in COMPONENTS for b in c.binaries}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--only", action="append", choices=[c.name for c in COMPONENTS], help="build only these")
    parser.add_argument("--check", action="store_true", help="only say whether every component is cached")
    args = parser.parse_args(argv)
    chosen = [c for c in COMPONENTS if not args.only or c.name in args.only]
    if args.check:
        missing = [c.name for c in chosen if not c.ready()]
        for c in chosen:
            log(f"{c.name} {c.version}: {'cached' if c.ready() else 'missing'} ({c.directory})")
        return 1 if missing else 0
    failed = []
    for component in chosen:
        try:
            ensure(component, args.force)
        except (gobuild.ToolBuildError, subprocess.CalledProcessError) as exc:
            log(f"error: {component.name} {component.version}: {exc}")
            failed.append(component.name)
    if failed:
        return 1
    for c in chosen:
        log(f"{c.name} {c.version}: {c.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
