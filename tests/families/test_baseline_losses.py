"""The baselines' objectives against closed forms and torch.distributions."""

import math

import torch
from torch.distributions import Normal, kl_divergence

from unnoise.families.losses import (
    gaussian_nll_optimal_sigma,
    hinge_discriminator_loss,
    hinge_generator_loss,
    kl_to_standard_normal,
    negative_elbo,
)


def test_kl_to_standard_normal_matches_torch_distributions():
    torch.manual_seed(0)
    mu, log_variance = torch.randn(5, 7), torch.randn(5, 7)
    expected = kl_divergence(Normal(mu, (0.5 * log_variance).exp()), Normal(0.0, 1.0)).sum(dim=1)
    assert torch.allclose(kl_to_standard_normal(mu, log_variance), expected, atol=1e-5)
    assert torch.equal(kl_to_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_gaussian_nll_uses_the_batch_mse_as_variance():
    torch.manual_seed(0)
    x, mean = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    sigma = (x - mean).square().mean().sqrt()
    expected = -Normal(mean, sigma).log_prob(x).flatten(1).sum(dim=1)
    assert torch.allclose(gaussian_nll_optimal_sigma(x, mean), expected, rtol=1e-5)
    # sigma* maximises the likelihood: any other shared sigma gives a larger total negative log-likelihood.
    for scale in (0.8, 1.25):
        assert -Normal(mean, sigma * scale).log_prob(x).sum() > expected.sum()


def test_negative_elbo_is_nll_plus_beta_kl():
    torch.manual_seed(1)
    x, mean, mu, log_variance = torch.randn(3, 12), torch.randn(3, 12), torch.randn(3, 4), torch.randn(3, 4)
    nll, kl = gaussian_nll_optimal_sigma(x, mean), kl_to_standard_normal(mu, log_variance)
    assert torch.allclose(negative_elbo(x, mean, mu, log_variance), nll + kl)
    assert torch.allclose(negative_elbo(x, mean, mu, log_variance, beta=4.0), nll + 4 * kl)


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 3.0])
    # max(0, 1 - D(x)): 0, 0.5, 2 ; max(0, 1 + D(G(z))): 0, 1, 4
    assert math.isclose(hinge_discriminator_loss(real, fake).item(), 2.5 / 3 + 5 / 3, rel_tol=1e-6)
    assert math.isclose(hinge_generator_loss(fake).item(), -1 / 3, rel_tol=1e-6)
    # A discriminator sure beyond the margin has nothing left to learn.
    assert hinge_discriminator_loss(torch.full((4,), 1.5), torch.full((4,), -1.5)).item() == 0
