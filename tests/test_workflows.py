"""The GitHub Actions workflows in examples/gitops and the pre-commit hook call the real CLI, correctly."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from provisioner.cli import gitops as gitops_cli
from provisioner.cli import main
from tests.support import REFERENCE, REPO
from tests.support import manifest as manifest_text

Capture = pytest.CaptureFixture[str]

EXAMPLES = REPO / "examples" / "gitops"
WORKFLOWS = EXAMPLES / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yaml"))
PRE_COMMIT = REPO / ".pre-commit-hooks.yaml"

_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "then", "do", "if", "else", "elif", "!", "{", "}"}
_REDIRECT = re.compile(r"^[0-9]*[<>]+&?$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    if True in data:  # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return data


def scripts(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job.get("steps", []) if "run" in step]


def koyalite_calls(script: str) -> list[list[str]]:
    """Every `koyalite ...` command of a shell script, as argv after `koyalite`: the words up to `;`, `|`, `>`, ..."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        if "koyalite" not in line:
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        words = list(lexer)
        for i, word in enumerate(words):
            if word == "koyalite" and (i == 0 or words[i - 1] in _SEPARATORS):
                argv = []
                for arg in words[i + 1 :]:
                    if arg in _SEPARATORS or _REDIRECT.match(arg):
                        break
                    argv.append(arg)
                found.append(argv)
    return found


def command(argv: list[str]) -> Any:
    """The CLI's command for argv (subcommands of groups followed), and the arguments left for it."""
    from provisioner.cli import deploy  # noqa: F401 - registers the deploy commands, as main() does
    from provisioner.cli.commands import app

    group: Any = typer.main.get_command(app)
    cmd, rest = group, list(argv)
    while hasattr(cmd, "commands") and rest and rest[0] in cmd.commands:
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    assert cmd is not group, f"`koyalite {argv[0]}` is not a command"
    return cmd, rest


def help_of(capsys: Capture, verb: str) -> str:
    assert main([*verb.split(), "--help"]) == 0
    return capsys.readouterr().out


ALL_CALLS = [(path.name, argv) for path in FILES for script in scripts(load(path)) for argv in koyalite_calls(script)]


def test_the_workflows_are_there() -> None:
    assert [p.name for p in FILES] == ["koyalite-apply.yaml", "koyalite-deploy.yaml", "koyalite-pull-request.yaml"]
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert all(f"`{p.name}`" in readme for p in FILES)


def test_every_koyalite_call_is_found() -> None:
    assert [(name, argv[0]) for name, argv in ALL_CALLS] == [
        ("koyalite-apply.yaml", "up"),
        ("koyalite-apply.yaml", "up"),
        ("koyalite-pull-request.yaml", "validate"),
        ("koyalite-pull-request.yaml", "render"),
        ("koyalite-pull-request.yaml", "render"),
        ("koyalite-pull-request.yaml", "diff"),
        ("koyalite-pull-request.yaml", "preview"),
    ]
    assert ALL_CALLS[5][1] == ["diff", "--env", "$ENVIRONMENT", "--against", "base-rendered/$ENVIRONMENT"]


@pytest.mark.parametrize(("name", "argv"), ALL_CALLS, ids=[f"{n}:{' '.join(a)}" for n, a in ALL_CALLS])
def test_every_call_is_a_real_command_with_real_options(name: str, argv: list[str], capsys: Capture) -> None:
    cmd, rest = command(argv)
    shown = help_of(capsys, argv[0])
    for option in (a.split("=", 1)[0] for a in rest if a.startswith("-")):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", shown), f"{name}: `koyalite {argv[0]}` has no option {option}"
    cmd.make_context(f"koyalite {argv[0]}", rest)  # the whole line parses: option values, arguments, no extras


def test_the_tokenizer_stops_at_shell_syntax() -> None:
    script = 'if koyalite render --env "$E" base/koyalite.yaml -o out; then echo ok; fi\nkoyalite diff -e a -e b > d.txt 2>&1\n'
    assert koyalite_calls(script) == [["render", "--env", "$E", "base/koyalite.yaml", "-o", "out"], ["diff", "-e", "a", "-e", "b"]]
    assert koyalite_calls('echo "koyalite up"\n') == []


def test_pull_request_workflow() -> None:
    workflow = load(WORKFLOWS / "koyalite-pull-request.yaml")
    assert workflow["on"]["pull_request"]["branches"] == ["main"]
    assert "koyalite.yaml" in workflow["on"]["pull_request"]["paths"]
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert list(jobs) == ["validate", "render-diff", "preview"]
    assert jobs["render-diff"]["needs"] == jobs["preview"]["needs"] == "validate"
    assert jobs["preview"]["concurrency"] == {
        "group": "koyalite-preview-${{ matrix.environment }}-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    # the check fails only on the exit code diff gives a replacement risk
    diff_step = next(s for s in jobs["render-diff"]["steps"] if s.get("name") == "Diff against the base branch")
    assert (gitops_cli.EXIT_SAME, gitops_cli.EXIT_DIFFERENT, gitops_cli.EXIT_RISK) == (0, 1, 3)
    assert "0|1) exit 0 ;;" in diff_step["run"] and '3) echo "::error::' in diff_step["run"]
    # the plan the preview saves is the artifact the apply workflow downloads
    uploads = [s["with"] for s in jobs["preview"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads == [{"name": "plan-${{ matrix.environment }}", "path": "plan-${{ matrix.environment }}.json", "retention-days": 14}]


def test_deploy_calls_apply_with_its_inputs() -> None:
    deploy, apply = load(WORKFLOWS / "koyalite-deploy.yaml"), load(WORKFLOWS / "koyalite-apply.yaml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    assert deploy["on"]["workflow_dispatch"]["inputs"]["use-plan"]["default"] is False
    inputs = apply["on"]["workflow_call"]["inputs"]
    assert (inputs["environment"]["required"], inputs["use-plan"]["type"]) == (True, "boolean")
    assert list(deploy["jobs"]) == ["staging", "prod"]
    assert deploy["jobs"]["prod"]["needs"] == "staging"  # staging first
    for name, job in deploy["jobs"].items():
        assert job["uses"] == "./.github/workflows/koyalite-apply.yaml"
        assert (WORKFLOWS / Path(job["uses"]).name).is_file()
        assert set(job["with"]) <= set(inputs) and job["with"]["environment"] == name
    up = apply["jobs"]["up"]
    assert up["concurrency"] == {"group": "koyalite-up-${{ inputs.environment }}", "cancel-in-progress": False}
    download = next(s for s in up["steps"] if s.get("uses", "").startswith("actions/download-artifact"))
    assert download["with"]["name"] == "plan-${{ inputs.environment }}"
    # it looks the preview up by the pull-request workflow's file name
    assert "--workflow koyalite-pull-request.yaml" in next(s["run"] for s in up["steps"] if s.get("id") == "preview")


def test_the_saved_plan_file_is_the_applied_one() -> None:
    preview = next(argv for _, argv in ALL_CALLS if argv[0] == "preview")
    applied = next(argv for _, argv in ALL_CALLS if argv[0] == "up" and "--plan" in argv)
    assert preview[preview.index("--save-plan") + 1] == applied[applied.index("--plan") + 1] == "plan-$ENVIRONMENT.json"


# --- pre-commit ------------------------------------------------------------------------------------------------


def pre_commit_hook() -> dict[str, Any]:
    hooks = yaml.safe_load(PRE_COMMIT.read_text(encoding="utf-8"))
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    assert isinstance(hook, dict)
    return hook


def test_pre_commit_hook_definition() -> None:
    hook = pre_commit_hook()
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert (hook["id"], hook["language"]) == ("koyalite-validate", "python")
    files = re.compile(hook["files"])
    assert [bool(files.search(p)) for p in ("koyalite.yaml", "deploy/koyalite.yml", "koyalite.yaml.bak", "not-koyalite.yaml")] == [
        True,
        True,
        False,
        False,
    ]
    calls = koyalite_calls(shlex.split(hook["entry"])[2])
    assert calls == [["validate", "$manifest"]]
    command(calls[0])


def run_entry(*files: Path) -> subprocess.CompletedProcess[str]:
    """The hook's entry as pre-commit runs it: the entry's words, then the staged files matching `files`."""
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "koyalite").is_file(), "the koyalite console script is installed beside the test interpreter"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    argv = [*shlex.split(pre_commit_hook()["entry"]), *map(str, files)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=120)


def test_pre_commit_entry_validates_every_manifest(tmp_path: Path) -> None:
    assert run_entry(REFERENCE).returncode == 0
    invalid = tmp_path / "koyalite.yaml"
    invalid.write_text(manifest_text("storage: {masters: 2}\n"), encoding="utf-8")
    result = run_entry(invalid, REFERENCE)  # one bad manifest fails the hook; the others are still validated
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"{REFERENCE}: valid for dev, staging, prod"
    assert f"{invalid}: invalid (1 error)" in result.stderr.splitlines()


def test_only_the_deploy_gets_the_hosted_platforms_tokens() -> None:
    """`koyalite up` reads the Workers and Deno Deploy tokens from the environment; previews need none."""
    (up,) = load(WORKFLOWS / "koyalite-apply.yaml")["jobs"].values()
    for variable in ("CLOUDFLARE_API_TOKEN", "DENO_DEPLOY_TOKEN"):
        assert up["env"][variable] == f"${{{{ secrets.{variable} }}}}"
    preview = (WORKFLOWS / "koyalite-pull-request.yaml").read_text()
    assert "CLOUDFLARE_API_TOKEN" not in preview and "DENO_DEPLOY_TOKEN" not in preview
