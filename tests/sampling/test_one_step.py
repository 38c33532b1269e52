"""One solver step goes from pure noise to the data: it must start at the noisiest level, t = T - 1, not at t = 0."""

from pathlib import Path

import pytest
import torch
from torch import nn

from tests.conftest import tiny_config
from unnoise.data.transforms import images_from_model_range
from unnoise.runs import Run
from unnoise.sampling.generation import PerImageNoise
from unnoise.sampling.settings import SampleSettings


class ZeroNoise(nn.Module):
    """A network that predicts eps = 0 everywhere and remembers the timesteps it was asked at."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # sampling reads the device from the parameters
        self.timesteps: list[float] = []

    def forward(self, x, t, condition=None):
        self.timesteps += t.tolist()
        return torch.zeros_like(x)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp_2m"])
@pytest.mark.parametrize("spacing", ["uniform", "quadratic", "trailing"])
def test_steps_1_calls_the_network_at_t_minus_1_and_returns_its_x0_not_the_noise(sampler, spacing):
    config = tiny_config()  # T = 100
    network = ZeroNoise()
    run = Run(Path("never-written"), config, network)
    images = run.sample(SampleSettings(n=2, seed=7, sampler=sampler, steps=1, spacing=spacing))
    assert network.timesteps == [99, 99]
    # With eps = 0 the one step returns x_0 = x_T / sqrt(alpha_bar_{T-1}), clipped: the noise amplified, not the noise.
    x_T = PerImageNoise(7, slice(0, 2), torch.device("cpu")).draw((3, 16, 16))
    alpha_bar = run.schedule.alpha_bar[-1].item()
    assert torch.equal(images, images_from_model_range((x_T / alpha_bar**0.5).clamp(-1, 1)))
    assert not torch.equal(images, images_from_model_range(x_T))
