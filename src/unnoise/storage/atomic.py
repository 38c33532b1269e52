"""Atomic file writes: write beside the target, flush to disk, then rename over it.

A reader (or a resumed run) sees either the old file or the new one, never half of one, even if
the process is killed mid-write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in target's folder; on success it replaces target, on failure it vanishes."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))
