"""Where a deploy runs: the stacks/ project, the state backend, the passphrase and the toolchain, as environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from provisioner.errors import UsageError

STACKS_DIR = Path(__file__).resolve().parents[2] / "stacks"
"""The Pulumi project (Pulumi.yaml, __main__.py, Pulumi.<env>.yaml); `pulumi up -s ENV` there does the same deploy."""

STATE_DIR = ".koyalite/state"
"""Default file backend, beside the manifest (git-ignored)."""

DEV_PASSPHRASE = ".koyalite/{env}.passphrase"

GENERATED_PASSPHRASE_ENVS = frozenset({"dev"})
"""Only these environments get a passphrase generated on first use; every other one must be given one."""


def toolchain_bin() -> Path:
    """Where `make toolchain` installs the Pulumi CLI and plugins built from source."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "koyalite" / "toolchain" / "bin"


@dataclass(frozen=True, slots=True)
class DeploySettings:
    """Everything the engine adapter needs besides the command: all of it ends up as environment variables."""

    environment: str
    manifest: Path
    backend: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def project_dir(self) -> Path:
        return self.manifest.parent


def _passphrase(environment: str, project_dir: Path, environ: dict[str, str]) -> dict[str, str]:
    if environ.get("PULUMI_CONFIG_PASSPHRASE") is not None:
        return {"PULUMI_CONFIG_PASSPHRASE": environ["PULUMI_CONFIG_PASSPHRASE"]}
    if environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return {"PULUMI_CONFIG_PASSPHRASE_FILE": environ["PULUMI_CONFIG_PASSPHRASE_FILE"]}
    if environment not in GENERATED_PASSPHRASE_ENVS:
        raise UsageError(
            f"no passphrase for the secrets of environment {environment}",
            "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE (only dev gets a generated one)",
        )
    path = project_dir / DEV_PASSPHRASE.format(env=environment)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL and mode 0600 from the start: the file is never readable by others, not even for a moment
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(path)}


def resolve(environment: str, manifest: Path, backend: str | None = None, environ: dict[str, str] | None = None) -> DeploySettings:
    """Settings for one environment: backend (default: file state beside the manifest), passphrase, offline engine."""
    environ = dict(os.environ if environ is None else environ)
    manifest = manifest.resolve()
    url = backend or environ.get("PULUMI_BACKEND_URL") or (manifest.parent / STATE_DIR).as_uri()
    if url.startswith("file://"):
        Path(url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    env = {
        "PULUMI_BACKEND_URL": url,
        # offline and quiet: no update checks, no plugin downloads, nothing sent anywhere
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": environ.get("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", "false"),
        "KOYALITE_MANIFEST": str(manifest),
        **_passphrase(environment, manifest.parent, environ),
    }
    tools = toolchain_bin()
    if tools.is_dir():
        env["PATH"] = f"{tools}{os.pathsep}{environ.get('PATH', '')}"
    return DeploySettings(environment, manifest, url, env)
