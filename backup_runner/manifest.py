"""The manifest: the object written LAST that makes a backup count (`docs/contracts.md`).

`bytes` and `sha256` describe the stored (compressed) data object; `records` and `sequence` come
from the snapshot's trailer and header. A restore trusts nothing else: it downloads the data and
checks all four before it touches the target.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backup_runner.errors import Reason, RunnerError

__all__ = ["Manifest"]


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    format_version: Literal[1] = Field(default=1, alias="formatVersion")
    cluster: str
    namespace: str
    time: str
    sequence: int = Field(ge=0)
    records: int = Field(ge=0)
    size: int = Field(ge=0, alias="bytes")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    compression: Literal["gzip"] = "gzip"
    data_key: str = Field(alias="dataKey")
    source_pod: str = Field(alias="sourcePod")
    source_url: str = Field(alias="sourceUrl")

    def report(self, manifest_key: str) -> dict[str, object]:
        """What a result line says about this backup (docs/contracts.md, "Result line")."""
        return {
            "objectKey": self.data_key,
            "manifestKey": manifest_key,
            "bytes": self.size,
            "sha256": self.sha256,
            "records": self.records,
            "sequence": self.sequence,
            "sourcePod": self.source_pod,
        }

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, key: str) -> Manifest:
        try:
            return cls.model_validate_json(data)
        except ValidationError as error:
            raise RunnerError(
                Reason.CHECKSUM_MISMATCH,
                f"manifest {key} is unreadable ({error.error_count()} problem(s)): the backup is "
                "damaged; choose another one with RESTORE_OBJECT_KEY",
            ) from None
