"""Faithfulness: the accuracy arithmetic, the outputs, and a briefly trained model that really follows requests."""

import json

import pytest
import torch
from PIL import Image

import unnoise
from unnoise.cli import main
from unnoise.metrics.classifier import AttributeClassifier, AttributeCNN
from unnoise.metrics.faithfulness import faithfulness, usable_requests, write_faithfulness
from unnoise.text.captions import unsayable_in_caption

BUILTIN = [
    "Smiling",
    "Eyeglasses",
    "Black_Hair",
    "Blond_Hair",
    "Brown_Hair",
    "Red_Hair",
    "Dark_Skin",
    "Blue_Background",
]


class SeesEverything(AttributeClassifier):
    """A judge that reports every attribute present in every image."""

    def predict(self, images, batch_size=256):
        return torch.ones(len(images), len(self.attribute_names), dtype=torch.bool)


@pytest.fixture
def conditional_run(tiny, tmp_path):
    config = tiny(steps=4, checkpoint_every=0)
    config.condition.kind = "attributes"
    return unnoise.train(config, out=tmp_path / "attrs", progress=False)


def test_accuracy_counts_each_requested_attribute_of_each_image(conditional_run, tmp_path):
    judge = SeesEverything(AttributeCNN(len(BUILTIN), 8), BUILTIN, 16, {}, {})
    result = faithfulness(
        conditional_run,
        judge,
        scales=(0, 2),
        requests=["Smiling", "-Smiling,Eyeglasses"],
        per_request=3,
        steps=4,
        progress=False,
    )
    for row in result["rows"]:
        # Smiling: 3 of 3 as asked; -Smiling,Eyeglasses: Eyeglasses 3 of 3, -Smiling 0 of 3. In all 6 of 9.
        assert row["accuracy"] == pytest.approx(6 / 9)
        assert row["per_request"] == {"Smiling": 1.0, "-Smiling,Eyeglasses": 0.5}
        assert row["n"] == 6
    written = write_faithfulness(result, tmp_path / "out", 16, columns=3)
    table = json.loads((tmp_path / "out" / "faithfulness.json").read_text())
    assert [row["guidance"] for row in table["rows"]] == [0.0, 2.0]
    grid = Image.open(written["grid_w2"])
    assert grid.height > 2 * 16 and grid.width > 3 * 16  # two rows of three images, captions on the left


def test_faithfulness_refuses_an_unconditional_run_and_unknown_requests(
    tiny, tmp_path, conditional_run, builtin_classifier
):
    plain = unnoise.train(tiny(steps=2, checkpoint_every=0), out=tmp_path / "plain", progress=False)
    with pytest.raises(unnoise.UserError, match="without a condition"):
        faithfulness(plain, builtin_classifier, progress=False)
    with pytest.raises(unnoise.UserError, match="unknown attribute 'Male'"):
        faithfulness(conditional_run, builtin_classifier, requests=["Male"], progress=False)
    # Where a CLIP scores an attribute run's images too, the default requests are those a caption can word.
    every, worded = (usable_requests(conditional_run, builtin_classifier, worded=flag) for flag in (False, True))
    assert worded == [wanted for wanted in every if not unsayable_in_caption(wanted)] and len(worded) < len(every)


def test_eval_refuses_faithfulness_flags_without_faithfulness(conditional_run, capsys):
    assert main(["eval", str(conditional_run.path), "--ref", "x.npz", "--prompt", "a cat", "--clip", "c"]) == 2
    assert capsys.readouterr().err.strip() == "unnoise: error: --clip, --prompt only apply with --faithfulness"


def test_a_briefly_trained_conditional_model_draws_what_it_is_asked(tiny, tmp_path, builtin_classifier):
    config = tiny(steps=300, batch_size=32, lr=3e-3, warmup_steps=20, ema_decay=0.95, checkpoint_every=0, log_every=50)
    config.data.source = "builtin:1024"
    config.model.base_channels, config.model.dropout, config.model.scale_shift = 16, 0.0, True
    config.diffusion.prediction, config.diffusion.weighting = (
        "v",
        "min_snr",
    )  # weight to the noisy steps, where a face's colours are decided
    config.condition.kind = "attributes"
    run = unnoise.train(config, out=tmp_path / "run", progress=False)
    # The default requests: single attributes, absences and combinations (12 of them on the built-in faces).
    result = faithfulness(run, builtin_classifier, scales=(0, 3), per_request=24, steps=20, progress=False)
    unconditional, guided = result["rows"]
    # Asking nothing gets a request right about as often as the data has it (46% here); asking must do far better.
    assert guided["accuracy"] > 0.8 and guided["accuracy"] > unconditional["accuracy"] + 0.25
    # Asked for a background or its absence (the data: half and half), the model mostly follows.
    assert guided["per_request"]["Blue_Background"] > 0.65 and guided["per_request"]["-Blue_Background"] > 0.65


def test_cli_faithfulness_writes_its_table(conditional_run, builtin_classifier, tmp_path, capsys):
    builtin_classifier.save(tmp_path / "judge")
    code = main(
        [
            "eval",
            str(conditional_run.path),
            "--faithfulness",
            "--classifier",
            str(tmp_path / "judge"),
            "--guidance-scales",
            "1,3",
            "--per-request",
            "2",
            "--steps",
            "3",
            "--request",
            "Smiling",
            "--out",
            str(tmp_path / "f"),
            "--quiet",
        ]
    )
    assert code == 0
    assert "| guidance |" in capsys.readouterr().out
    assert (tmp_path / "f" / "faithfulness.png").is_file() and (tmp_path / "f" / "requests_w3.png").is_file()
    assert main(["eval", str(conditional_run.path), "--faithfulness"]) == 2  # no --classifier
