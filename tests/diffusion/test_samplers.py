import pytest
import torch

from unnoise.diffusion.samplers import sample_ddpm, spaced_timesteps
from unnoise.diffusion.schedules import make_schedule
from unnoise.errors import UserError


def gaussian_noise_predictor(alpha_bar: torch.Tensor, mean: float, std: float):
    """The exact E[eps | x_t] when the data are N(mean, std^2 I): the ideal network for that data."""

    def predict(x_t, t):
        a = alpha_bar[t].to(x_t.dtype)[:, None, None, None]
        return (1 - a).sqrt() * (x_t - a.sqrt() * mean) / (a * std**2 + 1 - a)

    return predict


def test_ddpm_with_the_ideal_denoiser_reproduces_gaussian_data():
    schedule = make_schedule("linear", 1000)
    mean, std = 0.3, 0.2
    predict = gaussian_noise_predictor(schedule.alpha_bar, mean, std)
    x_T = torch.randn((2000, 1, 4, 4), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    errors = []
    for steps in (1000, 250, 50):
        timesteps = spaced_timesteps(1000, steps)
        samples = sample_ddpm(predict, schedule, x_T, timesteps, torch.Generator().manual_seed(1), clip_x0=False)
        assert samples.mean().item() == pytest.approx(mean, abs=0.005)
        errors.append(abs(samples.std().item() - std) / std)
    # The posterior variance beta_tilde is the lower of DDPM's two choices, so coarse chains come out a
    # little too narrow; the full chain is within 3% and the error shrinks as steps grow.
    assert errors[0] < 0.03 and errors[0] < errors[1] < errors[2] < 0.25


def test_ddpm_is_reproducible_for_a_seed_and_reports_each_step():
    schedule = make_schedule("linear", 1000)
    predict = gaussian_noise_predictor(schedule.alpha_bar, 0.0, 0.5)
    seen = []
    x_T = torch.randn((4, 1, 2, 2), generator=torch.Generator().manual_seed(0))
    timesteps = spaced_timesteps(1000, 20)
    first = sample_ddpm(predict, schedule, x_T, timesteps, torch.Generator().manual_seed(3), on_step=lambda t, x, x0: seen.append(t))
    second = sample_ddpm(predict, schedule, x_T, timesteps, torch.Generator().manual_seed(3))
    other = sample_ddpm(predict, schedule, x_T, timesteps, torch.Generator().manual_seed(4))
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert seen == timesteps


def test_spaced_timesteps():
    assert spaced_timesteps(1000, None) == list(range(999, -1, -1))
    spaced = spaced_timesteps(1000, 10)
    assert len(spaced) == 10 and spaced[0] == 999 and spaced[-1] == 0
    assert spaced == sorted(spaced, reverse=True)
    assert spaced_timesteps(1000, 1) == [0]
    for bad in (0, 1001):
        with pytest.raises(UserError):
            spaced_timesteps(1000, bad)
