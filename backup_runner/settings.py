"""The runner's whole configuration: THE definition of the environment contract.

The Job and CronJob that `hooks` renders set exactly these variables (`docs/contracts.md`, table
"backup_runner"); `Settings.from_env` turns a mapping of them into a validated, frozen model. It
takes the mapping as a parameter (never `os.environ` itself) so tests, and the hooks' tests
checking their rendered env, just pass a dict.

Rules:
- A variable set to the empty string counts as unset (Kubernetes renders optional values that way).
- An unknown `BACKUP_*` / `RESTORE_*` variable is an error, so a typo fails loudly instead of being
  ignored.
- What is required depends on the operation (`backup` needs database URLs, S3 repos need an
  endpoint and keys, filesystem repos a path); `from_env` checks it after parsing.
- Error messages name the variable and never include a value: a value could be a secret.
- The two keys are `SecretStr`, so they cannot leak through `repr` or a log line by accident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from backup_runner.errors import Reason, RunnerError

__all__ = [
    "ENV_VARS",
    "Operation",
    "RepoType",
    "Settings",
    "parse_duration",
]


class Operation(StrEnum):
    BACKUP = "backup"
    RESTORE = "restore"


class RepoType(StrEnum):
    IBMCOS = "ibmcos"
    S3 = "s3"
    FILESYSTEM = "filesystem"


_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `45s`, `500ms` or a sum of them such as `1d12h`."""
    compact = text.strip()
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError("expected a duration such as 30d, 12h, 90m, 45s or 1d12h")
    return timedelta(seconds=sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts))


def _secret_field(alias: str) -> Any:
    return Field(default=None, alias=alias)


class Settings(BaseModel):
    """Validated configuration of one run; build it with `Settings.from_env(env, operation)`."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    cluster: str = Field(alias="BACKUP_CLUSTER", min_length=1)
    namespace: str = Field(alias="BACKUP_NAMESPACE", min_length=1)
    database_urls: tuple[str, ...] = Field(default=(), alias="BACKUP_DATABASE_URLS")

    repo_name: str = Field(alias="BACKUP_REPO_NAME", min_length=1)
    repo_type: RepoType = Field(alias="BACKUP_REPO_TYPE")
    repo_endpoint: str | None = Field(default=None, alias="BACKUP_REPO_ENDPOINT")
    repo_region: str = Field(default="", alias="BACKUP_REPO_REGION")
    repo_bucket_prefix: str = Field(default="", alias="BACKUP_REPO_BUCKET_PREFIX")
    repo_path_style: bool = Field(default=False, alias="BACKUP_REPO_PATH_STYLE")
    repo_insecure: bool = Field(default=False, alias="BACKUP_REPO_INSECURE")
    repo_ca_bundle: Path | None = Field(default=None, alias="BACKUP_REPO_CA_BUNDLE")
    repo_path: Path | None = Field(default=None, alias="BACKUP_REPO_PATH")
    repo_access_key_id: SecretStr | None = _secret_field("BACKUP_REPO_ACCESS_KEY_ID")
    repo_secret_access_key: SecretStr | None = _secret_field("BACKUP_REPO_SECRET_ACCESS_KEY")

    retention_keep_last: int | None = Field(default=None, alias="BACKUP_RETENTION_KEEP_LAST", ge=1)
    retention_max_age: timedelta | None = Field(default=None, alias="BACKUP_RETENTION_MAX_AGE")
    incomplete_after: timedelta = Field(
        default=timedelta(hours=24), alias="BACKUP_INCOMPLETE_AFTER"
    )
    retry_attempts: int = Field(default=3, alias="BACKUP_RETRY_ATTEMPTS", ge=1, le=10)
    retry_delay: timedelta = Field(default=timedelta(seconds=1), alias="BACKUP_RETRY_DELAY")

    pod_name: str = Field(default="", alias="BACKUP_POD_NAME")
    # None: Kubernetes' default `/dev/termination-log`, written only where it exists (report.py).
    termination_message_path: Path | None = Field(
        default=None, alias="BACKUP_TERMINATION_MESSAGE_PATH"
    )

    restore_data_directory: Path = Field(default=Path("/data"), alias="RESTORE_DATA_DIRECTORY")
    restore_object_key: str | None = Field(default=None, alias="RESTORE_OBJECT_KEY")
    # Every pod of a restored cluster runs the restore; only this one loads, the others replicate.
    restore_leader_pod: str | None = Field(default=None, alias="RESTORE_LEADER_POD")
    restore_work_directory: Path = Field(default=Path("/tmp"), alias="RESTORE_WORK_DIRECTORY")

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value != ""}
        return data

    @field_validator("database_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_urls")
    @classmethod
    def _check_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
                raise ValueError("each URL must look like http://host:port")
        return tuple(url.rstrip("/") for url in value)

    @field_validator("retention_max_age", "incomplete_after", "retry_delay", mode="before")
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("repo_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = value.strip().removeprefix("https://").rstrip("/")
        if host.startswith("http://"):
            raise ValueError(
                "give host[:port] without http://; set BACKUP_REPO_INSECURE=true for HTTP"
            )
        if not re.fullmatch(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?", host):
            raise ValueError("expected host[:port], for example s3.eu.example.com or 10.0.0.5:9000")
        return host

    @model_validator(mode="after")
    def _check_requirements(self, info: ValidationInfo) -> Self:
        operation = (info.context or {}).get("operation")
        missing: list[str] = []
        if operation == Operation.BACKUP and not self.database_urls:
            missing.append("BACKUP_DATABASE_URLS")
        if self.repo_type is RepoType.FILESYSTEM:
            if self.repo_path is None:
                missing.append("BACKUP_REPO_PATH")
        else:
            if self.repo_endpoint is None:
                missing.append("BACKUP_REPO_ENDPOINT")
            if self.repo_access_key_id is None:
                missing.append("BACKUP_REPO_ACCESS_KEY_ID")
            if self.repo_secret_access_key is None:
                missing.append("BACKUP_REPO_SECRET_ACCESS_KEY")
        if missing:
            raise ValueError(
                f"required for a {self.repo_type.value} repository"
                f"{' backup' if operation == Operation.BACKUP else ''}: {', '.join(missing)}"
            )
        if self.repo_insecure and self.repo_ca_bundle is not None:
            raise ValueError(
                "BACKUP_REPO_CA_BUNDLE and BACKUP_REPO_INSECURE=true contradict each other"
            )
        if self.repo_ca_bundle is not None and not self.repo_ca_bundle.is_file():
            raise ValueError(f"BACKUP_REPO_CA_BUNDLE: no such file {self.repo_ca_bundle}")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str], operation: Operation) -> Settings:
        """Parse and check `env` for `operation`; raise `RunnerError(InvalidConfiguration)`."""
        unknown = sorted(
            name
            for name in env
            if name.startswith(("BACKUP_", "RESTORE_")) and name not in ENV_VARS
        )
        if unknown:
            raise RunnerError(
                Reason.INVALID_CONFIGURATION,
                f"unknown variable(s) {', '.join(unknown)}; known: {', '.join(sorted(ENV_VARS))}",
            )
        try:
            return cls.model_validate(dict(env), context={"operation": operation})
        except ValidationError as error:
            raise RunnerError(Reason.INVALID_CONFIGURATION, _describe(error)) from None

    @property
    def is_s3(self) -> bool:
        return self.repo_type is not RepoType.FILESYSTEM

    def secret_values(self) -> tuple[str, ...]:
        """The values that must never appear in output (see `report.Redactor`)."""
        return tuple(
            secret.get_secret_value()
            for secret in (self.repo_access_key_id, self.repo_secret_access_key)
            if secret is not None and secret.get_secret_value()
        )


def _describe(error: ValidationError) -> str:
    # Only the variable and pydantic's message: `input` is left out because it may be a secret.
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "configuration"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if item["loc"] else message)
    return "invalid configuration: " + "; ".join(problems)


#: Every variable the runner reads, by name: what the hooks may render into the Job.
ENV_VARS: frozenset[str] = frozenset(
    field.alias for field in Settings.model_fields.values() if field.alias is not None
)
