"""Reader for the official CelebA layout: img_align_celeba/, list_attr_celeba.txt, list_eval_partition.txt."""

import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from .celeba_annotations import read_attribute_file, read_partition_file
from .dataset import ImageDataset
from .decoding import DecodePlan, decode_in_memory
from .folder import is_image_file, require_folder
from .transforms import celeba_crop_box
from .warn import counted_with_examples, logger, warn_with_examples

IMAGE_FOLDER = "img_align_celeba"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
PARTITION_CODES = {"train": 0, "valid": 1, "test": 2}
SPLITS = ("train", "valid", "test", "all")


def list_images_in(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if is_image_file(name) and not name.startswith("."))


def image_folder(root: Path) -> Path:
    """root/img_align_celeba, or root/img_align_celeba/img_align_celeba as the Kaggle zip unpacks."""
    require_folder(root)
    folder = root / IMAGE_FOLDER
    if not folder.is_dir():
        raise UserError(
            f"{root} has no {IMAGE_FOLDER} folder; point celeba: at the folder that holds {IMAGE_FOLDER}/ "
            f"and {ATTRIBUTE_FILE}, or use folder:{root} for plain images"
        )
    if (folder / IMAGE_FOLDER).is_dir() and not list_images_in(folder):
        return folder / IMAGE_FOLDER
    return folder


def celeba_source_files(root: Path) -> list[str]:
    """Every file the dataset is built from, relative to root; the cache key fingerprints them."""
    folder = image_folder(root)
    prefix = folder.relative_to(root).as_posix()
    annotations = [name for name in (ATTRIBUTE_FILE, PARTITION_FILE) if (root / name).is_file()]
    return [f"{prefix}/{name}" for name in list_images_in(folder)] + annotations


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def match_attribute_rows(root: Path, names: list[str]) -> tuple[list[str], list[str], dict[str, np.ndarray] | None]:
    """Keep the images that have an attribute row -> (names, attribute names, rows or None)."""
    if not (root / ATTRIBUTE_FILE).is_file():
        logger.warning(f"no {ATTRIBUTE_FILE} in {root}; loading the images without attributes")
        return names, [], None
    attribute_names, rows = read_attribute_file(root / ATTRIBUTE_FILE)
    image_set = set(names)
    rows_without_image = sorted(name for name in rows if name not in image_set)
    images_without_row = [name for name in names if name not in rows]
    if len(images_without_row) == len(names):
        raise UserError(
            f"none of the {len(names)} images in {root} has a row in {ATTRIBUTE_FILE}; "
            "use the attribute file that belongs to these images, or remove it to load them without attributes"
        )
    if rows_without_image or images_without_row:
        logger.warning(
            f"{ATTRIBUTE_FILE} and the images disagree: "
            f"{counted_with_examples('attribute rows have no image', rows_without_image)}, "
            f"{counted_with_examples('images have no attribute row', images_without_row)}; "
            f"using the {len(names) - len(images_without_row)} images that have both"
        )
    return [name for name in names if name in rows], attribute_names, rows


def select_split(root: Path, names: list[str], split: str) -> list[str]:
    if split == "all":
        return names
    if not (root / PARTITION_FILE).is_file():
        if split != "train":
            raise UserError(
                f"{root} has no {PARTITION_FILE}, so there is no {split} split; add that file or use split train or all"
            )
        logger.warning(f"no {PARTITION_FILE} in {root}; training on all {len(names)} images")
        return names
    partition = read_partition_file(root / PARTITION_FILE)
    unassigned = [name for name in names if name not in partition]
    if unassigned:
        warn_with_examples(
            f"images have no row in {PARTITION_FILE}", unassigned, f"leaving them out of the {split} split"
        )
    return [name for name in names if partition.get(name) == PARTITION_CODES[split]]


def select_celeba_images(root: Path, split: str) -> tuple[list[str], list[str], dict[str, np.ndarray] | None]:
    """The image names of a split (sorted), the attribute names and the attribute rows, without decoding."""
    check_split(split)
    folder = image_folder(root)
    names = list_images_in(folder)
    if not names:
        raise UserError(f"no images in {folder}; unpack the CelebA {IMAGE_FOLDER} images there")
    names, attribute_names, rows = match_attribute_rows(root, names)
    names = select_split(root, names, split)
    if not names:
        raise UserError(f"the {split} split of {root} is empty; check {PARTITION_FILE} or use split all")
    return names, attribute_names, rows


def celeba_plan(root: Path, image_size: int, split: str, source: str) -> DecodePlan:
    """The files of a split to decode, with their attribute rows; nothing is decoded yet."""
    names, attribute_names, rows = select_celeba_images(root, split)
    return DecodePlan(
        image_folder(root),
        names,
        celeba_crop_box,
        image_size,
        source,
        attribute_names=attribute_names,
        attribute_rows=rows,
    )


def read_celeba(root: Path, image_size: int, split: str, progress: bool, source: str) -> ImageDataset:
    return decode_in_memory(celeba_plan(root, image_size, split, source), progress)
