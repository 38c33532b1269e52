"""`unnoise noise`: a run's own schedule and size with --run, and the classic strip without."""

import numpy as np
from PIL import Image

from tests.cli.conftest import ANY_OBJECTIVE_FLAGS
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


def test_a_flow_run_draws_its_own_straight_path_and_a_vae_run_has_none(tmp_path, capsys):
    """--run on a flow-matching run: frames (1 - t) x_0 + t eps, labelled t=0 ... t=1; a VAE run: one line, exit 2."""
    picture = tmp_path / "face.png"
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(picture)
    for family, flags in (("flow", ["--objective", "flow"]), ("vae", ["--model", "vae"])):
        run = tmp_path / family
        assert main(["train", "--out", str(run), *ANY_OBJECTIVE_FLAGS, "--steps", "2", *flags]) == 0
    out = tmp_path / "strip.png"
    assert main(["noise", str(picture), "--run", str(tmp_path / "flow"), "--out", str(out)]) == 0
    columns = strip_columns(Image.open(out), 16)
    assert len(columns) == 7 and np.abs(columns[0].astype(int) - 200).max() <= 1  # t = 0: the picture itself
    assert columns[-1].astype(float).std() > 40  # t = 1: nothing but noise
    capsys.readouterr()
    assert main(["noise", str(picture), "--run", str(tmp_path / "vae"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith("has no forward (noising) process to picture")
