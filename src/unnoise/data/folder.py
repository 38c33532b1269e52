"""Reader for any folder tree of images: centre square crop, resize, no attributes."""

import os
from pathlib import Path

from ..errors import UserError
from .dataset import ImageDataset
from .decoding import decode_images
from .transforms import center_square_box

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def require_folder(root: Path) -> None:
    if not root.exists():
        raise UserError(f"data folder {root} does not exist; check the path")
    if not root.is_dir():
        raise UserError(f"data path {root} is a file, not a folder; point to the folder that holds the images")


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def list_image_files(root: Path) -> list[str]:
    """Relative POSIX paths of all image files under root, in sorted order so datasets are reproducible.

    Hidden files and folders are skipped: macOS leaves '._photo.jpg' metadata files that are not images.
    """
    require_folder(root)
    names = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        relative_folder = Path(folder).relative_to(root)
        names += [
            (relative_folder / name).as_posix() for name in files if is_image_file(name) and not name.startswith(".")
        ]
    return sorted(names)


def read_folder(root: Path, image_size: int, progress: bool, source: str) -> ImageDataset:
    names = list_image_files(root)
    if not names:
        raise UserError(
            f"no images in {root} or its subfolders (looked for {' '.join(IMAGE_EXTENSIONS)}); point to a folder of "
            "images"
        )
    images, kept = decode_images(root, names, center_square_box, image_size, progress)
    return ImageDataset(images=images, names=kept, attribute_names=[], attributes=None, source=source)
