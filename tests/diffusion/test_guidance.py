"""Classifier-free guidance: its formula, one batched call, and the exact guided distribution for Gaussian data."""

import pytest
import torch

from unnoise.diffusion.denoiser import Denoiser
from unnoise.diffusion.guidance import GuidedNetwork, classifier_free_guidance
from unnoise.diffusion.samplers import SAMPLERS
from unnoise.diffusion.schedules import make_schedule
from unnoise.models.conditioning import Condition

from .test_samplers import ENOUGH_STEPS, STD, gaussian_network, solve

MEAN_UNCONDITIONAL, MEAN_CONDITIONAL = 0.1, 0.3


def test_guidance_formula_against_hand_computation():
    uncond, cond = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.5])
    assert torch.equal(classifier_free_guidance(uncond, cond, 0.0), uncond)
    assert torch.equal(classifier_free_guidance(uncond, cond, 1.0), cond)
    # w = 3: 3 cond - 2 uncond = (9 - 2, 1.5 + 4)
    assert torch.allclose(classifier_free_guidance(uncond, cond, 3.0), torch.tensor([7.0, 5.5]))


class CountingNetwork:
    """A conditional 'network' that remembers each call's batch size: output = x + 10 * attribute, 0 where null."""

    def __init__(self):
        self.batches = []

    def __call__(self, x, t, condition):
        self.batches.append(x.shape[0])
        value = torch.where(condition.null, 0.0, condition.attributes[:, 0])
        return x + 10 * value[:, None, None, None]


def condition_of(values):
    values = torch.tensor(values, dtype=torch.float32)[:, None]
    return Condition(torch.zeros(len(values), dtype=torch.bool), attributes=values)


def test_guided_network_makes_one_batched_call_and_combines_it():
    network = CountingNetwork()
    condition = condition_of([1.0, -1.0])
    null = condition.with_null(torch.ones(2, dtype=torch.bool))
    x, t = torch.zeros(2, 1, 2, 2), torch.tensor([5, 5])
    out = GuidedNetwork(network, condition, null, 2.5)(x, t)
    assert network.batches == [4]  # cond and uncond rows together
    assert torch.allclose(out[:, 0, 0, 0], torch.tensor([25.0, -25.0]))  # 0 + 2.5 * (+-10 - 0)
    GuidedNetwork(network, condition, null, 1.0)(x, t)
    GuidedNetwork(network, condition, null, 0.0)(x, t)
    assert network.batches == [4, 2, 2]  # w = 1 and w = 0 need one half only


def conditional_gaussian_network(schedule, prediction):
    """The ideal network for data N(0.3, STD^2) given the condition and N(0.1, STD^2) without it."""
    conditional = gaussian_network(schedule, MEAN_CONDITIONAL, STD, prediction)
    unconditional = gaussian_network(schedule, MEAN_UNCONDITIONAL, STD, prediction)

    def network(x_t, t, condition):
        null = condition.null[:, None, None, None]
        return torch.where(null, unconditional(x_t, t), conditional(x_t, t))

    return network


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_sampler_guides_gaussian_data_to_the_extrapolated_mean(sampler):
    # The ideal eps is affine in the data mean at fixed (x_t, t), so guiding with scale w gives exactly the
    # ideal network for N(m_u + w (m_c - m_u), STD^2): samples must have that mean and STD.
    scale, n = 2.0, 1000
    schedule = make_schedule("linear", 1000)
    prediction = "v" if sampler == "dpmpp_2m" else "eps"  # guidance is the same in any parameterisation
    condition = Condition(torch.zeros(n, dtype=torch.bool), attributes=torch.ones(n, 1))
    guided = GuidedNetwork(
        conditional_gaussian_network(schedule, prediction),
        condition,
        condition.with_null(torch.ones(n, dtype=torch.bool)),
        scale,
    )
    denoiser = Denoiser(guided, schedule, prediction, clip_x0=False)
    x_T = torch.randn((n, 1, 4, 4), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    samples = solve(sampler, denoiser, x_T, ENOUGH_STEPS[sampler], seed=1)
    expected = MEAN_UNCONDITIONAL + scale * (MEAN_CONDITIONAL - MEAN_UNCONDITIONAL)
    assert samples.mean().item() == pytest.approx(expected, abs=0.008)
    assert samples.std().item() == pytest.approx(STD, rel=0.04)
