import logging

import numpy as np
import pytest

from unnoise.data import open_dataset
from unnoise.data.celeba import read_celeba, select_celeba_images
from unnoise.errors import UserError

from .make_files import tiny_celeba_colour, write_corrupt, write_lines, write_tiny_celeba


def read(root, split="all", size=16):
    return read_celeba(root, size, split, progress=False, source=f"celeba:{root}")


def number_of(name: str) -> int:
    return int(name.removesuffix(".jpg"))


def test_tiny_celeba_all_keeps_images_with_rows_that_decode(tmp_path, caplog):
    dataset = read(write_tiny_celeba(tmp_path))
    assert dataset.names == [f"{number:06d}.jpg" for number in range(1, 7)]
    assert dataset.images.shape == (6, 3, 16, 16)
    assert dataset.attribute_names == ["Smiling", "Male", "Young"]
    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert messages == [
        "list_attr_celeba.txt and the images disagree: 1 attribute rows have no image (e.g. 000009.jpg), "
        "1 images have no attribute row (e.g. 000008.jpg); using the 7 images that have both",
        f"1 image files in {tmp_path / 'img_align_celeba'} could not be decoded (e.g. 000007.jpg); skipping them",
    ]


def test_tiny_celeba_attributes_and_pixels_line_up_with_names(tmp_path):
    dataset = read(write_tiny_celeba(tmp_path))
    for index, name in enumerate(dataset.names):
        number = number_of(name)
        assert dataset.attributes[index].tolist() == [number % 2, int(number > 3), 1]
        mean_colour = dataset.images[index].float().mean(dim=(1, 2)).numpy()
        assert np.abs(mean_colour - tiny_celeba_colour(number)).max() < 4
    assert dataset.attributes.dtype.is_floating_point is False and set(dataset.attributes.unique().tolist()) <= {0, 1}


@pytest.mark.parametrize(
    "split, numbers", [("train", [1, 2, 3]), ("valid", [4, 5]), ("test", [6]), ("all", [1, 2, 3, 4, 5, 6])]
)
def test_tiny_celeba_splits(tmp_path, split, numbers):
    assert [number_of(name) for name in read(write_tiny_celeba(tmp_path), split).names] == numbers


def test_bad_split_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(UserError, match="train, valid, test, all"):
        read(write_tiny_celeba(tmp_path), "validation")


def test_without_partition_file_train_is_everything_and_valid_is_an_error(tmp_path, caplog):
    root = write_tiny_celeba(tmp_path, partition=False)
    assert len(read(root, "train")) == 6
    assert any("no list_eval_partition.txt" in record.getMessage() for record in caplog.records)
    with pytest.raises(UserError, match="no valid split"):
        read(root, "valid")


def test_without_attribute_file_loads_images_without_attributes(tmp_path, caplog):
    dataset = read(write_tiny_celeba(tmp_path, attributes=False))
    assert len(dataset) == 7  # all 8 images but the corrupt one: without rows none is left out
    assert dataset.attributes is None and dataset.attribute_names == []
    assert any("no list_attr_celeba.txt" in record.getMessage() for record in caplog.records)


def test_missing_image_folder_empty_folder_and_all_corrupt_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no img_align_celeba folder"):
        read(tmp_path)
    (tmp_path / "img_align_celeba").mkdir()
    with pytest.raises(UserError, match="no images in"):
        read(tmp_path)
    write_corrupt(tmp_path / "img_align_celeba" / "000001.jpg")
    with pytest.raises(UserError, match="could be decoded"):
        read(tmp_path)


def test_malformed_annotation_rows_are_user_errors_naming_the_line(tmp_path):
    root = write_tiny_celeba(tmp_path)
    write_lines(root / "list_attr_celeba.txt", ["1", "Smiling Male", "000001.jpg 1 -1", "000002.jpg 1"])
    with pytest.raises(UserError, match="line 4"):
        read(root)
    # A short row then a long one: the total still fits, the rows do not.
    write_lines(root / "list_attr_celeba.txt", ["1", "Smiling Male", "000001.jpg 1", "000002.jpg 1 -1 1"])
    with pytest.raises(UserError, match="line 3: expected a file name and 2 values, found 1"):
        read(root)
    write_lines(root / "list_attr_celeba.txt", ["1", "Smiling Male", "000001.jpg 1 yes"])
    with pytest.raises(UserError, match="line 3: Male is 'yes'"):
        read(root)
    write_lines(root / "list_attr_celeba.txt", ["1", "Smiling Male", "000001.jpg 1 -1"])
    write_lines(root / "list_eval_partition.txt", ["000001.jpg 5"])
    with pytest.raises(UserError, match="list_eval_partition.txt line 1"):
        read(root, "train")


def test_attribute_file_for_other_images_is_a_user_error(tmp_path):
    root = write_tiny_celeba(tmp_path)
    write_lines(root / "list_attr_celeba.txt", ["1", "Smiling", "999999.jpg 1"])
    with pytest.raises(UserError, match="none of the 8 images"):
        read(root)


def test_kaggle_double_nesting_is_found(tmp_path):
    write_tiny_celeba(tmp_path / "unpacked")
    (tmp_path / "img_align_celeba").mkdir()
    (tmp_path / "unpacked" / "img_align_celeba").rename(tmp_path / "img_align_celeba" / "img_align_celeba")
    for name in ("list_attr_celeba.txt", "list_eval_partition.txt"):
        (tmp_path / "unpacked" / name).rename(tmp_path / name)
    assert len(read(tmp_path)) == 6


# Real CelebA, outside the repository (see tests/data/conftest.py for how it is found).


def official_rows(root) -> dict[str, list[int]]:
    lines = (root / "list_attr_celeba.txt").read_text().splitlines()[2:]
    return {fields[0]: [int(value == "1") for value in fields[1:]] for fields in map(str.split, lines)}


@pytest.mark.parametrize("split, count", [("train", 3030), ("valid", 510), ("test", 420), ("all", 3960)])
def test_real_celeba_split_sizes(celeba_root, split, count):
    names, attribute_names, rows = select_celeba_images(celeba_root, split)
    assert len(names) == count and len(attribute_names) == 40


def test_real_celeba_attributes_match_the_official_rows(celeba_root, shared_cache):
    dataset = open_dataset(f"celeba:{celeba_root}", 32, "test", cache_dir=shared_cache, progress=False)
    header = (celeba_root / "list_attr_celeba.txt").read_text().splitlines()[1].split()
    rows = official_rows(celeba_root)
    assert len(dataset) == 420 and dataset.attribute_names == header
    assert dataset.source == f"celeba:{celeba_root.resolve()}"
    for index in (0, 1, 137, 419):
        assert dataset.attributes[index].tolist() == rows[dataset.names[index]]


def test_real_halfres_is_all_train(celeba_halfres_root):
    assert len(select_celeba_images(celeba_halfres_root, "train")[0]) == 9906
    with pytest.raises(UserError, match="split .* is empty"):
        select_celeba_images(celeba_halfres_root, "valid")


def test_full_and_half_resolution_crops_agree(celeba_root, celeba_halfres_root):
    """The crop box scales with the image: the same face at 178x218 and 89x109 gives the same 32x32."""
    from unnoise.data.decoding import decode_images
    from unnoise.data.transforms import celeba_crop_box, center_square_box

    full_names = set(select_celeba_images(celeba_root, "all")[0])
    shared = sorted(full_names & set(select_celeba_images(celeba_halfres_root, "all")[0]))
    assert len(shared) == 183

    def decode(root, crop_box):
        images, kept = decode_images(root / "img_align_celeba", shared, crop_box, 32, progress=False)
        assert kept == shared
        return images.float()

    full = decode(celeba_root, celeba_crop_box)
    difference = (full - decode(celeba_halfres_root, celeba_crop_box)).abs().mean().item()
    misaligned = (full - decode(celeba_halfres_root, center_square_box)).abs().mean().item()
    assert difference < 4 and misaligned > 3 * difference  # measured: 2.1 and 37.6
