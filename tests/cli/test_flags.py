"""Settings named by lower layers become flags on the command line, and free text may start with a dash."""

import pytest

from unnoise.cli import main
from unnoise.cli.flags import as_flags, attach_dashed_values, flag_of


def test_settings_are_written_as_their_flags():
    assert flag_of("negative_prompt") == "--negative-prompt"
    assert flag_of("data.image_size") == "--image-size"
    assert flag_of("model.family") == "--model" and flag_of("condition.kind") == "--condition"
    assert flag_of("data.source") == "--data"
    message = "negative_prompt needs a prompt; data.image_size must be at least 8, got 4"
    assert as_flags(message, ("negative_prompt", "prompt", "data.image_size")) == (
        "--negative-prompt needs a --prompt; --image-size must be at least 8, got 4"
    )
    # Only whole names: "prompt" inside "negative_prompt", or "steps" inside "train.steps", stay as they are.
    assert as_flags("train.steps must be at least 1", ("steps",)) == "train.steps must be at least 1"
    assert as_flags("a bad value", ()) == "a bad value"


def test_free_text_values_may_start_with_a_dash():
    argv = ["sample", "r", "--prompt", "-glasses and a hat", "--negative-prompt", "-x", "--attrs", "-Male", "--n", "2"]
    assert attach_dashed_values(argv) == [
        "sample", "r", "--prompt=-glasses and a hat", "--negative-prompt=-x", "--attrs=-Male", "--n", "2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--n", "0"], "--n must be at least 1, got 0"),
        (["--sampler", "euler", "--eta", "0.5"], "sampler euler does not take --eta"),
        (["--sampler", "ddim", "--rho", "3"], "--rho shapes only the karras spacing"),
        (["--steps", "101"], "--steps must be between 1 and 100"),
    ],
)
def test_sampling_settings_are_checked_in_the_api_and_shown_as_flags(trained_run, capsys, arguments, message):
    """No silent clamping: every bad sampling value is one line naming the flag, exit code 2."""
    assert main(["sample", str(trained_run), "--device", "cpu", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error
