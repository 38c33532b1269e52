"""Datasets as one uint8 tensor, memory-mapped from the cache: built-in cartoon faces, CelebA, or any image folder."""

from functools import partial
from pathlib import Path

from ..errors import UserError
from .builtin import BUILTIN_VERSION, generate_faces
from .cache import fingerprint_files, folder_label, load_or_build
from .captions import read_captions
from .celeba import SPLITS, celeba_plan, celeba_source_files, check_split
from .dataset import ImageDataset
from .folder import folder_plan, list_image_files
from .spec import DataSpec, parse_data_spec

__all__ = ["ImageDataset", "open_dataset", "parse_data_spec", "DataSpec", "SPLITS"]


def open_dataset(
    spec: str,
    image_size: int,
    split: str = "train",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    captions: bool = False,
) -> ImageDataset:
    """Open 'builtin[:N[:SEED]]', 'celeba:PATH', 'folder:PATH' or a bare PATH at image_size x image_size.

    split is train, valid, test or all; only CelebA with its partition file has valid and test.
    The preprocessed images are cached (see cache.py), so only the first open decodes files, and are memory-mapped
    from the cache file, so the processes of one machine share one copy of them. With captions=True (the runs and
    tools that read captions) a folder's captions (captions.py) are read afresh, never cached; otherwise they are
    not read at all, so a broken caption file never stops an unconditional run.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise UserError(f"image size must be a positive whole number of pixels, got {image_size!r}")
    check_split(split)
    data = parse_data_spec(spec)
    if data.kind != "celeba" and split in ("valid", "test"):
        hint = "use split train or all"
        if data.kind == "builtin":
            hint += ", and another seed for held-out faces, e.g. builtin:4096:1"
        raise UserError(f"{data.kind} data has no {split} split; {hint}")

    if data.kind == "builtin":
        label = f"builtin-{data.count}-seed{data.seed}-{image_size}px"
        fields = {"reader": "builtin", "count": data.count, "seed": data.seed, "version": BUILTIN_VERSION}
        build = partial(generate_faces, data.count, data.seed, image_size, progress, data.source)
    elif data.kind == "celeba":
        label = folder_label("celeba", data.path, image_size, split)
        fields = path_fields(data, celeba_source_files(data.path), "celeba", split)
        build = partial(celeba_plan, data.path, image_size, split, data.source)
    else:
        label = folder_label("folder", data.path, image_size, "all")
        fields = path_fields(data, list_image_files(data.path), "center_square", "all")
        build = partial(folder_plan, data.path, image_size, data.source)
    dataset = load_or_build(label, {**fields, "image_size": image_size}, build, cache_dir, progress)
    if captions and data.kind == "folder":
        dataset.captions = read_captions(data.path, dataset.names)
    return dataset


def path_fields(data: DataSpec, files: list[str], crop: str, split: str) -> dict:
    """What a dataset read from files depends on; the files by name, size and modification time."""
    files_key = fingerprint_files(data.path, files)
    return {"reader": data.kind, "source": str(data.path), "files": files_key, "crop": crop, "split": split}
