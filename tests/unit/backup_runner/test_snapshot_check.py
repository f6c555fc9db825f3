"""The snapshot check: whole streams pass in any chunking, every truncation is caught."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backup_runner.errors import Reason, RunnerError
from backup_runner.snapshot import SnapshotCheck, SnapshotSummary


def stream(records: int, sequence: int = 42) -> bytes:
    lines = [
        json.dumps({"format": "database-service/snapshot", "version": 1, "sequence": sequence})
    ]
    lines += [
        json.dumps({"id": f"{i:04d}", "firstName": f"F\n{i}", "lastName": "L"})
        for i in range(records)
    ]
    lines.append(json.dumps({"end": True, "records": records}))
    return ("\n".join(lines) + "\n").encode()


def check(data: bytes, cuts: list[int]) -> SnapshotSummary:
    checker = SnapshotCheck()
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        checker.feed(data[start:cut])
        start = max(start, cut)
    return checker.finish()


@given(st.integers(min_value=0, max_value=50), st.lists(st.integers(min_value=0, max_value=4000)))
def test_complete_stream_in_any_chunking(records: int, cuts: list[int]) -> None:
    data = stream(records)
    assert check(data, [c for c in cuts if c <= len(data)]) == SnapshotSummary(42, records)


def test_trailer_without_final_newline_is_complete() -> None:
    assert check(stream(3).rstrip(b"\n"), []) == SnapshotSummary(42, 3)


def test_every_truncation_is_incomplete() -> None:
    data = stream(5)
    last_line_start = data.rstrip(b"\n").rfind(b"\n") + 1
    for end in range(len(data)):
        if end >= len(data) - 1 and end > last_line_start:
            continue  # only the final newline is missing: still whole
        with pytest.raises(RunnerError) as caught:
            check(data[:end], [end // 2])
        assert caught.value.reason is Reason.SNAPSHOT_INCOMPLETE
        assert caught.value.transient


def test_count_mismatch() -> None:
    data = stream(3).replace(b'"records": 3', b'"records": 4')
    with pytest.raises(RunnerError, match="announces 4 records but 3 arrived"):
        check(data, [])


def test_wrong_header() -> None:
    with pytest.raises(RunnerError, match="header"):
        check(
            b'{"format": "other", "version": 1, "sequence": 1}\n{"end": true, "records": 0}\n', []
        )


def test_data_after_trailer() -> None:
    with pytest.raises(RunnerError, match="trailer"):
        check(stream(1) + b'{"id": "x", "firstName": "a", "lastName": "b"}\n', [])
