import logging

import numpy as np
import pytest
from PIL import Image

from unnoise.data import open_dataset
from unnoise.data.folder import list_image_files, read_folder
from unnoise.errors import UserError

from .make_files import write_corrupt, write_image


def read(root, size=8):
    return read_folder(root, size, progress=False, source=f"folder:{root}")


def mixed_tree(root):
    """Nested folders, every supported suffix in mixed case, several modes, and files to ignore."""
    write_image(root / "b.jpg", (250, 0, 0))
    write_image(root / "a" / "deep" / "c.PNG", (0, 0, 0, 0), mode="RGBA")
    write_image(root / "a" / "d.JPEG", 90, mode="L")
    write_image(root / "a" / "e.webp", (0, 0, 250), lossless=True)
    write_image(root / "f.bmp", (0, 250, 0))
    write_image(root / "a" / "g.png", 40000, mode="I;16")
    (root / "notes.txt").write_text("not an image")
    write_image(root / ".hidden" / "h.png", (1, 2, 3))
    write_corrupt(root / "._b.jpg")  # macOS metadata twin
    return root


def test_lists_images_recursively_sorted_case_insensitive_skipping_hidden(tmp_path):
    names = list_image_files(mixed_tree(tmp_path))
    assert names == ["a/d.JPEG", "a/deep/c.PNG", "a/e.webp", "a/g.png", "b.jpg", "f.bmp"]


def test_every_format_and_mode_decodes_to_the_right_colour(tmp_path):
    dataset = read(mixed_tree(tmp_path))
    colours = {
        name: dataset.images[index].float().mean(dim=(1, 2)).round().tolist()
        for index, name in enumerate(dataset.names)
    }
    expected = {
        "a/d.JPEG": [90, 90, 90],
        "a/deep/c.PNG": [255, 255, 255],
        "a/e.webp": [0, 0, 250],
        "a/g.png": [156, 156, 156],  # 40000 / 257
        "b.jpg": [250, 0, 0],
        "f.bmp": [0, 250, 0],
    }
    for name, colour in expected.items():
        assert np.abs(np.subtract(colours[name], colour)).max() <= 3, name
    assert dataset.images.dtype.is_floating_point is False and dataset.images.shape == (6, 3, 8, 8)
    assert dataset.attributes is None and dataset.attribute_names == []


def test_centre_square_crop(tmp_path):
    thirds = np.zeros((10, 30, 3), dtype=np.uint8)
    thirds[:, :10, 0] = thirds[:, 10:20, 1] = thirds[:, 20:, 2] = 255  # red | green | blue
    Image.fromarray(thirds).save(tmp_path / "wide.png")
    image = read(tmp_path, size=4).images[0]  # (3, 4, 4)
    inner_columns = image[:, :, 1:3]  # the outer ones also blend in pixels just past the box
    assert inner_columns.tolist() == [[[0, 0]] * 4, [[255, 255]] * 4, [[0, 0]] * 4]


def test_corrupt_files_are_skipped_with_one_warning(tmp_path, caplog):
    write_image(tmp_path / "good.png")
    for number in range(5):
        write_corrupt(tmp_path / f"bad{number}.jpg")
    dataset = read(tmp_path)
    assert dataset.names == ["good.png"]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert (
        len(warnings) == 1
        and warnings[0].startswith("5 image files")
        and "bad0.jpg, bad1.jpg, bad2.jpg, ..." in warnings[0]
    )


def test_small_images_are_upscaled_with_one_warning(tmp_path, caplog):
    write_image(tmp_path / "small1.png", size=(6, 6))
    write_image(tmp_path / "small2.png", size=(9, 7))
    write_image(tmp_path / "big.png", size=(40, 40))
    assert read(tmp_path, size=16).images.shape == (3, 3, 16, 16)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("2 images are smaller than 16x16")


def test_empty_non_image_and_missing_folders_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no images in"):
        read(tmp_path)
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(UserError, match="no images in"):
        read(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        read(tmp_path / "missing")
    with pytest.raises(UserError, match="is a file"):
        read(tmp_path / "readme.txt")
    write_corrupt(tmp_path / "only.png")
    with pytest.raises(UserError, match="none of the 1 image files"):
        read(tmp_path)


def test_open_dataset_on_a_bare_folder(tmp_path):
    mixed_tree(tmp_path / "photos")
    dataset = open_dataset(str(tmp_path / "photos"), 8, progress=False)
    assert dataset.source == f"folder:{tmp_path / 'photos'}" and len(dataset) == 6
    with pytest.raises(UserError, match="no valid split"):
        open_dataset(str(tmp_path / "photos"), 8, "valid", progress=False)


def test_progress_bar_goes_to_stderr_only_when_asked(tmp_path, capsys):
    write_image(tmp_path / "photos" / "one.png")
    open_dataset(str(tmp_path / "photos"), 8, progress=False, cache_dir=tmp_path / "quiet")
    assert capsys.readouterr().err == ""
    open_dataset(str(tmp_path / "photos"), 8, progress=True, cache_dir=tmp_path / "loud")
    output = capsys.readouterr()
    assert "decoding photos" in output.err and output.out == ""
