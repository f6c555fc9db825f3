"""Snapshot stream and `load`: round trips, consistency, and every way a snapshot is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from database_service import snapshot
from database_service.__main__ import main
from database_service.errors import SnapshotError, TargetNotEmpty
from database_service.models import Person
from database_service.operations import CreatePerson, ReplaceFromSnapshot
from database_service.settings import DATABASE_FILENAME, Settings
from database_service.snapshot import ConsistentRead, load_snapshot
from database_service.store import connect, read_meta
from database_service.writer import Writer
from tests.unit.database_service.builders import (
    follower_settings,
    leader_settings,
    person,
    read_all,
    run,
    started_writer,
)

HEADER = b'{"format": "database-service/snapshot", "version": 1, "sequence": 7}\n'
ALICE = b'{"id": "a", "firstName": "Alice", "lastName": "A"}\n'
BOB = b'{"id": "b", "firstName": "Bob", "lastName": "B"}\n'
TRAILER_2 = b'{"end": true, "records": 2}\n'


@pytest.fixture
def leader(tmp_path: Path) -> Iterator[tuple[Settings, Writer]]:
    settings = leader_settings(tmp_path / "leader")
    writer = started_writer(settings, retain=1000)
    for number in range(25):
        run(writer, CreatePerson(person(number)))
    yield settings, writer
    writer.stop()


def stream_of(settings: Settings, chunk_rows: int = 10) -> bytes:
    return b"".join(ConsistentRead(settings.database_path, chunk_rows=chunk_rows).snapshot_chunks())


def test_the_stream_has_header_ordered_people_and_trailer(
    leader: tuple[Settings, Writer],
) -> None:
    settings, _ = leader
    lines = [json.loads(line) for line in stream_of(settings).splitlines()]
    assert lines[0] == {"format": "database-service/snapshot", "version": 1, "sequence": 25}
    assert lines[-1] == {"end": True, "records": 25}
    people = lines[1:-1]
    assert [p["id"] for p in people] == sorted(p["id"] for p in people)
    assert people[0] == {"id": "p00000", "firstName": "First0", "lastName": "Last0"}


def test_a_read_sees_one_moment_while_writes_go_on(leader: tuple[Settings, Writer]) -> None:
    settings, writer = leader
    read = ConsistentRead(settings.database_path, chunk_rows=5)
    chunks = read.snapshot_chunks()
    first = next(chunks)
    run(writer, CreatePerson(person(100)))
    rest = b"".join(chunks)
    lines = (first + rest).splitlines()
    assert json.loads(lines[0])["sequence"] == 25
    assert json.loads(lines[-1]) == {"end": True, "records": 25}
    assert b"p00100" not in rest


def test_round_trip_through_load_keeps_content_and_sequence(
    tmp_path: Path, leader: tuple[Settings, Writer]
) -> None:
    settings, _ = leader
    target = tmp_path / "restored"
    result = load_snapshot(target, stream_of(settings).splitlines(keepends=True))

    assert (result.records, result.sequence) == (25, 25)
    assert snapshot.checksum(target / DATABASE_FILENAME) == snapshot.checksum(
        settings.database_path
    )
    conn = connect(target / DATABASE_FILENAME)
    try:
        meta = read_meta(conn)
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    # A loaded database starts a new history whose log begins at the snapshot's sequence.
    assert (meta.sequence, meta.floor, meta.seed_pending, mode) == (25, 25, False, "wal")
    assert sorted(p.name for p in target.iterdir()) == [DATABASE_FILENAME]


def test_a_loaded_database_serves_as_a_leader_without_seeding(
    tmp_path: Path, leader: tuple[Settings, Writer]
) -> None:
    settings, _ = leader
    restored = leader_settings(tmp_path / "restored")
    load_snapshot(restored.data_directory, stream_of(settings).splitlines(keepends=True))
    writer = started_writer(restored, retain=1000)
    try:
        assert not writer.meta.seed_pending
        assert run(writer, CreatePerson(person(500))).sequence == 26
    finally:
        writer.stop()


def test_a_follower_resync_replaces_everything(
    tmp_path: Path, leader: tuple[Settings, Writer]
) -> None:
    settings, writer = leader
    follower = follower_settings(tmp_path / "follower")
    replica = started_writer(follower)
    file = tmp_path / "snapshot.ndjson"
    try:
        file.write_bytes(stream_of(settings))
        assert run(replica, ReplaceFromSnapshot(file, writer.meta.history)) == 25
        assert (replica.meta.sequence, replica.meta.history) == (25, writer.meta.history)

        file.write_bytes(stream_of(settings)[:-30])  # cut: the resync must change nothing
        with pytest.raises(SnapshotError):
            run(replica, ReplaceFromSnapshot(file, "other"))
        assert replica.meta.history == writer.meta.history
    finally:
        replica.stop()
    assert read_all(follower) == read_all(settings)


def assert_refused(directory: Path, lines: list[bytes], message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        load_snapshot(directory, lines)
    assert list(directory.iterdir()) == [], "a refused load must leave the directory unchanged"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "empty"),
        ([HEADER, ALICE, BOB], "without its trailer: it is truncated"),
        ([HEADER, ALICE, BOB[:20]], "not valid JSON"),
        ([HEADER, ALICE, b'{"end": true, "records": 3}\n'], "counts 3 records but"),
        ([HEADER, BOB, ALICE, TRAILER_2], "out of order"),
        ([HEADER, ALICE, ALICE, TRAILER_2], "out of order"),
        ([b'{"format": "other", "version": 1, "sequence": 1}\n', TRAILER_2], "header"),
        ([b'{"format": "database-service/snapshot", "version": 2, "sequence": 1}\n'], "header"),
        ([b'{"format": "database-service/snapshot", "version": 1}\n'], "sequence"),
        ([HEADER, b'{"id": "a", "firstName": 1, "lastName": "A"}\n', TRAILER_2], "string"),
        ([HEADER, b'{"id": "a", "firstName": "A"}\n', TRAILER_2], "exactly"),
        ([HEADER, b"[1, 2]\n", TRAILER_2], "not a JSON object"),
        ([HEADER, ALICE, BOB, TRAILER_2, ALICE], "after the trailer"),
        ([HEADER, ALICE, b"\n", BOB, TRAILER_2], "empty line"),
        ([HEADER, b'{"end": "yes", "records": 0}\n'], "malformed trailer"),
    ],
)
def test_a_bad_snapshot_is_refused(tmp_path: Path, lines: list[bytes], message: str) -> None:
    assert_refused(tmp_path / "target", lines, message)


def test_a_trailer_with_blank_lines_after_it_loads(tmp_path: Path) -> None:
    result = load_snapshot(tmp_path, [HEADER, ALICE, BOB, TRAILER_2, b"\n"])
    assert (result.records, result.sequence) == (2, 7)


def test_load_refuses_a_directory_holding_a_database(
    tmp_path: Path, leader: tuple[Settings, Writer]
) -> None:
    settings, _ = leader
    before = snapshot.checksum(settings.database_path)
    with pytest.raises(TargetNotEmpty):
        load_snapshot(settings.data_directory, [HEADER, ALICE, BOB, TRAILER_2])
    assert snapshot.checksum(settings.database_path) == before


def test_load_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.ndjson"
    good.write_bytes(HEADER + ALICE + BOB + TRAILER_2)
    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(HEADER + ALICE)

    assert main(["load", "--data-directory", str(tmp_path / "db"), str(cut)]) == 1
    assert "truncated" in capsys.readouterr().err
    assert main(["load", "--data-directory", str(tmp_path / "db"), str(good)]) == 0
    assert json.loads(capsys.readouterr().out) == {"records": 2, "sequence": 7}
    assert main(["load", "--data-directory", str(tmp_path / "db"), str(good)]) == 2
    assert "already holds a database" in capsys.readouterr().err
    assert main(["load", "--data-directory", str(tmp_path / "x"), str(tmp_path / "none")]) == 1


def test_persons_stream_as_one_json_array(leader: tuple[Settings, Writer], tmp_path: Path) -> None:
    settings, _ = leader
    body = b"".join(ConsistentRead(settings.database_path, chunk_rows=7).json_array_chunks())
    people = [Person.model_validate(p) for p in json.loads(body)]
    assert [(p.id, p.firstName, p.lastName) for p in people] == read_all(settings)

    empty = follower_settings(tmp_path / "empty")
    started_writer(empty).stop()
    assert b"".join(ConsistentRead(empty.database_path).json_array_chunks()) == b"[]"


names = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)
people_strategy = st.dictionaries(
    keys=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._~:-]{0,12}", fullmatch=True),
    values=st.tuples(names, names),
    max_size=30,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=people_strategy)
def test_any_content_survives_the_round_trip(
    tmp_path_factory: pytest.TempPathFactory, people: dict[str, tuple[str, str]]
) -> None:
    source = leader_settings(tmp_path_factory.mktemp("source"))
    writer = started_writer(source, retain=1000)
    try:
        for person_id, (first, last) in people.items():
            run(writer, CreatePerson(Person(id=person_id, firstName=first, lastName=last)))
    finally:
        writer.stop()
    target = tmp_path_factory.mktemp("target")
    load_snapshot(target, stream_of(source).splitlines(keepends=True))
    assert read_all(leader_settings(target)) == read_all(source)
    assert snapshot.checksum(target / DATABASE_FILENAME) == snapshot.checksum(source.database_path)
