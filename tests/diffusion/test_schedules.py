import math

import pytest
import torch

from unnoise.diffusion.schedules import SCHEDULE_NAMES, make_schedule
from unnoise.errors import UserError


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_alpha_bar_decreases_strictly_inside_zero_one(name):
    schedule = make_schedule(name, 1000)
    alpha_bar = schedule.alpha_bar
    assert alpha_bar.dtype == torch.float64
    assert torch.all(alpha_bar[1:] < alpha_bar[:-1])
    assert 0 < alpha_bar[-1] and alpha_bar[0] < 1


def test_linear_schedule_endpoints_and_terminal_signal():
    schedule = make_schedule("linear", 1000)
    assert schedule.betas[0].item() == pytest.approx(1e-4, rel=1e-12)
    assert schedule.betas[-1].item() == pytest.approx(0.02, rel=1e-12)
    assert schedule.timesteps == 1000
    # DDPM's linear schedule ends with essentially no signal left: alpha_bar_T ~ 4e-5.
    expected = math.prod(1 - (1e-4 + (0.02 - 1e-4) * i / 999) for i in range(1000))
    assert schedule.alpha_bar[-1].item() == pytest.approx(expected, rel=1e-9)
    assert schedule.alpha_bar[-1].item() < 1e-4


def test_cosine_schedule_matches_its_closed_form():
    T, s = 1000, 0.008
    schedule = make_schedule("cosine", T)

    def f(t):
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    for t in (1, 10, 250, 500, 900, 990):
        assert schedule.alpha_bar[t - 1].item() == pytest.approx(f(t) / f(0), rel=1e-9)
    assert schedule.betas.max().item() <= 0.999


def test_quadratic_sigmoid_constant_shapes():
    quadratic = make_schedule("quadratic", 100).betas
    roots = quadratic.sqrt()
    assert torch.allclose(roots[1:] - roots[:-1], (roots[1] - roots[0]).expand(99), atol=1e-15)
    sigmoid = make_schedule("sigmoid", 100).betas
    assert torch.all(sigmoid[1:] > sigmoid[:-1]) and sigmoid[0] > 1e-4 and sigmoid[-1] < 0.02
    assert torch.all(make_schedule("constant", 100).betas == 0.02)


def test_posterior_variance_and_snr_follow_their_definitions():
    schedule = make_schedule("linear", 50)
    betas = schedule.betas
    alpha_bar = [math.prod(1 - beta for beta in betas[: t + 1].tolist()) for t in range(50)]
    for t in (0, 1, 25, 49):
        previous = alpha_bar[t - 1] if t > 0 else 1.0
        assert schedule.posterior_variance[t].item() == pytest.approx(
            (1 - previous) / (1 - alpha_bar[t]) * betas[t].item(), rel=1e-12
        )
        assert schedule.snr[t].item() == pytest.approx(alpha_bar[t] / (1 - alpha_bar[t]), rel=1e-12)
    assert schedule.posterior_variance[0].item() == 0.0


@pytest.mark.parametrize(
    "arguments",
    [dict(name="exponential"), dict(timesteps=1), dict(beta_start=0.0), dict(beta_start=0.03, beta_end=0.02)],
)
def test_bad_schedules_are_user_errors(arguments):
    with pytest.raises(UserError):
        make_schedule(**arguments)
