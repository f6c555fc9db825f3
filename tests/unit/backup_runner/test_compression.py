"""Streaming gzip: standard format, round trips in any chunking, damage detected."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backup_runner.compression import CompressionError, gunzip_chunks, gzip_chunks


@given(st.lists(st.binary(max_size=5000), max_size=20))
def test_round_trip(chunks: list[bytes]) -> None:
    compressed = b"".join(gzip_chunks(chunks))
    assert gzip.decompress(compressed) == b"".join(chunks)  # readable by any gunzip
    pieces = [compressed[i : i + 7] for i in range(0, len(compressed), 7)]
    assert b"".join(gunzip_chunks(pieces)) == b"".join(chunks)


def test_same_input_same_bytes() -> None:
    assert b"".join(gzip_chunks([b"abc" * 1000])) == b"".join(gzip_chunks([b"abc" * 1000]))


def test_large_expansion_comes_out_in_bounded_pieces() -> None:
    compressed = b"".join(gzip_chunks([b"\0" * (20 << 20)]))
    sizes = [len(piece) for piece in gunzip_chunks([compressed])]
    assert sum(sizes) == 20 << 20
    assert max(sizes) <= 1 << 20


def test_truncated() -> None:
    compressed = b"".join(gzip_chunks([b"hello world" * 100]))
    with pytest.raises(CompressionError, match="ends early"):
        b"".join(gunzip_chunks([compressed[:-10]]))


def test_garbage() -> None:
    with pytest.raises(CompressionError, match="not valid gzip"):
        b"".join(gunzip_chunks([b"this is not gzip at all"]))


def test_trailing_data() -> None:
    compressed = b"".join(gzip_chunks([b"x"]))
    with pytest.raises(CompressionError, match="after the end"):
        b"".join(gunzip_chunks([compressed, b"more"]))
