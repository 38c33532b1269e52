"""An exclusive lock between processes: a lock file that the operating system frees when its holder exits.

flock(2) locks die with their process, so a build killed by SIGKILL or a crash never leaves a lock behind for the
next process to break. The lock file itself is never deleted (deleting it while another process waits on it would
let a third process lock a new file of the same name at the same time).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; one process per machine then builds alone
    fcntl = None

POLL_SECONDS = 0.5


def try_lock(handle: int) -> bool:
    """Take the exclusive lock of an open file without waiting; False when another process holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, while_waiting: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Hold the exclusive lock on the file at path (created if missing) for the block.

    While another process holds it, while_waiting() is called every POLL_SECONDS (to show what that process is
    doing). Raises OSError when the lock file cannot be created.
    """
    path = Path(path)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        while not try_lock(handle):
            while_waiting()
            time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(handle)  # closing the file releases the lock


@contextlib.contextmanager
def lock_if_free(path: str | os.PathLike) -> Iterator[bool]:
    """Hold the exclusive lock on the file at path (created if missing) for the block if no other process holds it;
    yields whether it does. Never waits. Raises OSError when the lock file cannot be created."""
    handle = os.open(Path(path), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        yield try_lock(handle)
    finally:
        os.close(handle)
