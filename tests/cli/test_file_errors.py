"""Files that cannot be written or read, for real (root included): one line on stderr and exit code 2, never a
traceback; the last good checkpoint stays, and no temporary file outlives the next successful run."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.storage.limits import limit_file_size
from unnoise.cli import main
from unnoise.runs import step_folders


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unnoise: error: "), lines
    return lines[0]


@pytest.fixture
def blocker(tmp_path) -> Path:
    """A regular file where a folder is needed: a failure that stops root as well as anyone."""
    path = tmp_path / "blocker"
    path.write_text("a file")
    return path


def temporaries(folder: Path) -> list[Path]:
    """Files and folders a write in progress leaves: '.NAME.xxxx.tmp' (atomic writes) and state/.tmp-* (checkpoints)."""
    return [path for path in folder.rglob(".*") if ".tmp" in path.name]


def test_outputs_through_a_file_name_the_file(trained_run, tmp_path, blocker, capsys):
    picture = tmp_path / "face.png"
    Image.new("RGB", (20, 20), (200, 120, 40)).save(picture)
    assert main(["sample", str(trained_run), "--n", "1", "--steps", "2", "--out", str(blocker / "grid.png")]) == 2
    assert (
        one_error_line(capsys)
        == f"unnoise: error: cannot write {blocker / 'grid.png'}: {blocker} is a file, not a folder"
    )
    assert main(["noise", str(picture), "--out", str(blocker / "strip.png")]) == 2
    assert one_error_line(capsys).endswith(f"strip.png: {blocker} is a file, not a folder")
    # A run folder inside a file fails where the API makes the folder (an OSError today): one line all the same.
    assert main(["train", "--out", str(blocker / "run"), "--data", "builtin:64", "--quiet"]) == 2
    assert one_error_line(capsys).endswith(f"{blocker} is a file, not a folder")
    assert sorted(tmp_path.iterdir()) == [blocker, picture]


def test_an_image_that_is_a_folder_is_one_line(tmp_path, capsys):
    assert main(["noise", str(tmp_path), "--out", str(tmp_path / "strip.png")]) == 2
    assert one_error_line(capsys) == f"unnoise: error: cannot read {tmp_path}: Is a directory"


def run_limited(arguments: list[str], max_bytes: int) -> subprocess.CompletedProcess:
    """The CLI in a child process that may write no file past max_bytes ('File too large', as a full disk would)."""
    return subprocess.run(
        [sys.executable, "-m", "unnoise", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: limit_file_size(max_bytes),
    )


def test_a_grid_too_large_to_write_keeps_the_old_one(trained_run, tmp_path):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"the previous grid")
    result = run_limited(["sample", str(trained_run), "--n", "4", "--steps", "2", "--out", str(grid)], 1000)
    assert result.returncode == 2
    assert result.stderr.strip() == f"unnoise: error: cannot write {grid}: File too large"
    assert grid.read_bytes() == b"the previous grid" and sorted(tmp_path.iterdir()) == [grid]


def test_a_checkpoint_that_cannot_be_written_keeps_the_last_good_one(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    published = (run / "model.safetensors").read_bytes()
    # The weights (190 KB) cannot be written; the logs and config (a few KB) can.
    result = run_limited(["train", "--resume", "--out", str(run), "--steps", "9", "--quiet"], 100_000)
    assert result.returncode == 2
    assert result.stderr.strip() == f"unnoise: error: cannot write {run / 'state' / 'step_0000009'}: File too large"
    assert [folder.name for folder in step_folders(run)] == ["step_0000003", "step_0000006"]
    assert (run / "model.safetensors").read_bytes() == published and temporaries(run) == []
    # With room again, the run continues from the last good checkpoint and leaves nothing temporary behind.
    assert main(["train", "--resume", "--out", str(run), "--steps", "9", "--quiet"]) == 0
    assert [folder.name for folder in step_folders(run)] == ["step_0000006", "step_0000009"]
    assert temporaries(run) == []
    assert [line.split(",")[0] for line in (run / "log.csv").read_text().splitlines()][-1] == "9"


def test_a_read_only_folder_is_refused_before_the_work(trained_run, tmp_path, monkeypatch, capsys):
    """A read-only mount (os.access says so, even to root, who cannot be stopped by permissions here) fails before
    the samples or the Inception features that would be lost."""
    import os

    import unnoise.metrics.images
    import unnoise.runs

    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != read_only and real_access(path, mode))

    def work(*arguments, **keywords):
        raise AssertionError("the work ran before the output was checked")

    monkeypatch.setattr(unnoise.runs.Run, "sample", work)
    monkeypatch.setattr(unnoise.metrics.images, "extract_features", work)
    sample = ["sample", str(trained_run), "--n", "1", "--steps", "2"]
    assert main([*sample, "--out", str(read_only / "grid.png")]) == 2
    assert (
        one_error_line(capsys)
        == f"unnoise: error: cannot write {read_only / 'grid.png'}: the folder {read_only} is read-only"
    )
    assert main([*sample, "--out", str(tmp_path / "grid.png"), "--images-dir", str(read_only / "each")]) == 2
    assert one_error_line(capsys).endswith(f"the folder {read_only} is read-only")
    assert main(["fid-stats", "builtin:4", "--size", "16", "--out", str(read_only / "ref.npz"), "--quiet"]) == 2
    assert one_error_line(capsys).endswith(f"the folder {read_only} is read-only")
    assert list(read_only.iterdir()) == [] and not (tmp_path / "grid.png").exists()
