"""Gzip in streaming form: generators from chunks to chunks, so memory stays flat at any size.

`gzip_chunks` writes the standard gzip format (readable by `gunzip`), with a zero mtime so the same
snapshot compresses to the same bytes. `gunzip_chunks` bounds every output piece, so a damaged or
hostile object cannot inflate into memory before its checksum is compared.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

__all__ = ["CompressionError", "Gunzip", "gunzip_chunks", "gzip_chunks"]

# Level 1 compresses people records to about half for a fraction of the CPU of the default 6: the
# runner shares two cores with the database it reads and must keep up with the upload (see
# docs/backups.md, "Benchmark").
LEVEL = 1
_GZIP_WBITS = 31  # zlib's way of asking for a gzip header and trailer
_OUTPUT_PIECE = 1 << 20


class CompressionError(Exception):
    """The compressed data is not valid gzip, or ends early."""


def gzip_chunks(chunks: Iterable[bytes], level: int = LEVEL) -> Iterator[bytes]:
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


class Gunzip:
    """Incremental gunzip: `feed` compressed chunks, then `finish` to check the stream ended."""

    def __init__(self) -> None:
        self._decompressor = zlib.decompressobj(_GZIP_WBITS)

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        pending = chunk
        try:
            while pending:
                out = self._decompressor.decompress(pending, _OUTPUT_PIECE)
                if out:
                    yield out
                if self._decompressor.eof:
                    if self._decompressor.unused_data:
                        raise CompressionError("data after the end of the gzip stream")
                    return
                pending = self._decompressor.unconsumed_tail
        except zlib.error as error:
            raise CompressionError(f"not valid gzip: {error}") from None

    def finish(self) -> Iterator[bytes]:
        try:
            while out := self._decompressor.decompress(b"", _OUTPUT_PIECE):
                yield out
        except zlib.error as error:
            raise CompressionError(f"not valid gzip: {error}") from None
        if not self._decompressor.eof:
            raise CompressionError("the gzip stream ends early")


def gunzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    gunzip = Gunzip()
    for chunk in chunks:
        yield from gunzip.feed(chunk)
    yield from gunzip.finish()
