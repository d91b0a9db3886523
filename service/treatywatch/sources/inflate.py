"""Streaming decompression with a cap at every layer, so a small body cannot become gigabytes in memory.

httpx decodes Content-Encoding itself, but one compressed chunk of 64 KB may inflate to tens of megabytes before
any size check sees it, and a body that is itself gzip (a feed served as `.xml.gz`) is never inflated at all. Here
every layer yields pieces of at most `_PIECE` bytes and the caller counts them, so the cap holds while streaming.

Decisions (docs/reliability.md): Content-Encoding gzip, x-gzip and deflate (zlib-wrapped or raw) are inflated;
any other encoding (br, zstd, compress: we never advertise them) is refused. A body that starts with the gzip magic
bytes 1f 8b after the declared layers is inflated once more under the same cap (servers send `.xml.gz` feeds as
application/gzip); a gzip inside that is left as bytes and fails as "not a feed".
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from ..errors import FetchError, TooLargeError

_PIECE = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def _looks_zlib(head: bytes) -> bool:
    """RFC 1950 header: deflate method and a checksum over the first two bytes (servers disagree on 'deflate')."""
    return len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


def _inflate(chunks: Iterable[bytes], kind: str) -> Iterator[bytes]:
    """Inflate gzip (multi-member too) or deflate, yielding pieces of at most _PIECE bytes."""
    d: zlib._Decompress | None = None
    for chunk in chunks:
        data = chunk
        while data:
            if d is None:
                wbits = _GZIP_WBITS if kind == "gzip" else (zlib.MAX_WBITS if _looks_zlib(data) else -zlib.MAX_WBITS)
                d = zlib.decompressobj(wbits)
            try:
                out = d.decompress(data, _PIECE)
                if out:
                    yield out
                while d.unconsumed_tail:
                    out = d.decompress(d.unconsumed_tail, _PIECE)
                    if out:
                        yield out
            except zlib.error as exc:
                raise FetchError(f"cannot decompress {kind} body: {exc}") from exc
            data = b""
            if d.eof:
                data = d.unused_data
                if kind != "gzip" or not data.startswith(GZIP_MAGIC):
                    data = b""  # trailing garbage after the stream is ignored, as browsers do
                d = None  # another gzip member follows
    if d is not None:
        try:
            tail = d.flush(_PIECE)
        except zlib.error as exc:
            raise FetchError(f"cannot decompress {kind} body: {exc}") from exc
        if tail:
            yield tail


def _sniff_gzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Inflate a body that is gzip without saying so (magic bytes 1f 8b), once."""
    it = iter(chunks)
    head = b""
    for chunk in it:
        head += chunk
        if len(head) >= 2:
            break
    if not head.startswith(GZIP_MAGIC):
        if head:
            yield head
        yield from it
        return

    def rest() -> Iterator[bytes]:
        yield head
        yield from it

    yield from _inflate(rest(), "gzip")


def decoded(raw: Iterable[bytes], content_encoding: str | None) -> Iterator[bytes]:
    """The body with every declared encoding undone (last applied first), then a sniffed gzip layer."""
    stream: Iterable[bytes] = raw
    layers = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
    for enc in reversed(layers):
        if enc in ("identity", ""):
            continue
        if enc in ("gzip", "x-gzip"):
            stream = _inflate(stream, "gzip")
        elif enc == "deflate":
            stream = _inflate(stream, "deflate")
        else:
            raise FetchError(f"unsupported Content-Encoding '{enc}' (we accept gzip and deflate)")
    return _sniff_gzip(stream)


def read_capped(pieces: Iterable[bytes], cap: int, what: str) -> bytes:
    """Join pieces, failing as soon as the total passes the cap (nothing beyond cap + one piece is held)."""
    out: list[bytes] = []
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > cap:
            raise TooLargeError(f"{what} exceeds the cap of {cap} bytes; stopped reading")
        out.append(piece)
    return b"".join(out)
