import json
import logging
import os

import pytest
import torch

import unnoise.data.builtin
import unnoise.data.cache
import unnoise.data.decoding
from unnoise.data import open_dataset
from unnoise.data.cache import cache_directory
from unnoise.data.cache_file import MAGIC, SUFFIX, TRAILER, read_header
from unnoise.errors import UserError

from .make_files import write_image, write_tiny_celeba


def photos(root):
    for number in range(3):
        write_image(root / f"{number}.png", (80 * number, 40, 40))
    return root


def open_photos(root, **options):
    return open_dataset(f"folder:{root}", 8, progress=False, **options)


def cache_files(directory):
    return sorted(directory.glob(f"*{SUFFIX}"))


def test_second_open_reads_the_cache_and_matches(tmp_path, count_decodes, isolated_cache):
    first = open_photos(photos(tmp_path / "photos"))
    assert len(count_decodes) == 3 and len(cache_files(isolated_cache)) == 1
    second = open_photos(tmp_path / "photos")
    assert len(count_decodes) == 3
    assert torch.equal(first.images, second.images) and first.names == second.names
    assert second.source == first.source


def test_celeba_cache_keeps_attributes_and_separates_splits(tmp_path, count_decodes, isolated_cache):
    root = write_tiny_celeba(tmp_path / "celeba")
    first = open_dataset(f"celeba:{root}", 8, "train", progress=False)
    again = open_dataset(f"celeba:{root}", 8, "train", progress=False)
    valid = open_dataset(f"celeba:{root}", 8, "valid", progress=False)
    assert count_decodes == ["000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg", "000005.jpg"]
    assert torch.equal(first.attributes, again.attributes) and again.attribute_names == ["Smiling", "Male", "Young"]
    assert [name for name in valid.names] == ["000004.jpg", "000005.jpg"]


@pytest.mark.parametrize("change", ["touch", "rewrite", "add", "remove"])
def test_changing_the_files_invalidates_the_cache(tmp_path, count_decodes, isolated_cache, change):
    root = photos(tmp_path / "photos")
    open_photos(root)
    if change == "touch":
        stat = (root / "1.png").stat()
        os.utime(root / "1.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    elif change == "rewrite":
        write_image(root / "1.png", (1, 2, 3), size=(30, 30))
    elif change == "add":
        write_image(root / "3.png")
    else:
        (root / "2.png").unlink()
    count_decodes.clear()
    dataset = open_photos(root)
    assert len(count_decodes) == len(dataset) > 0
    assert len(cache_files(isolated_cache)) == 1  # the stale file was removed


def test_changing_an_annotation_file_invalidates_the_cache(tmp_path, count_decodes):
    root = write_tiny_celeba(tmp_path / "celeba")
    open_dataset(f"celeba:{root}", 8, "train", progress=False)
    count_decodes.clear()
    (root / "list_eval_partition.txt").unlink()
    assert len(open_dataset(f"celeba:{root}", 8, "train", progress=False)) == 6
    assert len(count_decodes) == 7  # 8 images, less the one without attributes


@pytest.mark.parametrize("damage", [b"", b"not a safetensors file", None])
def test_a_damaged_cache_file_is_rebuilt_with_a_warning(tmp_path, count_decodes, isolated_cache, caplog, damage):
    root = photos(tmp_path / "photos")
    expected = open_photos(root).images.clone()  # a copy: truncating a mapped file in place would fault its map
    [path] = cache_files(isolated_cache)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2] if damage is None else damage)
    count_decodes.clear()
    assert torch.equal(open_photos(root).images, expected)
    assert len(count_decodes) == 3
    assert any("unreadable" in record.getMessage() and "rebuilding" in record.getMessage() for record in caplog.records)
    count_decodes.clear()
    open_photos(root)
    assert count_decodes == []  # the rebuilt file is good


def test_cache_file_header_is_readable_json_after_the_rows(tmp_path, isolated_cache):
    dataset = open_photos(photos(tmp_path / "photos"))
    [path] = cache_files(isolated_cache)
    header, rows_bytes = read_header(path)
    assert rows_bytes == 3 * 3 * 8 * 8 and path.read_bytes()[:rows_bytes] == dataset.images.numpy().tobytes()
    length = int.from_bytes(path.read_bytes()[-16:-8], "little")
    assert json.loads(path.read_bytes()[-16 - length : -16]) == header
    assert header["images"] == [3, 3, 8, 8] and header["attributes"] is None
    assert header["names"] == ["0.png", "1.png", "2.png"]
    assert header["fields"]["image_size"] == 8 and header["fields"]["crop"] == "center_square"
    assert header["file_count"] == 3


def test_a_cache_that_cannot_be_written_is_skipped_with_a_warning(tmp_path, caplog):
    # A real failure, even for root: the cache folder's parent is a regular file.
    in_the_way = tmp_path / "not-a-folder"
    in_the_way.write_text("a file")
    dataset = open_photos(photos(tmp_path / "photos"), cache_dir=in_the_way / "cache")
    assert len(dataset) == 3
    warnings = [record.getMessage() for record in caplog.records if "data cache" in record.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith(
        f"could not write the data cache (cannot write {in_the_way}/cache/"
    )
    assert warnings[0].endswith(
        f": {in_the_way} is a file, not a folder); decoding into this process's memory instead (UNNOISE_CACHE names "
        "a folder with room, where the processes of a machine share one mapped copy)"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["not-a-folder", "photos"]  # nothing else written


def test_builtin_data_is_cached(monkeypatch):
    first = open_dataset("builtin:20:5", 16, progress=False)
    monkeypatch.setattr(unnoise.data.builtin, "draw_face", None)  # drawing again would fail
    second = open_dataset("builtin:20:5", 16, progress=False)
    assert torch.equal(first.images, second.images) and torch.equal(first.attributes, second.attributes)


def test_cache_directory_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("UNNOISE_CACHE", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_directory(tmp_path / "argument") == tmp_path / "argument"
    assert cache_directory() == tmp_path / "env"
    monkeypatch.delenv("UNNOISE_CACHE")
    assert cache_directory() == tmp_path / "xdg" / "unnoise"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_directory() == tmp_path / "home" / ".cache" / "unnoise"


def test_cache_dir_argument_is_used(tmp_path, isolated_cache):
    open_photos(photos(tmp_path / "photos"), cache_dir=tmp_path / "mine")
    assert len(cache_files(tmp_path / "mine")) == 1 and not isolated_cache.exists()


def test_a_cached_open_repeats_the_warnings_of_the_first(tmp_path, count_decodes, caplog):
    root = write_tiny_celeba(tmp_path / "celeba")
    open_dataset(f"celeba:{root}", 8, "all", progress=False)
    first = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    caplog.clear()
    open_dataset(f"celeba:{root}", 8, "all", progress=False)
    again = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(first) == 2 and again == first
    assert len(count_decodes) == 7  # the second open decoded nothing


def test_a_header_whose_image_shape_does_not_fit_its_rows_is_damage(tmp_path, count_decodes, isolated_cache, caplog):
    """(3, 3, 32, 2) holds as many bytes as (3, 3, 8, 8): the shape itself must be (N, 3, S, S)."""
    root = photos(tmp_path / "photos")
    expected = open_photos(root).images.clone()
    [path] = cache_files(isolated_cache)
    header, rows_bytes = read_header(path)
    rows = path.read_bytes()[:rows_bytes]
    text = json.dumps({**header, "images": [3, 3, 32, 2]}).encode()
    path.write_bytes(rows + text + TRAILER.pack(len(text), MAGIC))
    count_decodes.clear()
    assert torch.equal(open_photos(root).images, expected) and len(count_decodes) == 3
    assert any("is not (N, 3, S, S)" in record.getMessage() for record in caplog.records)


def test_a_disk_without_room_for_the_cache_is_found_before_writing(tmp_path, isolated_cache, caplog, monkeypatch):
    """A full disk found midway would leave a partial file filling it: the room is checked first, the images are
    decoded into memory instead, and when memory is short too the refusal says what each would need."""
    monkeypatch.setattr(
        unnoise.data.cache.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 100, "total": 100})()
    )
    root = photos(tmp_path / "photos")
    dataset = open_photos(root)
    assert len(dataset) == 3 and dataset.cache_file is None and cache_files(isolated_cache) == []
    [warning] = [record.getMessage() for record in caplog.records if "data cache" in record.getMessage()]
    assert "the cache needs 0.00 GB more in" in warning and "which has 0.00 GB free" in warning
    monkeypatch.setattr(unnoise.data.decoding, "available_memory", lambda: 10)
    with pytest.raises(UserError, match=r"need 0.00 GB at 8x8, more than the 0.00 GB of memory free"):
        open_photos(root)
