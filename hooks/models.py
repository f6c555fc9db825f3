"""The parents' specs as pydantic models: the hooks' guard behind the CRD schema.

The CRD stops bad input at `kubectl apply`; these models check the same rules again, because the
hooks are also curl-tested and may run against a CRD that an older chart installed. Field names are
the CRD's own (camelCase), and defaults equal the CRD's defaults (a test checks that).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_BACKUP_IMAGE",
    "ClusterResources",
    "DatabaseBackupSpec",
    "DatabaseClusterSpec",
    "ManualTrigger",
    "Repo",
    "RestoreSpec",
    "Retention",
    "ScheduledTrigger",
    "Storage",
]

DEFAULT_BACKUP_IMAGE = "database-operator/backup-runner:0.1.0"

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"
_CRON_MACRO = re.compile(r"^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$")


class _Spec(BaseModel):
    # Unknown fields are ignored rather than refused: a newer CRD may carry fields this hook
    # version does not know, and refusing them would stop reconciliation altogether.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Storage(_Spec):
    size: str = Field("1Gi", pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
    storageClassName: str | None = Field(None, max_length=253, pattern=_DNS_SUBDOMAIN)


class ClusterResources(_Spec):
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _quantities(self) -> ClusterResources:
        for where, values in (("requests", self.requests), ("limits", self.limits)):
            for key, value in values.items():
                if not re.match(_QUANTITY, value):
                    raise ValueError(f"resources.{where}.{key}: {value!r} is not a quantity")
        return self


class RestoreSpec(_Spec):
    backup: str = Field(max_length=253, pattern=_DNS_LABEL)
    repo: str | None = Field(None, max_length=63, pattern=_DNS_LABEL)
    objectKey: str | None = Field(None, max_length=1024, pattern=r"^backups/\S+$")
    cluster: str | None = Field(None, max_length=45, pattern=_DNS_LABEL)


class DatabaseClusterSpec(_Spec):
    amountPods: int = Field(1, ge=0, le=15)
    image: str = Field(min_length=1, max_length=512, pattern=r"^\S+$")
    storage: Storage = Storage()
    resources: ClusterResources | None = None
    restore: RestoreSpec | None = None


class CaConfigMap(_Spec):
    name: str = Field(min_length=1, max_length=253)
    key: str = Field("ca.crt", min_length=1, max_length=253)


class Tls(_Spec):
    insecure: bool = False
    caConfigMap: CaConfigMap | None = None


class Repo(_Spec):
    name: str = Field(min_length=1, max_length=63, pattern=_DNS_LABEL)
    type: Literal["ibmcos", "s3", "filesystem"]
    secretName: str | None = Field(None, max_length=253, pattern=_DNS_SUBDOMAIN)
    serviceEndpoint: str | None = Field(
        None, max_length=512, pattern=r"^(https?://)?[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$"
    )
    cosRegion: str | None = Field(None, max_length=64)
    bucketNamePrefix: str | None = Field(None, max_length=40, pattern=r"^[a-z0-9][-a-z0-9.]*$")
    pathStyle: bool = False
    tls: Tls = Tls()
    claimName: str | None = Field(None, max_length=253, pattern=_DNS_SUBDOMAIN)

    @model_validator(mode="after")
    def _per_type(self) -> Repo:
        if self.type != "filesystem" and not (self.secretName and self.serviceEndpoint):
            raise ValueError(
                f"repo {self.name}: ibmcos and s3 repos need secretName and serviceEndpoint"
            )
        if self.type == "filesystem" and not self.claimName:
            raise ValueError(f"repo {self.name}: filesystem repos need claimName")
        if (self.serviceEndpoint or "").startswith("http://") and not self.tls.insecure:
            raise ValueError(
                f"repo {self.name}: serviceEndpoint uses http://: set tls.insecure: true"
                " to send backups without TLS"
            )
        return self

    @property
    def endpoint_host(self) -> str:
        """`host[:port]` of the endpoint, whether or not the user wrote a scheme."""
        endpoint = self.serviceEndpoint or ""
        for scheme in ("https://", "http://"):
            endpoint = endpoint.removeprefix(scheme)
        return endpoint.rstrip("/")


class ManualTrigger(_Spec):
    time: str = Field(min_length=1, max_length=64)
    repo: str = Field(max_length=63)


class ScheduledTrigger(_Spec):
    schedule: str = Field(max_length=128)
    repo: str = Field(max_length=63)
    timeZone: str | None = Field(None, max_length=64)
    startingDeadlineSeconds: int = Field(300, ge=10)

    @model_validator(mode="after")
    def _five_fields(self) -> ScheduledTrigger:
        if not _CRON_MACRO.match(self.schedule) and len(self.schedule.split()) != 5:
            raise ValueError(
                f"scheduledTrigger.schedule {self.schedule!r} must be a standard 5-field cron"
                " expression (minute hour day-of-month month day-of-week) or a macro like @daily"
            )
        return self


class Retention(_Spec):
    keepLast: int | None = Field(None, ge=1, le=10000)
    maxAge: str | None = Field(None, pattern=r"^[1-9][0-9]*[mhd]$")


class DatabaseBackupSpec(_Spec):
    image: str = Field(DEFAULT_BACKUP_IMAGE, min_length=1, max_length=512, pattern=r"^\S+$")
    cluster: str | None = Field(None, max_length=45, pattern=_DNS_LABEL)
    suspend: bool = False
    retention: Retention = Retention()
    activeDeadlineSeconds: int = Field(3600, ge=60)
    backoffLimit: int = Field(2, ge=0, le=10)
    repos: list[Repo] = Field(min_length=1, max_length=16)
    manualTrigger: ManualTrigger | None = None
    scheduledTrigger: ScheduledTrigger | None = None

    @model_validator(mode="after")
    def _across_fields(self) -> DatabaseBackupSpec:
        if self.manualTrigger is None and self.scheduledTrigger is None:
            raise ValueError(
                "set manualTrigger, scheduledTrigger or both:"
                " a DatabaseBackup without a trigger never backs anything up"
            )
        names = [repo.name for repo in self.repos]
        if len(set(names)) != len(names):
            raise ValueError("repos[].name must be unique")
        for label, trigger in (
            ("manualTrigger", self.manualTrigger),
            ("scheduledTrigger", self.scheduledTrigger),
        ):
            if trigger is not None and trigger.repo not in names:
                raise ValueError(f"{label}.repo must name one of repos[].name ({', '.join(names)})")
        return self

    def repo(self, name: str) -> Repo:
        return next(repo for repo in self.repos if repo.name == name)
