"""The environment contract: parsing, requirements per operation, agreement with contracts.md."""

from __future__ import annotations

import pathlib
import re
from datetime import timedelta

import pytest

from backup_runner.errors import Reason, RunnerError
from backup_runner.settings import ENV_VARS, Operation, RepoType, Settings, parse_duration

SECRET = "s3cr3t-value-that-must-not-leak"
S3_ENV = {
    "BACKUP_CLUSTER": "db",
    "BACKUP_NAMESPACE": "shop",
    "BACKUP_DATABASE_URLS": "http://db-1.db-pods.shop.svc:8089, http://db-leader.shop.svc:8089/",
    "BACKUP_REPO_NAME": "ibmcos-repo",
    "BACKUP_REPO_TYPE": "ibmcos",
    "BACKUP_REPO_ENDPOINT": "s3.eu.cloud-object-storage.appdomain.cloud",
    "BACKUP_REPO_REGION": "eu-geo",
    "BACKUP_REPO_BUCKET_PREFIX": "database-backup-",
    "BACKUP_REPO_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "BACKUP_REPO_SECRET_ACCESS_KEY": SECRET,
}
FS_ENV = {
    "BACKUP_CLUSTER": "db",
    "BACKUP_NAMESPACE": "shop",
    "BACKUP_DATABASE_URLS": "http://127.0.0.1:8089",
    "BACKUP_REPO_NAME": "local",
    "BACKUP_REPO_TYPE": "filesystem",
    "BACKUP_REPO_PATH": "/backups",
}
CONTRACTS = pathlib.Path(__file__).parents[3] / "docs" / "contracts.md"


def parse(env: dict[str, str], operation: Operation = Operation.BACKUP) -> Settings:
    return Settings.from_env(env, operation)


def failure(env: dict[str, str], operation: Operation = Operation.BACKUP) -> RunnerError:
    with pytest.raises(RunnerError) as caught:
        parse(env, operation)
    assert caught.value.reason is Reason.INVALID_CONFIGURATION
    return caught.value


def test_s3_repo_with_defaults() -> None:
    settings = parse(S3_ENV)
    assert settings.repo_type is RepoType.IBMCOS
    assert settings.database_urls == (
        "http://db-1.db-pods.shop.svc:8089",
        "http://db-leader.shop.svc:8089",
    )
    assert settings.repo_path_style is False
    assert settings.repo_insecure is False
    assert settings.repo_ca_bundle is None
    assert settings.incomplete_after == timedelta(hours=24)
    assert settings.retention_keep_last is None
    assert settings.retention_max_age is None
    assert settings.restore_data_directory == pathlib.Path("/data")
    assert settings.termination_message_path is None  # Kubernetes' default, see report.py


def test_filesystem_repo_needs_no_keys() -> None:
    settings = parse(FS_ENV)
    assert settings.repo_path == pathlib.Path("/backups")
    assert settings.secret_values() == ()


def test_restore_does_not_need_database_urls() -> None:
    env = {k: v for k, v in S3_ENV.items() if k != "BACKUP_DATABASE_URLS"}
    assert parse(env, Operation.RESTORE).database_urls == ()
    assert "BACKUP_DATABASE_URLS" in failure(env, Operation.BACKUP).message


@pytest.mark.parametrize(
    "missing",
    ["BACKUP_REPO_ENDPOINT", "BACKUP_REPO_ACCESS_KEY_ID", "BACKUP_REPO_SECRET_ACCESS_KEY"],
)
def test_s3_repo_requirements(missing: str) -> None:
    env = {k: v for k, v in S3_ENV.items() if k != missing}
    assert missing in failure(env).message


def test_empty_value_counts_as_unset() -> None:
    env = {**S3_ENV, "BACKUP_REPO_REGION": "", "BACKUP_REPO_SECRET_ACCESS_KEY": ""}
    assert "BACKUP_REPO_SECRET_ACCESS_KEY" in failure(env).message


def test_required_identity() -> None:
    env = {k: v for k, v in FS_ENV.items() if k != "BACKUP_CLUSTER"}
    assert "BACKUP_CLUSTER" in failure(env).message


def test_unknown_variable_is_refused() -> None:
    message = failure({**FS_ENV, "BACKUP_REPO_ENDPIONT": "x"}).message
    assert "BACKUP_REPO_ENDPIONT" in message
    # Other variables (PATH, HOME, the pod's own) are none of our business.
    parse({**FS_ENV, "PATH": "/bin", "KUBERNETES_SERVICE_HOST": "10.0.0.1"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BACKUP_REPO_TYPE", "gcs"),
        ("BACKUP_RETENTION_KEEP_LAST", "0"),
        ("BACKUP_RETENTION_KEEP_LAST", "many"),
        ("BACKUP_RETENTION_MAX_AGE", "a month"),
        ("BACKUP_INCOMPLETE_AFTER", "-1h"),
        ("BACKUP_REPO_PATH_STYLE", "perhaps"),
        ("BACKUP_DATABASE_URLS", "db-1:8089"),
        ("BACKUP_REPO_ENDPOINT", "http://minio:9000"),
        ("BACKUP_REPO_ENDPOINT", "minio:9000/bucket"),
        ("BACKUP_RETRY_ATTEMPTS", "0"),
    ],
)
def test_invalid_values_name_the_variable(variable: str, value: str) -> None:
    assert variable in failure({**S3_ENV, variable: value}).message


def test_endpoint_accepts_https_scheme_and_port() -> None:
    assert parse({**S3_ENV, "BACKUP_REPO_ENDPOINT": "https://minio.x:9000/"}).repo_endpoint == (
        "minio.x:9000"
    )


def test_insecure_contradicts_ca_bundle(tmp_path: pathlib.Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    env = {**S3_ENV, "BACKUP_REPO_CA_BUNDLE": str(ca)}
    assert parse(env).repo_ca_bundle == ca
    assert "contradict" in failure({**env, "BACKUP_REPO_INSECURE": "true"}).message
    assert "no such file" in failure({**S3_ENV, "BACKUP_REPO_CA_BUNDLE": "/nope.pem"}).message


def test_secrets_stay_out_of_errors_and_repr() -> None:
    settings = parse(S3_ENV)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    assert settings.secret_values() == ("AKIDEXAMPLE", SECRET)
    # A validation error elsewhere must not echo the secret (pydantic's `input` is left out).
    env = {**S3_ENV, "BACKUP_RETENTION_KEEP_LAST": SECRET}
    assert SECRET not in failure(env).message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("250ms", timedelta(milliseconds=250)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("0s", timedelta(0)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "1y", "1h 30m", "-5m", "5 m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def _contract_variables() -> set[str]:
    text = CONTRACTS.read_text()
    section = text[text.index("## backup_runner") :]
    section = section[: section.index("\n### ")]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE))


def test_contracts_md_documents_exactly_these_variables() -> None:
    assert _contract_variables() == ENV_VARS
