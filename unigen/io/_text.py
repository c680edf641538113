"""Reading and writing text files for every format: one place for the checks on bad files.

``read_text`` turns every way a file can be unusable (missing, a directory, unreadable,
binary, a broken gzip stream, empty, over ``UNIGEN_MAX_FILE_BYTES`` once decompressed) into
one ``UnigenError`` that names the path.
``write_text`` streams chunks into ``atomic_write``, so a writer that fails half-way
leaves no partial output (and an older file at the same path untouched).
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterable
from pathlib import Path

from unigen import limits
from unigen.atomic import atomic_write
from unigen.errors import UnigenError, UsageError

# control bytes that never occur in text files (tab, newlines, form feed, ESC are allowed)
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def read_text(path) -> str:
    """The whole text of ``path`` (``.gz`` decompressed). Raises UnigenError for unusable files.

    Text that is not valid UTF-8 but holds no control bytes is decoded as Latin-1: old CIFs
    and SDFs carry Latin-1 author names; binary files are rejected by the control-byte check.
    """
    path = Path(path)
    data = _read_bytes(path)
    if path.suffix.lower() == ".gz":
        data = _gunzip(path, data)
    binary = _BINARY_BYTES.search(data)
    if binary:
        raise UnigenError(f"{path}: not a text file (binary content at byte {binary.start()})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if not text.strip():
        raise UnigenError(f"{path}: file is empty")
    return text


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise UnigenError(f"{path}: no such file")
    if path.is_dir():
        raise UnigenError(f"{path}: is a directory, expected a file")
    try:
        with open(path, "rb") as handle:
            return _capped(path, handle, "")
    except OSError as err:
        raise UnigenError(f"{path}: cannot read file ({err.strerror})") from None


def _gunzip(path: Path, data: bytes) -> bytes:
    """Decompress in a stream that stops at the size limit: an 8 MB gzip bomb never inflates whole."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            return _capped(path, stream, " after decompression")
    except (OSError, EOFError, zlib.error) as err:
        raise UnigenError(f"{path}: not a valid gzip file ({err})") from None


def _capped(path: Path, stream, where: str) -> bytes:
    """At most ``UNIGEN_MAX_FILE_BYTES`` bytes of ``stream``; a longer one is a UsageError."""
    cap = limits.limit("file_bytes")
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise UsageError(f"{path}: {limits.exceeded('file_bytes', cap + 1, f'bytes or more{where}')}")
    return data


def write_text(path, chunks: Iterable[str]) -> None:
    """Write the chunks atomically to ``path`` (gzip-compressed when it ends in ``.gz``).

    An operating-system failure (no permission, a directory in the way, disk full) becomes
    a one-line UnigenError naming the path.
    """
    path = Path(path)
    try:
        _write_chunks(path, chunks)
    except OSError as err:
        raise UnigenError(f"{path}: cannot write file ({err.strerror or err})") from None


def _write_chunks(path: Path, chunks: Iterable[str]) -> None:
    if path.suffix.lower() == ".gz":
        with atomic_write(path, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0) as zipped:
            for chunk in chunks:
                zipped.write(chunk.encode("utf-8"))
        return
    with atomic_write(path, "w") as handle:
        for chunk in chunks:
            handle.write(chunk)


def first_line(message: object, limit: int = 200) -> str:
    """A third-party error message cut to one line, for a one-line RecordError reason."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    text = "; ".join(lines) if lines else type(message).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_digits(token: str) -> bool:
    """True for ASCII digits only (``str.isdigit`` accepts '²', which ``int`` rejects)."""
    return token.isascii() and token.isdigit()
