"""EDM's preconditioning and training target against their closed forms (Karras et al. 2022, Table 1 and eq. 8)."""

import math

import pytest
import torch

from unnoise.diffusion.edm import c_in, c_noise, c_out, c_skip, loss_weight, network_target, training_sigma

SIGMAS = torch.tensor([0.002, 0.1, 0.5, 1.0, 80.0], dtype=torch.float64)


def test_coefficients_against_hand_computation():
    # sigma = 0.5 = sigma_d: c_skip = 1/2, c_out = 0.25 / sqrt(0.5), c_in = 1 / sqrt(0.5), c_noise = ln(0.5) / 4.
    sigma = torch.tensor([0.5], dtype=torch.float64)
    assert c_skip(sigma).item() == pytest.approx(0.5)
    assert c_out(sigma).item() == pytest.approx(0.25 / math.sqrt(0.5))
    assert c_in(sigma).item() == pytest.approx(1 / math.sqrt(0.5))
    assert c_noise(sigma).item() == pytest.approx(math.log(0.5) / 4)
    assert loss_weight(sigma).item() == pytest.approx(0.5 / 0.0625)


def test_unit_variance_input_and_target_and_lambda_c_out_squared_is_one():
    """The design rules of EDM's Appendix B.6: Var(c_in x) = 1 and Var(F_target) = 1 for data of std sigma_d; lambda
    c_out^2 = 1.
    """
    assert torch.allclose(c_in(SIGMAS) ** 2 * (0.5**2 + SIGMAS**2), torch.ones_like(SIGMAS))
    target_variance = ((1 - c_skip(SIGMAS)) ** 2 * 0.5**2 + c_skip(SIGMAS) ** 2 * SIGMAS**2) / c_out(SIGMAS) ** 2
    assert torch.allclose(target_variance, torch.ones_like(SIGMAS))
    assert torch.allclose(loss_weight(SIGMAS) * c_out(SIGMAS) ** 2, torch.ones_like(SIGMAS))


def test_the_network_target_makes_the_denoiser_exact():
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(5, 3, 4, 4, generator=generator), torch.randn(5, 3, 4, 4, generator=generator)
    sigma = SIGMAS.float()
    x = x0 + sigma.reshape(-1, 1, 1, 1) * noise
    target = network_target(x0, noise, sigma)
    denoised = c_skip(sigma).reshape(-1, 1, 1, 1) * x + c_out(sigma).reshape(-1, 1, 1, 1) * target
    assert torch.allclose(denoised, x0, atol=1e-4)


def test_training_sigmas_are_log_normal_with_the_papers_parameters():
    normal = torch.randn(200_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    log_sigma = training_sigma(normal).log()
    assert log_sigma.mean().item() == pytest.approx(-1.2, abs=0.01) and log_sigma.std().item() == pytest.approx(
        1.2, rel=0.01
    )
