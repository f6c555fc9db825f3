"""Who this replica is and how it runs, read from the environment the hooks render.

The same service runs in a StatefulSet pod and as a local process: identity comes only from
`POD_NAME` (the ordinal after the last `-` decides the role: 0 is the leader), everything else from
the variables in `docs/contracts.md`. `Settings.from_environ` takes the mapping as a parameter so
tests pass a dict; `get_settings()` reads `os.environ` once, when first asked, never at import.

Fields below the environment block are tuning knobs with production defaults; they are not read
from the environment (the contract lists every variable we read), tests set them directly.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "DATABASE_FILENAME",
    "Role",
    "Settings",
    "SettingsError",
    "get_settings",
    "ordinal_from_pod_name",
]

# The one file the database lives in, under DATA_DIRECTORY (plus SQLite's -wal and -shm files).
DATABASE_FILENAME = "database.sqlite3"

# Environment variable -> Settings field. A table rather than one `os.environ.get` per field so the
# contract's list and the code are easy to compare.
_ENVIRONMENT = {
    "POD_NAME": "pod_name",
    "DATA_DIRECTORY": "data_directory",
    "PORT": "port",
    "HOST": "host",
    "LEADER_URL": "leader_url",
    "NAMESPACE": "namespace",
    "CHANGELOG_RETAIN": "changelog_retain",
}


class SettingsError(ValueError):
    """The environment does not describe a replica we can run; the message says what to fix."""


class Role(enum.StrEnum):
    LEADER = "leader"
    FOLLOWER = "follower"


def ordinal_from_pod_name(pod_name: str) -> int:
    """The StatefulSet ordinal of a pod name: `db-0` -> 0, `my-cluster-12` -> 12."""
    _, separator, tail = pod_name.rpartition("-")
    # isdecimal() alone would accept non-ASCII digits such as "٣"; a pod name never holds those.
    if not separator or not tail or not (tail.isascii() and tail.isdecimal()):
        raise SettingsError(
            f"POD_NAME {pod_name!r} must end in -<ordinal> (a StatefulSet pod name such as db-0)"
        )
    return int(tail)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pod_name: Annotated[str, Field(min_length=1)]
    data_directory: Path = Path("/data")
    port: Annotated[int, Field(ge=1, le=65535)] = 8089
    host: str = "0.0.0.0"
    leader_url: str | None = None
    namespace: str = ""
    # How many recent changes the leader keeps for followers to pull; a follower further behind
    # than this catches up from a full snapshot instead.
    changelog_retain: Annotated[int, Field(ge=1)] = 100_000

    # Tuning, not from the environment.
    max_body_bytes: Annotated[int, Field(ge=1)] = 64 * 1024
    max_batch: Annotated[int, Field(ge=1)] = 512
    poll_wait_seconds: Annotated[float, Field(ge=0)] = 5.0
    page_limit: Annotated[int, Field(ge=1)] = 2000
    ready_max_lag_seconds: Annotated[float, Field(gt=0)] = 10.0
    retry_max_seconds: Annotated[float, Field(gt=0)] = 2.0
    stream_chunk_rows: Annotated[int, Field(ge=1)] = 2000

    @field_validator("leader_url")
    @classmethod
    def _leader_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"LEADER_URL {value!r} must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _identity(self) -> Settings:
        ordinal = ordinal_from_pod_name(self.pod_name)
        if ordinal != 0 and self.leader_url is None:
            raise ValueError(
                f"LEADER_URL is required for a follower (POD_NAME {self.pod_name!r} has ordinal "
                f"{ordinal}); set it to the leader's base URL, e.g. http://db-0.db-pods.ns.svc:8089"
            )
        return self

    @property
    def ordinal(self) -> int:
        return ordinal_from_pod_name(self.pod_name)

    @property
    def role(self) -> Role:
        return Role.LEADER if self.ordinal == 0 else Role.FOLLOWER

    @property
    def database_path(self) -> Path:
        return self.data_directory / DATABASE_FILENAME

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Settings from an environment mapping; unset or empty variables take the default."""
        values: dict[str, Any] = {
            field: environ[name] for name, field in _ENVIRONMENT.items() if environ.get(name)
        }
        values.update(overrides)
        if "pod_name" not in values:
            raise SettingsError("POD_NAME is required (the StatefulSet pod name, e.g. db-0)")
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise SettingsError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    fields = {field: name for name, field in _ENVIRONMENT.items()}
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        name = fields.get(where, where) if where else "environment"
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name != "environment" else message)
    return "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from `os.environ` on first use."""
    return Settings.from_environ(os.environ)
