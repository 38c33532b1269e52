"""On-disk cache of preprocessed datasets, so each image file is decoded once per size, crop and split."""

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from safetensors import safe_open

from ..storage.atomic import WriteError, atomic_path
from ..storage.weights import save_tensors
from .dataset import ImageDataset
from .warn import collected_warnings, logger

# Bump whenever decoding, cropping or resizing changes, so caches built by older code stop matching.
CACHE_FORMAT_VERSION = 1


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


def load_cached(path: Path, key: str) -> ImageDataset | None:
    """The cached dataset at path, or None when it is missing or damaged."""
    if not path.exists():
        return None
    try:
        with safe_open(path, framework="pt") as file:
            header = json.loads(file.metadata()["unnoise"])
            tensors = {name: file.get_tensor(name) for name in file.keys()}
        if header["key"] != key:
            raise ValueError("its key does not match its name")
        dataset = ImageDataset(
            images=tensors["images"],
            names=header["names"],
            attribute_names=header["attribute_names"],
            attributes=tensors.get("attributes"),
            source=header["source"],
        )
    except Exception as error:  # a cache is disposable: any damage at all just means rebuilding it
        logger.warning(f"data cache file {path} is unreadable ({type(error).__name__}: {error}); rebuilding it")
        return None
    for message in header.get("warnings", []):  # skipped files and the like still matter on later runs
        logger.warning(message)
    return dataset


def save_cached(path: Path, dataset: ImageDataset, key: str, fields: dict, warnings: list[str]) -> None:
    """Write atomically, so a crash never leaves a half-written cache."""
    tensors = {"images": dataset.images.contiguous()}
    if dataset.attributes is not None:
        tensors["attributes"] = dataset.attributes.contiguous()
    header = {
        "key": key,
        "fields": {name: value for name, value in fields.items() if name != "files"},
        "file_count": len(fields.get("files", [])),
        "names": dataset.names,
        "attribute_names": dataset.attribute_names,
        "source": dataset.source,
        "warnings": warnings,
    }
    try:
        with atomic_path(path) as temporary:
            save_tensors(tensors, temporary, metadata={"unnoise": json.dumps(header)})
    except WriteError as error:
        logger.warning(
            f"could not write data cache ({error}); continuing without it, set UNNOISE_CACHE to a writable folder"
        )


def load_or_build(
    label: str, fields: dict, build: Callable[[], ImageDataset], cache_dir: str | Path | None
) -> ImageDataset:
    """The cached dataset for fields, else build() it and cache it as '<label>-<key>.safetensors'.

    label names one source, size and split; older files with the same label are stale and removed.
    """
    key = cache_key(fields)
    directory = cache_directory(cache_dir)
    path = directory / f"{label}-{key[:16]}.safetensors"
    dataset = load_cached(path, key)
    if dataset is not None:
        return dataset
    with collected_warnings() as warnings:
        dataset = build()
    save_cached(path, dataset, key, fields, warnings)
    remove_stale(directory, label, path)
    return dataset


def remove_stale(directory: Path, label: str, current: Path) -> None:
    """Delete older cache files of the same source, size and split; one that will not go only wastes space."""
    for stale in directory.glob(f"{label}-*.safetensors"):
        if stale != current:
            try:
                stale.unlink(missing_ok=True)
            except OSError:
                pass
