import json
import logging
import os

import pytest
import torch

import unnoise.data.builtin
import unnoise.data.cache
import unnoise.data.decoding
import unnoise.data.transforms
from unnoise.data import open_dataset
from unnoise.data.cache import cache_directory

from .make_files import write_image, write_tiny_celeba


@pytest.fixture
def count_decodes(monkeypatch):
    """Counts files decoded from now on."""
    calls = []
    real_load_rgb = unnoise.data.transforms.load_rgb

    def counting_load_rgb(path, *arguments):
        calls.append(path.name)
        return real_load_rgb(path, *arguments)

    monkeypatch.setattr(unnoise.data.decoding, "load_rgb", counting_load_rgb)
    return calls


def photos(root):
    for number in range(3):
        write_image(root / f"{number}.png", (80 * number, 40, 40))
    return root


def open_photos(root, **options):
    return open_dataset(f"folder:{root}", 8, progress=False, **options)


def cache_files(directory):
    return sorted(directory.glob("*.safetensors"))


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
    expected = open_photos(root).images
    [path] = cache_files(isolated_cache)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2] if damage is None else damage)
    count_decodes.clear()
    assert torch.equal(open_photos(root).images, expected)
    assert len(count_decodes) == 3
    assert any("unreadable" in record.getMessage() and "rebuilding" in record.getMessage() for record in caplog.records)
    count_decodes.clear()
    open_photos(root)
    assert count_decodes == []  # the rebuilt file is good


def test_cache_file_metadata_is_readable_json(tmp_path, isolated_cache):
    from safetensors import safe_open

    open_photos(photos(tmp_path / "photos"))
    [path] = cache_files(isolated_cache)
    with safe_open(path, framework="pt") as file:
        header = json.loads(file.metadata()["unnoise"])
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
        f"could not write data cache (cannot write {in_the_way}/cache/"
    )
    assert warnings[0].endswith(
        f": {in_the_way} is a file, not a folder); continuing without it, set UNNOISE_CACHE to a writable folder"
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
