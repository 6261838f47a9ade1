"""Atomic file writes and the CSV helpers that every module writing files uses.

Every file is written atomically (a temporary file in the same directory,
flushed to disk, then a rename, then the directory itself flushed), so a crash
or a power cut leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from binadd.errors import BinaddError


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A failure (disk full, no permission) leaves the old file untouched and is
    reported as a one-line :class:`BinaddError`.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise BinaddError(f"cannot write {path}: {error.strerror}") from None
    try:
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise BinaddError(f"cannot write {path}: {error.strerror}") from None
        raise
    _sync_directory(path.parent)


def _umask() -> int:
    """The process's file mode mask (mkstemp alone would give every file 0600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_directory(directory: Path) -> None:
    """Flush a directory entry to disk, so that a rename survives a power cut."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # Some file systems cannot sync a directory; the rename still holds.
    finally:
        os.close(handle)


def csv_text(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    """Rows as CSV text with a header, in ``columns`` order (missing cells empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key, "") for key in columns})
    return buffer.getvalue()


def read_csv(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows as mappings from column name to text."""
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))
