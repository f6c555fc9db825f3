"""The one exception the runner reports, and the reasons it can carry.

Every failure that reaches the result line is a `RunnerError` with a `Reason` (the CamelCase word in
`docs/contracts.md`) and a message that says what to fix. Code that talks to storage or the database
translates library exceptions into a `RunnerError` at that edge (`s3.py`, `snapshot.py`), so the
rest of the runner never inspects a `minio` or `urllib3` exception. `transient` marks errors that a
retry may cure (a dropped connection, a 5xx), as opposed to ones that need a human (credentials,
permissions, configuration).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason", "RunnerError"]


class Reason(StrEnum):
    """Why a run failed (or, for `DataPresent` and `NotLeader`, why a restore did nothing)."""

    INVALID_CONFIGURATION = "InvalidConfiguration"
    BAD_CREDENTIALS = "BadCredentials"
    ENDPOINT_UNREACHABLE = "EndpointUnreachable"
    TLS_VERIFICATION_FAILED = "TLSVerificationFailed"
    PERMISSION_DENIED = "PermissionDenied"
    DATABASE_UNREACHABLE = "DatabaseUnreachable"
    SNAPSHOT_INCOMPLETE = "SnapshotIncomplete"
    BACKUP_NOT_FOUND = "BackupNotFound"
    CHECKSUM_MISMATCH = "ChecksumMismatch"
    TARGET_NOT_EMPTY = "TargetNotEmpty"
    LOAD_FAILED = "LoadFailed"
    STORAGE_ERROR = "StorageError"
    DATA_PRESENT = "DataPresent"
    NOT_LEADER = "NotLeader"
    INTERNAL_ERROR = "InternalError"


class RunnerError(Exception):
    """A failure with a reason for machines and a message for the person who has to fix it."""

    def __init__(self, reason: Reason, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.transient = transient

    def __repr__(self) -> str:
        return f"RunnerError({self.reason.value}, {self.message!r}, transient={self.transient})"
