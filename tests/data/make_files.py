"""Helpers that write small image and annotation files for the data tests."""

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, colour=(200, 100, 50), size=(24, 30), mode="RGB", **save_options) -> Path:
    """A solid-colour image file; the format follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, **save_options)
    return path


def write_noise_image(path: Path, size=(40, 50), seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def write_corrupt(path: Path) -> Path:
    """A file with an image suffix whose bytes are a truncated JPEG header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 truncated")
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write with CRLF endings, as the official CelebA files have."""
    path.write_bytes("".join(line + "\r\n" for line in lines).encode())
    return path


def tiny_celeba_colour(number: int) -> tuple[int, int, int]:
    return (30 * number, 250 - 30 * number, 120)


def write_tiny_celeba(root: Path, attributes=True, partition=True) -> Path:
    """A CelebA layout with the usual flaws.

    Images 000001-000006 are fine, 000007 is corrupt, 000008 has no attribute row and an attribute
    row names 000009, which has no image. The header count is wrong (99). Attributes:
    Smiling = odd number, Male = number > 3, Young = always. Partition: 1-3 and 8 train,
    4-5 valid, 6-7 and 9 test.
    """
    images = root / "img_align_celeba"
    for number in range(1, 9):
        if number == 7:
            write_corrupt(images / "000007.jpg")
        else:
            write_image(images / f"{number:06d}.jpg", tiny_celeba_colour(number), size=(178, 218), quality=95)
    if attributes:
        rows = [f"{number:06d}.jpg {' ' if number % 2 else ''}{1 if number % 2 else -1}  {1 if number > 3 else -1} 1"
                for number in (1, 2, 3, 4, 5, 6, 7, 9)]  # fmt: skip
        write_lines(root / "list_attr_celeba.txt", ["99", "Smiling Male Young "] + rows)
    if partition:
        split_of = {1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 2, 7: 2, 8: 0, 9: 2}
        write_lines(root / "list_eval_partition.txt", [f"{n:06d}.jpg {split}" for n, split in split_of.items()])
    return root


# EXIF orientation 6: the stored pixels are shown turned 90 degrees clockwise, as phones store portrait photos.
EXIF_ORIENTATION_TAG, ROTATE_CLOCKWISE = 0x0112, 6
RED, BLUE = (200, 30, 30), (30, 30, 200)


def write_rotated_jpeg(path: Path) -> Path:
    """A 32x32 JPEG stored red above blue, tagged to be shown turned clockwise: upright it is blue left, red right."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = Image.new("RGB", (32, 32), RED)
    stored.paste(BLUE, (0, 16, 32, 32))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = ROTATE_CLOCKWISE
    stored.save(path, format="JPEG", quality=95, exif=exif)
    return path


def huge_png_bytes(width: int = 12000, height: int = 12000) -> bytes:
    """A valid black-and-white PNG of width x height pixels in a few kilobytes, written row by row (little memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit per pixel, greyscale
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed pixels
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
