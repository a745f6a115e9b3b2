#!/usr/bin/env python3
"""Build KoyaLite's local Docker images without any image registry.

    .venv/bin/python images/build.py [--only NAME[,NAME…]] [--force] [--weaviate auto|real|stand-in] [--list]

No registry is reachable on our machines, so every image is assembled here from parts that are:

* ``koyalite/base:1.4.0`` — a distroless-style glibc root filesystem made by ``docker import`` of a tar this script
  writes: busybox (static, Debian's busybox-static) with an applet symlink each (sh, wget, …), the glibc shared
  libraries of this machine's Debian, CA certificates, /etc/passwd and /etc/group with koyalite (10001), /tmp, and
  the entrypoint ``/usr/local/bin/koyalite-entrypoint`` (the ``NAME_FILE`` convention).
* every other image is ``docker build`` (classic builder) ``FROM`` that base, or from ``koyalite/deno:2.9.8`` (base +
  the Deno binary of PyPI's ``deno`` wheel), adding Go binaries built from source through the Go module proxy
  (LiteFS, SeaweedFS, Weaviate), Debian package files (fusermount3) and KoyaLite's own TypeScript programs.

Caching: each image carries the label ``koyalite.dev/inputs`` — a hash of everything it is made from (this script,
its parent's hash, versions, the contents of its source files) — and is skipped when an image with that label
exists. Go binaries are cached under ``~/.cache/koyalite/images/bin`` by recipe, Go sources and the Go build cache
beside them (``KOYALITE_IMAGES_CACHE`` moves it): a second run takes seconds. ``--force`` rebuilds the images (not the Go binaries; delete the cache's ``bin/`` for that).

Importable: ``build(["probe"])`` returns one ``Result`` per image built or found.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Outside the checkout, beside the toolchain's: a fresh clone (CI) on the same machine reuses the Go builds.
CACHE = Path(
    os.environ.get("KOYALITE_IMAGES_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "koyalite" / "images"
)
RELEASE = "1.4.0"
DENO_VERSION = "2.9.8"
LIBDIR = "/lib/x86_64-linux-gnu"
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENTRYPOINT = "/usr/local/bin/koyalite-entrypoint"
UID = 10001
INPUTS_LABEL = "koyalite.dev/inputs"
STAND_IN_LABEL = "koyalite.dev/stand-in"
# The glibc libraries every dynamically linked binary here needs; anything else comes with the binary (ldd).
BASE_LIBS = (
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libresolv.so.2",
    "libgcc_s.so.1",
)
ROLES = ("api", "auth", "project", "rls", "search", "email", "studio")


class BuildError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(message, flush=True)


def run(
    cmd: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    logfile: Path | None = None,
    input_bytes: bytes | None = None,
) -> str:
    """Run a command; on failure raise BuildError with the tail of its output."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode(errors="replace")
    if logfile is not None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        logfile.write_text(out)
    if proc.returncode != 0:
        tail = "\n".join(out.splitlines()[-40:])
        where = f" (full log: {logfile})" if logfile else ""
        raise BuildError(f"{' '.join(cmd[:4])}… exited {proc.returncode}{where}\n{tail}")
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dpkg_version(package: str) -> str:
    try:
        return run(["dpkg-query", "-W", "-f", "${Version}", package]).strip()
    except (BuildError, FileNotFoundError):
        return "unknown"


def ldd(binary: Path) -> list[str]:
    """Absolute paths of the shared libraries a dynamically linked binary loads ([] for a static one)."""
    proc = subprocess.run(["ldd", str(binary)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 or "not a dynamic executable" in proc.stdout or "statically linked" in proc.stdout:
        return []
    libs = []
    for line in proc.stdout.splitlines():
        parts = line.split()
        if "=>" in parts:
            target = parts[parts.index("=>") + 1]
            if target.startswith("/"):
                libs.append(target)
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


def human(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


# --------------------------------------------------------------------------------------------------- Docker


def docker(*args: str, input_bytes: bytes | None = None, logfile: Path | None = None) -> str:
    return run(["docker", *args], input_bytes=input_bytes, logfile=logfile)


def image_labels(ref: str) -> dict[str, str] | None:
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", ref],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout or "null") or {}


def image_size(ref: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", ref).strip() or 0)


def image_with_inputs(digest: str) -> str | None:
    out = docker("images", "-q", "--no-trunc", "--filter", f"label={INPUTS_LABEL}={digest}").split()
    return out[0] if out else None


def require_docker() -> None:
    if shutil.which("docker") is None:
        raise BuildError("docker is not installed (Debian: apt-get install docker.io)")
    proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(
            "the Docker daemon is not reachable: start it, e.g. `nohup dockerd >/tmp/dockerd.log 2>&1 &`\n" + proc.stderr.strip()
        )


# --------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class GoBinary:
    """A binary built from a module served by the Go module proxy (sources land in the cache, never in the repo)."""

    name: str
    module: str
    version: str
    package: str
    upstream_version: str
    ldflags: str = "-s -w"
    tags: str = ""
    cgo: bool = False

    def recipe(self) -> dict[str, object]:
        return {
            "module": self.module,
            "version": self.version,
            "package": self.package,
            "ldflags": self.ldflags,
            "tags": self.tags,
            "cgo": self.cgo,
            "go": go_version(),
        }

    @property
    def output(self) -> Path:
        digest = sha256_bytes(json.dumps(self.recipe(), sort_keys=True).encode())[:12]
        return CACHE / "bin" / f"{self.name}-{self.version}-{digest}"

    def build(self) -> Path:
        out = self.output
        if out.exists():
            return out
        env = go_env(self.cgo)
        info = json.loads(
            run(
                ["go", "mod", "download", "-json", f"{self.module}@{self.version}"],
                env=env,
                cwd=CACHE,
                logfile=CACHE / "logs" / f"{self.name}-download.log",
            )
        )
        if info.get("Error"):
            raise BuildError(f"{self.module}@{self.version}: {info['Error']}")
        src = CACHE / "src" / f"{self.module.rsplit('/', 1)[-1]}@{self.version}"
        if not src.exists():
            tmp = src.with_name(src.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(info["Dir"], tmp, symlinks=True)
            for root, dirs, files in os.walk(tmp):
                for entry in dirs + files:
                    p = Path(root, entry)
                    if not p.is_symlink():
                        p.chmod(p.stat().st_mode | 0o200)
            tmp.rename(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["go", "build", "-trimpath", "-ldflags", self.ldflags, "-o", str(out) + ".tmp"]
        if self.tags:
            cmd[2:2] = ["-tags", self.tags]
        cmd.append(self.package)
        log(f"  go build {self.module}@{self.version} {self.package} (log: {CACHE}/logs/{self.name}-build.log)")
        run(cmd, cwd=src, env=env, logfile=CACHE / "logs" / f"{self.name}-build.log")
        Path(str(out) + ".tmp").rename(out)
        return out


_GO_VERSION: list[str] = []


def go_version() -> str:
    if not _GO_VERSION:
        try:
            _GO_VERSION.append(run(["go", "env", "GOVERSION"]).strip())
        except (BuildError, FileNotFoundError):
            _GO_VERSION.append("missing")
    return _GO_VERSION[0]


def go_env(cgo: bool) -> dict[str, str]:
    if shutil.which("go") is None:
        raise BuildError("the Go toolchain is missing (Debian: apt-get install golang, or Go ≥ 1.26 on PATH)")
    env = dict(os.environ)
    env.update(
        {
            "GOMODCACHE": str(CACHE / "go" / "mod"),
            "GOCACHE": str(CACHE / "go" / "build"),
            "GOFLAGS": "-mod=mod -buildvcs=false",
            "CGO_ENABLED": "1" if cgo else "0",
            "GOWORK": "off",
        }
    )
    return env


SEAWEEDFS_COMMIT = "7506e5f91cd6"
GO = {
    "litefs": GoBinary(
        "litefs",
        "github.com/superfly/litefs",
        "v0.5.14",
        "./cmd/litefs",
        "0.5.14",
        ldflags="-s -w -X main.Version=v0.5.14",
        tags="osusergo,netgo",
    ),
    # The module proxy serves SeaweedFS (whose tags are not semver) only as this pseudo-version: weed 4.53.
    "weed": GoBinary(
        "weed",
        "github.com/seaweedfs/seaweedfs",
        f"v0.0.0-20261109003541-{SEAWEEDFS_COMMIT}",
        "./weed",
        "4.53",
        ldflags=f"-s -w -X github.com/seaweedfs/seaweedfs/weed/util/version.COMMIT={SEAWEEDFS_COMMIT}",
    ),
    "nats-server": GoBinary(
        "nats-server",
        "github.com/nats-io/nats-server/v2",
        "v2.15.2",
        ".",
        "2.15.2",
        ldflags="-s -w -X github.com/nats-io/nats-server/v2/server.gitCommit=v2.15.2",
    ),
    # The official NATS CLI: `nats stream/consumer` for the declared streams, `nats bench` for bench/events.py.
    "nats": GoBinary(
        "nats",
        "github.com/nats-io/natscli",
        "v0.5.0",
        "./nats",
        "0.5.0",
        ldflags="-s -w -X main.version=v0.5.0",
    ),
    "weaviate": GoBinary(
        "weaviate",
        "github.com/weaviate/weaviate",
        "v1.38.2",
        "./cmd/weaviate-server",
        "1.38.2",
        ldflags="-s -w -X github.com/weaviate/weaviate/usecases/build.Revision=v1.38.2"
        " -X github.com/weaviate/weaviate/usecases/build.Branch=v1.38.2"
        " -X github.com/weaviate/weaviate/usecases/build.BuildUser=koyalite-images",
        cgo=True,
    ),
}


def deno_binary() -> Path:
    """The deno executable of PyPI's `deno` wheel (pip download; the wheel ships the official release binary)."""
    target = CACHE / "deno" / DENO_VERSION / "deno"
    if target.exists():
        return target
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob(f"deno-{DENO_VERSION}-*manylinux*x86_64*.whl"))
    if not found:
        pip = [sys.executable, "-m", "pip"]
        if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
            pip = [str(REPO / ".venv" / "bin" / "pip")]
        run([*pip, "download", "--no-deps", "--only-binary=:all:", "-d", str(wheels), f"deno=={DENO_VERSION}"])
        found = sorted(wheels.glob(f"deno-{DENO_VERSION}-*manylinux*x86_64*.whl"))
    if not found:
        raise BuildError(f"pip did not bring a manylinux x86_64 wheel of deno=={DENO_VERSION}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(found[0]) as wheel:
        member = next(n for n in wheel.namelist() if n.endswith("/scripts/deno"))
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(wheel.read(member))
    tmp.chmod(0o755)
    tmp.rename(target)
    return target


def debian_file(package: str, member: str) -> Path:
    """One file of a Debian package, fetched with `apt-get download` (nothing is installed on this machine)."""
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        proc = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
        if proc.returncode != 0:
            run(["apt-get", "update", "-qq"])
            run(["apt-get", "download", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    deb = found[-1]
    out = CACHE / "debs" / deb.stem
    if not out.exists():
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        run(["dpkg-deb", "-x", str(deb), str(tmp)])
        tmp.rename(out)
    path = out / member.lstrip("/")
    if not path.exists():
        raise BuildError(f"{deb.name} has no {member}")
    return path


def debian_candidate(package: str) -> str:
    found = sorted((CACHE / "debs").glob(f"{package}_*.deb"))
    if found:
        return found[-1].name
    proc = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("Version:"):
            return f"{package}_{line.split()[1]}"
    return f"{package}_unknown"


# --------------------------------------------------------------------------------------------------- images


@dataclass
class Context:
    """The files an image adds on top of its parent: a rootfs tree COPY'd to /."""

    root: Path
    lib_sources: list[Path] = field(default_factory=list)

    def put(self, dest: str, source: Path | None = None, *, text: str | None = None, mode: int = 0o644) -> None:
        path = self.root / dest.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            shutil.copyfile(source, path)
        else:
            path.write_text(text or "")
        path.chmod(mode)

    def binary(self, dest: str, source: Path, libs: bool = True) -> None:
        """A binary and, for a dynamically linked one, every library ldd reports that the base lacks."""
        self.put(dest, source, mode=0o755)
        if libs:
            for lib in ldd(source):
                if Path(lib).name in BASE_LIBS:
                    continue
                self.put(lib, Path(os.path.realpath(lib)), mode=0o644)

    def tree(self, dest: str, source: Path) -> None:
        shutil.copytree(source, self.root / dest.lstrip("/"), dirs_exist_ok=True)


@dataclass
class Image:
    key: str
    ref: str
    parent: str | None  # key of the parent image; None for the base (docker import)
    description: str
    sources: tuple[str, ...] = ()  # repo-relative files whose content is an input
    recipe: Callable[[], dict[str, object]] = dict  # versions and choices (cheap: no build needed)
    assemble: Callable[[Context], None] | None = None
    run_lines: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    user: str = f"{UID}:{UID}"
    workdir: str = "/"
    cmd: tuple[str, ...] = ()
    stand_in: bool = False
    upstream_version: str = ""
    expose: tuple[int, ...] = ()
    group: str = ""


def deno_wrapper(script: str, permissions: str) -> str:
    return f'#!/bin/sh\nexec /usr/local/bin/deno run {permissions} --no-config --no-lock --quiet {script} "$@"\n'


def _edge_runtime(ctx: Context) -> None:
    ctx.put("/opt/koyalite/edge-runtime/main.ts", HERE / "edge-runtime" / "main.ts")
    ctx.put("/opt/koyalite/edge-runtime/worker.ts", HERE / "edge-runtime" / "worker.ts")
    ctx.put("/usr/local/bin/koyalite-edge-runtime", text=deno_wrapper("/opt/koyalite/edge-runtime/main.ts", "--allow-all"), mode=0o755)
    (ctx.root / "functions").mkdir(parents=True, exist_ok=True)


def _litefs(ctx: Context) -> None:
    ctx.binary("/usr/local/bin/litefs", GO["litefs"].build())
    ctx.binary("/usr/bin/fusermount3", debian_file("fuse3", "/bin/fusermount3"))
    ctx.put("/etc/fuse.conf", debian_file("fuse3", "/etc/fuse.conf"))
    _deno_program(ctx, HERE / "litefs" / "db.ts", "koyalite-db", "--allow-all")
    for d in ("litefs", "var/lib/litefs"):
        (ctx.root / d).mkdir(parents=True, exist_ok=True)


def _seaweedfs(ctx: Context) -> None:
    ctx.binary("/usr/bin/weed", GO["weed"].build())


def _nats(ctx: Context) -> None:
    ctx.binary("/usr/local/bin/nats-server", GO["nats-server"].build())
    ctx.binary("/usr/local/bin/nats", GO["nats"].build())
    ctx.put("/usr/local/bin/koyalite-nats-server", HERE / "nats" / "koyalite-nats-server", mode=0o755)


def _weaviate(ctx: Context) -> None:
    ctx.binary("/bin/weaviate", GO["weaviate"].build())
    # Like upstream's image: gse's dictionaries where the binary looks for them (only used with the gse tokenizer).
    ego = CACHE / "go" / "mod" / "github.com" / "go-ego"
    if ego.is_dir():
        ctx.tree("/go/pkg/mod/github.com/go-ego", ego)


def _weaviate_stand_in(ctx: Context) -> None:
    ctx.put("/opt/koyalite/weaviate-stand-in.ts", HERE / "standins" / "weaviate.ts")
    ctx.put("/bin/weaviate", text=deno_wrapper("/opt/koyalite/weaviate-stand-in.ts", "--allow-all"), mode=0o755)


def _deno_program(ctx: Context, source: Path, command: str, permissions: str = "--allow-net --allow-env --allow-read") -> None:
    """One of our TypeScript programs at /opt/koyalite, run by `command` on PATH through Deno."""
    script = f"/opt/koyalite/{source.name}"
    ctx.put(script, source)
    ctx.put(f"/usr/local/bin/{command}", text=deno_wrapper(script, permissions), mode=0o755)


EVENTS_DENO_DIR = "/opt/koyalite/deno"


def _events(ctx: Context) -> None:
    """The worker and its npm dependencies (the official NATS client), cached into the image at build time: at run
    time Deno reads them from there and never reaches a registry (`--cached-only`)."""
    source = HERE / "events" / "worker.ts"
    ctx.put("/opt/koyalite/events/worker.ts", source)
    deno_dir = ctx.root / EVENTS_DENO_DIR.lstrip("/")
    deno_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DENO_DIR": str(deno_dir), "DENO_NO_UPDATE_CHECK": "1"}
    run([str(deno_binary()), "cache", "--no-config", "--no-lock", "--quiet", str(source)], env=env)
    permissions = "--cached-only --allow-net --allow-env --allow-read --allow-sys=hostname"
    ctx.put("/usr/local/bin/koyalite-events", text=deno_wrapper("/opt/koyalite/events/worker.ts", permissions), mode=0o755)


def _standin(ctx: Context) -> None:
    _deno_program(ctx, HERE / "standins" / "service.ts", "koyalite-service")


def _cron(ctx: Context) -> None:
    _deno_program(ctx, HERE / "cron" / "cron.ts", "koyalite-cron")


def _probe(ctx: Context) -> None:
    _deno_program(ctx, HERE / "probe" / "probe.ts", "koyalite-probe")


def _deno(ctx: Context) -> None:
    ctx.binary("/usr/local/bin/deno", deno_binary())


def catalogue(weaviate_mode: str = "auto") -> dict[str, Image]:
    """Every image by key. Refs and tags are a contract with the provisioner's Docker target."""
    deno_env = {"DENO_DIR": "/tmp/deno", "DENO_NO_UPDATE_CHECK": "1", "DENO_NO_PROMPT": "1"}
    images = [
        Image(
            "base",
            f"koyalite/base:{RELEASE}",
            None,
            "distroless-style glibc root filesystem from this machine's Debian files + busybox",
            sources=("images/base/koyalite-entrypoint",),
            recipe=lambda: {p: dpkg_version(p) for p in ("busybox-static", "libc6", "libgcc-s1", "ca-certificates")},
        ),
        Image(
            "deno",
            f"koyalite/deno:{DENO_VERSION}",
            "base",
            f"Deno {DENO_VERSION} from PyPI's deno wheel",
            recipe=lambda: {"deno": DENO_VERSION},
            assemble=_deno,
            env=deno_env,
            cmd=("deno", "--version"),
            upstream_version=DENO_VERSION,
        ),
        Image(
            "edge-runtime",
            f"koyalite/edge-runtime:{RELEASE}",
            "deno",
            "KoyaLite edge runtime: Deno main service, one Deno subprocess per function",
            sources=("images/edge-runtime/main.ts", "images/edge-runtime/worker.ts"),
            assemble=_edge_runtime,
            env={"PORT": "9000"},
            cmd=("koyalite-edge-runtime",),
            expose=(9000,),
        ),
        Image(
            "seaweedfs",
            "koyalite/seaweedfs:4.44",
            "base",
            f"SeaweedFS weed {GO['weed'].upstream_version} built from Go source",
            recipe=GO["weed"].recipe,
            assemble=_seaweedfs,
            workdir="/data",
            run_lines=(f"mkdir -p /data && chown {UID}:{UID} /data",),
            cmd=("weed", "server", "-dir=/data", "-s3"),
            upstream_version=GO["weed"].upstream_version,
            expose=(8080, 8333, 8888, 9333),
        ),
        Image(
            "nats",
            "koyalite/nats:2.15.2",
            "base",
            f"NATS server {GO['nats-server'].upstream_version} (JetStream) and the nats CLI {GO['nats'].upstream_version}, built from Go source",
            sources=("images/nats/koyalite-nats-server",),
            recipe=lambda: {**GO["nats-server"].recipe(), "cli": GO["nats"].recipe()},
            assemble=_nats,
            run_lines=(f"mkdir -p /data && chown {UID}:{UID} /data",),
            cmd=("koyalite-nats-server", "--jetstream", "--store_dir", "/data", "--http_port", "8222"),
            upstream_version=GO["nats-server"].upstream_version,
            expose=(4222, 6222, 8222),
        ),
        Image(
            "litefs",
            f"koyalite/litefs:{RELEASE}",
            "deno",
            "LiteFS built from Go source + fusermount3 (Debian fuse3) + koyalite-db gateway (Deno, node:sqlite)",
            sources=("images/litefs/db.ts",),
            recipe=lambda: {**GO["litefs"].recipe(), "fuse3": debian_candidate("fuse3")},
            assemble=_litefs,
            user="root",
            cmd=("litefs", "mount", "-config", "/etc/litefs.yml"),
            upstream_version=GO["litefs"].upstream_version,
            expose=(8080, 20202),
        ),
    ]
    weaviate_common: dict[str, Any] = {
        "run_lines": (f"mkdir -p /var/lib/weaviate && chown {UID}:{UID} /var/lib/weaviate",),
        "env": {"PERSISTENCE_DATA_PATH": "/var/lib/weaviate"},
        "cmd": ("weaviate", "--host", "0.0.0.0", "--port", "8080", "--scheme", "http"),
        "expose": (8080, 50051),
    }
    if weaviate_mode == "stand-in":
        images.append(
            Image(
                "weaviate",
                "koyalite/weaviate:1.38.2",
                "deno",
                "STAND-IN for Weaviate 1.38.2 (Deno): REST + minimal GraphQL, API-key auth, gRPC port open",
                sources=("images/standins/weaviate.ts",),
                recipe=lambda: {"mode": "stand-in"},
                assemble=_weaviate_stand_in,
                stand_in=True,
                **weaviate_common,
            )
        )
    else:
        images.append(
            Image(
                "weaviate",
                "koyalite/weaviate:1.38.2",
                "base",
                "Weaviate 1.38.2 built from Go source",
                recipe=GO["weaviate"].recipe,
                assemble=_weaviate,
                upstream_version=GO["weaviate"].upstream_version,
                **weaviate_common,
            )
        )
    for role in ROLES:
        images.append(
            Image(
                role,
                f"koyalite/{role}:{RELEASE}",
                "deno",
                f"STAND-IN for KoyaLite's {role} service (not public): health, config, role-specific stubs",
                sources=("images/standins/service.ts",),
                recipe=lambda role=role: {"role": role},
                assemble=_standin,
                env={"KOYALITE_ROLE": role},
                cmd=("koyalite-service", "--role", role),
                stand_in=True,
                group="standins",
            )
        )
    images += [
        Image(
            "cron",
            f"koyalite/cron:{RELEASE}",
            "deno",
            "koyalite-cron: one-shot caller and scheduler (Deno)",
            sources=("images/cron/cron.ts",),
            assemble=_cron,
            cmd=("koyalite-cron", "--help"),
        ),
        Image(
            "events",
            f"koyalite/events:{RELEASE}",
            "deno",
            "koyalite-events: publishes for the services and delivers the bus's queues and webhooks (Deno, NATS client from npm)",
            sources=("images/events/worker.ts",),
            assemble=_events,
            env={"DENO_DIR": EVENTS_DENO_DIR, "PORT": "8080"},
            cmd=("koyalite-events",),
            expose=(8080,),
        ),
        Image(
            "probe",
            f"koyalite/probe:{RELEASE}",
            "deno",
            "koyalite-probe: end-to-end check of the wiring (LiteFS, SeaweedFS S3, Weaviate, edge functions)",
            sources=("images/probe/probe.ts",),
            assemble=_probe,
            cmd=("koyalite-probe",),
        ),
    ]
    return {image.key: image for image in images}


# --------------------------------------------------------------------------------------------------- build


@dataclass
class Result:
    key: str
    ref: str
    status: str  # built | cached | tagged
    seconds: float
    size: int
    inputs: str
    stand_in: bool


def inputs_digest(image: Image, parent_digest: str | None) -> str:
    data = {
        "script": sha256_file(Path(__file__)),
        "parent": parent_digest,
        "recipe": image.recipe(),
        "sources": {s: sha256_file(REPO / s) for s in image.sources},
        "config": [image.env, image.user, image.workdir, list(image.cmd), list(image.run_lines), image.stand_in],
    }
    return sha256_bytes(json.dumps(data, sort_keys=True, default=str).encode())[:32]


def image_labels_for(image: Image, digest: str) -> dict[str, str]:
    labels = {
        INPUTS_LABEL: digest,
        STAND_IN_LABEL: "true" if image.stand_in else "false",
        "koyalite.dev/image": image.key,
        "org.opencontainers.image.title": image.ref.split(":")[0],
        "org.opencontainers.image.description": image.description,
        "org.opencontainers.image.version": image.ref.rsplit(":", 1)[1],
    }
    if image.upstream_version:
        labels["koyalite.dev/upstream-version"] = image.upstream_version
    return labels


def build_base(image: Image, digest: str) -> None:
    """docker import of a tar written here: busybox, glibc, certificates, users, entrypoint."""
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []

    def add_dir(path: str, mode: int = 0o755, uid: int = 0) -> None:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, uid
        entries.append((info, None))

    def add_file(path: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode = len(data), mode
        entries.append((info, data))

    def add_link(path: str, target: str) -> None:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        entries.append((info, None))

    for d in (
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/local",
        "usr/local/bin",
        "usr/local/sbin",
        "etc",
        "etc/ssl",
        "etc/ssl/certs",
        "lib",
        LIBDIR,
        "lib64",
        "opt",
        "var",
        "var/lib",
        "run",
        "proc",
        "sys",
        "dev",
        "home",
    ):
        add_dir(d)
    add_dir("tmp", 0o1777)
    add_dir("var/tmp", 0o1777)
    add_dir("root", 0o700)
    add_dir("home/koyalite", 0o755, UID)
    busybox = Path("/usr/bin/busybox")
    if not busybox.exists() or ldd(busybox):
        raise BuildError("a static busybox is needed at /usr/bin/busybox (Debian: apt-get install busybox-static)")
    add_file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in sorted(set(run([str(busybox), "--list-full"]).split())):
        if applet != "bin/busybox":
            add_link(applet, "/bin/busybox")
    for lib in BASE_LIBS:
        add_file(f"{LIBDIR}/{lib}", Path(os.path.realpath(f"{LIBDIR}/{lib}")).read_bytes(), 0o755)
    add_link("lib64/ld-linux-x86-64.so.2", f"{LIBDIR}/ld-linux-x86-64.so.2")
    certs = Path("/etc/ssl/certs/ca-certificates.crt")
    if not certs.exists():
        raise BuildError("CA certificates missing at /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)")
    add_file("etc/ssl/certs/ca-certificates.crt", certs.read_bytes())
    add_link("etc/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt")
    add_file(
        "etc/passwd",
        (
            f"root:x:0:0:root:/root:/bin/sh\nkoyalite:x:{UID}:{UID}:koyalite:/home/koyalite:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        ).encode(),
    )
    add_file("etc/group", f"root:x:0:\nkoyalite:x:{UID}:\nnogroup:x:65534:\n".encode())
    add_file("etc/nsswitch.conf", b"passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\n")
    add_file(
        "etc/os-release",
        (f'NAME="KoyaLite base"\nID=koyalite\nVERSION_ID="{RELEASE}"\nHOME_URL="https://koyalite.dev"\nID_LIKE=debian\n').encode(),
    )
    add_file(ENTRYPOINT.lstrip("/"), (HERE / "base" / "koyalite-entrypoint").read_bytes(), 0o755)

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in entries:
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    changes = [
        f"ENV PATH={PATH_ENV}",
        f"ENTRYPOINT {json.dumps([ENTRYPOINT])}",
        'CMD ["sh"]',
        f"USER {image.user}",
        f"WORKDIR {image.workdir}",
        *(f"LABEL {json.dumps(k)}={json.dumps(v)}" for k, v in image_labels_for(image, digest).items()),
    ]
    args = ["import"]
    for change in changes:
        args += ["--change", change]
    docker(*args, "-", image.ref, input_bytes=buf.getvalue())


def build_derived(image: Image, parent_ref: str, digest: str) -> None:
    """docker build (classic builder; the parent is local, nothing is pulled): parent + rootfs/ + metadata."""
    work = CACHE / "images" / image.key
    shutil.rmtree(work, ignore_errors=True)
    rootfs = work / "rootfs"
    rootfs.mkdir(parents=True)
    if image.assemble is not None:
        image.assemble(Context(rootfs))
    lines = [f"FROM {parent_ref}", "USER root"]
    if any(rootfs.iterdir()):
        lines.append("COPY rootfs/ /")
    lines += [f"RUN {r}" for r in image.run_lines]
    env = dict(image.env)
    lines += [f"ENV {k}={json.dumps(v)}" for k, v in sorted(env.items())]
    if image.expose:
        lines.append("EXPOSE " + " ".join(str(p) for p in image.expose))
    lines += [
        f"WORKDIR {image.workdir}",
        f"USER {image.user}",
        f"ENTRYPOINT {json.dumps([ENTRYPOINT])}",
        f"CMD {json.dumps(list(image.cmd))}",
        "LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in image_labels_for(image, digest).items()),
    ]
    (work / "Dockerfile").write_text("\n".join(lines) + "\n")
    env_vars = dict(os.environ, DOCKER_BUILDKIT="0")
    run(["docker", "build", "--pull=false", "-t", image.ref, str(work)], env=env_vars, logfile=CACHE / "logs" / f"image-{image.key}.log")
    shutil.rmtree(rootfs, ignore_errors=True)


def ordered(images: dict[str, Image], wanted: list[str]) -> list[Image]:
    """The wanted images and their ancestors, parents first."""
    seen: list[str] = []

    def visit(key: str) -> None:
        if key in seen:
            return
        parent = images[key].parent
        if parent:
            visit(parent)
        seen.append(key)

    for key in wanted:
        visit(key)
    return [images[k] for k in seen]


def expand(images: dict[str, Image], only: list[str] | None) -> list[str]:
    if not only:
        return list(images)
    keys: list[str] = []
    for name in only:
        name = name.strip()
        group = [k for k, img in images.items() if img.group == name]
        if group:
            keys += group
        elif name in images:
            keys.append(name)
        else:
            raise BuildError(f"unknown image {name!r}; known: {', '.join([*images, 'standins'])}")
    return keys


def build(only: list[str] | None = None, *, force: bool = False, weaviate: str = "auto") -> list[Result]:
    require_docker()
    (CACHE / "logs").mkdir(parents=True, exist_ok=True)
    images = catalogue("stand-in" if weaviate == "stand-in" else "real")
    results: list[Result] = []
    digests: dict[str, str] = {}
    for image in ordered(images, expand(images, only)):
        start = time.monotonic()
        if image.key == "weaviate" and weaviate == "auto" and not image.stand_in:
            try:
                GO["weaviate"].build()
            except BuildError as exc:
                log(f"weaviate: building from source failed, using the STAND-IN instead:\n{exc}")
                image = catalogue("stand-in")["weaviate"]
        parent = images[image.parent] if image.parent else None
        digest = inputs_digest(image, digests.get(parent.key) if parent else None)
        digests[image.key] = digest
        status = "cached"
        if force or (image_labels(image.ref) or {}).get(INPUTS_LABEL) != digest:
            existing = None if force else image_with_inputs(digest)
            if existing:
                docker("tag", existing, image.ref)
                status = "tagged"
            else:
                log(f"{image.key}: building {image.ref} …")
                if parent is None:
                    build_base(image, digest)
                else:
                    build_derived(image, parent.ref, digest)
                status = "built"
        seconds = time.monotonic() - start
        size = image_size(image.ref)
        results.append(Result(image.key, image.ref, status, seconds, size, digest, image.stand_in))
        kind = "STAND-IN" if image.stand_in else "real"
        log(f"{image.key:<13} {image.ref:<30} {status:<7} {seconds:7.1f}s  {human(size):>9}  {kind}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--only", action="append", help="image key(s), comma separated (or 'standins'); repeatable")
    parser.add_argument("--force", action="store_true", help="rebuild images even when one with the same inputs exists")
    parser.add_argument(
        "--weaviate",
        choices=("auto", "real", "stand-in"),
        default=os.environ.get("KOYALITE_WEAVIATE_IMAGE", "auto"),
        help="auto: build Weaviate from source, fall back to the stand-in if that fails",
    )
    parser.add_argument("--list", action="store_true", help="list the images and exit")
    args = parser.parse_args(argv)
    if args.list:
        for image in catalogue("stand-in" if args.weaviate == "stand-in" else "real").values():
            print(f"{image.key:<13} {image.ref:<30} {image.description}")
        return 0
    only = [n for item in args.only or [] for n in item.split(",") if n.strip()] or None
    start = time.monotonic()
    try:
        results = build(only, force=args.force, weaviate=args.weaviate)
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    built = sum(r.status == "built" for r in results)
    print(f"{len(results)} images ({built} built) in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
