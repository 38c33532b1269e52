"""Writes that fail for real (no space, a file too large, a file where a folder should be) are one-line WriteErrors
naming the path and the reason; the old file stays and no temporary file is left."""

import errno
import os
from pathlib import Path

import pytest
import torch

from unnoise.errors import UserError
from unnoise.storage.atomic import WriteError, append_text, make_folder, write_bytes_atomic, write_text_atomic
from unnoise.storage.weights import save_tensors

from .limits import file_size_limit


def file_in_the_way(tmp_path: Path) -> Path:
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file where a folder is needed")
    return blocker


def test_a_path_through_a_file_names_the_file(tmp_path):
    blocker = file_in_the_way(tmp_path)
    for target in (blocker / "grid.png", blocker / "deeper" / "grid.png"):
        with pytest.raises(WriteError) as failed:
            write_text_atomic(target, "x")
        assert str(failed.value) == f"cannot write {target}: {blocker} is a file, not a folder"
        assert isinstance(failed.value, UserError)
    with pytest.raises(WriteError, match=f"^cannot write {blocker}: {blocker} is a file, not a folder$"):
        make_folder(blocker)
    assert sorted(tmp_path.iterdir()) == [blocker]


def test_a_write_too_large_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "weights.bin"
    write_bytes_atomic(target, b"old")
    with file_size_limit(10_000):
        with pytest.raises(WriteError, match=f"^cannot write {target}: File too large$"):
            write_bytes_atomic(target, b"\x01" * 100_000)
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]


def test_a_folder_where_the_file_should_be(tmp_path):
    (tmp_path / "log.csv").mkdir()
    with pytest.raises(WriteError, match=f"^cannot write {tmp_path / 'log.csv'}: Is a directory$"):
        write_text_atomic(tmp_path / "log.csv", "step,loss\n")
    with pytest.raises(WriteError, match=f"^cannot write {tmp_path / 'log.csv'}: Is a directory$"):
        append_text(tmp_path / "log.csv", "1,0.5\n")
    assert [path.name for path in tmp_path.iterdir()] == ["log.csv"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_appending_to_a_full_device_is_no_space():
    with pytest.raises(WriteError, match="^cannot write /dev/full: No space left on device$"):
        append_text("/dev/full", "1,0.5\n")


def test_safetensors_io_failures_are_the_os_errors_they_are(tmp_path):
    tensors = {"weight": torch.zeros(50_000)}
    with file_size_limit(10_000):
        with pytest.raises(OSError) as failed:
            save_tensors(tensors, tmp_path / "big.safetensors")
    assert failed.value.errno == errno.EFBIG and failed.value.filename == str(tmp_path / "big.safetensors")
    with pytest.raises(OSError) as failed:
        save_tensors(tensors, file_in_the_way(tmp_path) / "weights.safetensors")
    assert failed.value.errno == errno.ENOTDIR


def test_a_special_file_or_folder_is_refused_before_anything_is_written(tmp_path):
    # A rename over /dev/null would turn the device into a regular file; nothing may replace what is not a file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "folder").mkdir()
    reason = "it is a device, pipe or socket, not a regular file; name a file to write"
    for target, said in ((Path("/dev/null"), reason), (fifo, reason), (tmp_path / "folder", "Is a directory")):
        with pytest.raises(WriteError) as failed:
            write_bytes_atomic(target, b"x")
        assert str(failed.value) == f"cannot write {target}: {said}"
    assert Path("/dev/null").is_char_device() and fifo.is_fifo()
    assert sorted(tmp_path.iterdir()) == [tmp_path / "folder", fifo]


def test_a_link_to_a_file_is_written_and_an_empty_name_is_refused(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    write_text_atomic(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").read_text() == "new"
    for write in (lambda: write_text_atomic("", "x"), lambda: make_folder("")):
        with pytest.raises(WriteError) as failed:
            write()
        assert str(failed.value).startswith("cannot write '': the path is empty")
