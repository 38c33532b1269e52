"""Building a cache file a decoded image at a time: bounded memory, a progress bar, resumable after a kill.

Beside the target `X` it writes `X.partial` (the rows so far), `X.partial.status` (one byte per file tried: kept,
kept but upscaled, or undecodable) and `X.partial.json` (the last checkpoint: how many files were tried and rows
kept). Every CHECKPOINT_SECONDS both files are flushed to disk and then the checkpoint is replaced atomically, so
a build killed at any moment resumes from its last checkpoint and redoes at most those seconds of decoding. Only
when every file is done are the attributes and the header appended and `X.partial` renamed to `X`: a file named
`X` is always complete. The caller holds the cache's lock, so only one process writes these files.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import UserError
from ..storage.atomic import write_text_atomic
from .cache_file import header_of, write_header, write_rows
from .decoding import DecodePlan, decode_each, finish_decoding, progress_bar

CHECKPOINT_SECONDS = 2.0
KEPT, UPSCALED, UNDECODABLE = b"k", b"u", b"x"
WRITE_BUFFER_BYTES = 4 * 2**20


def partial_paths(path: Path) -> tuple[Path, Path, Path]:
    """(rows, status, checkpoint) of the unfinished build of the cache file at path."""
    return (
        path.with_name(path.name + ".partial"),
        path.with_name(path.name + ".partial.status"),
        path.with_name(path.name + ".partial.json"),
    )


def read_checkpoint(path: Path) -> dict | None:
    """The last checkpoint of an unfinished build of path ({key, done, kept, total}), None when there is none."""
    try:
        return json.loads(partial_paths(path)[2].read_text())
    except (OSError, ValueError):
        return None


def resume_point(path: Path, key: str, row_bytes: int) -> tuple[int, bytes]:
    """(files done, their status bytes) of an earlier build of the same key, its files cut back to its checkpoint.

    A missing, foreign or inconsistent checkpoint starts over from nothing.
    """
    rows, status, _ = partial_paths(path)
    checkpoint = read_checkpoint(path)
    if checkpoint is not None and checkpoint.get("key") == key:
        done, kept = checkpoint["done"], checkpoint["kept"]
        try:
            statuses = status.read_bytes()[:done]
            whole = rows.stat().st_size >= kept * row_bytes and len(statuses) == done
        except OSError:
            whole = False
        if whole and statuses.count(KEPT) + statuses.count(UPSCALED) == kept:
            os.truncate(rows, kept * row_bytes)
            os.truncate(status, done)
            return done, statuses
    for leftover in (rows, status):
        leftover.write_bytes(b"")
    return 0, b""


def write_checkpoint(path: Path, key: str, done: int, kept: int, total: int, rows: BinaryIO, status: BinaryIO) -> None:
    """Flush the rows and statuses to disk, then record how far they go (atomically)."""
    for handle in (rows, status):
        handle.flush()
        os.fsync(handle.fileno())
    checkpoint = {"key": key, "done": done, "kept": kept, "total": total}
    write_text_atomic(partial_paths(path)[2], json.dumps(checkpoint))


def build_cache_file(path: Path, key: str, plan: DecodePlan, fields: dict, progress: bool) -> None:
    """Decode every file of plan into the cache file at path, resuming an interrupted build of the same key.

    fields go into the header beside the shapes and names. Raises OSError when a file cannot be written, and the
    UserError of finish_decoding when no file decodes (the unfinished files are removed then).
    """
    rows_path, status_path, checkpoint_path = partial_paths(path)
    done, statuses = resume_point(path, key, 3 * plan.image_size * plan.image_size)
    with open(rows_path, "ab", buffering=WRITE_BUFFER_BYTES) as rows, open(status_path, "ab") as status:
        append_decoded(path, key, plan, done, statuses, rows, status, progress)
        statuses = status_path.read_bytes()
        try:
            attributes = finish_statuses(plan, statuses)
        except UserError:
            remove_partial(path)
            raise
        names = [name for name, state in zip(plan.names, statuses) if state != UNDECODABLE[0]]
        if attributes is not None:
            write_rows(rows, attributes)
        shape = (len(names), 3, plan.image_size, plan.image_size)
        attribute_names = plan.attribute_names if attributes is not None else []
        header = {**fields, "names": names, "attribute_names": attribute_names}
        write_header(rows, header_of(shape, None if attributes is None else attributes.shape[1], header))
        rows.flush()
        os.fsync(rows.fileno())
    os.replace(rows_path, path)  # only now does a file of the finished name exist
    for leftover in (status_path, checkpoint_path):
        leftover.unlink(missing_ok=True)


def append_decoded(
    path: Path, key: str, plan: DecodePlan, done: int, statuses: bytes, rows: BinaryIO, status: BinaryIO, progress: bool
) -> None:
    """Decode plan.names[done:], appending each image's row and status byte, with a checkpoint every few seconds."""
    kept = statuses.count(KEPT) + statuses.count(UPSCALED)
    last_checkpoint = time.monotonic()
    with progress_bar(plan, progress, done) as bar:
        for decoded in decode_each(plan, start=done):
            if decoded.pixels is None:
                status.write(UNDECODABLE)
            else:
                rows.write(decoded.pixels.tobytes())
                status.write(UPSCALED if decoded.upscaled else KEPT)
                kept += 1
            done += 1
            bar.update()
            if time.monotonic() - last_checkpoint >= CHECKPOINT_SECONDS:
                write_checkpoint(path, key, done, kept, len(plan.names), rows, status)
                last_checkpoint = time.monotonic()
    write_checkpoint(path, key, done, kept, len(plan.names), rows, status)


def finish_statuses(plan: DecodePlan, statuses: bytes) -> np.ndarray | None:
    """The warnings and attribute rows of a finished build, from its status bytes (so a resumed build has them too)."""
    by_state: dict[int, list[str]] = {KEPT[0]: [], UPSCALED[0]: [], UNDECODABLE[0]: []}
    for name, state in zip(plan.names, statuses):
        by_state[state].append(name)
    kept = [name for name, state in zip(plan.names, statuses) if state != UNDECODABLE[0]]
    return finish_decoding(plan, kept, by_state[UNDECODABLE[0]], by_state[UPSCALED[0]])


def remove_partial(path: Path) -> None:
    """Delete an unfinished build of path (another key's, or one that cannot finish)."""
    for leftover in partial_paths(path):
        leftover.unlink(missing_ok=True)
