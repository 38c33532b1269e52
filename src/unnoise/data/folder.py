"""Reader for any folder tree of images: centre square crop, resize, no attributes.

Trees are read as people build them: nested to any depth, assembled from other places through links to folders
or files, suffixes in any case. What is left out, and why, is counted in one warning line.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from .captions import is_caption_file
from .dataset import ImageDataset
from .decoding import DecodePlan, decode_in_memory
from .transforms import center_square_box
from .warn import counted_with_examples, logger

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")

# Why an entry of the tree is not read, as the warning words it, in the warning's order.
NOT_AN_IMAGE = "not images by their suffix"
UNREADABLE = "unreadable"
HIDDEN = "hidden"  # a name starting with '.'
SEEN = "links to a folder read already"
REASONS = (NOT_AN_IMAGE, UNREADABLE, HIDDEN, SEEN)


@dataclass
class FolderListing:
    """The image files of a tree (relative POSIX paths, sorted) and what was left out: reason -> paths (folders end
    in '/')."""

    names: list[str]
    left_out: dict[str, list[str]] = field(default_factory=dict)

    def leave_out(self, reason: str, name: str) -> None:
        self.left_out.setdefault(reason, []).append(name)


def require_folder(root: Path) -> None:
    if not root.exists():
        raise UserError(f"data folder {root} does not exist; check the path")
    if not root.is_dir():
        raise UserError(f"data path {root} is a file, not a folder; point to the folder that holds the images")


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def scan_folder(root: Path) -> FolderListing:
    """Every image file under root, following links to folders and files, each folder read once.

    Left out, by reason: hidden files and folders (macOS leaves '._photo.jpg' metadata files that are not images),
    files of other types, broken links and folders that cannot be listed, and links to a folder read already (a
    loop, or a second link to one folder). Caption files (captions.py) are not left out: they are read elsewhere.
    Raises UserError when root is missing or not a folder.
    """
    require_folder(root)
    listing = FolderListing(names=[])
    read_folders = {os.path.realpath(root)}

    def unlistable(error: OSError) -> None:
        listing.leave_out(UNREADABLE, relative_name(root, Path(error.filename)) + "/")

    for folder, subfolders, files in os.walk(root, onerror=unlistable, followlinks=True):
        here = Path(folder)
        subfolders[:] = folders_to_enter(root, here, subfolders, read_folders, listing)
        image_stems = {os.path.splitext(name)[0] for name in files if is_image_file(name)}
        for name in sorted(files):
            relative = relative_name(root, here / name)
            if name.startswith("."):
                listing.leave_out(HIDDEN, relative)
            elif is_caption_file(name, image_stems):  # read by captions.py, not an image left out
                continue
            elif not is_image_file(name):
                listing.leave_out(NOT_AN_IMAGE, relative)
            elif not (here / name).exists():  # a link to a file that is gone
                listing.leave_out(UNREADABLE, relative)
            else:
                listing.names.append(relative)
    listing.names.sort()
    return listing


def folders_to_enter(
    root: Path, here: Path, subfolders: list[str], read_folders: set[str], listing: FolderListing
) -> list[str]:
    """The subfolders of `here` to walk into, in sorted order: not hidden, and not a folder entered already.

    Real folders claim their place before links, so a link to a sibling is the one left out.
    """
    entered = []
    for name in sorted(subfolders, key=lambda name: (os.path.islink(here / name), name)):
        relative = relative_name(root, here / name) + "/"
        real = os.path.realpath(here / name)
        if name.startswith("."):
            listing.leave_out(HIDDEN, relative)
        elif real in read_folders:
            listing.leave_out(SEEN, relative)
        else:
            read_folders.add(real)
            entered.append(name)
    return sorted(entered)


def relative_name(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def list_image_files(root: Path) -> list[str]:
    """Relative POSIX paths of all image files under root, sorted so datasets are reproducible (see scan_folder)."""
    return scan_folder(root).names


def warn_left_out(root: Path, read: int, left_out: dict[str, list[str]]) -> None:
    """One warning line: how many entries of the tree were left out, by reason, with a few examples of each."""
    count = sum(len(names) for names in left_out.values())
    if count == 0:
        return
    reasons = ", ".join(
        counted_with_examples(reason, sorted(left_out[reason])) for reason in REASONS if left_out.get(reason)
    )
    logger.warning(f"read {read} image{'' if read == 1 else 's'} in {root}, left out {count}: {reasons}")


def folder_plan(root: Path, image_size: int, source: str) -> DecodePlan:
    """Every image file of the tree to decode, centre-cropped; what the tree leaves out is warned about at the end."""
    listing = scan_folder(root)
    if not listing.names:
        raise UserError(
            f"no images in {root} or its subfolders (looked for {' '.join(IMAGE_EXTENSIONS)}); point to a folder of "
            "images"
        )

    def report_left_out(kept: list[str], undecodable: list[str]) -> None:
        unreadable = listing.left_out.get(UNREADABLE, []) + undecodable
        warn_left_out(root, len(kept), {**listing.left_out, UNREADABLE: unreadable})

    return DecodePlan(root, listing.names, center_square_box, image_size, source, report_left_out=report_left_out)


def read_folder(root: Path, image_size: int, progress: bool, source: str) -> ImageDataset:
    return decode_in_memory(folder_plan(root, image_size, source), progress)
