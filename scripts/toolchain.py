#!/usr/bin/env python3
"""Build (or reuse) the Pulumi engine toolchain from Go source, through the Go module proxy only.

Run as ``.venv/bin/python scripts/toolchain.py [--check] [--force]`` (``make toolchain``).

What it makes available, for the versions pinned in pyproject.toml:

* ``pulumi`` (the CLI) from ``github.com/pulumi/pulumi/pkg/v3``;
* ``pulumi-language-python`` from ``github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3``, with
  ``pulumi-language-python-exec`` and ``pulumi-resource-pulumi-python`` beside it (from the ``sdk/v3`` module of
  the pinned Python SDK version);
* ``pulumi-resource-<provider>`` for every pinned provider SDK (kubernetes), installed into the plugin cache
  ``$PULUMI_HOME/plugins/resource-<name>-v<version>/`` with ``pulumi plugin install --file`` (no download).

Everything is built once per machine under ``${XDG_CACHE_HOME:-~/.cache}/koyalite/toolchain/<name>-<version>/``;
GOMODCACHE and GOCACHE stay where Go puts them. A second run only verifies and re-links (seconds). Binaries already
on PATH whose version equals the pin are used instead of building.

Only the Go module proxy is contacted (and only when something has to be built); nothing is downloaded from release
pages, and the CLI is always run with the offline environment printed at the end (see scripts/README.md).

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gobuild  # noqa: E402 - scripts/ is not a package

# --------------------------------------------------------------------------------------------------------------------
# Module coordinates (see shared/research/pulumi_from_source.md). Everything here was checked against the Go module
# proxy reachable from the project's machines on 2026-11-27; the proxy serves an allow-list, not all of GitHub.
# --------------------------------------------------------------------------------------------------------------------
PKG = "github.com/pulumi/pulumi/pkg/v3"
SDK = "github.com/pulumi/pulumi/sdk/v3"
PY_HOST = "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3"
VERSION_VAR = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"
CLIPBOARD_REPLACE = "github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e"
# The language-host module is never tagged; only pseudo-versions exist, and the proxy serves only a few of them
# (an arbitrary commit, e.g. the v3.259.0 or v3.272.0 release commit, is refused). Each entry: pseudo-version ->
# the pulumi release whose pkg/v3 + sdk/v3 it is built against. main.go of an old host does not compile against a
# much newer sdk/v3 (the LanguageRuntimeServer interface and sdk/python/toolchain changed), so it is built against
# the release that contains its commit, as upstream would have (its go.mod replaces pkg/sdk with the same checkout).
#   bee5e4fa4815 = pulumi/pulumi commit of 2025-08-06, five commits before v3.188.0 (pinned by pulumi-docker-build).
# The proxy's checksum-database endpoint has no entry for this module (404), so GONOSUMDB is set for this one path;
# its h1: hash is still recorded in the wrapper's go.sum.
PY_HOST_CANDIDATES: dict[str, str] = {"v3.0.0-20250806165243-bee5e4fa4815": "3.188.0"}
GO_BUILD_TAGS = "osusergo,grpcnotrace"  # as pulumi's .goreleaser.yml


@dataclasses.dataclass(frozen=True)
class ProviderSpec:
    name: str  # plugin name: kubernetes, docker
    pypi: str  # the Python SDK distribution whose version the plugin must equal
    module: str  # Go module of the provider (lives in provider/ of the repo)
    sdk_module: str  # Go module that provider/go.mod replaces with ../sdk ("" if none)
    repo_root: str  # root module path, for the "+incompatible" release-commit lookup
    major: int
    version_var: str
    ldflags_version_prefix: str
    build_tags: str
    # Release version -> pseudo-version of `module` at that release commit, verified to be served by the proxy.
    known: dict[str, str]
    # Buildable releases to recommend when the pin is not buildable.
    note: str


# No pulumi-docker: the Go module proxy serves no version of github.com/pulumi/pulumi-docker/provider/v5 (nor /v4,
# /v3), of the root module github.com/pulumi/pulumi-docker, or of kreuzwerker/terraform-provider-docker, which the
# provider wraps (checked 2026-12-01: 403 for each). The Docker target deploys through components/docker/engine.py.
PROVIDERS: dict[str, ProviderSpec] = {
    "kubernetes": ProviderSpec(
        name="kubernetes",
        pypi="pulumi-kubernetes",
        module="github.com/pulumi/pulumi-kubernetes/provider/v4",
        sdk_module="github.com/pulumi/pulumi-kubernetes/sdk/v4",
        repo_root="github.com/pulumi/pulumi-kubernetes",
        major=4,
        version_var="github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version",
        ldflags_version_prefix="v",  # .goreleaser.yml uses {{.Tag}}
        build_tags="",
        # v4.25.0 release commit f47bc2d6f1996444d11c12b4ef083b82585f7c07 (tag v4.25.0). Release commits of v4.26.0 ..
        # v4.32.0 were tried and are refused (403); v4.33.0+ release commits are not known to be served either.
        known={"4.25.0": "v4.0.0-20260115033456-f47bc2d6f199"},
        note="the Go module proxy serves github.com/pulumi/pulumi-kubernetes/provider/v4 only at the v4.25.0 release commit",
    ),
}

OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PULUMI_DISABLE_REGISTRY_RESOLVE": "true",
    "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
}

HEARTBEAT_SECONDS = 60


class ToolchainError(Exception):
    pass


# --------------------------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[toolchain] {msg}", flush=True)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "koyalite" / "toolchain"


def pulumi_home() -> Path:
    return Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run(cmd: Sequence[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None, check: bool = True) -> str:
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise ToolchainError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr.strip()[-3000:]}")
    return proc.stdout


def go_env() -> dict[str, str]:
    """Environment for the go command (scripts/gobuild.py), and no checksum-database lookup for the language host."""
    env = gobuild.go_env()
    nosum = [p for p in env.get("GONOSUMDB", "").split(",") if p]
    host_prefix = PY_HOST.removesuffix("/v3")
    if host_prefix not in nosum:
        nosum.append(host_prefix)
    env["GONOSUMDB"] = ",".join(nosum)
    return env


def go_json(args: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any] | None:
    proc = subprocess.run(["go", *args], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    try:
        data: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None
    return None if data.get("Error") else data


def served(module_at_version: str, env: dict[str, str]) -> bool:
    return go_json(["list", "-m", "-json", module_at_version], env, cwd=Path("/")) is not None


def mod_dir(module_at_version: str, env: dict[str, str]) -> Path:
    data = go_json(["mod", "download", "-json", module_at_version], env, cwd=Path("/"))
    if not data or not data.get("Dir"):
        raise ToolchainError(f"go mod download {module_at_version} failed (not served by the Go module proxy?)")
    return Path(data["Dir"])


def timed_go(cmd: Sequence[str], *, env: dict[str, str], cwd: Path, logfile: Path, what: str) -> float:
    """Run a (long) go command with its output in logfile, printing a heartbeat; return seconds taken."""
    start = time.monotonic()
    with logfile.open("a") as out:
        out.write(f"\n$ (cd {cwd} && {' '.join(cmd)})\n")
        out.flush()
        proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        last = start
        while proc.poll() is None:
            time.sleep(2)
            now = time.monotonic()
            if now - last >= HEARTBEAT_SECONDS:
                log(f"  ... {what}: still building ({now - start:.0f}s, log {logfile})")
                last = now
    took = time.monotonic() - start
    if proc.returncode != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-40:]
        raise ToolchainError(f"{what} failed after {took:.0f}s; last lines of {logfile}:\n" + "\n".join(tail))
    return took


def install_file(src: Path, dst: Path, mode: int = 0o755) -> None:
    """Hard-link (or copy) src to dst atomically; module-cache files are read-only and lack exec bits."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    if src.stat().st_mode & 0o777 == mode:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)
    else:
        shutil.copyfile(src, tmp)
        tmp.chmod(mode)
    tmp.replace(dst)


def link_into(bin_dir: Path, target: Path, name: str | None = None) -> None:
    """Put target into bin_dir: a hard link when possible (so os.Executable() stays in bin_dir), else a copy."""
    dst = bin_dir / (name or target.name)
    if dst.exists() and not dst.is_symlink() and dst.samefile(target):
        return
    install_file(target, dst, target.stat().st_mode & 0o777)


def symlink_into(bin_dir: Path, target: Path) -> None:
    dst = bin_dir / target.name
    if dst.is_symlink() and dst.resolve() == target.resolve():
        return
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    tmp.replace(dst)


def rmtree(path: Path) -> None:
    """Remove a tree that holds read-only copies of module-cache files."""
    for p in path.rglob("*"):
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


# --------------------------------------------------------------------------------------------------------------------
# pins
# --------------------------------------------------------------------------------------------------------------------
def read_pins(overrides: Sequence[str]) -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins: dict[str, str] = {}
    for dep in data["project"]["dependencies"]:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([0-9][^\s;,]*)\s*(;.*)?", dep)
        if m and m.group(1).lower().replace("_", "-").startswith("pulumi"):
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    for item in overrides:
        name, sep, ver = item.partition("==")
        if not sep:
            raise ToolchainError(f"--pin expects NAME==VERSION, got {item!r}")
        pins[name.strip().lower().replace("_", "-")] = ver.strip()
    if "pulumi" not in pins:
        raise ToolchainError("pyproject.toml pins no pulumi==X.Y.Z")
    return pins


def installed_sdk_versions() -> dict[str, str]:
    """Versions of the Pulumi SDKs installed in the interpreter running this script (the repo venv under make)."""
    from importlib import metadata

    found = {}
    for name in ("pulumi", *(p.pypi for p in PROVIDERS.values())):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


# --------------------------------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Result:
    name: str
    version: str
    status: str  # built | cached | reused | installed | missing | blocked
    path: str = ""
    seconds: float = 0.0
    detail: str = ""


def read_record(d: Path) -> dict[str, Any] | None:
    try:
        rec: dict[str, Any] = json.loads((d / "toolchain.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    for f in rec.get("files", {}).values():
        p = d / f["name"]
        if not p.is_file() or p.stat().st_size != f["size"]:
            return None
    return rec


def write_record(d: Path, inputs: dict[str, Any], files: Sequence[Path], seconds: float, extra: dict[str, Any]) -> None:
    rec = {
        "inputs": inputs,
        "files": {p.name: {"name": p.name, "size": p.stat().st_size, "sha256": sha256(p)} for p in files},
        "build_seconds": round(seconds, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "go": run(["go", "env", "GOVERSION"]).strip(),
        **extra,
    }
    (d / "toolchain.json").write_text(json.dumps(rec, indent=2) + "\n")


def resolution_cache() -> Path:
    return cache_root() / "resolved.json"


def load_resolutions() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(resolution_cache().read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data


def save_resolution(key: str, value: Any) -> None:
    data = load_resolutions()
    data[key] = value
    resolution_cache().parent.mkdir(parents=True, exist_ok=True)
    resolution_cache().write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------------------------------------
# the CLI and the Python language host
# --------------------------------------------------------------------------------------------------------------------
def semver(v: str) -> tuple[int, ...]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", v)
    return tuple(int(x) for x in m.groups()) if m else ()


def resolve_cli_version(pin: str, env: dict[str, str], offline_ok: bool) -> tuple[str, str]:
    """Return (version to build, why). pkg/v3 tags are sometimes never published (v3.270.0, v3.272.0 are missing)."""
    key = f"pkg/v3@{pin}"
    cached = load_resolutions().get(key)
    if cached and offline_ok:
        return cached["version"], cached["why"]
    if served(f"{PKG}@v{pin}", env):
        res = (pin, "pinned version is served")
    else:
        data = go_json(["list", "-m", "-versions", "-json", PKG], env, cwd=Path("/")) or {}
        versions = [v.removeprefix("v") for v in data.get("Versions", []) if semver(v)]
        newer = sorted((v for v in versions if semver(v) > semver(pin)), key=semver)
        if not newer:
            raise ToolchainError(f"{PKG}@v{pin} is not served by the Go module proxy and no newer release is")
        minor = semver(newer[0])[:2]
        best = max((v for v in newer if semver(v)[:2] == minor), key=semver)
        res = (
            best,
            f"{PKG}@v{pin} is not served by the Go module proxy (the pkg/v3.x tag was never published or is refused);"
            f" built the nearest newer served release v{best} (a CLI newer than the Python SDK is supported)",
        )
    save_resolution(key, {"version": res[0], "why": res[1]})
    return res


def resolve_py_host(env: dict[str, str]) -> tuple[str, str]:
    """(pseudo-version of the language-host module, pulumi release to build it against)."""
    key = "python-host"
    cached = load_resolutions().get(key)
    if isinstance(cached, list) and len(cached) == 2:
        return str(cached[0]), str(cached[1])
    for cand, libs in PY_HOST_CANDIDATES.items():
        if served(f"{PY_HOST}@{cand}", env):
            save_resolution(key, [cand, libs])
            return cand, libs
    raise ToolchainError(f"none of the known pseudo-versions of {PY_HOST} is served: {', '.join(PY_HOST_CANDIDATES)}")


def existing_cli(pin: str, bin_dir: Path) -> Path | None:
    """A pulumi on PATH (outside our bin dir) whose `pulumi version` equals the pin."""
    path_dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() != bin_dir.resolve()]
    exe = shutil.which("pulumi", path=os.pathsep.join(path_dirs))
    if not exe:
        return None
    out = subprocess.run([exe, "version"], capture_output=True, text=True, env={**os.environ, **OFFLINE_ENV}, check=False)
    if out.returncode == 0 and out.stdout.strip().removeprefix("v") == pin:
        return Path(exe).resolve()
    return None


def build_wrapped(
    name: str,
    main_pkg: str,
    libs_version: str,
    extra_require: dict[str, str],
    stamp: str,
    force: bool,
    env: dict[str, str],
) -> Result:
    """Build one pulumi/pulumi main package inside a wrapper module pinned to pkg/v3 + sdk/v3 @ libs_version.

    go install/build of pulumi's own modules cannot work (their go.mod has local replace directives); in a wrapper
    module those replaces are ignored, MVS selects exactly libs_version (checked below), and only the main module's
    non-local replace (the clipboard fork) is copied.
    """
    d = cache_root() / f"{name}-{stamp.removeprefix('v')}"
    inputs = {
        PKG: f"v{libs_version}",
        SDK: f"v{libs_version}",
        **extra_require,
        "tags": GO_BUILD_TAGS,
        "replace": CLIPBOARD_REPLACE,
        "ldflags_version": stamp,
    }
    rec = read_record(d)
    if not force and rec is not None and rec.get("inputs") == inputs:
        return Result(name, stamp.removeprefix("v"), "cached", str(d / name), rec["build_seconds"])
    work = cache_root() / "build" / f"{name}-{stamp.removeprefix('v')}"
    if work.exists():
        rmtree(work)
    work.mkdir(parents=True)
    logfile = work / "build.log"
    (work / "go.mod").write_text(f"module koyalite.local/toolchain/{name}\n\ngo 1.26\n")
    (work / "tools.go").write_text(f'//go:build tools\n\npackage tools\n\nimport _ "{main_pkg}"\n')
    run(["go", "mod", "edit", f"-replace={CLIPBOARD_REPLACE}"], env=env, cwd=work)
    log(f"resolving modules for {name} {stamp} (go get) ...")
    wanted = {PKG: f"v{libs_version}", SDK: f"v{libs_version}", **extra_require}
    get_s = timed_go(["go", "get", *(f"{m}@{v}" for m, v in wanted.items())], env=env, cwd=work, logfile=logfile, what="go get")
    got = json.loads(run(["go", "mod", "edit", "-json"], env=env, cwd=work))
    selected = {r["Path"]: r["Version"] for r in got.get("Require", [])}
    wrong = {m: selected.get(m) for m, v in wanted.items() if selected.get(m) != v}
    if wrong:
        raise ToolchainError(f"MVS selected {wrong} instead of {wanted}")
    ldflags = f"-s -w -X {VERSION_VAR}={stamp}"
    log(f"building {name} {stamp} (this takes many minutes on a cold Go build cache) ...")
    cmd = ["go", "build", "-trimpath", "-tags", GO_BUILD_TAGS, "-ldflags", ldflags, "-o", str(work / "out" / name), main_pkg]
    took = timed_go(cmd, env=env, cwd=work, logfile=logfile, what=f"go build {name}")
    d.mkdir(parents=True, exist_ok=True)
    install_file(work / "out" / name, d / name)
    write_record(d, inputs, [d / name], took, {"go_get_seconds": round(get_s, 1), "go_mod": (work / "go.mod").read_text()})
    log(f"built {name} {stamp} in {took:.0f}s -> {d / name}")
    return Result(name, stamp.removeprefix("v"), "built", str(d / name), took)


def python_support_files(sdk_pin: str, env: dict[str, str]) -> Path:
    """pulumi-language-python-exec and pulumi-resource-pulumi-python from the sdk/v3 module of the pinned SDK.

    The exec shim is imported-by-version with the Python SDK it runs (it drives pulumi.runtime), so it comes from the
    same release as the pinned `pulumi` wheel, not from the CLI's release.
    """
    d = cache_root() / f"pulumi-python-support-{sdk_pin}"
    inputs = {SDK: f"v{sdk_pin}"}
    rec = read_record(d)
    if rec is not None and rec.get("inputs") == inputs:
        return d
    src = mod_dir(f"{SDK}@v{sdk_pin}", env)
    files = [
        (src / "python" / "cmd" / "pulumi-language-python-exec", d / "pulumi-language-python-exec"),
        (src / "python" / "dist" / "pulumi-resource-pulumi-python", d / "pulumi-resource-pulumi-python"),
    ]
    for s, t in files:
        if not s.is_file():
            raise ToolchainError(f"{s} is missing from {SDK}@v{sdk_pin}")
        install_file(s, t)
    write_record(d, inputs, [t for _, t in files], 0.0, {"source": str(src)})
    return d


# --------------------------------------------------------------------------------------------------------------------
# providers
# --------------------------------------------------------------------------------------------------------------------
def pseudo_version(major: int, info: dict[str, Any]) -> str | None:
    origin = info.get("Origin") or {}
    h, t = origin.get("Hash"), info.get("Time")
    if not h or not t:
        return None
    ts = re.sub(r"\D", "", t)[:14]
    return f"v{major}.0.0-{ts}-{h[:12]}"


def resolve_provider(spec: ProviderSpec, version: str, env: dict[str, str]) -> str:
    """Pseudo-version of spec.module at the release commit of `version`, or raise with the reason."""
    key = f"{spec.module}@{version}"
    cached = load_resolutions().get(key)
    if cached:
        return str(cached)
    tried: list[str] = []
    candidates = []
    if version in spec.known:
        candidates.append(spec.known[version])
    # The research note's trick: the repo root has no go.mod, so `<root>@vX.Y.Z+incompatible` names the release tag
    # and its .info carries the release commit in Origin.Hash (when the proxy serves it at all).
    info = go_json(["list", "-m", "-json", f"{spec.repo_root}@v{version}+incompatible"], env, cwd=Path("/"))
    tried.append(f"{spec.repo_root}@v{version}+incompatible: {'served' if info else 'not served'}")
    if info and (pv := pseudo_version(spec.major, info)):
        candidates.append(pv)
    for cand in candidates:
        ok = served(f"{spec.module}@{cand}", env)
        tried.append(f"{spec.module}@{cand}: {'served' if ok else 'not served'}")
        if ok:
            save_resolution(key, cand)
            return cand
    buildable = ", ".join(sorted(spec.known)) or "none known"
    raise ToolchainError(
        f"{spec.pypi}=={version}: cannot build pulumi-resource-{spec.name} v{version} from the Go module proxy: "
        f"{spec.note}.\n    tried: "
        + "; ".join(tried or ["nothing"])
        + f"\n    buildable releases: {buildable}"
        + (f" -> pin {spec.pypi}=={sorted(spec.known)[-1]} (SDK and plugin together)" if spec.known else "")
    )


def build_provider(spec: ProviderSpec, version: str, force: bool, env: dict[str, str]) -> Result:
    d = cache_root() / f"pulumi-resource-{spec.name}-{version}"
    binary = d / f"pulumi-resource-{spec.name}"
    rec = read_record(d)
    if not force and rec is not None:
        return Result(binary.name, version, "cached", str(binary), rec["build_seconds"], rec["inputs"][spec.module])
    pv = resolve_provider(spec, version, env)
    if spec.name != "kubernetes":  # pragma: no cover - nothing else is buildable through the proxy today
        raise ToolchainError(f"no build recipe for {spec.name} (module {spec.module}@{pv})")
    work = cache_root() / "build" / f"{spec.name}-{version}"
    if work.exists():
        rmtree(work)
    work.mkdir(parents=True)
    logfile = work / "build.log"
    # Rebuild the repository layout (provider/ + sdk/) so the upstream go.mod, go.sum and `../sdk` replace apply as-is.
    log(f"downloading {spec.module}@{pv} and {spec.sdk_module}@v{version} ...")
    prov_src = mod_dir(f"{spec.module}@{pv}", env)
    sdk_src = mod_dir(f"{spec.sdk_module}@v{version}", env)
    shutil.copytree(prov_src, work / "provider")
    shutil.copytree(sdk_src, work / "sdk")
    for p in [work / "provider", work / "sdk", *work.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)
    replaces = json.loads(run(["go", "mod", "edit", "-json"], env=env, cwd=work / "provider")).get("Replace") or []
    local = [r for r in replaces if r["New"]["Path"].startswith(".") and r["New"]["Path"] != "../sdk"]
    if local:
        raise ToolchainError(f"{spec.module}@{pv} has local replace directives this recipe does not handle: {local}")
    cmd_dir = work / "provider" / "cmd" / f"pulumi-resource-{spec.name}"
    # schema-embed.json and terraform-mapping-embed.json are gitignored, so not in the module zip: run the upstream
    # generator (go:generate) on the committed schema.json / terraform-mapping.json.
    gen_env = {**env, "VERSION": version}
    started = time.monotonic()
    log(f"generating embedded schema for {spec.name} v{version} (go run generate.go) ...")
    timed_go(["go", "run", "-trimpath", "generate.go"], env=gen_env, cwd=cmd_dir, logfile=logfile, what="go generate")
    ldflags = f"-s -w -X {spec.version_var}={spec.ldflags_version_prefix}{version}"
    cmd = ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(work / "out" / binary.name)]
    if spec.build_tags:
        cmd += ["-tags", spec.build_tags]
    log(f"building {binary.name} v{version} (this takes minutes on a cold Go build cache) ...")
    timed_go([*cmd, f"./cmd/{binary.name}"], env=env, cwd=work / "provider", logfile=logfile, what=f"go build {binary.name}")
    took = time.monotonic() - started
    d.mkdir(parents=True, exist_ok=True)
    install_file(work / "out" / binary.name, binary)
    inputs = {spec.module: pv, spec.sdk_module: f"v{version}", "ldflags_version": f"{spec.ldflags_version_prefix}{version}"}
    write_record(d, inputs, [binary], took, {})
    log(f"built {binary.name} v{version} in {took:.0f}s -> {binary}")
    return Result(binary.name, version, "built", str(binary), took, pv)


def plugin_ls(pulumi: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    out = run([pulumi, "plugin", "ls", "--json"], env=env, check=False)
    try:
        data = json.loads(out or "[]")
    except json.JSONDecodeError:
        return []
    return data if isinstance(data, list) else []


def installed_plugin(pulumi: Path, env: dict[str, str], name: str, version: str) -> dict[str, Any] | None:
    for p in plugin_ls(pulumi, env):
        if p.get("kind") == "resource" and p.get("name") == name and str(p.get("version", "")).removeprefix("v") == version:
            return p
    return None


def install_plugin(pulumi: Path, env: dict[str, str], name: str, version: str, binary: Path, force: bool) -> str:
    plug = pulumi_home() / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"
    if not force and installed_plugin(pulumi, env, name, version) and plug.is_file():
        if plug.stat().st_size == binary.stat().st_size and sha256(plug) == sha256(binary):
            return "already installed"
        return "already installed (a different build of the same version; --force replaces it)"
    cmd: list[str | Path] = [pulumi, "plugin", "install", "resource", name, version, "--exact", "--file", binary]
    if force:
        cmd.append("--reinstall")
    run(cmd, env=env)
    if not installed_plugin(pulumi, env, name, version):
        raise ToolchainError(f"`pulumi plugin install` did not register resource {name} v{version}")
    return "installed"


# --------------------------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------------------------
def cli_env(bin_dir: Path) -> dict[str, str]:
    env = {**os.environ, **OFFLINE_ENV}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def env_script(bin_dir: Path) -> str:
    lines = [f'export PATH="{bin_dir}:$PATH"']
    lines += [f"export {k}={v}" for k, v in OFFLINE_ENV.items()]
    lines += [
        "# state: a local file backend, never Pulumi Cloud (pick the directory):",
        '# export PULUMI_BACKEND_URL="file://$PWD/.koyalite/state"   # or: pulumi login file://<dir>',
        "# export PULUMI_CONFIG_PASSPHRASE=...                      # or PULUMI_CONFIG_PASSPHRASE_FILE",
        f"# plugins are installed into {pulumi_home()}/plugins (PULUMI_HOME); keep the same PULUMI_HOME when running",
    ]
    return "\n".join(lines) + "\n"


def do_check(pins: dict[str, str], bin_dir: Path, skip: set[str]) -> int:
    ok = True
    env = cli_env(bin_dir)
    pulumi = bin_dir / "pulumi"

    def report(good: bool, what: str, detail: str) -> None:
        nonlocal ok
        ok = ok and good
        print(f"  {'ok ' if good else 'BAD'} {what:<32} {detail}")

    print(f"toolchain in {bin_dir} (PULUMI_HOME={pulumi_home()})")
    version = ""
    if pulumi.exists():
        out = subprocess.run([pulumi, "version"], capture_output=True, text=True, env=env, check=False)
        version = out.stdout.strip()
        cli_target = load_resolutions().get(f"pkg/v3@{pins['pulumi']}", {}).get("version", pins["pulumi"])
        good = out.returncode == 0 and version.removeprefix("v") in {pins["pulumi"], cli_target}
        note = "" if version.removeprefix("v") == pins["pulumi"] else f" (pin {pins['pulumi']}: pkg/v3 tag not served, see --help)"
        report(good, "pulumi", f"{version or out.stderr.strip()}{note}")
    else:
        report(False, "pulumi", "missing")
    host = bin_dir / "pulumi-language-python"
    real_host = host.resolve() if host.exists() else host
    for f, where in ((host, ""), (real_host.parent / "pulumi-language-python-exec", "(beside the real host binary)")):
        report(f.is_file() and os.access(f, os.X_OK), f.name, f"{f} {where}".strip() if f.exists() else "missing")
    dyn = bin_dir / "pulumi-resource-pulumi-python"
    report(dyn.is_file(), dyn.name, str(dyn) if dyn.exists() else "missing")
    sdks = installed_sdk_versions()
    for name, spec in PROVIDERS.items():
        if spec.pypi not in pins:
            continue
        want = pins[spec.pypi]
        label = f"pulumi-resource-{name}"
        if name in skip:
            print(f"  --  {label:<32} skipped (--skip {name})")
            continue
        plug = installed_plugin(pulumi, env, name, want) if pulumi.exists() else None
        path = pulumi_home() / "plugins" / f"resource-{name}-v{want}" / label
        report(bool(plug) and path.is_file(), label, f"v{want} {path}" if plug else f"v{want} not in the plugin cache")
        have = sdks.get(spec.pypi)
        if have and have != want:
            report(False, f"  python {spec.pypi}", f"{have} installed in {sys.prefix}, but the plugin pin is {want}")
    if sdks.get("pulumi") and sdks["pulumi"] != pins["pulumi"]:
        report(False, "python pulumi", f"{sdks['pulumi']} installed, pin is {pins['pulumi']}")
    print("offline environment:\n" + "".join(f"  {line}\n" for line in env_script(bin_dir).splitlines()))
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only verify that everything is in place; print versions")
    ap.add_argument("--force", action="store_true", help="rebuild and reinstall even if cached/installed")
    ap.add_argument("--bin", type=Path, default=None, help="bin dir to install into (default: <cache>/bin)")
    ap.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NAME==VER",
        help="override a pyproject pin, e.g. --pin pulumi-kubernetes==4.25.0 (the Python SDK must match)",
    )
    ap.add_argument("--skip", action="append", default=[], choices=sorted(PROVIDERS), help="do not build/check this provider")
    args = ap.parse_args(argv)

    bin_dir = (args.bin or cache_root() / "bin").resolve()
    try:
        pins = read_pins(args.pin)
    except (ToolchainError, OSError, KeyError) as e:
        print(f"toolchain: {e}", file=sys.stderr)
        return 2
    skip = set(args.skip)
    if args.check:
        return do_check(pins, bin_dir, skip)
    if not shutil.which("go"):
        print("toolchain: the go command is needed (Go >= 1.26)", file=sys.stderr)
        return 2

    results: list[Result] = []
    failures: list[str] = []
    t0 = time.monotonic()
    with gobuild.locked(cache_root() / ".lock", log):
        env = go_env()
        bin_dir.mkdir(parents=True, exist_ok=True)
        # 1. CLI + language host
        try:
            reuse = None if args.force else existing_cli(pins["pulumi"], bin_dir)
            reuse_host = False
            if reuse is not None:
                symlink_into(bin_dir, reuse)
                results.append(Result("pulumi", pins["pulumi"], "reused", str(reuse), 0, "found on PATH"))
                host = reuse.parent / "pulumi-language-python"
                if host.is_file() and (reuse.parent / "pulumi-language-python-exec").is_file():
                    symlink_into(bin_dir, host)
                    results.append(Result(host.name, pins["pulumi"], "reused", str(host), 0, "beside the reused pulumi"))
                    reuse_host = True
            else:
                cli_version, why = resolve_cli_version(pins["pulumi"], env, offline_ok=not args.force)
                if cli_version != pins["pulumi"]:
                    log(f"note: {why}")
                res = build_wrapped("pulumi", f"{PKG}/cmd/pulumi", cli_version, {}, f"v{cli_version}", args.force, env)
                res.detail = f"{PKG}@v{cli_version}" + ("" if cli_version == pins["pulumi"] else f" -- {why}")
                link_into(bin_dir, Path(res.path))
                results.append(res)
            if not reuse_host:
                host_version, libs = resolve_py_host(env)
                stamp = f"v{libs}-dev.{host_version.rsplit('-', 1)[-1]}"
                res = build_wrapped("pulumi-language-python", PY_HOST, libs, {PY_HOST: host_version}, stamp, args.force, env)
                res.detail = f"main package {PY_HOST}@{host_version}, built with pkg/v3+sdk/v3 v{libs}"
                link_into(bin_dir, Path(res.path))
                results.append(res)
            support = python_support_files(pins["pulumi"], env)
            for f in ("pulumi-language-python-exec", "pulumi-resource-pulumi-python"):
                link_into(bin_dir, support / f)
            # the host looks for the exec shim next to os.Executable() (symlinks resolved)
            real_host = (bin_dir / "pulumi-language-python").resolve()
            if not (real_host.parent / "pulumi-language-python-exec").is_file():
                link_into(real_host.parent, support / "pulumi-language-python-exec")
            results.append(
                Result(
                    "pulumi-language-python-exec",
                    pins["pulumi"],
                    "copied",
                    str(bin_dir / "pulumi-language-python-exec"),
                    0,
                    f"from {SDK}@v{pins['pulumi']}",
                )
            )
        except ToolchainError as e:
            failures.append(str(e))
        # 2. providers
        pulumi = bin_dir / "pulumi"
        penv = cli_env(bin_dir)
        for name, spec in PROVIDERS.items():
            if spec.pypi not in pins or name in skip:
                continue
            version = pins[spec.pypi]
            try:
                if not pulumi.exists():
                    raise ToolchainError(f"cannot install pulumi-resource-{name}: no pulumi CLI")
                plug = installed_plugin(pulumi, penv, name, version)
                if plug and not args.force and not (cache_root() / f"pulumi-resource-{name}-{version}").exists():
                    results.append(
                        Result(f"pulumi-resource-{name}", version, "reused", str(plug.get("path") or ""), 0, "already in the plugin cache")
                    )
                    continue
                res = build_provider(spec, version, args.force, env)
                res.detail = f"{install_plugin(pulumi, penv, name, version, Path(res.path), args.force)}; {res.detail}"
                results.append(res)
            except ToolchainError as e:
                failures.append(str(e))
                results.append(Result(f"pulumi-resource-{name}", version, "blocked"))
        (cache_root() / "env.sh").write_text(env_script(bin_dir))

    print()
    print(f"{'component':<32} {'version':<10} {'status':<8} {'build s':>8}  path / detail")
    for r in results:
        print(f"{r.name:<32} {r.version:<10} {r.status:<8} {r.seconds:>8.0f}  {r.path}")
        if r.detail:
            print(f"{'':<62}{r.detail}")
    print(f"\ntotal {time.monotonic() - t0:.1f}s; bin dir: {bin_dir}")
    print(f"offline environment (also in {cache_root() / 'env.sh'}):")
    print("".join(f"  {line}\n" for line in env_script(bin_dir).splitlines()), end="")
    if failures:
        print("\nFAILED:", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        if any("cannot build pulumi-resource-" in f for f in failures):
            print("  (use --skip NAME to build the rest; see scripts/README.md for the pins to use)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
