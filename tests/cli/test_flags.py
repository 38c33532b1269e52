"""Settings named by lower layers become flags on the command line, and free text may start with a dash."""

import pytest

from unnoise.cli import main
from unnoise.cli.flags import as_flags, attach_dashed_values, flag_of
from unnoise.errors import UserError
from unnoise.sampling.requests import caption_of_request, parse_attribute_request


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


def test_a_bad_attribute_request_names_the_flag_it_came_from():
    """eval --faithfulness takes its requests by --request; a bad one must not be blamed on --attrs."""
    for setting, flag in (("attrs", "--attrs"), ("requests", "--request")):
        with pytest.raises(UserError) as caught:
            parse_attribute_request("Smiling,Wings", ("Smiling", "Male"), setting=setting)
        assert as_flags(str(caught.value), caught.value.settings).startswith(
            f"{flag} names an unknown attribute 'Wings'"
        )
    with pytest.raises(UserError, match="known to both this run and the classifier: Smiling"):
        parse_attribute_request("Wings", ("Smiling",), "requests", "both this run and the classifier")
    with pytest.raises(UserError, match="'Wings'; this run knows none"):
        parse_attribute_request("Wings", ())
    with pytest.raises(UserError) as caught:
        caption_of_request({"Smiling": False}, "requests")
    assert caught.value.settings == ("requests",) and "requests to a run trained on captions" in str(caught.value)


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
