"""docs/api-reference.md is what scripts/gen_api_reference.py makes of crds/: regenerated here and
compared, so a CRD change without a regenerated reference fails."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
from types import ModuleType

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "scripts" / "gen_api_reference.py"


def generator() -> ModuleType:
    # scripts/ is not a package: load the script by its path.
    spec = importlib.util.spec_from_file_location("gen_api_reference", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_reference_is_up_to_date() -> None:
    current = (ROOT / "docs" / "api-reference.md").read_text()
    assert current == generator().render(), (
        "docs/api-reference.md is stale: run `python scripts/gen_api_reference.py`"
    )


def test_reference_covers_every_field_and_rule() -> None:
    text = (ROOT / "docs" / "api-reference.md").read_text()
    gen = generator()
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert f"## {crd['spec']['names']['kind']}" in text
        for part in ("spec", "status"):
            for field in gen.fields(schema["properties"][part], part):
                assert f"`{field.path}`" in text
        for _, rule, message in gen.validation_rules(schema):
            assert message in text
            assert f"`{rule}`".replace("|", "\\|") in text


def test_check_mode_reports_drift(tmp_path: pathlib.Path) -> None:
    stale = tmp_path / "api-reference.md"
    stale.write_text("# outdated\n")
    command = [sys.executable, str(SCRIPT), "--check", "--output"]
    result = subprocess.run([*command, str(stale)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "is stale" in result.stderr
    fresh = subprocess.run(
        [*command, str(ROOT / "docs" / "api-reference.md")], capture_output=True, check=False
    )
    assert fresh.returncode == 0
