"""Where backups live: the bucket name and the object keys (`docs/contracts.md`, "Storage layout").

- One bucket per repository and cluster: `<prefix><namespace>-<cluster>`, lower-cased, every
  character outside `[a-z0-9-]` replaced by `-`. A name longer than 63 characters is cut to 54 and
  given `-` plus 8 hex digits of the SHA-256 of the full name, so two long names never collide.
  The result is always a valid S3 bucket name (3-63 characters, starting and ending with a letter or
  digit, none of the reserved prefixes and suffixes).
- A backup is the folder `backups/<UTC time YYYYMMDDTHHMMSS.mmmZ>/` holding `started.json` (written
  first, so that even a run that dies before its data object exists leaves a visible trace for
  retention to clean up), `data.ndjson.gz` and, written last, `manifest.json`. The time format is
  fixed-width, so keys sort by time as text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "BACKUPS_PREFIX",
    "DATA_NAME",
    "MANIFEST_NAME",
    "STARTED_NAME",
    "BackupId",
    "bucket_name",
    "parse_key",
]

BACKUPS_PREFIX = "backups/"
STARTED_NAME = "started.json"
DATA_NAME = "data.ndjson.gz"
MANIFEST_NAME = "manifest.json"

_MAX_BUCKET = 63
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
_TIME_FORMAT = "%Y%m%dT%H%M%S"
_ID_PATTERN = re.compile(r"(\d{8}T\d{6})\.(\d{3})Z")
_KEY_PATTERN = re.compile(rf"{BACKUPS_PREFIX}({_ID_PATTERN.pattern})/([^/]+)")


def bucket_name(prefix: str, namespace: str, cluster: str) -> str:
    """The bucket (or filesystem directory) holding the backups of `namespace/cluster`."""
    full = f"{prefix}{namespace}-{cluster}".lower()
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    name = re.sub(r"[^a-z0-9-]", "-", full).strip("-")
    if name.startswith(_RESERVED_PREFIXES):
        name = "b-" + name
    if len(name) > _MAX_BUCKET or len(name) < 3 or name.endswith(_RESERVED_SUFFIXES):
        name = f"{name[: _MAX_BUCKET - 9].strip('-')}-{digest}".strip("-")
    return name


@dataclass(frozen=True, order=True)
class BackupId:
    """One backup, named by its start time in UTC to the millisecond."""

    text: str

    @classmethod
    def at(cls, when: datetime) -> BackupId:
        when = when.astimezone(UTC)
        return cls(f"{when.strftime(_TIME_FORMAT)}.{when.microsecond // 1000:03d}Z")

    @classmethod
    def parse(cls, text: str) -> BackupId | None:
        """A backup id from an id, a backup folder or any key inside one (`RESTORE_OBJECT_KEY`)."""
        candidate = text.strip().removeprefix(BACKUPS_PREFIX).split("/", 1)[0]
        return cls(candidate) if _ID_PATTERN.fullmatch(candidate) else None

    @property
    def time(self) -> datetime:
        match = _ID_PATTERN.fullmatch(self.text)
        assert match is not None  # guaranteed by the constructors
        base = datetime.strptime(match.group(1), _TIME_FORMAT).replace(tzinfo=UTC)
        return base.replace(microsecond=int(match.group(2)) * 1000)

    @property
    def prefix(self) -> str:
        return f"{BACKUPS_PREFIX}{self.text}/"

    @property
    def started_key(self) -> str:
        return self.prefix + STARTED_NAME

    @property
    def data_key(self) -> str:
        return self.prefix + DATA_NAME

    @property
    def manifest_key(self) -> str:
        return self.prefix + MANIFEST_NAME


def parse_key(key: str) -> tuple[BackupId, str] | None:
    """`(backup, file name)` for a key in the layout; None for anything else in the bucket."""
    match = _KEY_PATTERN.fullmatch(key)
    if match is None:
        return None
    return BackupId(match.group(1)), match.group(4)
