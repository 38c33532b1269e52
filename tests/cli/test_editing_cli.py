"""edit, inpaint, invert and interpolate from the command line: their pictures, their numbers, and bad inputs as one
line with exit code 2."""

import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

import unnoise
from tests.conftest import tiny_config
from unnoise.cli import main
from unnoise.cli.commands import decibels
from unnoise.config import override
from unnoise.families.editing import Inversion


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("editing-files")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(folder / "face.png")  # not square
    Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(folder / "other.jpg")
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 255
    Image.fromarray(mask).save(folder / "mask.png")
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(folder / "colour.png")
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(folder / "black.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def run_cli(capsys, *argv):
    code = main([str(part) for part in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_edit_and_inpaint_write_their_strips(trained_run, files, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys,
        "edit",
        trained_run,
        files / "face.png",
        "--strength",
        "0.6",
        "--n",
        "3",
        "--steps",
        "10",
        "--out",
        tmp_path / "edit.png",
    )
    assert code == 0 and "3 edits at strength 0.6" in out
    # input + 3 edits, each 16 px shown 4x with 2 px padding, and a row of labels
    assert Image.open(tmp_path / "edit.png").size == (4 * 66 + 2, 66 + 2 + 14)
    code, out, _ = run_cli(
        capsys,
        "inpaint",
        trained_run,
        files / "face.png",
        "--mask",
        files / "mask.png",
        "--jump-length",
        "2",
        "--resample",
        "3",
        "--steps",
        "10",
        "--out",
        tmp_path / "fill.png",
    )
    assert (
        code == 0
        and "1 inpainting of" in out
        and "26 solver steps (jumping back 2 levels, each stretch walked 3" in out
    )  # 10, and 2 jumps back 2 from 9, 7, 5, 3
    assert Image.open(tmp_path / "fill.png").size == (3 * 66 + 2, 66 + 2 + 14)


@pytest.mark.parametrize("objective", ["ddpm", "edm", "flow"])
def test_invert_reports_a_bounded_reconstruction_error_on_a_trained_model(objective, tmp_path, capsys):
    config = override(tiny_config(steps=30, checkpoint_every=0), {"diffusion.objective": objective})
    run = unnoise.train(config, out=tmp_path / objective, progress=False)
    faces = unnoise.open_dataset("builtin:8:5", 16, progress=False).images[:2]  # two faces of the kind it learned
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for face, path in zip(faces, paths):
        Image.fromarray(face.permute(1, 2, 0).numpy()).save(path)
    code, out, _ = run_cli(capsys, "invert", run.path, *paths, "--steps", "20", "--out", tmp_path / "inversion.png")
    assert code == 0
    errors = [float(value) for value in re.search(r"RMSE ([\d.]+), ([\d.]+) in pixel", out).groups()]
    # Out of 255, where the two faces differ by 111: each step solved to its fixed point undoes inversion nearly.
    assert all(error < 3 for error in errors), out
    picture = Image.open(tmp_path / "inversion.png")
    assert picture.size == (3 * 66 + 2, 2 * 66 + 2 + 14)  # input, noise, reconstruction for each of two pictures
    assert errors == pytest.approx(run.invert(faces, steps=20).error.tolist(), abs=0.01)


def test_interpolate_between_seeds_and_between_pictures(trained_run, files, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys,
        "interpolate",
        trained_run,
        "--seeds",
        "1,2",
        "--n",
        "5",
        "--steps",
        "10",
        "--out",
        tmp_path / "seeds.png",
    )
    assert code == 0 and "5 frames between seeds 1 and 2" in out and "ddim" in out
    assert Image.open(tmp_path / "seeds.png").size == (5 * 66 + 2, 66 + 2 + 14)
    run = unnoise.load_run(trained_run, device="cpu")
    first = np.array(Image.open(tmp_path / "seeds.png"))[2:66, 2:66]
    sample = run.sample(1, seed=1, steps=10, sampler="ddim")[0]
    assert np.array_equal(first[::4, ::4], sample.permute(1, 2, 0).numpy())  # frame 0 is seed 1's own sample
    code, out, _ = run_cli(
        capsys,
        "interpolate",
        trained_run,
        "--images",
        files / "face.png",
        files / "other.jpg",
        "--n",
        "4",
        "--steps",
        "10",
        "--out",
        tmp_path / "pictures.png",
    )
    assert code == 0 and "between the two pictures' inversions" in out
    assert Image.open(tmp_path / "pictures.png").size == (6 * 66 + 2, 66 + 2 + 14)  # A, 4 frames, B


@pytest.mark.parametrize(
    "argv, message",
    [
        (["edit", "{run}", "{files}/missing.png"], "no such image"),
        (["edit", "{run}", "{files}/broken.png"], "is not an image"),
        (["edit", "{run}", "{files}/face.png", "--strength", "1.5"], "--strength must be a number in [0, 1]"),
        (["edit", "{run}", "{files}/face.png", "--strength", "-0.1"], "--strength must be a number in [0, 1]"),
        (["inpaint", "{run}", "{files}/face.png", "--mask", "{files}/broken.png"], "--mask"),
        (["inpaint", "{run}", "{files}/face.png", "--mask", "{files}/none.png"], "does not exist"),
        (["inpaint", "{run}", "{files}/face.png", "--mask", "{files}/colour.png"], "must be black and white"),
        (["inpaint", "{run}", "{files}/face.png", "--mask", "{files}/black.png"], "marks no pixel to redraw"),
        (["inpaint", "{run}", "{files}/face.png", "--mask", "{files}/mask.png", "--resample", "0"], "--resample"),
        (["inpaint", "{run}", "{files}/face.png"], "--mask"),
        (["invert", "{run}", "{files}/face.png", "--sampler", "ddpm"], "deterministic --sampler"),
        (["interpolate", "{run}", "--seeds", "4"], "two --seeds"),
        (["interpolate", "{run}"], "--seeds"),
        (["edit", "{run}", "{files}/face.png", "--attrs", "Smiling"], "without a condition"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_code_2(trained_run, files, capsys, argv, message):
    code, out, err = run_cli(capsys, *[part.format(run=trained_run, files=files) for part in argv])
    assert code == 2 and out == "", (out, err)
    assert len(err.strip().splitlines()) == 1 and re.match(r"unnoise( [a-z]+)?: error: ", err) and message in err, err


def test_the_known_pixels_survive_the_command_line_exactly(trained_run, files, tmp_path, capsys):
    run = unnoise.load_run(trained_run, device="cpu")
    filled = run.inpaint(files / "face.png", files / "mask.png", steps=5, jump_length=2, resample=2)
    original = run.pictures(files / "face.png")
    redraw = unnoise.sampling.pictures.masks_for_run(files / "mask.png", 16)[0, 0]
    assert torch.equal(filled[0][:, ~redraw], original[0][:, ~redraw])


def test_the_out_suffix_decides_the_format_as_sample_does(trained_run, files, tmp_path, capsys):
    for tool, extra in (
        ("edit", []),
        ("inpaint", ["--mask", files / "mask.png", "--resample", "1"]),
        ("invert", []),
    ):
        out = tmp_path / f"{tool}.jpg"
        code, printed, err = run_cli(
            capsys, tool, trained_run, files / "face.png", *extra, "--steps", "2", "--out", out
        )
        assert code == 0 and f"wrote {out}" in printed, err
        assert Image.open(out).format == "JPEG"
    code, _, _ = run_cli(
        capsys, "interpolate", trained_run, "--seeds", "1,2", "--n", "2", "--steps", "2", "--out", tmp_path / "i.webp"
    )
    assert code == 0 and Image.open(tmp_path / "i.webp").format == "WEBP"
    code, out, err = run_cli(capsys, "edit", trained_run, files / "face.png", "--out", tmp_path / "x.gif")
    assert code == 2 and out == "" and err.strip().count("\n") == 0
    assert "--out" in err and "names no picture format" in err and not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("tool", ["edit", "invert", "interpolate"])
def test_an_out_that_is_not_a_regular_file_is_refused_before_any_work(trained_run, files, tmp_path, capsys, tool):
    # A rename over a device node turns it into a regular file (as root, /dev/null stops being one); a pipe stands in.
    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    ends = ["--seeds", "1,2"] if tool == "interpolate" else [files / "face.png"]
    for out, said in ((pipe, "not a regular file"), ("", "argument --out: needs a file name")):
        code, printed, err = run_cli(capsys, tool, trained_run, *ends, "--out", out)
        assert code == 2 and printed == "" and len(err.strip().splitlines()) == 1 and said in err, err
    assert pipe.is_fifo()


def test_inpaint_refuses_resampling_that_no_jump_would_carry_out(trained_run, files, tmp_path, capsys):
    mask = ["--mask", files / "mask.png"]
    code, out, err = run_cli(capsys, "inpaint", trained_run, files / "face.png", *mask, "--steps", "10")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert (
        "--resample 10 needs --jump-length below the number of steps: with 10 solver steps and --jump-length 10" in err
    )
    code, out, _ = run_cli(
        capsys,
        "inpaint",
        trained_run,
        files / "face.png",
        *mask,
        "--steps",
        "4",
        "--resample",
        "1",
        "--out",
        tmp_path / "plain.png",
    )
    assert code == 0 and "4 solver steps (no resampling;" in out, out


def test_invert_and_interpolate_refuse_a_seed_they_would_not_use_and_counts_read_as_english(
    trained_run, files, tmp_path, capsys
):
    for argv in (["invert", trained_run, files / "face.png"], ["interpolate", trained_run, "--seeds", "1,2"]):
        code, out, err = run_cli(capsys, *argv, "--seed", "3")
        assert code == 2 and "leave out --seed" in err and len(err.strip().splitlines()) == 1, err
    code, out, err = run_cli(capsys, "interpolate", trained_run, "--seeds", "-1,2")
    assert code == 2 and "two --seeds (integers in [0, 2^63))" in err, err
    argv = ["edit", trained_run, files / "face.png", "--strength", "1", "--steps", "1", "--out", tmp_path / "e.png"]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "1 solver step (" in out, out


def test_an_exact_reconstruction_reads_as_exact():
    assert decibels(float("inf")) == "exact" and decibels(50.04) == "50.0 dB"
    inversion = Inversion(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2, dtype=torch.uint8), torch.tensor([0.0, 1.0]))
    assert inversion.psnr[0].item() == float("inf") and inversion.psnr[1].item() == pytest.approx(48.13, abs=0.01)
