"""On-disk cache of preprocessed datasets: each image file is decoded once per size, crop and split, by one process.

The finished file (cache_file.py) is memory-mapped, so every process of a node shares one copy in the page cache.
Builds take a lock file per source, size and split (storage/lock.py), stream to disk and resume (cache_build.py).
"""

import errno
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from ..storage.atomic import WriteError, atomic_path
from ..storage.lock import exclusive_lock
from .cache_build import build_cache_file, partial_paths, read_checkpoint
from .cache_file import SUFFIX, map_cache_file, write_dataset
from .dataset import ImageDataset
from .decoding import DecodePlan, decode_in_memory
from .warn import collected_warnings, logger

# Bump whenever decoding, cropping or resizing changes, so caches built by older code stop matching.
CACHE_FORMAT_VERSION = 3


def cache_directory(cache_dir: str | Path | None = None) -> Path:
    """cache_dir, else $UNNOISE_CACHE, else $XDG_CACHE_HOME/unnoise, else ~/.cache/unnoise."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("UNNOISE_CACHE"):
        return Path(os.environ["UNNOISE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "unnoise"


def fingerprint_files(root: Path, relative_names: list[str]) -> list[tuple[str, int, int]]:
    """(name, size, mtime_ns) per file, sorted: editing, touching, adding or removing a file changes it."""
    fingerprint = []
    for name in sorted(relative_names):
        stat = (root / name).stat()
        fingerprint.append((name, stat.st_size, stat.st_mtime_ns))
    return fingerprint


def folder_label(kind: str, path: Path, image_size: int, split: str) -> str:
    """A readable file name stem unique to a source, size and split: kind, folder name, path hash."""
    folder_name = "".join(char if char.isalnum() or char in "._-" else "_" for char in path.name)[:40]
    path_hash = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    return f"{kind}-{folder_name}-{path_hash}-{image_size}px-{split}"


def cache_key(fields: dict) -> str:
    text = json.dumps({**fields, "format": CACHE_FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def open_finished(path: Path, key: str, warn: bool = True, repeat: bool = True) -> ImageDataset | None:
    """The cached dataset at path, memory-mapped, or None when it is missing or damaged (with a warning if warn).

    repeat: log the warnings of its build again (not in the process that built it, which logged them already).
    """
    if not path.exists():
        return None
    try:
        dataset, header = map_cache_file(path)
        if header["key"] != key:
            raise ValueError("its key does not match its name")
    except Exception as error:  # a cache is disposable: any damage at all just means rebuilding it
        if warn:
            logger.warning(f"data cache file {path} is unreadable ({type(error).__name__}: {error}); rebuilding it")
        return None
    if repeat:  # skipped files and the like still matter on later runs
        for message in header.get("warnings", []):
            logger.warning(message)
    return dataset


def header_fields(key: str, fields: dict, source: str, warnings: list[str]) -> dict:
    """What the header records beside shapes and names; warnings is the live list, written as it is at the end."""
    return {
        "key": key,
        "fields": {name: value for name, value in fields.items() if name != "files"},
        "file_count": len(fields.get("files", [])),
        "source": source,
        "warnings": warnings,
    }


def build(path: Path, key: str, fields: dict, make: Callable[[], ImageDataset | DecodePlan], progress: bool) -> None:
    """Write the cache file at path from make(): a plan streams to disk (resumable), a dataset is written whole."""
    with collected_warnings() as warnings:
        made = make()
        if isinstance(made, DecodePlan):
            require_room(path, made.nbytes)
            build_cache_file(path, key, made, header_fields(key, fields, made.source, warnings), progress)
            return
    header = {**header_fields(key, fields, made.source, warnings), "names": made.names}
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        write_dataset(handle, made, {**header, "attribute_names": made.attribute_names})


def require_room(path: Path, nbytes: int) -> None:
    """OSError (no space) before a build that the cache's disk cannot hold, counting what a resumed build already
    wrote; a full disk found midway would leave a partial file filling it."""
    rows = partial_paths(path)[0]
    written = rows.stat().st_size if rows.exists() else 0
    free = shutil.disk_usage(path.parent).free
    if nbytes - written > free:
        raise OSError(
            errno.ENOSPC,
            f"the cache needs {(nbytes - written) / 1e9:.2f} GB more in {path.parent}, which has {free / 1e9:.2f} GB "
            "free",
        )


def in_memory(make: Callable[[], ImageDataset | DecodePlan], progress: bool) -> ImageDataset:
    made = make()
    return decode_in_memory(made, progress) if isinstance(made, DecodePlan) else made


class BuildWatcher:
    """Called while another process holds the build lock: says so once, then shows that build's progress."""

    def __init__(self, path: Path, progress: bool):
        self.path, self.progress, self.bar = path, progress, None

    def __call__(self) -> None:
        if not self.progress:
            return
        checkpoint = read_checkpoint(self.path)
        done, total = (checkpoint["done"], checkpoint["total"]) if checkpoint is not None else (0, None)
        if self.bar is None:
            logger.info(f"waiting for another process to build the data cache {self.path}")
            # What the other process had done before we looked is where the bar starts, not progress made at once
            # (which would show as a rate of thousands of images/s).
            self.bar = tqdm(
                desc="another process is decoding", unit="image", file=sys.stderr, initial=done, total=total
            )
        elif checkpoint is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def load_or_build(
    label: str,
    fields: dict,
    make: Callable[[], ImageDataset | DecodePlan],
    cache_dir: str | Path | None,
    progress: bool = True,
) -> ImageDataset:
    """The cached dataset for fields, memory-mapped; else make() it into '<label>-<key>.uint8' first.

    One process builds; any other that opens the same data meanwhile (the other ranks of a torchrun launch, or a
    second run) waits for the lock and then maps the finished file. label names one source, size and split; older
    files with the same label are stale and removed. A cache that cannot be written is skipped with a warning, and
    the dataset is built in memory instead.
    """
    key = cache_key(fields)
    directory = cache_directory(cache_dir)
    path = directory / f"{label}-{key[:16]}{SUFFIX}"
    dataset = open_finished(path, key)
    if dataset is not None:
        return dataset
    try:
        return build_once(path, key, label, fields, make, progress)
    except WriteError as error:
        logger.warning(
            f"could not write the data cache ({error}); decoding into this process's memory instead (UNNOISE_CACHE "
            "names a folder with room, where the processes of a machine share one mapped copy)"
        )
        return in_memory(make, progress)


def build_once(
    path: Path, key: str, label: str, fields: dict, make: Callable[[], ImageDataset | DecodePlan], progress: bool
) -> ImageDataset:
    """Under the lock: map the file that the process we waited for finished, else build it and map it.

    Raises WriteError naming path when the folder, the lock or the file cannot be written.
    """
    watcher = BuildWatcher(path, progress)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(path.parent / f"{label}.lock", watcher):
            watcher.close()
            dataset = open_finished(path, key, warn=False)
            if dataset is None:
                build(path, key, fields, make, progress)
                remove_stale(path.parent, label, path)
                dataset = open_finished(path, key, repeat=False)
    except OSError as error:
        raise WriteError(path, error) from None
    finally:
        watcher.close()
    if dataset is None:
        raise RuntimeError(f"the data cache {path} was written but cannot be read back")
    return dataset


def remove_stale(directory: Path, label: str, current: Path) -> None:
    """Delete older cache files of the same source, size and split (and any unfinished build of them, and the
    safetensors caches of unnoise before memory maps); one that will not go only wastes space."""
    stale = [*directory.glob(f"{label}-*{SUFFIX}*"), *directory.glob(f"{label}-*.safetensors")]
    for path in stale:
        if path.name == current.name:
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
