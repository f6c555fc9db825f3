"""The shapes that cross the HTTP boundary, as pydantic models.

Persons keep the original's JSON (`id`, `firstName`, `lastName`), hence the camelCase fields.
Bodies are strict: unknown fields, wrong types (no silent `1` -> `"1"`), empty names and ids that
cannot sit in a URL path are refused before anything reaches the database.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Change",
    "ChangePage",
    "Checksum",
    "FollowerPosition",
    "NewPerson",
    "Person",
    "PersonRef",
    "PersonUpdate",
    "Problem",
    "ReplicationStatus",
]

# Ids travel in paths (`/persons/{id}`), so only URL-safe characters, starting with a letter or
# digit (no `.` or `..` path segments). UUIDs, the original's ids, fit.
PersonId = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._~:-]*$")
]
Name = Annotated[str, Field(min_length=1, max_length=256)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Person(_Body):
    id: PersonId
    firstName: Name
    lastName: Name


class NewPerson(_Body):
    """POST /persons: the id is optional; without one the leader assigns a UUID."""

    id: PersonId | None = None
    firstName: Name
    lastName: Name


class PersonUpdate(_Body):
    """PUT /persons/{id}: the id in the body may be left out, and must match the path if given."""

    id: PersonId | None = None
    firstName: Name
    lastName: Name


class PersonRef(_Body):
    """DELETE /persons (the original's form): the person, of which only the id counts."""

    id: PersonId
    firstName: str | None = None
    lastName: str | None = None


class Problem(BaseModel):
    """Every error response: a sentence saying what went wrong and what to do."""

    detail: str
    leader: str | None = None


class Change(BaseModel):
    """One entry of the leader's change log; `put` carries the whole person (idempotent)."""

    sequence: Annotated[int, Field(ge=1)]
    operation: Literal["put", "delete"]
    id: str
    firstName: str | None = None
    lastName: str | None = None
    committedAt: float  # leader's wall clock at commit, for the lag metric


class ChangePage(BaseModel):
    """GET /api/changes: what follows `after`, and where the leader stands."""

    history: str
    sequence: int  # the leader's last committed sequence when it answered
    floor: int  # the oldest `after` the log can still answer
    changes: list[Change]


class Checksum(BaseModel):
    sha256: str
    records: int
    sequence: int


class FollowerPosition(BaseModel):
    sequence: int
    lastPollSecondsAgo: float


class ReplicationStatus(BaseModel):
    role: Literal["leader", "follower"]
    pod: str
    namespace: str
    history: str
    sequence: int
    floor: int | None = None
    leaderUrl: str | None = None
    leaderSequence: int | None = None
    lagSequences: int | None = None
    lagSeconds: float | None = None
    state: str
    snapshotResyncs: int = 0
    followers: dict[str, FollowerPosition] | None = None
