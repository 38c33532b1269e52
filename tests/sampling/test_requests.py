"""What a user asks for, turned into the condition a network reads: refusals that would otherwise be silent."""

import pytest
import torch

from unnoise.config import ConditionConfig
from unnoise.errors import UserError
from unnoise.sampling.requests import request_condition

CPU = torch.device("cpu")
ATTRIBUTES = ConditionConfig(kind="attributes", attribute_names=("Smiling", "Male"))


def test_guidance_without_a_request_is_refused_instead_of_ignored():
    assert request_condition(ConditionConfig(), 2, CPU) == (None, None)  # the default scale: plain sampling
    with pytest.raises(UserError, match="guidance 5 steers .* trained without one") as refused:
        request_condition(ConditionConfig(), 2, CPU, guidance=5.0)
    assert refused.value.settings[0] == "guidance"
    with pytest.raises(UserError, match="needs attrs or a prompt"):
        request_condition(ATTRIBUTES, 2, CPU, guidance=1.0)
    condition, baseline = request_condition(ATTRIBUTES, 2, CPU, attrs="Smiling,-Male", guidance=5.0)
    assert baseline is None and condition.attributes.tolist() == [[1.0, -1.0]] * 2


def test_a_run_on_a_folders_own_captions_refuses_attributes_and_says_to_use_a_prompt():
    folder_text = ConditionConfig(kind="text", attribute_names=())
    with pytest.raises(
        UserError, match="trained on its data's own captions, not on attributes: ask with prompt"
    ) as refused:
        request_condition(folder_text, 2, CPU, attrs="Smiling")
    assert refused.value.settings == ("attrs", "prompt")


def test_a_guidance_of_minus_zero_is_the_guidance_zero():
    from unnoise.sampling.settings import SampleSettings

    settings = SampleSettings(guidance=-0.0, prior_guidance=-0.0).validate()
    assert f"{settings.guidance:g} {settings.prior_guidance:g}" == "0 0"


def test_an_attribute_asked_for_and_against_is_refused():
    from unnoise.sampling.requests import parse_attribute_request

    assert parse_attribute_request("Smiling,+Smiling,-Male", ("Smiling", "Male")) == {"Smiling": True, "Male": False}
    with pytest.raises(UserError, match="attrs asks for Smiling and for its absence; keep one"):
        parse_attribute_request("Smiling,-Smiling", ("Smiling", "Male"))
