"""Captions of a folder's images, in the two conventions people use.

- metadata.jsonl (Hugging Face imagefolder): one JSON object per line, {"file_name": "a.jpg", "text": "a caption"}.
  file_name is relative to the folder that holds the metadata.jsonl: the root or any folder with images below it.
  "text" may be a list of captions; "caption" is read where "text" is absent; null means no caption. Rows that
  name one image (in one file or several) add their captions together.
- NAME.txt beside NAME.jpg (same folder, same stem; NAME.TXT too): each non-empty line is one caption.

Where both caption an image, metadata.jsonl's captions win (counted in one warning). Empty captions count as
missing. A metadata.jsonl that cannot be read is a UserError naming the file (and line): it speaks for many images.
A sidecar that cannot be read (not UTF-8, say) is skipped, counted in one warning: it speaks for one image only.
Captions are read at every open, never cached with the images, so editing them needs no rebuild of the cache.
"""

from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path

from ..errors import UserError
from .warn import warn_with_examples

METADATA_FILE = "metadata.jsonl"
SIDECAR_SUFFIX = ".txt"
CAPTION_COLUMNS = ("text", "caption")  # the first one a row has is its caption(s)
ROW_EXAMPLE = '{"file_name": "a.jpg", "text": "a photo of ..."}'


def is_caption_file(name: str, image_stems: set[str]) -> bool:
    """Whether file `name` of a folder whose images have these stems holds captions (so it is not left out)."""
    stem, suffix = posixpath.splitext(name)
    return name == METADATA_FILE or (suffix.lower() == SIDECAR_SUFFIX and stem in image_stems)


def folders_of(names: list[str]) -> list[str]:
    """Every folder holding one of names, and each folder above it up to the root (""): shallow ones first."""
    folders = {""}
    for name in names:
        folder = posixpath.dirname(name)
        while folder not in folders:
            folders.add(folder)
            folder = posixpath.dirname(folder)
    return sorted(folders, key=lambda folder: (folder.count("/") + bool(folder), folder))


def captions_of_row(row: object, path: Path, line: int) -> tuple[str, list[str]]:
    """One metadata.jsonl row -> (file_name, its non-empty captions); UserError for a row that is not one."""
    where = f"{path} line {line}"
    if not isinstance(row, dict):
        raise UserError(f"{where} is not a JSON object; write one per line, like {ROW_EXAMPLE}")
    file_name = row.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        raise UserError(f'{where} has no "file_name" string (the image\'s path from its folder); e.g. {ROW_EXAMPLE}')
    column = next((column for column in CAPTION_COLUMNS if column in row), None)
    value = None if column is None else row[column]
    texts = value if isinstance(value, list) else [] if value is None else [value]
    if not all(isinstance(text, str) for text in texts):
        shown = json.dumps(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise UserError(f'{where} has "{column}": {shown}; write a string or a list of strings')
    return file_name, [text.strip() for text in texts if text.strip()]


def read_metadata(path: Path) -> list[tuple[str, list[str]]]:
    """(file_name, captions) per row of one metadata.jsonl, blank lines skipped; UserError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a byte order mark, as some Windows editors write
    except UnicodeDecodeError as error:
        raise UserError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    rows = []
    # Not splitlines: JSON strings may hold U+2028 and other characters that it also splits at.
    for line, content in enumerate(text.split("\n"), start=1):
        if not content.strip():
            continue
        try:
            row = json.loads(content)
        except json.JSONDecodeError as error:
            raise UserError(
                f"{path} line {line} is not JSON ({error.msg} at column {error.colno}); write one object per line, "
                f"like {ROW_EXAMPLE}"
            ) from None
        rows.append(captions_of_row(row, path, line))
    return rows


def metadata_captions(root: Path, names: list[str]) -> dict[str, list[str]]:
    """Image name -> its captions from every metadata.jsonl in root or a folder above an image; one warning counts
    rows that name no image of the dataset."""
    images = set(names)
    captions: dict[str, list[str]] = {}
    unknown: list[str] = []
    for folder in folders_of(names):
        path = root / folder / METADATA_FILE
        if not path.is_file():
            continue
        for file_name, texts in read_metadata(path):
            name = posixpath.normpath(posixpath.join(folder, file_name))
            # A Windows path ("sub\\a.jpg" in JSON) where no image has that name: a POSIX name may hold a backslash.
            if name not in images and "\\" in file_name:
                name = posixpath.normpath(posixpath.join(folder, file_name.replace("\\", "/")))
            if name in images:
                captions.setdefault(name, []).extend(texts)
            else:
                unknown.append(posixpath.join(folder, METADATA_FILE) + f": {file_name}")
    if unknown:
        rows = "row of {} names" if len(unknown) == 1 else "rows of {} name"
        warn_with_examples(f"{rows.format(METADATA_FILE)} no image of {root}", unknown, "left unused")
    return captions


def sidecars_in(folder: Path) -> dict[str, str]:
    """Stem -> caption file name of a folder's files: NAME.txt, or where there is none NAME.TXT or another case of the
    suffix (cameras and Windows tools write upper case), the first by name."""
    try:
        with os.scandir(folder) as entries:
            files = [entry.name for entry in entries if entry.is_file()]
    except OSError:
        return {}
    found: dict[str, str] = {}
    for file in sorted(files, key=lambda file: (not file.endswith(SIDECAR_SUFFIX), file)):
        stem, suffix = posixpath.splitext(file)
        if suffix.lower() == SIDECAR_SUFFIX:
            found.setdefault(stem, file)
    return found


def sidecar_captions(root: Path, names: list[str]) -> dict[str, list[str]]:
    """Image name -> the non-empty lines of NAME.txt (or NAME.TXT) beside it; unreadable ones are skipped with one
    warning."""
    listed: dict[str, dict[str, str]] = {}
    captions: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for name in names:
        folder = posixpath.dirname(name)
        if folder not in listed:
            listed[folder] = sidecars_in(root / folder)
        sidecar = listed[folder].get(posixpath.splitext(posixpath.basename(name))[0])
        if sidecar is None:
            continue
        try:
            text = (root / folder / sidecar).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            unreadable.append(posixpath.join(folder, sidecar))
            continue
        captions[name] = [line.strip() for line in text.split("\n") if line.strip()]
    if unreadable:
        files = "caption file is" if len(unreadable) == 1 else "caption files are"
        warn_with_examples(f"{files} unreadable or not UTF-8", unreadable, "left without a caption")
    return captions


def read_captions(root: Path, names: list[str]) -> list[list[str]]:
    """The captions of each image of a folder dataset (names: POSIX paths relative to root), [] where it has none.

    Each image's captions are distinct, in the order their files give them.
    """
    from_metadata = metadata_captions(root, names)
    from_sidecars = sidecar_captions(root, names)
    both = sorted(name for name in from_metadata if from_metadata[name] and from_sidecars.get(name))
    if both:
        images_have = "image has" if len(both) == 1 else "images have"
        warn_with_examples(
            f"{images_have} captions in both {METADATA_FILE} and NAME{SIDECAR_SUFFIX}",
            both,
            f"{METADATA_FILE}'s are used",
        )
    return [list(dict.fromkeys(from_metadata.get(name) or from_sidecars.get(name) or [])) for name in names]
