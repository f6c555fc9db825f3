"""Bucket names are always valid and distinct; backup keys sort by time and parse back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from minio.helpers import check_bucket_name

from backup_runner import layout
from backup_runner.layout import BackupId

VALID_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
# Kubernetes object names (DNS-1123 labels/subdomains) and any prefix a user might type.
k8s_name = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", fullmatch=True)
prefix = st.text(max_size=80)


def test_original_sample() -> None:
    assert layout.bucket_name("database-backup-", "database", "databasecluster-sample") == (
        "database-backup-database-databasecluster-sample"
    )


def test_characters_are_replaced_and_lowered() -> None:
    assert layout.bucket_name("Team_A.", "prod", "db.main") == "team-a-prod-db-main"


@given(prefix, k8s_name, k8s_name)
def test_bucket_names_are_always_valid(pre: str, namespace: str, cluster: str) -> None:
    name = layout.bucket_name(pre, namespace, cluster)
    assert VALID_BUCKET.fullmatch(name), name
    assert not name.startswith(("xn--", "sthree-"))
    assert not name.endswith(("-s3alias", "--ol-s3"))
    check_bucket_name(name, strict=True, s3_check=True)


@given(k8s_name, k8s_name)
def test_long_names_stay_distinct(namespace: str, cluster: str) -> None:
    long_a = layout.bucket_name("", namespace, cluster + "a" * 70)
    long_b = layout.bucket_name("", namespace, cluster + "a" * 71)
    assert long_a != long_b
    assert len(long_a) <= 63


def test_keys() -> None:
    backup = BackupId.at(datetime(2024, 4, 20, 2, 59, 43, 123456, tzinfo=UTC))
    assert backup.text == "20240420T025943.123Z"
    assert backup.data_key == "backups/20240420T025943.123Z/data.ndjson.gz"
    assert backup.manifest_key == "backups/20240420T025943.123Z/manifest.json"
    assert backup.time == datetime(2024, 4, 20, 2, 59, 43, 123000, tzinfo=UTC)
    assert layout.parse_key(backup.manifest_key) == (backup, "manifest.json")
    assert layout.parse_key("backups/nonsense/manifest.json") is None
    assert layout.parse_key("other/20240420T025943.123Z/manifest.json") is None


def test_restore_key_forms() -> None:
    backup = BackupId("20240420T025943.123Z")
    for text in (
        backup.manifest_key,
        backup.data_key,
        backup.prefix,
        "backups/20240420T025943.123Z",
        "20240420T025943.123Z",
    ):
        assert BackupId.parse(text) == backup
    assert BackupId.parse("backups/latest") is None


@given(st.lists(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 1, 1))))
def test_keys_sort_by_time(times: list[datetime]) -> None:
    ids = [BackupId.at(moment.replace(tzinfo=UTC)) for moment in times]
    assert sorted(i.manifest_key for i in ids) == [
        i.manifest_key for i in sorted(ids, key=lambda i: i.time)
    ]


def test_local_time_is_converted_to_utc() -> None:
    plus_two = datetime(2024, 1, 1, 12, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    assert BackupId.at(plus_two).text == "20240101T120000.000Z"
