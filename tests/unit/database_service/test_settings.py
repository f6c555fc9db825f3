"""Identity and configuration from the environment the hooks render."""

from __future__ import annotations

from pathlib import Path

import pytest

from database_service.settings import Role, Settings, SettingsError, ordinal_from_pod_name

LEADER_ENV = {"POD_NAME": "db-0", "DATA_DIRECTORY": "/var/db", "PORT": "9000", "HOST": "127.0.0.2"}


@pytest.mark.parametrize(
    ("pod_name", "ordinal"),
    [
        ("db-0", 0),
        ("db-1", 1),
        ("my-cluster-12", 12),
        ("databasecluster-sample-0", 0),
        ("x-007", 7),
    ],
)
def test_ordinal_is_the_number_after_the_last_dash(pod_name: str, ordinal: int) -> None:
    assert ordinal_from_pod_name(pod_name) == ordinal


@pytest.mark.parametrize("pod_name", ["db", "db-", "db-x", "db-1a", "-", "db-\u0663", "db-+1", ""])
def test_a_pod_name_without_an_ordinal_is_refused(pod_name: str) -> None:
    with pytest.raises(SettingsError, match="must end in -<ordinal>"):
        ordinal_from_pod_name(pod_name)


def test_leader_settings_from_the_environment() -> None:
    settings = Settings.from_environ(LEADER_ENV)
    assert settings.role is Role.LEADER
    assert settings.data_directory == Path("/var/db")
    assert settings.database_path == Path("/var/db/database.sqlite3")
    assert (settings.port, settings.host, settings.leader_url) == (9000, "127.0.0.2", None)


def test_defaults_follow_the_contract() -> None:
    settings = Settings.from_environ({"POD_NAME": "db-0"})
    assert settings.data_directory == Path("/data")
    assert (settings.port, settings.host, settings.namespace) == (8089, "0.0.0.0", "")
    assert settings.changelog_retain == 100_000


def test_follower_needs_the_leader_url() -> None:
    with pytest.raises(SettingsError, match="LEADER_URL is required for a follower"):
        Settings.from_environ({"POD_NAME": "db-2"})
    settings = Settings.from_environ(
        {"POD_NAME": "db-2", "LEADER_URL": "http://db-0.db-pods.ns.svc:8089/"}
    )
    assert settings.role is Role.FOLLOWER
    assert settings.leader_url == "http://db-0.db-pods.ns.svc:8089"


def test_empty_variables_take_the_default() -> None:
    settings = Settings.from_environ({"POD_NAME": "db-0", "PORT": "", "LEADER_URL": ""})
    assert settings.port == 8089
    assert settings.leader_url is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "POD_NAME is required"),
        ({"POD_NAME": "db"}, "must end in -<ordinal>"),
        ({"POD_NAME": "db-0", "PORT": "http"}, "PORT"),
        ({"POD_NAME": "db-0", "PORT": "70000"}, "PORT"),
        ({"POD_NAME": "db-0", "CHANGELOG_RETAIN": "0"}, "CHANGELOG_RETAIN"),
        ({"POD_NAME": "db-1", "LEADER_URL": "db-0:8089"}, "must start with http"),
    ],
)
def test_bad_environment_is_refused_with_the_variable_named(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_environ(env)
