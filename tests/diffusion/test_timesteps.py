import pytest
import torch

from unnoise.diffusion.schedules import make_schedule
from unnoise.diffusion.timesteps import SPACINGS, karras_sigmas, spaced_timesteps
from unnoise.errors import UserError


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("steps", [1, 5, 10, 50, 999, 1000])
def test_spacings_give_k_distinct_descending_timesteps(spacing, steps):
    timesteps = spaced_timesteps(1000, steps, spacing)
    assert len(timesteps) == len(set(timesteps)) == steps
    assert timesteps == sorted(timesteps, reverse=True)
    assert 0 <= timesteps[-1] and timesteps[0] <= 999


def test_spacing_shapes():
    assert spaced_timesteps(1000, None) == list(range(999, -1, -1))
    assert spaced_timesteps(1000, 10, "uniform") == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
    assert spaced_timesteps(1000, 10, "trailing") == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    quadratic = spaced_timesteps(1000, 10, "quadratic")
    assert quadratic[0] == 999 and quadratic[-1] == 0
    gaps = [a - b for a, b in zip(quadratic, quadratic[1:])]
    assert gaps == sorted(gaps, reverse=True)  # dense near the data
    for bad in (0, 1001):
        with pytest.raises(UserError):
            spaced_timesteps(1000, bad)
    with pytest.raises(UserError):
        spaced_timesteps(1000, 10, "leading")


def test_karras_sigmas_follow_equation_5():
    schedule = make_schedule("linear", 1000)
    sigmas = karras_sigmas(schedule, 10, rho=7.0)
    sigma_min, sigma_max = schedule.sigmas[0].item(), schedule.sigmas[-1].item()
    assert len(sigmas) == 11 and sigmas[-1] == 0
    assert sigmas[0].item() == pytest.approx(sigma_max) and sigmas[-2].item() == pytest.approx(sigma_min)
    i = 4
    expected = (sigma_max ** (1 / 7) + i / 9 * (sigma_min ** (1 / 7) - sigma_max ** (1 / 7))) ** 7
    assert sigmas[i].item() == pytest.approx(expected, rel=1e-12)


def test_timestep_of_sigma_inverts_sigma_of_timestep():
    schedule = make_schedule("cosine", 1000)
    t = torch.tensor([0.0, 3.0, 250.0, 998.0])
    assert torch.allclose(schedule.timestep_of_sigma(schedule.sigmas[t.long()]), t.double(), atol=1e-9)
    midway = schedule.timestep_of_sigma((schedule.sigmas[10].log() / 2 + schedule.sigmas[11].log() / 2).exp())
    assert midway.item() == pytest.approx(10.5)


def test_zero_terminal_snr_rescaling():
    schedule = make_schedule("linear", 1000, zero_terminal_snr=True)
    plain = make_schedule("linear", 1000)
    assert schedule.alpha_bar[-1] == 0 and schedule.zero_terminal_snr and not plain.zero_terminal_snr
    assert schedule.alpha_bar[0].item() == pytest.approx(plain.alpha_bar[0].item(), rel=1e-12)
    # sqrt(alpha_bar) is an affine map of the original one.
    root, plain_root = schedule.alpha_bar.sqrt(), plain.alpha_bar.sqrt()
    slope = (root[0] - root[500]) / (plain_root[0] - plain_root[500])
    assert torch.allclose(root - root[0], slope * (plain_root - plain_root[0]), atol=1e-12)
