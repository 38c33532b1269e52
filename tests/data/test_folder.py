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


def warnings_of(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def test_corrupt_files_are_skipped_with_one_warning(tmp_path, caplog):
    write_image(tmp_path / "good.png")
    for number in range(5):
        write_corrupt(tmp_path / f"bad{number}.jpg")
    dataset = read(tmp_path)
    assert dataset.names == ["good.png"]
    assert warnings_of(caplog) == [
        f"read 1 image in {tmp_path}, left out 5: 5 unreadable (e.g. bad0.jpg, bad1.jpg, bad2.jpg, ...)"
    ]


def test_what_a_tree_leaves_out_is_counted_by_reason_in_one_line(tmp_path, caplog):
    assert len(read(mixed_tree(tmp_path))) == 6
    assert warnings_of(caplog) == [
        f"read 6 images in {tmp_path}, left out 3: 1 not images by their suffix (e.g. notes.txt), "
        "2 hidden (e.g. ._b.jpg, .hidden/)"
    ]


def tree_as_users_build_it(root):
    """A photo tree as people make them: deep folders, suffixes in any case, parts linked in from elsewhere,
    a link looping back, a second link to one folder, a broken link, a damaged photo and hidden clutter."""
    elsewhere, tree = root / "elsewhere", root / "tree"
    write_image(elsewhere / "cats" / "c1.png", (10, 200, 10))
    write_image(elsewhere / "best.png", (7, 7, 7))
    deep = tree.joinpath(*[f"d{level}" for level in range(40)])
    write_image(deep / "deep.png", (250, 250, 0))
    write_image(tree / "Holiday" / "IMG_0001.JPG", (200, 0, 0))
    write_image(tree / "Holiday" / "scan.Png", (0, 0, 200))
    write_image(tree / "Holiday" / "x.JpEg", (90, 90, 90))
    write_image(tree / "tiff.TIF", (0, 120, 120))
    write_image(tree / "Holiday" / "pic.Gif", (0, 0, 0))
    write_corrupt(tree / "Holiday" / "broken.jpg")
    (tree / "Holiday" / "notes.txt").write_text("where we went")
    (tree / "Thumbs.db").write_bytes(b"\x00" * 8)
    write_corrupt(tree / "Holiday" / "._IMG_0001.JPG")
    (tree / ".DS_Store").write_bytes(b"\x00" * 8)
    write_image(tree / ".thumbnails" / "small.png")
    (tree / "cats").symlink_to(elsewhere / "cats", target_is_directory=True)
    (tree / "cats-again").symlink_to(elsewhere / "cats", target_is_directory=True)
    (tree / "best.png").symlink_to(elsewhere / "best.png")
    (tree / "gone.jpg").symlink_to(elsewhere / "deleted.jpg")
    (tree / "Holiday" / "up").symlink_to(tree, target_is_directory=True)
    return tree


def test_a_tree_built_as_users_build_it_is_read_whole_and_what_is_left_out_is_said(tmp_path, caplog):
    tree = tree_as_users_build_it(tmp_path)
    deep = "/".join(f"d{level}" for level in range(40)) + "/deep.png"
    images = ["Holiday/IMG_0001.JPG", "Holiday/pic.Gif", "Holiday/scan.Png", "Holiday/x.JpEg", "best.png"]
    images += ["cats/c1.png", deep]
    assert list_image_files(tree) == sorted([*images, "Holiday/broken.jpg", "tiff.TIF"])
    dataset = open_dataset(f"folder:{tree}", 8, progress=False)
    assert dataset.names == sorted([*images, "tiff.TIF"])
    colour = {
        name: dataset.images[index].float().mean(dim=(1, 2)).round().tolist()
        for index, name in enumerate(dataset.names)
    }
    assert colour["cats/c1.png"] == [10, 200, 10] and colour["best.png"] == [7, 7, 7]  # read through the links
    assert colour[deep] == [250, 250, 0]
    assert warnings_of(caplog) == [
        f"read 8 images in {tree}, left out 9: 2 not images by their suffix (e.g. Holiday/notes.txt, Thumbs.db), "
        "2 unreadable (e.g. Holiday/broken.jpg, gone.jpg), 3 hidden (e.g. .DS_Store, .thumbnails/, "
        "Holiday/._IMG_0001.JPG), 2 links to a folder read already (e.g. Holiday/up/, cats-again/)"
    ]


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
