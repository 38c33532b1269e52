"""The cache shared by processes: memory-mapped, built by one process while others wait, resumed after a kill."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from unnoise.data import open_dataset
from unnoise.data.cache import BuildWatcher
from unnoise.data.cache_build import partial_paths
from unnoise.data.cache_file import SUFFIX, read_header
from unnoise.data.celeba import read_celeba
from unnoise.data.folder import read_folder

from .conftest import REPO_ROOT
from .make_files import write_noise_image, write_tiny_celeba

PHOTOS = 12


def noise_photos(root: Path) -> Path:
    for number in range(PHOTOS):
        write_noise_image(root / f"{number:02d}.png", size=(12, 10), seed=number)
    return root


def in_memory(root: Path) -> torch.Tensor:
    return read_folder(root, 8, progress=False, source=f"folder:{root}").images


def start_slow_build(root: Path, cache: Path, seconds_per_file: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.data.slow_build", str(root), str(seconds_per_file)]
    environment = {**os.environ, "UNNOISE_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_checkpoint(cache: Path, builder: subprocess.Popen, done: int) -> dict:
    """The first checkpoint of the build in cache with at least `done` files done."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert builder.poll() is None, builder.stderr.read().decode()
        for checkpoint in cache.glob(f"*{SUFFIX}.partial.json"):
            state = json.loads(checkpoint.read_text())
            if state["done"] >= done:
                return state
        time.sleep(0.02)
    raise AssertionError("the build made no progress")


def finished_files(cache: Path) -> list[Path]:
    return sorted(cache.glob(f"*{SUFFIX}"))


def test_the_opened_dataset_is_a_map_of_the_cache_file_not_a_copy(tmp_path, isolated_cache):
    dataset = open_dataset(f"folder:{noise_photos(tmp_path / 'photos')}", 8, progress=False)
    [path] = finished_files(isolated_cache)
    assert dataset.cache_file == path
    assert torch.equal(dataset.images, in_memory(tmp_path / "photos"))
    if Path("/proc/self/maps").exists():
        assert str(path) in Path("/proc/self/maps").read_text()


def test_a_second_process_waits_for_the_build_and_then_reads_it(tmp_path, isolated_cache, count_decodes, caplog):
    root = noise_photos(tmp_path / "photos")
    builder = start_slow_build(root, isolated_cache, seconds_per_file=0.2)
    state = wait_for_checkpoint(isolated_cache, builder, done=1)
    assert state["done"] < PHOTOS and finished_files(isolated_cache) == []  # still being built
    with caplog.at_level(logging.INFO, logger="unnoise"):
        dataset = open_dataset(f"folder:{root}", 8, progress=True)
    assert builder.wait(timeout=120) == 0 and builder.stdout.read().decode().strip() == f"built {PHOTOS}"
    assert count_decodes == []  # this process decoded nothing: it read what the other one built
    assert any(
        "waiting for another process to build the data cache" in record.getMessage() for record in caplog.records
    )
    [path] = finished_files(isolated_cache)
    assert dataset.cache_file == path and torch.equal(dataset.images, in_memory(root))


def test_a_build_killed_midway_is_never_read_and_resumes_from_its_checkpoint(tmp_path, isolated_cache, count_decodes):
    root = noise_photos(tmp_path / "photos")
    builder = start_slow_build(root, isolated_cache, seconds_per_file=0.1)
    wait_for_checkpoint(isolated_cache, builder, done=5)
    builder.send_signal(signal.SIGKILL)
    builder.wait(timeout=60)
    assert finished_files(isolated_cache) == []  # nothing looks finished
    [checkpoint] = isolated_cache.glob("*.partial.json")
    done = json.loads(checkpoint.read_text())["done"]
    assert 5 <= done < PHOTOS
    dataset = open_dataset(f"folder:{root}", 8, progress=False)
    assert len(count_decodes) == PHOTOS - done  # only the files after the checkpoint were decoded again
    assert dataset.names == [f"{number:02d}.png" for number in range(PHOTOS)]
    assert torch.equal(dataset.images, in_memory(root))
    [path] = finished_files(isolated_cache)
    assert not any(leftover.exists() for leftover in partial_paths(path))


def built_then_unfinished(tmp_path, cache):
    """A folder whose cache was built, then its finished file removed: (root, its images, the cache key, the paths of
    an unfinished build (rows, status, checkpoint) for a test to fill)."""
    root = noise_photos(tmp_path / "photos")
    expected = open_dataset(f"folder:{root}", 8, progress=False).images.clone()
    [path] = finished_files(cache)
    key = read_header(path)[0]["key"]
    path.unlink()
    return root, expected, key, partial_paths(path)


@pytest.mark.parametrize("damage", ["another key", "rows cut short", "garbage"])
def test_an_unusable_unfinished_build_is_started_over(tmp_path, isolated_cache, count_decodes, damage):
    root, expected, key, (rows, status, checkpoint) = built_then_unfinished(tmp_path, isolated_cache)
    rows.write_bytes(b"\x07" * (3 * 8 * 8) * (2 if damage == "rows cut short" else 4))  # 4 rows of a wrong colour
    status.write_bytes(b"kkkk")
    state = {"key": "another" if damage == "another key" else key, "done": 4, "kept": 4, "total": PHOTOS}
    checkpoint.write_text("{not json" if damage == "garbage" else json.dumps(state))
    count_decodes.clear()
    again = open_dataset(f"folder:{root}", 8, progress=False)
    assert len(count_decodes) == PHOTOS and torch.equal(again.images, expected)


def test_a_checkpoint_of_the_same_key_is_resumed_as_it_stands(tmp_path, isolated_cache, count_decodes):
    """The converse of the test above: with the right key, the rows before the checkpoint are kept, not re-decoded."""
    root, expected, key, (rows, status, checkpoint) = built_then_unfinished(tmp_path, isolated_cache)
    rows.write_bytes(bytes(3 * 8 * 8) * 4 + b"torn")  # four black rows, then the start of a fifth
    status.write_bytes(b"kkkkk")
    checkpoint.write_text(json.dumps({"key": key, "done": 4, "kept": 4, "total": PHOTOS}))
    count_decodes.clear()
    again = open_dataset(f"folder:{root}", 8, progress=False)
    assert len(count_decodes) == PHOTOS - 4
    assert torch.equal(again.images[4:], expected[4:]) and again.images[:4].max() == 0  # trusted, as checkpointed


def test_celeba_images_and_attributes_read_back_from_the_map_equal_the_decoded_ones(tmp_path, isolated_cache):
    root = write_tiny_celeba(tmp_path / "celeba")
    mapped = open_dataset(f"celeba:{root}", 8, "all", progress=False)
    decoded = read_celeba(root, 8, "all", progress=False, source=f"celeba:{root}")
    assert mapped.cache_file is not None and mapped.names == decoded.names
    assert torch.equal(mapped.images, decoded.images) and torch.equal(mapped.attributes, decoded.attributes)
    assert mapped.attribute_names == decoded.attribute_names == ["Smiling", "Male", "Young"]
    assert mapped.attributes.sum() > 0  # not an all-zero region that happens to match


def test_a_waiter_starts_its_bar_where_the_build_stands_so_its_rate_counts_only_what_it_saw(tmp_path):
    path = tmp_path / "faces.uint8"
    checkpoint = partial_paths(path)[2]
    checkpoint.write_text(json.dumps({"key": "k", "done": 5000, "kept": 5000, "total": 9000}))
    watcher = BuildWatcher(path, progress=True)
    watcher()
    assert (watcher.bar.initial, watcher.bar.n, watcher.bar.total) == (5000, 5000, 9000)
    checkpoint.write_text(json.dumps({"key": "k", "done": 6000, "kept": 6000, "total": 9000}))
    watcher()
    assert watcher.bar.n - watcher.bar.initial == 1000  # the rate's numerator: what was decoded while it watched
    watcher.close()
