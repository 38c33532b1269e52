"""Seeds that do not depend on batching: image k of seed s is the same whatever n, batch size or caller."""

from pathlib import Path

import pytest
import torch

from tests.conftest import tiny_config
from unnoise.config import override
from unnoise.models import network_for
from unnoise.runs import Run
from unnoise.sampling.settings import SampleSettings


def untrained_run(family: str = "diffusion") -> Run:
    """A run with fresh weights (in eval mode): sampling is still a fixed function of the noise it draws."""
    config = override(tiny_config(), {"model.family": family})
    torch.manual_seed(0)
    return Run(Path("never-written"), config, network_for(config).eval())


def assert_same_pixels(a: torch.Tensor, b: torch.Tensor) -> None:
    # Convolutions may pick another algorithm for another batch size; their last-bit differences can flip a rounding.
    assert a.shape == b.shape and (a.int() - b.int()).abs().max() <= 1 and (a != b).float().mean() < 0.01


STOCHASTIC = [("ddpm", {}), ("ddpm", {"variance": "beta"}), ("dpmpp_2m_sde", {}), ("ddim", {"eta": 1.0})]


@pytest.mark.parametrize("sampler, options", STOCHASTIC, ids=lambda value: str(value))
def test_the_first_images_of_a_seed_do_not_depend_on_n_or_batch_size(sampler, options):
    run = untrained_run()
    settings = SampleSettings(n=4, seed=3, batch_size=4, sampler=sampler, steps=6, **options)
    reference = run.sample(settings)
    for n, batch_size in [(4, 1), (4, 3), (4, 64), (8, 1), (8, 3), (8, 64)]:
        assert_same_pixels(run.sample(settings.replace(n=n, batch_size=batch_size))[:4], reference)
    other = run.sample(settings.replace(seed=4))
    assert (other.int() - reference.int()).abs().float().mean() > 10  # the seed does matter


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_one_pass_families_draw_per_image_too(family):
    run = untrained_run(family)
    reference = run.sample(SampleSettings(n=3, seed=5, batch_size=3))
    assert_same_pixels(run.sample(SampleSettings(n=7, seed=5, batch_size=2))[:3], reference)


def test_sampling_settings_a_one_pass_run_cannot_use_are_refused_by_name():
    from unnoise.errors import UserError

    with pytest.raises(UserError, match="steps, prompt do not apply") as refused:
        untrained_run("gan").sample(SampleSettings(n=2, steps=5, prompt="a face"))
    assert refused.value.settings == ("steps", "prompt")
