"""The command line: exit codes, output formats, init, schema and config; never a traceback."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from provisioner import manifest
from provisioner.cli import main
from provisioner.cli.output import github, human
from provisioner.errors import Diagnostic, Position, Severity
from provisioner.manifest.schema import dumps
from tests.support import REPO, SCHEMA, Capture, run
from tests.support import manifest as manifest_text


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the working directory; write koyalite.yaml into it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


WARNING_ONLY = manifest_text("features: {search: false}\nsearch: {replicas: 3}\n")
INVALID = manifest_text("storage: {masters: 2}\nservices:\n  api: {replcias: 2}\n")


# --- validate: exit codes ---------------------------------------------------------------------------


def test_valid_reference_manifest(capsys: Capture, in_repo: None) -> None:
    assert run(capsys, "validate", "koyalite.yaml") == (0, "", "koyalite.yaml: valid for dev, staging, prod\n")


def test_validate_defaults_to_koyalite_yaml(capsys: Capture, in_repo: None) -> None:
    assert run(capsys, "validate") == (0, "", "koyalite.yaml: valid for dev, staging, prod\n")


def test_valid_for_the_environments_asked(capsys: Capture, in_repo: None) -> None:
    assert run(capsys, "validate", "koyalite.yaml", "--env", "dev", "-e", "prod") == (0, "", "koyalite.yaml: valid for dev, prod\n")
    assert run(capsys, "validate", "koyalite.yaml", "--all-envs")[0] == 0


def test_invalid_manifest_exits_2(capsys: Capture, project: Path) -> None:
    (project / "koyalite.yaml").write_text(INVALID, encoding="utf-8")
    code, out, err = run(capsys, "validate")
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == "koyalite.yaml:5:9: error: services.api.replcias: unknown key `replcias`"
    assert err.endswith("koyalite.yaml: invalid (1 error)\n")
    assert "\033[" not in err  # no colour when stderr is not a terminal


def test_missing_file_exits_2(capsys: Capture, project: Path) -> None:
    assert run(capsys, "validate", "nope.yaml") == (
        2,
        "",
        "nope.yaml:1:1: error: cannot read the manifest: No such file or directory\n"
        "  hint: check the path, or run `koyalite init`\n"
        "nope.yaml: invalid (1 error)\n",
    )


def test_a_folder_is_not_a_manifest(capsys: Capture, project: Path) -> None:
    (project / "sub").mkdir()
    assert run(capsys, "validate", "sub")[0] == 2


USAGE = {
    "unknown-option": (["validate", "koyalite.yaml", "--bogus"], "Error: No such option: --bogus\n"),
    "unknown-env-did-you-mean": (
        ["validate", "koyalite.yaml", "--env", "prdo"],
        "error: environment `prdo` is not defined in koyalite.yaml\n  hint: did you mean `prod`?\n",
    ),
    "unknown-env-lists-them": (
        ["validate", "koyalite.yaml", "--env", "qa"],
        "error: environment `qa` is not defined in koyalite.yaml\n  hint: environments: dev, staging, prod\n",
    ),
    "env-and-all-envs": (
        ["validate", "koyalite.yaml", "--env", "prod", "--all-envs"],
        "error: --env and --all-envs cannot be combined\n  hint: pass one of them\n",
    ),
    "unknown-format": (["validate", "koyalite.yaml", "--format", "xml"], "'xml' is not one of 'human', 'json', 'github'.\n"),
    "unknown-command": (["frob"], "Error: No such command 'frob'.\n"),
    "config-needs-env": (["config", "koyalite.yaml"], "Error: Missing option '--env' / '-e'.\n"),
    "config-unknown-env": (
        ["config", "--env", "stagng", "koyalite.yaml"],
        "error: environment `stagng` is not defined in koyalite.yaml\n  hint: did you mean `staging`?\n",
    ),
    "extra-argument": (["schema", "extra"], "Error: Got unexpected extra argument(s) (extra)\n"),
}


@pytest.mark.parametrize(("argv", "tail"), USAGE.values(), ids=USAGE.keys())
def test_usage_errors_exit_64(argv: list[str], tail: str, capsys: Capture, in_repo: None) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (64, "")
    assert err.endswith(tail)


def test_help_exits_0(capsys: Capture) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert out.startswith("Usage: koyalite [OPTIONS] COMMAND [ARGS]...\n")
    assert "2 invalid or unreadable manifest" in out
    code, out, _ = run(capsys, "validate", "--help")
    assert code == 0 and "--strict" in out


# --- validate: formats ------------------------------------------------------------------------------


def test_github_format(capsys: Capture, project: Path) -> None:
    (project / "koyalite.yaml").write_text(INVALID, encoding="utf-8")
    # the structural error stops the run before the rules (the even master count waits for the next run)
    assert run(capsys, "validate", "--format", "github") == (
        2,
        "::error file=koyalite.yaml,line=5,col=9,title=services.api.replcias::unknown key `replcias` (did you mean `replicas`?)\n",
        "",
    )


def test_github_format_escapes_properties_and_data() -> None:
    stream = io.StringIO()
    github(
        [
            Diagnostic("50% of\nthe quota", "limits.storage_quota", Position("dir,a/koya:lite.yaml", 3, 7), "a, b: c"),
            Diagnostic("ignored", "", None, "", Severity.WARNING),
        ],
        stream,
    )
    assert stream.getvalue() == (
        "::error file=dir%2Ca/koya%3Alite.yaml,line=3,col=7,title=limits.storage_quota::50%25 of%0Athe quota (a, b: c)\n"
        "::warning ::ignored\n"
    )


def test_json_format(capsys: Capture, project: Path) -> None:
    (project / "koyalite.yaml").write_text(INVALID, encoding="utf-8")
    code, out, err = run(capsys, "validate", "--format", "json")
    assert (code, err) == (2, "")
    assert json.loads(out) == {
        "file": "koyalite.yaml",
        "environments": [],
        "valid": False,
        "diagnostics": [
            {
                "severity": "error",
                "code": "extra_forbidden",
                "path": "services.api.replcias",
                "file": "koyalite.yaml",
                "line": 5,
                "column": 9,
                "message": "unknown key `replcias`",
                "hint": "did you mean `replicas`?",
            }
        ],
    }


def test_json_format_reports_rules_of_every_environment(capsys: Capture, project: Path) -> None:
    text = manifest_text("environments:\n  dev:\n    target: docker\n  prod:\n    target: kubernetes\n    storage: {masters: 2}\n")
    (project / "koyalite.yaml").write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, "validate", "-f", "json")
    document = json.loads(out)
    assert (code, document["environments"], document["valid"]) == (2, ["dev", "prod"], False)
    assert [(d["path"], d["line"], d["column"], d["message"]) for d in document["diagnostics"]] == [
        ("storage.masters", 8, 24, "2 masters cannot hold a Raft majority safely")
    ]


def test_human_summary_names_every_environment_checked(capsys: Capture, project: Path) -> None:
    text = manifest_text("environments:\n  dev:\n    target: docker\n  prod:\n    target: kubernetes\n    storage: {masters: 2}\n")
    (project / "koyalite.yaml").write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "validate")
    assert code == 2
    assert err.splitlines()[-1] == "koyalite.yaml: invalid for dev, prod (1 error)"


def test_warnings_pass_and_strict_fails(capsys: Capture, project: Path) -> None:
    (project / "koyalite.yaml").write_text(WARNING_ONLY, encoding="utf-8")
    warning = "koyalite.yaml:4:1: {}: search: ignored because features.search is false"
    code, out, err = run(capsys, "validate")
    assert (code, out) == (0, "")
    assert err.splitlines()[0] == warning.format("warning")
    assert err.splitlines()[-1] == "koyalite.yaml: valid (1 warning)"
    code, out, err = run(capsys, "validate", "--strict")
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == warning.format("error")
    assert err.splitlines()[-1] == "koyalite.yaml: invalid (1 error)"
    code, out, _ = run(capsys, "validate", "--strict", "--format", "github")
    assert code == 2
    assert out == (
        "::error file=koyalite.yaml,line=4,col=1,title=search::ignored because features.search is false"
        " (remove this section, or set `features.search: true`)\n"
    )


SECRET = "hunter2-but-longer-9f8e"


@pytest.mark.parametrize(
    ("body", "variable"),
    [("services:\n  api:\n    env: {JWT_SECRET: %s}\n", "JWT_SECRET"), ("services:\n  api:\n    secrets: {API_TOKEN: %s}\n", "API_TOKEN")],
    ids=["literal-in-env", "value-as-secret-reference"],
)
@pytest.mark.parametrize("fmt", ["human", "json", "github"])
def test_secret_values_never_reach_any_output(body: str, variable: str, fmt: str, capsys: Capture, project: Path) -> None:
    (project / "koyalite.yaml").write_text(manifest_text(body % SECRET), encoding="utf-8")
    code, out, err = run(capsys, "validate", "--format", fmt)
    assert code == 2
    assert variable in out + err
    assert SECRET not in out + err


def test_human_output_shows_the_line_and_a_caret(capsys: Capture, project: Path) -> None:
    (project / "koyalite.yaml").write_text(INVALID, encoding="utf-8")
    err = run(capsys, "validate")[2]
    assert err == (
        "koyalite.yaml:5:9: error: services.api.replcias: unknown key `replcias`\n"
        " 5 |   api: {replcias: 2}\n"
        "   |         ^\n"
        "  hint: did you mean `replicas`?\n"
        "koyalite.yaml: invalid (1 error)\n"
    )


def test_human_output_in_colour() -> None:
    stream = io.StringIO()
    human([Diagnostic("boom", "a.b", None, "fix it")], stream, colour=True)
    assert stream.getvalue() == "\033[1m\033[0m\033[1;31merror\033[0m: a.b: boom\n  \033[36mhint\033[0m: fix it\n"


# --- init -------------------------------------------------------------------------------------------

INIT_FILES = [
    ".gitignore",
    "functions/hello/index.ts",
    "koyalite.yaml",
    "schema/koyalite.schema.json",
    "stacks/Pulumi.dev.yaml",
    "stacks/Pulumi.prod.yaml",
]


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_init_creates_a_project_that_validates(capsys: Capture, tmp_path: Path) -> None:
    folder = tmp_path / "Shop Front"
    code, _, err = run(capsys, "init", str(folder))
    assert code == 0
    assert err == f"created project `shop-front` in {folder}; next: koyalite validate {folder / 'koyalite.yaml'}\n"
    assert files_under(folder) == INIT_FILES
    assert (folder / "schema" / "koyalite.schema.json").read_text(encoding="utf-8") == dumps()
    assert (folder / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8") == (
        "config:\n  koyalite:manifest: ../koyalite.yaml\n  koyalite:environment: prod\n"
    )
    assert main(["validate", str(folder / "koyalite.yaml")]) == 0
    assert main(["validate", str(folder / "koyalite.yaml"), "--strict"]) == 0
    results, diagnostics = manifest.check_all(manifest.load(folder / "koyalite.yaml"))
    assert ([r.environment for r in results], diagnostics) == (["dev", "prod"], [])
    assert results[0].manifest.project.name == "shop-front"


def test_init_refuses_to_overwrite_without_force(capsys: Capture, tmp_path: Path) -> None:
    assert run(capsys, "init", str(tmp_path), "--name", "acme")[0] == 0
    (tmp_path / "koyalite.yaml").write_text("# my edits\n", encoding="utf-8")
    code, _, err = run(capsys, "init", str(tmp_path), "--name", "acme")
    assert code == 64
    assert err == (
        f"error: {', '.join(['koyalite.yaml', *INIT_FILES[1:2], *INIT_FILES[3:], INIT_FILES[0]])} already exist in {tmp_path}\n"
        "  hint: pass --force to overwrite, or choose another folder\n"
    )
    assert (tmp_path / "koyalite.yaml").read_text(encoding="utf-8") == "# my edits\n"
    assert run(capsys, "init", str(tmp_path), "--name", "acme", "--force")[0] == 0
    assert run(capsys, "validate", str(tmp_path / "koyalite.yaml"))[0] == 0


def test_init_refuses_one_existing_file(capsys: Capture, tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n", encoding="utf-8")
    code, _, err = run(capsys, "init", str(tmp_path), "--name", "acme")
    assert (code, err.splitlines()[0]) == (64, f"error: .gitignore already exists in {tmp_path}")
    assert files_under(tmp_path) == [".gitignore"]


def test_init_refuses_a_bad_name(capsys: Capture, tmp_path: Path) -> None:
    code, _, err = run(capsys, "init", str(tmp_path), "--name", "9lives")
    assert (code, err.splitlines()[0]) == (64, "error: `9lives` is not a valid project name")
    assert files_under(tmp_path) == []


# --- schema -----------------------------------------------------------------------------------------


def test_schema_to_stdout(capsys: Capture) -> None:
    assert run(capsys, "schema") == (0, SCHEMA.read_text(encoding="utf-8"), "")


def test_schema_output_file_is_the_committed_schema(capsys: Capture, tmp_path: Path) -> None:
    target = tmp_path / "out" / "koyalite.schema.json"
    assert run(capsys, "schema", "-o", str(target)) == (0, "", "")
    assert target.read_text(encoding="utf-8") == SCHEMA.read_text(encoding="utf-8")
    assert [p.name for p in target.parent.iterdir()] == ["koyalite.schema.json"]  # no temporary file left


# --- config -----------------------------------------------------------------------------------------


def test_config_applies_the_overlay(capsys: Capture, in_repo: None) -> None:
    code, out, err = run(capsys, "config", "--env", "dev", "koyalite.yaml")
    assert (code, err) == (0, "")
    data = yaml.safe_load(out)
    assert data["services"]["api"]["replicas"] == 1
    assert data["services"]["api"]["autoscale"] is None
    assert data["services"]["auth"]["replicas"] == 1
    assert data["storage"]["masters"] == 1
    assert data["features"]["experimental.graphql"] is True
    assert [w["url"] for w in data["webhooks"]] == ["http://localhost:9999/hooks/signup", "https://hooks.example.com/acme/uploads"]
    assert data["environments"] == {
        "dev": {
            "target": "docker",
            "protect": False,
            "policy": {"allow_experimental": False},
            "docker": {"publish": {"api": 8000, "studio": 3000, "functions": 9000}, "bind": "127.0.0.1"},
        }
    }


def test_config_show_origin(capsys: Capture, in_repo: None) -> None:
    code, out, _ = run(capsys, "config", "--env", "dev", "--show-origin", "koyalite.yaml")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "apiVersion: koyalite.dev/v1  # koyalite.yaml:3:13"
    api = lines[lines.index("services:") + 1 :]
    assert api[0] == "  api:"
    assert "    replicas: 1  # koyalite.yaml:183:23" in api[:10]  # dev's overlay, not the base's 2 at line 34
    assert "    image: null  # default" in api[:10]
    assert "    autoscale: null  # default" in api[:20]  # deleted by the overlay's null
    assert "  experimental.graphql: true  # koyalite.yaml:181:29" in lines
    assert "  enterprise.sso: false  # koyalite.yaml:22:19" in lines
    assert "    target: docker  # koyalite.yaml:177:13" in lines


def test_config_show_origin_is_the_same_yaml_with_comments(capsys: Capture, in_repo: None) -> None:
    plain = yaml.safe_load(run(capsys, "config", "--env", "prod", "koyalite.yaml")[1])
    annotated = run(capsys, "config", "--env", "prod", "--show-origin", "koyalite.yaml")[1]
    assert yaml.safe_load(annotated) == plain
    # every origin points at the text of that value in the manifest
    source = (REPO / "koyalite.yaml").read_text(encoding="utf-8").splitlines()
    origins = re.findall(r"^\s*(?:- |[\w.-]+: )?(.*?)  # koyalite\.yaml:(\d+):(\d+)$", annotated, re.MULTILINE)
    assert len(origins) > 100
    for value, line, column in origins:
        written = source[int(line) - 1][int(column) - 1 :]
        assert written.lstrip("'\"").startswith(value.strip("'")), (value, line, column)


def test_config_of_an_invalid_environment_exits_2(capsys: Capture, project: Path) -> None:
    text = manifest_text("environments:\n  prod:\n    target: kubernetes\n    storage: {masters: 2}\n")
    (project / "koyalite.yaml").write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "config", "--env", "prod")
    assert (code, out) == (2, "")
    assert err.startswith("koyalite.yaml:6:24: error: storage.masters: 2 masters cannot hold a Raft majority safely\n")


# --- never a traceback ----------------------------------------------------------------------------


def test_unexpected_errors_are_reported_not_raised(capsys: Capture, in_repo: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.delenv("KOYALITE_DEBUG", raising=False)
    monkeypatch.setattr(manifest, "check_all", boom)
    assert run(capsys, "validate", "koyalite.yaml") == (
        1,
        "",
        "internal error: RuntimeError: boom\n  hint: this is a bug in koyalite; rerun with KOYALITE_DEBUG=1 and report the traceback\n",
    )
    monkeypatch.setenv("KOYALITE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["validate", "koyalite.yaml"])


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02", b"\xff\xfe\x00\x00", b"- [\n", b"a: *b\n", b"apiVersion: [\n" * 3, "\u2028\u00a0: \ufeff".encode()],
    ids=["empty", "control-bytes", "utf-32-bom", "unclosed", "alias", "nested-unclosed", "unicode-separators"],
)
def test_garbage_is_an_invalid_manifest(content: bytes, capsys: Capture, project: Path) -> None:
    (project / "koyalite.yaml").write_bytes(content)
    for fmt in ("human", "json", "github"):
        code, out, err = run(capsys, "validate", "--format", fmt)
        assert code == 2, (fmt, out, err)
        assert "Traceback" not in out + err
