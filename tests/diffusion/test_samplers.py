"""Samplers against the exact answer: for Gaussian data the ideal denoiser is known in closed form."""

import functools

import pytest
import torch

from unnoise.diffusion.denoiser import Denoiser
from unnoise.diffusion.grids import noise_level_grid
from unnoise.diffusion.samplers import SAMPLERS, SOLVERS, count_nfe
from unnoise.diffusion.schedules import make_schedule
from unnoise.errors import UserError
from unnoise.sampling.settings import SampleSettings

MEAN, STD = 0.3, 0.2


def gaussian_network(schedule, mean=MEAN, std=STD, prediction="eps"):
    """The exact E[eps | x_t] (or E[x_0 | x_t], E[v | x_t]) when the data are N(mean, std^2 I): the ideal network.

    Fractional t (sigma-based samplers) is mapped back to alpha_bar through the schedule's sigma(t),
    interpolated in log sigma exactly as the Denoiser maps sigma to t.
    """
    log_sigmas = schedule.sigmas.log()

    def alpha_bar_of(t):
        low = t.floor().long().clamp(0, len(log_sigmas) - 1)
        high = (low + 1).clamp(max=len(log_sigmas) - 1)
        log_sigma = log_sigmas[low] + (t.double() - low) * (log_sigmas[high] - log_sigmas[low])
        return 1 / (1 + (2 * log_sigma).exp())

    def network(x_t, t):
        a = alpha_bar_of(t).to(x_t.dtype)[:, None, None, None]
        eps = (1 - a).sqrt() * (x_t - a.sqrt() * mean) / (a * std**2 + 1 - a)
        x0 = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        return {"eps": eps, "x0": x0, "v": a.sqrt() * eps - (1 - a).sqrt() * x0}[prediction]

    return network


@functools.lru_cache(maxsize=None)  # several tests look at the same long chains; compute each once
def cached_draw(sampler, steps, prediction, seed, n, options):
    return draw_now(sampler, steps, prediction, seed, n, **dict(options))


def draw(sampler, steps, prediction="eps", seed=1, n=1000, **options):
    return cached_draw(sampler, steps, prediction, seed, n, tuple(sorted(options.items())))


def solve(sampler, denoiser, x_T, steps, seed=1, spacing=None, rho=7.0, **options):
    """Run a solver on the grid its settings ask for, its fresh noise drawn from one seeded generator."""
    grid = noise_level_grid(denoiser.schedule, steps, spacing or SOLVERS[sampler].default_spacing, rho)
    generator = torch.Generator().manual_seed(seed)
    noise = lambda like: torch.randn(like.shape, generator=generator, dtype=like.dtype)  # noqa: E731
    return SOLVERS[sampler].function(denoiser, x_T, grid, noise, **options)


def draw_now(sampler, steps, prediction="eps", seed=1, n=1000, **options):
    schedule = make_schedule("linear", 1000)
    denoiser = Denoiser(gaussian_network(schedule, prediction=prediction), schedule, prediction, clip_x0=False)
    x_T = torch.randn((n, 1, 4, 4), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return solve(sampler, denoiser, x_T, steps, seed, **options), denoiser.evaluations


# Enough steps for each sampler's discretisation error to fall below the Monte Carlo error here.
ENOUGH_STEPS = {
    "ddpm": 1000,
    "ddim": 250,
    "euler": 250,
    "dpmpp_2m": 250,
    "dpmpp_2m_sde": 1000,
    "heun": 50,
    "midpoint": 50,
}


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_sampler_reproduces_gaussian_data_at_enough_steps(sampler):
    steps = ENOUGH_STEPS[sampler]
    samples, evaluations = draw(sampler, steps)
    assert samples.mean().item() == pytest.approx(MEAN, abs=0.006)
    assert samples.std().item() == pytest.approx(STD, rel=0.03)
    assert evaluations == count_nfe(sampler, steps)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_sampler_variance_error_shrinks_with_steps(sampler):
    errors = [abs(draw(sampler, steps)[0].std().item() - STD) for steps in (20, ENOUGH_STEPS[sampler])]
    assert errors[1] < errors[0] / 2


@pytest.mark.parametrize("prediction", ["x0", "v"])
@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m", "heun"])
def test_samplers_work_with_every_parameterisation(sampler, prediction):
    reference, _ = draw(sampler, 20, "eps")
    other, _ = draw(sampler, 20, prediction)
    assert torch.allclose(reference, other, atol=1e-6)


def test_ddpm_variance_choices_bracket_the_truth():
    """beta~ is the lower bound on the reverse variance, beta the upper: coarse chains come out narrower / wider."""
    narrow, _ = draw("ddpm", 50, variance="beta_tilde")
    wide, _ = draw("ddpm", 50, variance="beta")
    assert narrow.std().item() < STD < wide.std().item()
    full, _ = draw("ddpm", 1000, variance="beta_tilde")
    assert abs(full.std().item() - STD) < abs(narrow.std().item() - STD)


def test_ddim_with_eta_0_is_deterministic_and_eta_1_is_ddpm():
    first, _ = draw("ddim", 30, seed=1)
    second, _ = draw("ddim", 30, seed=2)
    assert torch.equal(first, second)  # no noise is drawn at eta = 0
    ddpm, _ = draw("ddpm", 30, seed=5)
    ddim_eta_1, _ = draw("ddim", 30, seed=5, eta=1.0)
    assert torch.allclose(ddpm, ddim_eta_1, atol=1e-9)


def test_deterministic_samplers_converge_to_each_other_as_steps_grow():
    """DDIM, DPM-Solver++(2M), Euler and Heun all integrate the same probability-flow ODE."""
    reference, _ = draw("heun", 200)
    gaps = {}
    for sampler, options in [("ddim", {"spacing": "quadratic"}), ("dpmpp_2m", {"spacing": "quadratic"}), ("euler", {})]:
        gaps[sampler] = [
            (draw(sampler, steps, **options)[0] - reference).abs().mean().item() for steps in (10, 50, 200)
        ]
        assert gaps[sampler][0] > gaps[sampler][1] > gaps[sampler][2] and gaps[sampler][2] < 0.005, gaps
    # Higher order pays off at few steps: DPM-Solver++(2M) beats DDIM (first order) at 10 steps.
    assert gaps["dpmpp_2m"][0] < gaps["ddim"][0]


def test_stochastic_samplers_depend_on_the_seed_and_deterministic_ones_do_not():
    for sampler, stochastic in [
        ("ddpm", True),
        ("dpmpp_2m_sde", True),
        ("ddim", False),
        ("euler", False),
        ("heun", False),
    ]:
        a, _ = draw(sampler, 10, seed=1, n=4)
        b, _ = draw(sampler, 10, seed=2, n=4)
        assert torch.equal(a, b) != stochastic, sampler


def test_options_a_sampler_does_not_take_are_user_errors_naming_the_setting():
    with pytest.raises(UserError, match="sampler euler does not take eta") as refused:
        SampleSettings(sampler="euler", eta=0.5).validate()
    assert refused.value.settings == ("eta",)
    with pytest.raises(UserError, match="sampler must be one of"):
        SampleSettings(sampler="plms").validate()
    with pytest.raises(UserError, match="variance must be one of"):
        SampleSettings(variance="learned").validate()
    with pytest.raises(UserError, match="rho shapes only the karras spacing"):
        SampleSettings(sampler="ddim", rho=5.0).validate()


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m", "euler", "heun"])
@pytest.mark.parametrize("spacing", ["uniform", "quadratic", "trailing", "karras"])
def test_every_deterministic_solver_runs_on_every_grid(sampler, spacing):
    """The grid is apart from the solver: on each spacing each solver converges to the data as its steps grow."""
    errors = []
    for steps in (10, 200):
        samples, evaluations = draw(sampler, steps, spacing=spacing, n=400)
        assert evaluations == count_nfe(sampler, steps)
        errors.append(abs(samples.std().item() - STD))
    assert errors[1] < max(errors[0] / 4, 0.02 * STD) and errors[1] < 0.05 * STD, errors  # or at the noise floor
    assert samples.mean().item() == pytest.approx(MEAN, abs=0.01)


def test_clipping_keeps_x0_in_the_data_range_and_eps_consistent():
    schedule = make_schedule("linear", 1000)
    denoiser = Denoiser(gaussian_network(schedule, mean=3.0, std=0.1), schedule, "eps", clip_x0=True)
    x_t = torch.randn(4, 1, 2, 2, dtype=torch.float64)
    x0 = denoiser(x_t, schedule.sigmas[500].item())
    assert x0.max() <= 1 and x0.min() >= -1
    unclipped = Denoiser(denoiser.network, schedule, "eps", clip_x0=False)(x_t, schedule.sigmas[500].item())
    assert torch.equal(x0, unclipped.clamp(-1, 1)) and unclipped.max() > 1


def test_the_denoiser_calls_the_network_at_the_integer_timestep_of_a_schedule_level():
    schedule = make_schedule("linear", 1000)
    seen = []
    denoiser = Denoiser(lambda x, t: seen.append(t) or torch.zeros_like(x), schedule, "eps")
    for t in (0, 1, 500, 999):
        denoiser(torch.zeros(2, 1, 2, 2), schedule.sigmas[t].item())
    assert [(tensor.dtype, tensor.tolist()) for tensor in seen] == [(torch.long, [t, t]) for t in (0, 1, 500, 999)]
