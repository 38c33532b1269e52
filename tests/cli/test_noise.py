"""`unnoise noise`: a run's own schedule and size with --run, and the classic strip without."""

import numpy as np
from PIL import Image

from tests.viz.strips import strip_columns
from unnoise.cli import main


def test_without_a_run_the_classic_strip_of_seven_at_T_1000(tmp_path, capsys):
    picture, out = tmp_path / "face.png", tmp_path / "strip.png"
    Image.new("RGB", (80, 60), (200, 120, 40)).save(picture)
    assert main(["noise", str(picture), "--out", str(out), "--size", "16"]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert len(strip_columns(Image.open(out), 16)) == 7  # t = 0, 50, 100, 200, 400, 700, 999


def test_a_run_brings_its_size_and_schedule_which_flags_may_not_replace(trained_run, tmp_path, capsys):
    picture, out = tmp_path / "face.png", tmp_path / "strip.png"
    Image.new("RGB", (80, 60), (200, 120, 40)).save(picture)
    assert main(["noise", str(picture), "--run", str(trained_run), "--out", str(out)]) == 0
    columns = strip_columns(Image.open(out), 16)  # the run's 16 x 16 images, at its T = 100: 0, 5, ..., 99
    assert len(columns) == 7 and columns[0].shape == (16, 16, 3)
    assert np.abs(columns[0].astype(int) - (200, 120, 40)).max() <= 6  # t = 0 keeps the picture (noise 0.01)
    assert main(["noise", str(picture), "--run", str(trained_run), "--schedule", "cosine"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == ["unnoise: error: --run brings the run's own schedule: leave out --schedule and --num-timesteps"]
