"""Builders shared by these unit tests: settings and a running writer in a temporary directory."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, TypeVar

from database_service import store
from database_service.models import Person
from database_service.replica import open_database
from database_service.settings import Settings
from database_service.store import PersonRow
from database_service.writer import Operation, Writer

T = TypeVar("T")

# A port where nothing listens: a follower pointed here retries in the background, harmlessly.
NOWHERE = "http://127.0.0.1:9"


def leader_settings(directory: Path, **overrides: Any) -> Settings:
    return Settings(pod_name="db-0", data_directory=directory, **overrides)


def follower_settings(directory: Path, **overrides: Any) -> Settings:
    return Settings(pod_name="db-1", data_directory=directory, leader_url=NOWHERE, **overrides)


def started_writer(settings: Settings, **kwargs: Any) -> Writer:
    """Create the database as the service would, and start its writer thread."""
    open_database(settings)
    writer = Writer(settings.database_path, **kwargs)
    writer.start()
    return writer


def run(writer: Writer, operation: Operation[T]) -> T:
    return writer.submit(operation).result(timeout=30)


def read_all(settings: Settings) -> list[PersonRow]:
    conn = store.connect(settings.database_path, reader=True)
    try:
        return list(itertools.chain.from_iterable(store.iter_person_chunks(conn, 100)))
    finally:
        conn.close()


def person(number: int) -> Person:
    return Person(id=f"p{number:05d}", firstName=f"First{number}", lastName=f"Last{number}")
