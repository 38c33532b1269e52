"""Atomic file writes: write beside the target, flush to disk, then rename over it.

A reader (or a resumed run) sees either the old file or the new one, never half of one, even if
the process is killed mid-write. A write that fails (no space, a path through a file, a read-only
file system) raises WriteError, one line naming the path and the operating system's reason, and
leaves the old file and no temporary one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator

from ..errors import UserError


class WriteError(UserError):
    """A file or folder that could not be written: the message names the path and the operating system's reason."""

    def __init__(self, path: str | os.PathLike, error: OSError | str):
        self.path = Path(path)
        self.reason = error if isinstance(error, str) else describe_os_error(error, path)
        super().__init__(f"cannot write {str(path) or repr(str(path))}: {self.reason}")


def describe_os_error(error: OSError, path: str | os.PathLike | None = None) -> str:
    """The reason an OSError gives, in words: 'No space left on device', or '/a/b is a file, not a folder'.

    A path that runs through a regular file fails as 'File exists' or 'Not a directory'; the file in the way is
    what a person needs to see, so it is named.
    """
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        failed = Path(path or error.filename or "")
        # mkdir of an existing file says 'File exists'; a path through a file says 'Not a directory'.
        in_the_way = failed if isinstance(error, FileExistsError) and failed.is_file() else file_in_the_way(failed)
        if in_the_way is not None:
            return f"{in_the_way} is a file, not a folder"
    return error.strerror or str(error) or type(error).__name__


def refuse_unwritable_target(target: str | os.PathLike) -> None:
    """Raise WriteError for a target no write should replace: an empty name, or anything that exists and is not a
    regular file (or a link to one): a device such as /dev/null, a folder, a pipe, a socket.

    A rename over a device node would turn it into a regular file (as root, /dev/null stops being one).
    """
    if str(target) == "":
        raise WriteError(target, "the path is empty; name a file")
    path = Path(target)
    if path.is_dir():
        raise WriteError(path, os.strerror(errno.EISDIR))  # as the rename itself would say
    if os.path.lexists(path) and not path.is_file():
        kind = "a broken link" if not path.exists() else "a device, pipe or socket"
        raise WriteError(path, f"it is {kind}, not a regular file; name a file to write")


def refuse_unwritable_folder(target: str | os.PathLike) -> None:
    """Raise WriteError when target could not be written for its folder: the nearest existing folder above it is
    read-only (a read-only mount, or no write permission). Creates nothing; call it before the work whose result
    target will hold, so a bad path costs a line instead of the work."""
    refuse_unwritable_target(target)
    for folder in Path(target).absolute().parents:
        if folder.exists():
            if folder.is_dir() and not os.access(folder, os.W_OK):
                raise WriteError(target, f"the folder {folder} is read-only")
            return


def file_in_the_way(path: Path) -> Path | None:
    """The nearest strict ancestor of path that exists and is not a folder, or None."""
    for ancestor in path.parents:
        if ancestor.exists():
            return None if ancestor.is_dir() else ancestor
    return None


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in target's folder; on success it replaces target, on failure it vanishes.

    The folder is created if needed. Raises WriteError naming target, before anything is written, when it is empty
    or exists and is not a regular file (refuse_unwritable_target); and when the folder cannot be made or the
    temporary file cannot be written (an OSError inside the block included), flushed or renamed into place.
    """
    refuse_unwritable_target(target)
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
        os.close(handle)
    except OSError as error:
        raise WriteError(target, error) from None
    temporary = Path(temporary)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(temporary, target)
    except OSError as error:
        raise WriteError(target, error) from None
    finally:
        temporary.unlink(missing_ok=True)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    """Replace target by data atomically; raises WriteError (see atomic_path)."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Replace target by text (UTF-8) atomically; raises WriteError (see atomic_path)."""
    write_bytes_atomic(target, text.encode("utf-8"))


def make_folder(path: str | os.PathLike) -> Path:
    """Create a folder and its parents if needed; raises WriteError naming it when that fails."""
    if str(path) == "":
        raise WriteError(path, "the path is empty; name a folder")
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(path, error) from None
    return path


def append_text(target: str | os.PathLike, text: str) -> None:
    """Append text (UTF-8, line endings as given) to target: the one write that is not atomic, for logs a row at a time.

    Raises WriteError naming target when it cannot be opened or written (no space, a folder in its place, ...).
    """
    try:
        with open(target, "a", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as error:
        raise WriteError(target, error) from None
