import math

import pytest
import torch

from unnoise.diffusion.process import predict_eps_from_x0, predict_x0_from_eps, q_posterior, q_sample
from unnoise.diffusion.schedules import make_schedule


def test_q_sample_has_the_closed_form_mean_and_variance():
    generator = torch.Generator().manual_seed(0)
    x0 = torch.tensor([0.8, -0.5, 0.1, 1.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    alpha_bar = make_schedule("linear", 1000).alpha_bar
    for t in (0, 100, 500, 999):
        n = 200_000
        noise = torch.randn((n, 1, 2, 2), generator=generator, dtype=torch.float64)
        x_t = q_sample(x0.expand(n, -1, -1, -1), alpha_bar[t].expand(n), noise)
        mean, variance = x_t.mean(0), x_t.var(0)
        # Monte Carlo standard error of the mean is sqrt(var / n) <= 0.0023; allow 4 of them.
        assert torch.allclose(mean, alpha_bar[t].sqrt() * x0[0], atol=4 * math.sqrt(1 / n) + 1e-12)
        assert torch.allclose(variance, (1 - alpha_bar[t]).expand_as(variance), rtol=0.02, atol=1e-8)


def test_x0_and_eps_predictions_invert_q_sample_exactly():
    generator = torch.Generator().manual_seed(1)
    x0 = torch.rand((3, 3, 4, 4), generator=generator, dtype=torch.float64) * 2 - 1
    eps = torch.randn((3, 3, 4, 4), generator=generator, dtype=torch.float64)
    alpha_bar = make_schedule("cosine", 1000).alpha_bar[torch.tensor([0, 400, 998])]
    x_t = q_sample(x0, alpha_bar, eps)
    assert torch.allclose(predict_x0_from_eps(x_t, eps, alpha_bar), x0, atol=1e-9)
    assert torch.allclose(predict_eps_from_x0(x_t, x0, alpha_bar), eps, atol=1e-9)


def bayes_posterior_on_a_grid(x0: float, x_t: float, alpha_bar_s: float, alpha_bar_t: float):
    """Mean and variance of p(x_s | x_t, x_0) ∝ q(x_t | x_s) q(x_s | x_0), integrated numerically in float64."""
    alpha = alpha_bar_t / alpha_bar_s
    grid = torch.linspace(-12, 12, 2_000_001, dtype=torch.float64)
    log_prior = -((grid - math.sqrt(alpha_bar_s) * x0) ** 2) / (2 * (1 - alpha_bar_s))
    log_likelihood = -((x_t - math.sqrt(alpha) * grid) ** 2) / (2 * (1 - alpha))
    weights = torch.softmax(log_prior + log_likelihood, dim=0)
    mean = (weights * grid).sum()
    return mean.item(), (weights * (grid - mean) ** 2).sum().item()


@pytest.mark.parametrize("t,s", [(1, 0), (10, 9), (500, 499), (999, 998), (600, 400), (999, 0)])
def test_posterior_matches_bayes_rule(t, s):
    alpha_bar = make_schedule("linear", 1000).alpha_bar
    x0, x_t = 0.6, -0.3
    expected_mean, expected_variance = bayes_posterior_on_a_grid(x0, x_t, alpha_bar[s].item(), alpha_bar[t].item())
    mean, variance = q_posterior(
        torch.full((1, 1, 1, 1), x0, dtype=torch.float64),
        torch.full((1, 1, 1, 1), x_t, dtype=torch.float64),
        alpha_bar[t].reshape(1),
        alpha_bar[s].reshape(1),
    )
    assert mean.item() == pytest.approx(expected_mean, rel=1e-6, abs=1e-9)
    assert variance.item() == pytest.approx(expected_variance, rel=1e-5)


def test_posterior_of_the_next_step_uses_the_schedules_posterior_variance():
    schedule = make_schedule("linear", 1000)
    t = torch.tensor([5, 700])
    _, variance = q_posterior(
        torch.zeros(2, 1, 1, 1), torch.zeros(2, 1, 1, 1), schedule.alpha_bar[t], schedule.alpha_bar[t - 1]
    )
    assert torch.allclose(variance, schedule.posterior_variance[t], rtol=1e-10)
