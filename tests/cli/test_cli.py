"""The command line end to end on tiny settings, and every bad input as one line with exit code 2."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from unnoise.cli import main
from unnoise.train.checkpoint import step_folders

from .conftest import ANY_OBJECTIVE_FLAGS, TINY_FLAGS


def test_train_writes_a_complete_run_folder(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["data"]["image_size"] == 16 and config["model"]["channel_mult"] == [1, 2]
    assert config["train"]["steps"] == 6 and config["diffusion"]["timesteps"] == 100
    assert (trained_run / "model.safetensors").is_file()
    assert [folder.name for folder in step_folders(trained_run)] == ["step_0000003", "step_0000006"]
    assert (trained_run / "samples" / "step_0000006.png").is_file()
    assert (trained_run / "log.csv").read_text().splitlines()[0] == "step,loss,lr,images_per_s,elapsed_s"


def test_sample_writes_grid_images_and_trajectory(trained_run, tmp_path, capsys):
    grid, images, strip = tmp_path / "grid.png", tmp_path / "images", tmp_path / "strip.png"
    code = main(
        [
            "sample",
            str(trained_run),
            "--n",
            "6",
            "--steps",
            "10",
            "--out",
            str(grid),
            "--images-dir",
            str(images),
            "--trajectory",
            str(strip),
            "--seed",
            "3",
        ]
    )
    assert code == 0
    assert sorted(path.name for path in images.iterdir()) == [f"sample_{i:05d}.png" for i in range(6)]
    assert Image.open(images / "sample_00000.png").size == (16, 16)
    # 6 images in a 3x2 grid, each 16 px upscaled 4x plus 2 px padding.
    assert Image.open(grid).size == (3 * 66 + 2, 2 * 66 + 2)
    assert Image.open(strip).size[0] > Image.open(strip).size[1]
    # The same seed gives the same pictures.
    again = tmp_path / "again"
    assert (
        main(
            [
                "sample",
                str(trained_run),
                "--n",
                "6",
                "--steps",
                "10",
                "--out",
                str(tmp_path / "g2.png"),
                "--images-dir",
                str(again),
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert (images / "sample_00004.png").read_bytes() == (again / "sample_00004.png").read_bytes()


def test_noise_draws_the_forward_process(tmp_path):
    picture = tmp_path / "face.png"
    Image.new("RGB", (80, 60), (200, 120, 40)).save(picture)
    out = tmp_path / "strip.png"
    assert main(["noise", str(picture), "--out", str(out), "--timesteps", "0,500,999", "--size", "32"]) == 0
    strip = torch.from_numpy(np.array(Image.open(out))).float()
    width = strip.shape[1]
    assert width == 3 * (128 + 2) + 2  # three columns of 32 px shown 4x
    first, last = strip[2:130, 2:130], strip[2:130, 2 + 2 * 130 : 130 + 2 * 130]
    # t=0 is still the flat colour (each channel nearly constant); t=999 is noise.
    assert first.reshape(-1, 3).std(dim=0).max() < 3 < 30 < last.reshape(-1, 3).std(dim=0).min()


def test_resume_continues_to_more_steps(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    assert main(["train", "--resume", "--out", str(run), "--steps", "9", "--quiet"]) == 0
    assert step_folders(run)[-1].name == "step_0000009"
    assert main(["train", "--resume", "--out", str(run), "--steps", "5", "--quiet"]) == 2
    assert main(["train", "--resume", "--out", str(run), "--steps", "12", "--preset", "celeba32", "--quiet"]) == 2
    assert step_folders(run)[-1].name == "step_0000009"  # neither touched the run
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        f"unnoise: error: {run} has trained 9 steps, more than the 5 asked for: give more steps to continue it",
        f"unnoise: error: {run} trains preset demo; a resumed run keeps it: leave out --preset",
    ]


def write_corrupt_folder(path):
    path.mkdir()
    (path / "broken.jpg").write_bytes(b"not a jpeg at all")


BAD_INPUTS = {
    "missing data path": lambda tmp: ["train", "--out", str(tmp / "r"), *TINY_FLAGS, "--data", "folder:/no/such/place"],
    "empty folder": lambda tmp: (
        (tmp / "empty").mkdir() or ["train", "--out", str(tmp / "r"), *TINY_FLAGS, "--data", f"folder:{tmp / 'empty'}"]
    ),
    "only corrupt images": lambda tmp: (
        write_corrupt_folder(tmp / "bad")
        or ["train", "--out", str(tmp / "r"), *TINY_FLAGS, "--data", f"folder:{tmp / 'bad'}"]
    ),
    "unknown data kind": lambda tmp: ["train", "--out", str(tmp / "r"), *TINY_FLAGS, "--data", "imagenet:foo"],
    "not a number": lambda tmp: ["train", "--out", str(tmp / "r"), *TINY_FLAGS, "--steps", "many"],
    "unknown flag": lambda tmp: ["train", "--out", str(tmp / "r"), "--stepz", "3"],
    "flags that exclude each other": lambda tmp: ["interpolate", "r", "--seeds", "1,2", "--images", "a", "b"],
    "missing argument": lambda tmp: ["sample"],
    "unknown preset": lambda tmp: ["train", "--preset", "celeba128"],
    "image size the network cannot take": lambda tmp: [
        "train",
        "--out",
        str(tmp / "r"),
        *TINY_FLAGS,
        "--image-size",
        "17",
    ],
    "negative learning rate": lambda tmp: ["train", "--out", str(tmp / "r"), *TINY_FLAGS, "--lr", "-1"],
    "unknown schedule": lambda tmp: ["train", "--out", str(tmp / "r"), *TINY_FLAGS, "--schedule", "exponential"],
    "preset without data": lambda tmp: ["train", "--preset", "celeba32", "--out", str(tmp / "r")],
    "empty data": lambda tmp: ["train", "--data", "", "--out", str(tmp / "r")],
    "resume of nothing": lambda tmp: ["train", "--resume", "--out", str(tmp / "nothing")],
    "sample from a non-run": lambda tmp: ["sample", str(tmp)],
    "sample from a missing folder": lambda tmp: ["sample", str(tmp / "missing")],
    "noise on a missing image": lambda tmp: ["noise", str(tmp / "missing.png")],
    "noise on a corrupt image": lambda tmp: (
        (tmp / "bad.png").write_bytes(b"garbage") and ["noise", str(tmp / "bad.png")]
    ),
    "noise timestep out of range": lambda tmp: (
        Image.new("RGB", (8, 8)).save(tmp / "ok.png") or ["noise", str(tmp / "ok.png"), "--timesteps", "0,1000"]
    ),
    "bad device": lambda tmp: ["train", "--out", str(tmp / "r"), *TINY_FLAGS, "--device", "tpu"],
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_code_2(case, tmp_path, capsys):
    code = main(BAD_INPUTS[case](tmp_path))
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    # argparse's own errors name the subcommand as argparse does ("unnoise train: error: ..."), once.
    assert len(error) == 1 and re.match(r"unnoise( [a-z-]+)?: error: ", error[0]), error
    assert "Traceback" not in error[0] and error[0].count("unnoise") == 1


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-minutes", "inf"], "--max-minutes must be a finite number, got inf"),
        (["--objective", "edm", "--p-mean", "nan"], "--p-mean must be a finite number, got nan"),
        (["--weight-decay", "inf"], "--weight-decay must be a finite number"),
        (["--seed", "-1"], "--seed must be an integer in [0, 2^63), got -1"),
        (["--timesteps", "1000", "--beta-start", "0.5", "--beta-end", "0.9"], "alpha_bar reaches 0 at step"),
        (["--timesteps", "1000000"], "alpha_bar reaches 0 at step"),
    ],
)
def test_settings_that_would_fail_later_are_refused_before_anything_is_written(flags, message, tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), *ANY_OBJECTIVE_FLAGS, *flags]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1, error
    assert not (tmp_path / "r").exists()


def test_wrong_or_damaged_checkpoint_is_a_user_error(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "damaged"
    shutil.copytree(trained_run, run)
    (run / "model.safetensors").write_bytes(b"\x01\x02")
    assert main(["sample", str(run), "--n", "1", "--steps", "2"]) == 2
    config = json.loads((run / "config.json").read_text())
    shutil.copy(trained_run / "model.safetensors", run / "model.safetensors")
    config["model"]["base_channels"] = 16  # the weights no longer fit the network the config describes
    (run / "config.json").write_text(json.dumps(config))
    assert main(["sample", str(run), "--n", "1", "--steps", "2"]) == 2
    (run / "config.json").write_text("{not json")
    assert main(["sample", str(run), "--n", "1", "--steps", "2"]) == 2
    # hand-edited to the wrong type, or to a value no run can use
    for setting, value in (
        ("channel_mult", 5),
        ("base_channels", "32"),
        ("dropout", float("nan")),
        ("base_channels", -8),
    ):
        (run / "config.json").write_text(json.dumps({**config, "model": {**config["model"], setting: value}}))
        assert main(["sample", str(run), "--n", "1", "--steps", "2"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 7 and all(line.startswith("unnoise: error: ") for line in errors)
    assert errors[-4:] == [
        "unnoise: error: model.channel_mult must be a list of whole numbers, got 5",
        "unnoise: error: model.base_channels must be a whole number, got '32'",
        "unnoise: error: --dropout must be a finite number, got nan",
        "unnoise: error: --base-channels must be at least 4, got -8",
    ]


def test_an_existing_run_is_never_overwritten(trained_run, capsys):
    before = (trained_run / "model.safetensors").read_bytes()
    assert main(["train", "--out", str(trained_run), *TINY_FLAGS]) == 2
    assert "--resume" in capsys.readouterr().err
    assert (trained_run / "model.safetensors").read_bytes() == before


def test_python_dash_m_reports_bad_flags_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "unnoise", "sample"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_each_objective_trains_and_samples_with_its_default_sampler(tmp_path, capsys):
    """--objective picks the formulation; the run stores it and `sample` uses its default sampler, printing the NFE."""
    flags = ANY_OBJECTIVE_FLAGS
    for objective, expected in [
        ("flow", "euler, 7 steps, uniform spacing, NFE 7"),
        ("edm", "heun, 7 steps, karras spacing, NFE 13"),
    ]:
        out = tmp_path / objective
        assert (
            main(
                [
                    "train",
                    "--out",
                    str(out),
                    *flags,
                    "--objective",
                    objective,
                    "--weighting",
                    "uniform",
                    "--default-steps",
                    "7",
                ]
            )
            == 0
        )
        assert json.loads((out / "config.json").read_text())["diffusion"]["objective"] == objective
        capsys.readouterr()
        assert main(["sample", str(out), "--n", "2", "--device", "cpu", "--out", str(tmp_path / "g.png")]) == 0
        assert expected in capsys.readouterr().out
    assert main(["sample", str(tmp_path / "edm"), "--n", "2", "--spacing", "uniform", "--device", "cpu"]) == 2
    assert "--spacing uniform does not apply to objective edm" in capsys.readouterr().err


def test_weights_trained_as_another_objective_are_refused(tmp_path, capsys):
    """One network's tensors fit every objective; an EDM run's weights in a flow run's folder would sample noise."""
    import shutil

    runs = {}
    for objective in ("edm", "flow"):
        runs[objective] = tmp_path / objective
        flags = [*ANY_OBJECTIVE_FLAGS, "--steps", "2", "--objective", objective, "--out", str(runs[objective])]
        assert main(["train", *flags]) == 0
    shutil.copy(runs["edm"] / "model.safetensors", runs["flow"] / "model.safetensors")
    capsys.readouterr()
    assert main(["sample", str(runs["flow"]), "--n", "1", "--steps", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"unnoise: error: {runs['flow'] / 'model.safetensors'} holds weights with trained_as 'diffusion edm' where its "
        "config.json says 'diffusion flow'; wrong checkpoint?"
    )


def test_a_budget_below_what_the_run_spent_points_past_the_minutes_it_trained(tmp_path, capsys):
    import re as regex

    run = ["train", "--out", str(tmp_path / "r"), *TINY_FLAGS, "--steps", "100000", "--checkpoint-every", "0"]
    assert main([*run, "--max-minutes", "0.02"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(tmp_path / "r"), "--max-minutes", "0.01", "--quiet"]) == 0
    above = float(regex.search(r"with M above ([0-9.e-]+)\)", capsys.readouterr().out).group(1))
    assert above >= 0.02  # the minutes the run has trained, not the 0.01 just given
