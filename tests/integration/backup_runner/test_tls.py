"""TLS is on by default: a MinIO serving a certificate from a self-signed CA is trusted through
BACKUP_REPO_CA_BUNDLE, and refused without it."""

from __future__ import annotations

from pathlib import Path

from tests.integration.backup_runner.conftest import database_urls, identity, persons, run_runner
from tests.support.database import Cluster
from tests.support.minio import MinioServer


def test_trusted_through_the_ca_bundle(
    source: Cluster, minio_tls_server: MinioServer, tmp_path: Path
) -> None:
    env = {
        **identity(cluster="tls"),
        **minio_tls_server.runner_env(),
        "BACKUP_DATABASE_URLS": database_urls(source),
    }
    assert env["BACKUP_REPO_INSECURE"] == "false"
    backup = run_runner("backup", env, tmp_path)
    assert backup.result["result"] == "Succeeded", backup.stderr
    target = tmp_path / "restored"
    restore = run_runner("restore", {**env, "RESTORE_DATA_DIRECTORY": str(target)}, tmp_path)
    assert restore.result["result"] == "Succeeded", restore.stderr
    assert restore.result["records"] == len(persons(source.leader.url))


def test_refused_without_the_ca(
    source: Cluster, minio_tls_server: MinioServer, tmp_path: Path
) -> None:
    env = {
        **identity(cluster="tls-untrusted"),
        **minio_tls_server.runner_env(),
        "BACKUP_DATABASE_URLS": database_urls(source),
        "BACKUP_RETRY_ATTEMPTS": "1",
    }
    del env["BACKUP_REPO_CA_BUNDLE"]
    run = run_runner("backup", env, tmp_path)
    assert run.reason == "TLSVerificationFailed"
    assert "BACKUP_REPO_CA_BUNDLE" in run.result["message"]
    assert "CERTIFICATE_VERIFY_FAILED" in run.result["message"]
    assert not minio_tls_server.client().bucket_exists("shop-tls-untrusted")


def test_plain_http_against_tls_says_so(
    source: Cluster, minio_tls_server: MinioServer, tmp_path: Path
) -> None:
    env = {
        **identity(cluster="tls-plain"),
        **minio_tls_server.runner_env(BACKUP_REPO_INSECURE="true"),
        "BACKUP_DATABASE_URLS": database_urls(source),
        "BACKUP_RETRY_ATTEMPTS": "1",
    }
    del env["BACKUP_REPO_CA_BUNDLE"]
    run = run_runner("backup", env, tmp_path)
    assert run.result["result"] == "Failed"
    assert "BACKUP_REPO_INSECURE" in run.result["message"]
