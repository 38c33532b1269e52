"""The conditional command line: requests, guidance and bad input as one line with exit code 2."""

import pytest
from PIL import Image

import unnoise
from unnoise.cli import main
from unnoise.cli.flags import attach_dashed_values


@pytest.fixture
def attribute_run(tiny, tmp_path):
    config = tiny(steps=2, checkpoint_every=0)
    config.condition.kind = "attributes"
    return unnoise.train(config, out=tmp_path / "attrs", progress=False)


def test_a_request_may_start_with_an_absent_attribute():
    assert attach_dashed_values(["sample", "r", "--attrs", "-Male,Smiling", "--n", "2"]) == [
        "sample",
        "r",
        "--attrs=-Male,Smiling",
        "--n",
        "2",
    ]
    assert attach_dashed_values(["--attrs", "--n"]) == ["--attrs", "--n"]  # a real flag stays a flag


def test_sampling_with_attributes_writes_a_grid(attribute_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert (
        main(
            [
                "sample",
                str(attribute_run.path),
                "--n",
                "3",
                "--steps",
                "3",
                "--attrs",
                "-Smiling,Eyeglasses",
                "--guidance",
                "2",
                "--sampler",
                "ddim",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert Image.open(out).size[0] > 3 * 16


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["--attrs", "Smiling,Bearded"], "unknown attribute 'Bearded'; known to this run: Smiling, Eyeglasses"),
        (["--prompt", "a smiling face"], "trained on attributes: ask with --attrs"),
        (["--attrs", "Smiling", "--guidance", "nan"], "--guidance must be a finite number >= 0"),
        (["--attrs", "Smiling", "--guidance", "-1"], "--guidance must be a finite number >= 0 (0: the unconditional"),
        (["--negative-prompt", "a hat"], "--negative-prompt needs a --prompt"),
    ],
)
def test_bad_requests_are_one_line_errors(attribute_run, capsys, arguments, message):
    assert main(["sample", str(attribute_run.path), "--n", "1", "--steps", "2", *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_unconditional_runs_refuse_requests_and_folders_refuse_classifiers(tiny, tmp_path, capsys):
    plain = unnoise.train(tiny(steps=2, checkpoint_every=0), out=tmp_path / "plain", progress=False)
    assert main(["sample", str(plain.path), "--n", "1", "--attrs", "Smiling"]) == 2
    assert "without a condition" in capsys.readouterr().err
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index in range(12):
        Image.new("RGB", (20, 20), (20 * index, 90, 200)).save(folder / f"{index}.png")
    assert (
        main(
            ["train-classifier", "--data", f"folder:{folder}", "--size", "16", "--out", str(tmp_path / "c"), "--quiet"]
        )
        == 2
    )
    assert "no attributes" in capsys.readouterr().err
    assert main(["train", "--condition", "colour", "--out", str(tmp_path / "x")]) == 2
    assert "--condition must be one of none, attributes, text" in capsys.readouterr().err
