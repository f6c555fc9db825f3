"""images/Dockerfile, checked statically (no container engine runs in CI): three non-root targets on
python:3.11-slim, exec-form instructions only, a build context that holds only what the build reads,
and entrypoints that agree with the commands the chart and the hooks put into pods."""

from __future__ import annotations

import fnmatch
import json
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from hooks import names
from hooks.render import render
from tests.support.hook_requests import sample_documents

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DOCKERFILE = ROOT / "images" / "Dockerfile"
# Target -> the package it runs (python -m <package>).
TARGETS = {
    "hooks": "hooks",
    "database-service": "database_service",
    "backup-runner": "backup_runner",
}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    out = []
    for entry in logical:
        keyword, _, args = entry.partition(" ")
        out.append((keyword.upper(), " ".join(args.split())))
    return out


def parse() -> tuple[dict[str, str], dict[str, Stage]]:
    """Global ARG defaults and the stages by name."""
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            stage = Stage(name=name.strip(), base=base.strip())
            stages[stage.name] = stage
        elif stage is None and keyword == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        elif stage is not None:
            stage.instructions.append((keyword, rest))
    return args, stages


def chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it builds on, base first."""
    out = [stages[name]]
    while out[0].base in stages:
        out.insert(0, stages[out[0].base])
    return out


def last(stages: dict[str, Stage], name: str, keyword: str) -> str | None:
    values = [rest for s in chain(stages, name) for k, rest in s.instructions if k == keyword]
    return values[-1] if values else None


def test_targets_exist_on_python_3_11_slim() -> None:
    args, stages = parse()
    assert set(TARGETS) <= set(stages)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    roots = {s.base for s in stages.values() if s.base not in stages}
    assert roots == {"${PYTHON_IMAGE}"}


@pytest.mark.parametrize("target", TARGETS)
def test_targets_run_as_non_root_user_10001(target: str) -> None:
    _, stages = parse()
    user = last(stages, target, "USER")
    assert user is not None
    assert user.split(":")[0] == "10001"


def test_no_shell_form() -> None:
    """RUN, CMD and ENTRYPOINT in exec form: no shell in between, no `&&` chains, signals reach
    the Python process (it is PID 1 and handles SIGTERM itself)."""
    _, stages = parse()
    shell_form = [
        f"{stage.name}: {keyword} {rest}"
        for stage in stages.values()
        for keyword, rest in stage.instructions
        if keyword in ("RUN", "CMD", "ENTRYPOINT") and not isinstance(json.loads(rest), list)
    ]
    assert shell_form == []
    assert not any(k == "SHELL" for s in stages.values() for k, _ in s.instructions)


@pytest.mark.parametrize(("target", "package"), TARGETS.items())
def test_entrypoints_run_the_package(target: str, package: str) -> None:
    _, stages = parse()
    entrypoint = last(stages, target, "ENTRYPOINT")
    assert entrypoint is not None
    assert json.loads(entrypoint) == ["python", "-m", package]
    assert (ROOT / package / "__main__.py").is_file()


def test_the_project_is_installed_from_the_repository() -> None:
    _, stages = parse()
    runs = [json.loads(rest) for s in stages.values() for k, rest in s.instructions if k == "RUN"]
    assert [c for c in runs if c[-2:] == ["install", "."]], "pip install . is missing"
    copies = [rest.split() for s in stages.values() for k, rest in s.instructions if k == "COPY"]
    sources = [src for args in copies if not args[0].startswith("--from") for src in args[:-1]]
    for source in sources:
        assert (ROOT / source).exists(), source
        assert included_in_context(source), f"{source} is excluded by .dockerignore"


def included_in_context(path: str) -> bool:
    """Applies .dockerignore's patterns in order (a later `!pattern` re-includes); a pattern that
    matches a directory applies to everything below it."""
    included = True
    parts = path.rstrip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.removeprefix("!").rstrip("/")
        bare = pattern.removeprefix("**/")
        if any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, bare) for c in candidates):
            included = negate
    return included


def test_dockerignore_keeps_the_context_small() -> None:
    for kept in (
        "pyproject.toml",
        "README.md",
        "hooks/app.py",
        "backup_runner",
        "database_service",
    ):
        assert included_in_context(kept), kept
    for left_out in (
        ".git/config",
        "tests/unit",
        "charts",
        "docs",
        ".venv",
        "bench",
        "samples",
        ".env",
        "hooks/__pycache__/app.cpython-311.pyc",
    ):
        assert not included_in_context(left_out), left_out
    readme = re.search(r'^readme = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert readme is not None
    assert included_in_context(readme.group(1)), "the package build reads the readme"


def test_ports_agree_with_the_chart_and_the_hooks() -> None:
    _, stages = parse()
    values = yaml.safe_load((ROOT / "charts" / "database-operator" / "values.yaml").read_text())
    assert last(stages, "hooks", "EXPOSE") == str(values["containerPort"])
    assert last(stages, "database-service", "EXPOSE") == str(names.DATABASE_PORT)


def test_pods_run_the_image_entrypoints() -> None:
    """The hooks write `command` into every container they create: with our images (as in the
    samples) it must start the package that image's target runs."""
    _, stages = parse()
    containers: list[dict[str, Any]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("command"), list) and "image" in node:
                containers.append(node)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for _, answer in render(sample_documents()):
        collect(answer.children)
    ours = [c for c in containers if c["image"].startswith("database-operator/")]
    assert {c["image"].split("/")[1].split(":")[0] for c in ours} == {
        "database-service",
        "backup-runner",
    }
    for container in ours:
        target = container["image"].split("/")[1].split(":")[0]
        entrypoint = json.loads(str(last(stages, target, "ENTRYPOINT")))
        assert container["command"][:3] == entrypoint, container["name"]
