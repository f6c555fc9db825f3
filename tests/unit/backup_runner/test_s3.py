"""The S3 storage's pure parts: the reader `put_object` consumes, addressing, error translation."""

from __future__ import annotations

import pytest

from backup_runner.errors import Reason
from backup_runner.s3 import S3Storage, _ChunkReader, _is_literal_host
from backup_runner.settings import Operation, Settings

ENV = {
    "BACKUP_CLUSTER": "db",
    "BACKUP_NAMESPACE": "shop",
    "BACKUP_REPO_NAME": "r",
    "BACKUP_REPO_TYPE": "s3",
    "BACKUP_REPO_ENDPOINT": "127.0.0.1:9",
    "BACKUP_REPO_ACCESS_KEY_ID": "AKID",
    "BACKUP_REPO_SECRET_ACCESS_KEY": "secret-value-123",
}


def test_chunk_reader_answers_whole_reads() -> None:
    reader = _ChunkReader([b"abc", b"", b"defgh", b"ij"])
    assert reader.read(4) == b"abcd"
    assert reader.read(5) == b"efghi"
    assert reader.read(5) == b"j"
    assert reader.read(5) == b""


def test_chunk_reader_read_all() -> None:
    assert _ChunkReader([b"ab", b"cd"]).read() == b"abcd"


@pytest.mark.parametrize(
    ("endpoint", "literal"),
    [
        ("127.0.0.1:9000", True),
        ("localhost:9000", True),
        ("[::1]:9000", True),
        ("10.1.2.3", True),
        ("s3.eu.cloud-object-storage.appdomain.cloud", False),
        ("minio.storage.svc:9000", False),
    ],
)
def test_literal_hosts_have_no_bucket_subdomains(endpoint: str, literal: bool) -> None:
    assert _is_literal_host(endpoint) is literal


def test_bucket_and_messages_name_the_endpoint_but_never_the_keys() -> None:
    storage = S3Storage.from_settings(
        Settings.from_env({**ENV, "BACKUP_REPO_INSECURE": "true"}, Operation.RESTORE)
    )
    assert storage.bucket == "shop-db"
    error = storage._translate(ConnectionRefusedError("refused"), "listing the bucket")
    assert error.reason is Reason.ENDPOINT_UNREACHABLE
    assert "http://127.0.0.1:9" in error.message
    assert "secret-value-123" not in error.message
    assert "AKID" not in error.message
