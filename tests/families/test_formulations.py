"""Each diffusion formulation (ddpm, edm, flow) samples Gaussian data exactly with its ideal network, guides, and
trains.
"""

import json

import pytest
import torch

import unnoise
from tests.conftest import tiny_config
from tests.diffusion.test_samplers import gaussian_network
from unnoise.config import override, validate, with_family
from unnoise.diffusion.denoiser import TIME_SCALE, signal_scale
from unnoise.diffusion.edm import c_in, c_out, c_skip
from unnoise.diffusion.guidance import GuidedNetwork
from unnoise.diffusion.samplers import SOLVERS
from unnoise.families import objective_for
from unnoise.models.conditioning import Condition
from unnoise.runs import JSON_LOG_FILE, read_log
from unnoise.sampling.settings import SampleSettings
from unnoise.train.hooks import loss_parts

MEAN, STD = 0.3, 0.2


def config_for(objective: str, **diffusion):
    return override(
        tiny_config(), {"diffusion.objective": objective, **{f"diffusion.{k}": v for k, v in diffusion.items()}}
    )


def gaussian_edm_network(mean=MEAN, std=STD, sigma_data=0.5):
    """The F whose preconditioned D is E[x_0 | x_VE] for data N(mean, std^2): D* = mean + std^2 / (std^2 + sigma^2)
    (x_VE - mean).
    """

    def network(x_in, time):
        sigma = (4 * time.double() / TIME_SCALE).exp().reshape(-1, 1, 1, 1)  # time = 1000 c_noise = 250 ln sigma
        x_ve = x_in / c_in(sigma, sigma_data)
        ideal = mean + std**2 / (std**2 + sigma**2) * (x_ve - mean)
        return (ideal - c_skip(sigma, sigma_data) * x_ve) / c_out(sigma, sigma_data)

    return network


def gaussian_flow_network(mean=MEAN, std=STD):
    """v* = E[eps | x_t] - E[x_0 | x_t] for data N(mean, std^2) on x_t = (1 - t) x_0 + t eps."""

    def network(x_t, time):
        t = (time.double() / TIME_SCALE).reshape(-1, 1, 1, 1)
        x0 = mean + (1 - t) * std**2 / ((1 - t) ** 2 * std**2 + t**2) * (x_t - (1 - t) * mean)
        eps = (x_t - (1 - t) * x0) / t
        return eps - x0

    return network


def ideal_network(objective: str, mean=MEAN, std=STD):
    if objective == "ddpm":
        return gaussian_network(objective_for(config_for("ddpm", timesteps=1000)).schedule, mean, std)
    return gaussian_edm_network(mean, std) if objective == "edm" else gaussian_flow_network(mean, std)


def solve(objective_name: str, network, sampler: str, steps: int, n: int = 2000):
    objective = objective_for(config_for(objective_name, timesteps=1000))
    settings = objective.resolve(SampleSettings(sampler=sampler, steps=steps)).validate()
    x = torch.randn((n, 1, 4, 4), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    generator = torch.Generator().manual_seed(1)
    noise = lambda like: torch.randn(like.shape, generator=generator, dtype=like.dtype)  # noqa: E731
    denoiser = objective.denoiser_for(network)
    if objective_name == "ddpm":
        denoiser.clip_x0 = False  # the Gaussian's tails reach past [-1, 1] at no step here, but keep the test exact
    return SOLVERS[settings.solver_name].function(
        denoiser, x, objective.grid(settings), noise, **settings.solver_options()
    )


# Steps enough for each solver's discretisation error to fall below the Monte Carlo error here. (This Gaussian is
# narrow, std 0.2 against sigma_d = 0.5: EDM's 18 Heun steps, tuned for images, leave its variance 8% high.)
CASES = [
    ("edm", "heun", 60),
    ("edm", "euler", 300),
    ("edm", "midpoint", 60),
    ("edm", "dpmpp_2m", 60),
    ("edm", "ddpm", 300),
    ("edm", "ddim", 300),
    ("flow", "euler", 200),
    ("flow", "heun", 30),
    ("flow", "midpoint", 30),
    ("flow", "dpmpp_2m", 40),
    ("ddpm", "heun", 50),
    ("ddpm", "midpoint", 50),
]


@pytest.mark.parametrize("objective, sampler, steps", CASES)
def test_every_formulation_reproduces_gaussian_data_with_its_ideal_network(objective, sampler, steps):
    samples = solve(objective, ideal_network(objective), sampler, steps)
    assert samples.mean().item() == pytest.approx(MEAN, abs=0.006)
    assert samples.std().item() == pytest.approx(STD, rel=0.03)


@pytest.mark.parametrize("objective, sampler, steps", [("edm", "heun", 60), ("flow", "euler", 200)])
def test_classifier_free_guidance_extrapolates_the_mean_in_every_formulation(objective, sampler, steps):
    """F (edm) and v (flow) are affine in the data mean at fixed (x, sigma): guiding with w gives N(m_u + w (m_c - m_u),
    std^2).
    """
    conditional, unconditional = ideal_network(objective, 0.3), ideal_network(objective, 0.1)
    n = 2000

    def network(x, time, condition):
        null = condition.null[:, None, None, None]
        return torch.where(null, unconditional(x, time), conditional(x, time))

    condition = Condition(torch.zeros(n, dtype=torch.bool), attributes=torch.ones(n, 1))
    guided = GuidedNetwork(network, condition, condition.with_null(torch.ones(n, dtype=torch.bool)), 2.0)
    samples = solve(objective, guided, sampler, steps, n)
    assert samples.mean().item() == pytest.approx(0.1 + 2.0 * (0.3 - 0.1), abs=0.008)
    assert samples.std().item() == pytest.approx(STD, rel=0.04)


def test_the_edm_denoiser_reads_x_on_the_variance_preserving_scale():
    """D(x; sigma) for x = (x_0 + sigma eps) / sqrt(1 + sigma^2): with the ideal F it returns E[x_0 | x] exactly."""
    denoiser = objective_for(config_for("edm")).denoiser_for(gaussian_edm_network())
    sigma, x_ve = 2.0, torch.full((1, 1, 1, 1), 1.3, dtype=torch.float64)
    expected = MEAN + STD**2 / (STD**2 + sigma**2) * (1.3 - MEAN)
    assert denoiser(x_ve / signal_scale(sigma), sigma).item() == pytest.approx(expected, rel=1e-6)  # float32 time


@pytest.mark.parametrize("objective", ["edm", "flow"])
def test_a_tiny_run_of_each_formulation_lowers_its_loss_and_samples(objective, tmp_path):
    config = override(
        config_for(objective),
        {
            "train.steps": 150,
            "train.batch_size": 16,
            "train.checkpoint_every": 0,
            "train.log_every": 10,
            "model.base_channels": 16,
        },
    )
    unnoise.train(config, out=tmp_path / "run", progress=False)
    losses = [float(row["loss"]) for row in read_log(tmp_path / "run" / "log.csv")]
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:2]) / 2, losses
    images = unnoise.load_run(tmp_path / "run", device="cpu").sample(4, steps=5)
    assert images.shape == (4, 3, 16, 16) and images.dtype == torch.uint8 and images.float().std() > 5


@pytest.mark.parametrize("objective, weighting", [("edm", "uniform"), ("flow", "uniform"), ("flow", "uncertainty")])
def test_a_resumed_run_of_each_formulation_equals_an_uninterrupted_one(objective, weighting, tmp_path):
    base = config_for(objective, weighting=weighting)
    unnoise.train(override(base, {"train.steps": 6}), out=tmp_path / "straight", progress=False)
    unnoise.train(
        override(base, {"train.steps": 3, "train.checkpoint_every": 3}), out=tmp_path / "stopped", progress=False
    )
    unnoise.train(override(base, {"train.steps": 6}), out=tmp_path / "stopped", resume=True, progress=False)
    a = unnoise.load_run(tmp_path / "straight", device="cpu").model.state_dict()
    b = unnoise.load_run(tmp_path / "stopped", device="cpu").model.state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert any("log_variance" in key for key in a) == (weighting == "uncertainty")  # u(sigma) is resumed too


@pytest.mark.parametrize("objective", ["edm", "flow"])
def test_uncertainty_weighting_learns_a_weight_per_noise_level_and_samples_with_the_bare_network(objective, tmp_path):
    """EDM2's weighting: u(sigma) starts at zero (the first step's loss is the unweighted one) and learns
    ln E[L | sigma], where the weighted loss L e^-u + u = 1 + ln L lies below L; sampling never calls it (resumed
    runs: the resume test above)."""
    base = override(
        config_for(objective, weighting="uncertainty"),
        {"train.batch_size": 16, "train.log_every": 1, "train.checkpoint_every": 0, "model.base_channels": 16},
    )
    unnoise.train(override(base, {"train.steps": 60}), out=tmp_path / "run", progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / JSON_LOG_FILE).read_text().splitlines()]
    assert float(log[0]["loss"]) == pytest.approx(float(log[0]["unweighted_loss"]), rel=1e-5)
    assert float(log[-1]["unweighted_loss"]) < 0.6 * float(log[0]["unweighted_loss"])
    assert all(float(row["loss"]) < float(row["unweighted_loss"]) for row in log[-10:])
    steps, _ = loss_parts(tmp_path / "run")["unweighted_loss"]  # loss.png draws it beside the loss
    assert steps == [row["step"] for row in log] and (tmp_path / "run" / "loss.png").exists()
    run = unnoise.load_run(tmp_path / "run", device="cpu")
    network = run.objective.sampling_network(run.model)
    assert network is run.model.network
    if objective == "flow":
        # At t = 0 the velocity eps - x_0 holds noise no network can know (error variance 1); at t = 1, x_t is that
        # noise and only x_0 is unknown (the data's variance, below 1): the learned weight tells them apart.
        u_start, u_end = run.model.log_variance(torch.tensor([0.0, TIME_SCALE])).tolist()
        assert u_start > u_end
    # Sampling uses the bare network: the same images from the wrapper and from the U-Net it holds.
    settings = SampleSettings(n=2, steps=3, seed=4)
    bare = run.objective.generate(network, settings)
    assert torch.equal(run.sample(settings), bare)


def test_each_objective_takes_its_own_weightings_and_choosing_an_objective_keeps_one_it_takes(tmp_path):
    with pytest.raises(
        unnoise.UserError, match="uncertainty does not weigh diffusion.objective ddpm's loss; it takes "
    ):
        unnoise.train(config_for("ddpm", weighting="uncertainty"), out=tmp_path / "ddpm", progress=False)
    with pytest.raises(unnoise.UserError, match="min_snr does not weigh diffusion.objective flow's loss"):
        unnoise.train(config_for("flow", weighting="min_snr"), out=tmp_path / "flow", progress=False)
    with pytest.raises(unnoise.UserError, match="diffusion.weighting must be one of uniform, min_snr, uncertainty"):
        validate(config_for("edm", weighting="bogus"))
    unclip = override(config_for("flow", weighting="uncertainty"), {"condition.kind": "clip"})
    with pytest.raises(unnoise.UserError, match="not built for unCLIP runs"):
        validate(unclip)
    validate(override(config_for("ddpm", weighting="uncertainty"), {"model.family": "vae"}))  # a VAE has no weighting
    # Another objective keeps a weighting it takes and drops one it does not (the API's with_family, as the CLI's).
    assert with_family(config_for("edm", weighting="uncertainty"), "diffusion").diffusion.weighting == "uncertainty"
    min_snr = config_for("ddpm", weighting="min_snr")
    assert with_family(min_snr, "diffusion", {"diffusion.objective": "flow"}).diffusion.weighting == "uniform"
    assert with_family(min_snr, "diffusion").diffusion.weighting == "min_snr"


def test_a_continuous_formulation_bounds_its_solver_steps():
    for objective in ("edm", "flow"):
        formulation = objective_for(config_for(objective))
        assert len(formulation.grid(formulation.resolve(SampleSettings(steps=10_000)))) == 10_001
        with pytest.raises(unnoise.UserError, match="steps must be between 1 and 10000, got 10001"):
            formulation.grid(formulation.resolve(SampleSettings(steps=10_001)))


def test_settings_that_belong_to_ddpm_are_refused_for_the_other_formulations(tmp_path):
    with pytest.raises(unnoise.UserError, match="belong to diffusion.objective ddpm"):
        unnoise.train(config_for("edm", prediction="v"), out=tmp_path / "run", progress=False)
    with pytest.raises(unnoise.UserError, match="spacing uniform does not apply to objective edm"):
        objective_for(config_for("edm")).grid(SampleSettings(sampler="heun", steps=4, spacing="uniform"))


def test_a_setting_given_that_the_run_would_never_read_is_refused_with_the_reason():
    demo = unnoise.preset("demo")
    given = {"diffusion.objective": "flow", "diffusion.time_sampling": "logit_normal", "diffusion.sigma_max": 50.0}
    assert with_family(demo, "diffusion", given).diffusion.time_sampling == "logit_normal"  # flow reads both
    cases = [
        ({"diffusion.time_sampling": "logit_normal"}, "diffusion", "belongs to diffusion.objective flow, not ddpm"),
        ({"diffusion.objective": "flow", "diffusion.p_mean": 0.0}, "diffusion", "objective edm, not flow"),
        ({"diffusion.sigma_max": 9.0}, "diffusion", "objective edm and flow, not ddpm"),
        ({"diffusion.min_snr_gamma": 3.0}, "diffusion", "shapes diffusion.weighting min_snr only"),
        ({"diffusion.objective": "edm"}, "gan", "a gan run reads no diffusion.objective"),
        ({"condition.drop_prob": 0.2}, "diffusion", "applies to conditional runs only"),
    ]
    for overrides, family, reason in cases:
        with pytest.raises(unnoise.UserError, match=reason):
            with_family(demo, family, overrides)
    # what each of those runs does read
    with_family(demo, "diffusion", {"diffusion.weighting": "min_snr", "diffusion.min_snr_gamma": 3.0})
    with_family(demo, "diffusion", {"condition.kind": "attributes", "condition.drop_prob": 0.2})


def test_a_ddpm_schedule_that_does_not_reach_noise_warns_with_its_terminal_signal():
    """T = 10 linear keeps alpha_bar_T = 0.90 of the image's variance; T = 1000 ends at 4e-5 and says nothing."""
    warned = objective_for(config_for("ddpm", timesteps=10)).warnings()
    expected = objective_for(config_for("ddpm", timesteps=10)).schedule.alpha_bar[-1].item()
    assert len(warned) == 1 and f"alpha_bar_T = {expected:.3g}" in warned[0] and "diffusion.timesteps" in warned[0]
    assert expected == pytest.approx(0.90, abs=0.01)
    assert objective_for(config_for("ddpm", timesteps=1000)).warnings() == []


def test_training_prints_the_terminal_signal_warning_with_its_summary(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="unnoise"):
        unnoise.train(override(config_for("ddpm", timesteps=10), {"train.steps": 2}), out=tmp_path / "run")
    assert any("alpha_bar_T = 0.9" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("objective", ["ddpm", "edm", "flow"])
def test_each_formulation_pictures_its_own_forward_process(objective):
    """The strip's frames are the formulation's own x at its levels: the image first, then the closed form."""
    model = objective_for(config_for(objective))
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(1, 3, 8, 8, generator=generator) * 2 - 1, torch.randn(1, 3, 8, 8, generator=generator)
    frames, labels = model.forward_process(x0, noise)
    assert frames.shape == (7, 3, 8, 8) and len(labels) == 7
    # The first frame is the image (DDPM's t = 0 already carries its first, small noise, beta_1).
    assert torch.allclose(frames[0], x0[0], atol=0.05 if objective == "ddpm" else 1e-6)
    if objective == "ddpm":
        t = int(labels[3].removeprefix("t="))
        alpha_bar = model.schedule.alpha_bar[t].item()
        expected = alpha_bar**0.5 * x0 + (1 - alpha_bar) ** 0.5 * noise
    elif objective == "flow":
        t = float(labels[3].removeprefix("t="))
        expected = (1 - t) * x0 + t * noise
        assert labels[-1] == "t=1" and torch.allclose(frames[-1], noise[0])  # pure noise at t = 1
    else:
        sigma = float(labels[3].removeprefix("sigma="))
        expected = (x0 + sigma * noise) / (1 + sigma**2) ** 0.5  # x_0 + sigma eps, shown on the solvers' scale
    assert torch.allclose(frames[3], expected[0].float(), atol=1e-5)
    bad = {"ddpm": [0, 100], "edm": [-1.0], "flow": [1.5]}[objective]
    with pytest.raises(unnoise.UserError, match="0..99|sigma are >= 0|times lie in"):
        model.forward_process(x0, noise, bad)
