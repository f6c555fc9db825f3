"""Retention: which backups to delete after a successful upload, and deleting them.

`plan` is pure (listing in, deletions out) so its rules can be tested exhaustively:
- A *good* backup has both its data object and its manifest. Good backups are deleted when they are
  beyond the newest `keep_last`, or older than `max_age` (either policy may be unset).
- The newest good backup is never deleted, whatever the policies say.
- An *incomplete* backup (a folder without data or without manifest: a run that failed or died) is
  deleted once its start time is older than `incomplete_after`; younger ones may be a run still in
  progress. Its unfinished upload, if any, is aborted with it: that is found by the exact data key,
  the one query every S3 implementation answers (MinIO lists nothing else after a restart).
- Unfinished uploads outside any listed folder follow the same bound by their own start time.
- Keys outside the layout are never touched.

A good backup loses its manifest first, so an interrupted deletion leaves an incomplete backup
(which a later run removes), never a manifest pointing at missing data.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from backup_runner import layout
from backup_runner.errors import RunnerError
from backup_runner.storage import Leftover, Storage, StoredObject

__all__ = ["Folder", "Outcome", "Plan", "Policy", "apply", "folders", "plan"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    keep_last: int | None = None
    max_age: timedelta | None = None
    incomplete_after: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Folder:
    """One backup folder as the listing shows it."""

    backup: layout.BackupId
    keys: tuple[str, ...]

    @property
    def good(self) -> bool:
        return self.backup.data_key in self.keys and self.backup.manifest_key in self.keys


@dataclass(frozen=True)
class Plan:
    expired: tuple[Folder, ...] = ()
    incomplete: tuple[Folder, ...] = ()
    leftovers: tuple[Leftover, ...] = ()


@dataclass
class Outcome:
    deleted: int = 0
    incomplete_deleted: int = 0
    leftovers_discarded: int = 0
    errors: list[str] = field(default_factory=list)

    def report(self) -> dict[str, object]:
        result: dict[str, object] = {
            "deleted": self.deleted,
            "incompleteDeleted": self.incomplete_deleted + self.leftovers_discarded,
        }
        if self.errors:
            result["error"] = "; ".join(self.errors)
        return result


def folders(objects: Iterable[StoredObject]) -> list[Folder]:
    """Group a listing into backup folders, newest first."""
    grouped: dict[layout.BackupId, list[str]] = defaultdict(list)
    for item in objects:
        parsed = layout.parse_key(item.key)
        if parsed is not None:
            grouped[parsed[0]].append(item.key)
    return [
        Folder(backup, tuple(sorted(keys)))
        for backup, keys in sorted(grouped.items(), reverse=True)
    ]


def plan(
    listing: Iterable[Folder], leftovers: Iterable[Leftover], policy: Policy, now: datetime
) -> Plan:
    ordered = sorted(listing, key=lambda folder: folder.backup, reverse=True)
    good = [folder for folder in ordered if folder.good]
    expired: list[Folder] = []
    for position, folder in enumerate(good):
        if position == 0:
            continue  # the newest good backup survives every policy
        too_many = policy.keep_last is not None and position >= policy.keep_last
        too_old = policy.max_age is not None and now - folder.backup.time > policy.max_age
        if too_many or too_old:
            expired.append(folder)
    incomplete = [
        folder
        for folder in ordered
        if not folder.good and now - folder.backup.time > policy.incomplete_after
    ]
    listed = {folder.backup for folder in ordered}
    stale = [
        item
        for item in leftovers
        if now - item.started > policy.incomplete_after and _folder_of(item.key) not in listed
    ]
    return Plan(tuple(expired), tuple(incomplete), tuple(stale))


def _folder_of(key: str) -> layout.BackupId | None:
    parsed = layout.parse_key(key)
    return parsed[0] if parsed is not None else None


def apply(storage: Storage, policy: Policy, now: datetime) -> Outcome:
    """List, plan and delete; failures are collected, not raised: the backup itself succeeded."""
    outcome = Outcome()
    try:
        listing = folders(storage.list(layout.BACKUPS_PREFIX))
    except RunnerError as error:
        outcome.errors.append(f"listing failed: {error.message}")
        return outcome
    try:
        leftovers = list(storage.leftovers(layout.BACKUPS_PREFIX))
    except RunnerError as error:
        # Often a missing s3:ListBucketMultipartUploads; the rest of retention still works.
        log.warning("cannot list unfinished uploads: %s", error.message)
        leftovers = []
    todo = plan(listing, leftovers, policy, now)
    for folder in todo.expired:
        try:
            storage.delete([folder.backup.manifest_key])
            storage.delete([key for key in folder.keys if key != folder.backup.manifest_key])
        except RunnerError as error:
            outcome.errors.append(f"deleting {folder.backup.prefix}: {error.message}")
            continue
        log.info("retention: deleted backup %s", folder.backup.prefix)
        outcome.deleted += 1
    for folder in todo.incomplete:
        try:
            uploads = list(storage.leftovers(folder.backup.data_key))
        except RunnerError as error:
            log.warning("cannot list unfinished uploads: %s", error.message)
            uploads = []
        try:
            for upload in uploads:
                storage.discard(upload)
            storage.delete(folder.keys)
        except RunnerError as error:
            outcome.errors.append(f"deleting {folder.backup.prefix}: {error.message}")
            continue
        log.info("retention: deleted incomplete backup %s", folder.backup.prefix)
        outcome.incomplete_deleted += 1
    for leftover in todo.leftovers:
        try:
            storage.discard(leftover)
        except RunnerError as error:
            outcome.errors.append(f"discarding the upload of {leftover.key}: {error.message}")
            continue
        log.info("retention: discarded the unfinished upload of %s", leftover.key)
        outcome.leftovers_discarded += 1
    return outcome
