"""The command line without servers: configuration errors, the restore's decisions on its target."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

from backup_runner.__main__ import main
from backup_runner.restore import MARKER, PENDING

SECRET = "never-print-this-secret-0123456789"


def run(operation: str, env: dict[str, str]) -> tuple[int, dict[str, object], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([operation], env, out, err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, out.getvalue()
    return code, json.loads(lines[0]), err.getvalue()


@pytest.fixture
def env(tmp_path: pathlib.Path) -> dict[str, str]:
    return {
        "BACKUP_CLUSTER": "db",
        "BACKUP_NAMESPACE": "shop",
        "BACKUP_REPO_NAME": "local",
        "BACKUP_REPO_TYPE": "filesystem",
        "BACKUP_REPO_PATH": str(tmp_path / "repo"),
        "BACKUP_TERMINATION_MESSAGE_PATH": str(tmp_path / "termination-log"),
        "RESTORE_DATA_DIRECTORY": str(tmp_path / "data"),
        "RESTORE_WORK_DIRECTORY": str(tmp_path / "work"),
    }


def test_invalid_configuration_is_reported(env: dict[str, str], tmp_path: pathlib.Path) -> None:
    env = {**env, "BACKUP_REPO_TYPE": "s3", "BACKUP_REPO_SECRET_ACCESS_KEY": SECRET}
    code, result, log = run("backup", env)
    assert code == 1
    assert result["result"] == "Failed"
    assert result["reason"] == "InvalidConfiguration"
    assert "BACKUP_DATABASE_URLS" in str(result["message"])
    assert "BACKUP_REPO_ENDPOINT" in str(result["message"])
    assert json.loads((tmp_path / "termination-log").read_text()) == result
    assert SECRET not in json.dumps(result) + log


def test_restore_without_any_backup(env: dict[str, str]) -> None:
    code, result, _ = run("restore", env)
    assert (code, result["reason"]) == (1, "BackupNotFound")


def test_restore_refuses_a_target_with_data(env: dict[str, str], tmp_path: pathlib.Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "database.sqlite3").write_bytes(b"precious")
    code, result, _ = run("restore", env)
    assert (code, result["reason"]) == (1, "TargetNotEmpty")
    assert "database.sqlite3" in str(result["message"])
    assert (tmp_path / "data" / "database.sqlite3").read_bytes() == b"precious"


def test_restore_ignores_lost_and_found(env: dict[str, str], tmp_path: pathlib.Path) -> None:
    (tmp_path / "data" / "lost+found").mkdir(parents=True)
    code, result, _ = run("restore", env)
    assert (code, result["reason"]) == (1, "BackupNotFound")  # went on to look for a backup


def test_restore_after_a_restore_is_skipped(env: dict[str, str], tmp_path: pathlib.Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "database.sqlite3").write_bytes(b"restored")
    (data / MARKER).write_text(json.dumps({"manifestKey": "backups/x/manifest.json"}))
    code, result, _ = run("restore", env)
    assert code == 0
    assert result["result"] == "Skipped"
    assert result["reason"] == "DataPresent"
    assert result["restoredFrom"] == {"manifestKey": "backups/x/manifest.json"}


def test_only_the_leader_restores(env: dict[str, str]) -> None:
    env = {**env, "BACKUP_POD_NAME": "db-1", "RESTORE_LEADER_POD": "db-0"}
    code, result, _ = run("restore", env)
    assert code == 0
    assert (result["result"], result["reason"]) == ("Skipped", "NotLeader")


def test_restore_rejects_a_malformed_key(env: dict[str, str], tmp_path: pathlib.Path) -> None:
    (tmp_path / "repo" / "shop-db").mkdir(parents=True)
    code, result, _ = run("restore", {**env, "RESTORE_OBJECT_KEY": "latest"})
    assert (code, result["reason"]) == (1, "InvalidConfiguration")


def test_an_interrupted_restore_is_started_over(
    env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    """A crash mid-load leaves the pending mark and half a database: the next try clears both
    (instead of refusing a "non-empty" target forever) and goes on to restore."""
    data = tmp_path / "data"
    (data / "lost+found").mkdir(parents=True)
    (data / PENDING).touch()
    (data / ".database.sqlite3.load-0123").write_bytes(b"half a database")
    (data / "database.sqlite3").write_bytes(b"loaded, but no marker yet")
    code, result, _ = run("restore", env)
    assert (code, result["reason"]) == (1, "BackupNotFound")  # went on to look for a backup
    assert sorted(p.name for p in data.iterdir()) == ["lost+found"]
