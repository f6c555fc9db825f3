"""Retention planning: the policies, and the newest good backup surviving every one of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from backup_runner.layout import BackupId
from backup_runner.retention import Folder, Policy, folders, plan
from backup_runner.storage import Leftover, StoredObject

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def folder(age: timedelta, *, good: bool = True) -> Folder:
    backup = BackupId.at(NOW - age)
    keys = (backup.data_key, backup.manifest_key) if good else (backup.data_key,)
    return Folder(backup, keys)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def expired_ages(listing: list[Folder], policy: Policy) -> list[timedelta]:
    return [NOW - f.backup.time for f in plan(listing, [], policy, NOW).expired]


def test_no_policy_deletes_no_good_backup() -> None:
    listing = [folder(days(n)) for n in range(10)]
    assert plan(listing, [], Policy(), NOW).expired == ()


def test_keep_last() -> None:
    listing = [folder(days(n)) for n in range(5)]
    assert expired_ages(listing, Policy(keep_last=2)) == [days(2), days(3), days(4)]


def test_max_age() -> None:
    listing = [folder(days(n)) for n in (1, 5, 10, 40)]
    assert expired_ages(listing, Policy(max_age=days(7))) == [days(10), days(40)]


def test_both_policies_each_delete() -> None:
    listing = [folder(days(n)) for n in (1, 2, 3, 40)]
    assert expired_ages(listing, Policy(keep_last=2, max_age=days(30))) == [days(3), days(40)]


def test_newest_good_survives_even_when_too_old() -> None:
    listing = [folder(days(1), good=False), folder(days(100)), folder(days(200))]
    todo = plan(listing, [], Policy(keep_last=1, max_age=days(7)), NOW)
    assert [NOW - f.backup.time for f in todo.expired] == [days(200)]


def test_incomplete_backups_wait_for_the_bound() -> None:
    listing = [folder(timedelta(hours=1), good=False), folder(days(2), good=False), folder(days(3))]
    todo = plan(listing, [], Policy(incomplete_after=timedelta(hours=24)), NOW)
    assert [NOW - f.backup.time for f in todo.incomplete] == [days(2)]
    assert todo.expired == ()


def test_manifest_without_data_is_incomplete() -> None:
    backup = BackupId.at(NOW - days(2))
    todo = plan([Folder(backup, (backup.manifest_key,))], [], Policy(), NOW)
    assert len(todo.incomplete) == 1


def test_stale_leftovers() -> None:
    fresh = Leftover("backups/x/data.ndjson.gz", NOW - timedelta(minutes=5), "1")
    stale = Leftover("backups/y/data.ndjson.gz", NOW - days(2), "2")
    assert plan([], [fresh, stale], Policy(), NOW).leftovers == (stale,)


def test_folders_group_and_ignore_foreign_keys() -> None:
    a, b = BackupId.at(NOW - days(1)), BackupId.at(NOW)
    listing = folders(
        StoredObject(key, 1)
        for key in (a.data_key, a.manifest_key, b.data_key, "backups/notes.txt", "README")
    )
    assert listing == [Folder(b, (b.data_key,)), Folder(a, (a.data_key, a.manifest_key))]
    assert [f.good for f in listing] == [False, True]


ages = st.lists(
    st.tuples(st.integers(min_value=0, max_value=10_000_000), st.booleans()),
    min_size=1,
    max_size=30,
    unique_by=lambda item: item[0],
)
policies = st.builds(
    Policy,
    keep_last=st.none() | st.integers(min_value=1, max_value=10),
    max_age=st.none() | st.integers(min_value=0, max_value=10_000_000).map(timedelta),
    incomplete_after=st.integers(min_value=0, max_value=10_000_000).map(timedelta),
)


@given(ages, policies)
def test_newest_good_backup_survives_every_policy(
    entries: list[tuple[int, bool]], policy: Policy
) -> None:
    listing = [folder(timedelta(seconds=age), good=good) for age, good in entries]
    todo = plan(listing, [], policy, NOW)
    deleted = {f.backup for f in todo.expired + todo.incomplete}
    good = sorted((f.backup for f in listing if f.good), reverse=True)
    if good:
        assert good[0] not in deleted
    # Deletions never exceed what the policy asks for.
    if policy.keep_last is not None and policy.max_age is None:
        assert len(good) - len(todo.expired) == min(len(good), policy.keep_last)
    if policy.keep_last is None and policy.max_age is None:
        assert todo.expired == ()
    assert all(not f.good for f in todo.incomplete)
