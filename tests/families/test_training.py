"""The VAE and GAN baselines train on the same pipeline as diffusion: they learn, resume exactly, and sample."""

import math

import pytest
import torch
from safetensors.torch import load_file

import unnoise
from unnoise.cli import main
from unnoise.config import with_family
from unnoise.data import open_dataset
from unnoise.data.transforms import to_model_range
from unnoise.models import network_for
from unnoise.train.checkpoint import latest_checkpoint
from unnoise.train.data_order import step_seed
from unnoise.train.hooks import read_log


def baseline(tiny, family, **train_changes):
    config = with_family(tiny(**train_changes), family)
    config.model.channel_mult, config.model.base_channels, config.model.latent_dim = (1, 2, 2), 16, 32
    return config


def initial_network(config):
    """The network as the trainer builds it before step 1 (its initial weights depend on the seed alone)."""
    torch.manual_seed(step_seed(config.train.seed, 0, stream="init"))
    return network_for(config)


@torch.no_grad()
def reconstruction_error(vae, images):
    x = to_model_range(images)
    mu, _ = vae.encode(x)
    return (vae.decode(mu) - x).square().mean().item()


def test_vae_elbo_rises_and_reconstructions_improve(tiny, tmp_path):
    config = baseline(tiny, "vae", steps=150, batch_size=16, lr=2e-3, ema_decay=0.0, log_every=10, checkpoint_every=0)
    run = unnoise.train(config, out=tmp_path / "vae", progress=False)
    losses = [float(row["loss"]) for row in read_log(tmp_path / "vae" / "log.csv")]  # -ELBO in nats per dimension
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0] - 0.5  # per dimension: the ELBO of 768 dimensions rose by hundreds of nats
    images = open_dataset("builtin:64", 16, progress=False).images[:32]
    before, after = reconstruction_error(initial_network(config), images), reconstruction_error(run.model, images)
    assert after < 0.5 * before


def test_gan_losses_stay_finite_and_both_players_update(tiny, tmp_path):
    config = baseline(tiny, "gan", steps=40, batch_size=16, ema_decay=0.0, log_every=5, checkpoint_every=0)
    run = unnoise.train(config, out=tmp_path / "gan", progress=False)
    losses = [float(row["loss"]) for row in read_log(tmp_path / "gan" / "log.csv")]
    assert len(losses) == 8 and all(math.isfinite(loss) and 0 <= loss < 4 for loss in losses)
    start = initial_network(config).state_dict()
    for player in ("generator", "discriminator"):
        moved = [
            key
            for key, value in run.model.state_dict().items()
            if key.startswith(player) and value.is_floating_point() and not torch.equal(value, start[key])
        ]
        assert moved, f"the {player} did not update"
    images = run.sample(6, seed=3)
    assert images.shape == (6, 3, 16, 16) and images.dtype == torch.uint8 and images.float().std() > 1
    assert torch.equal(images, run.sample(6, seed=3))


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_resumed_baseline_equals_uninterrupted_run(tiny, tmp_path, family):
    unnoise.train(baseline(tiny, family, steps=6), out=tmp_path / "straight", progress=False)
    unnoise.train(baseline(tiny, family, steps=3, checkpoint_every=3), out=tmp_path / "stopped", progress=False)
    unnoise.train(baseline(tiny, family, steps=6), out=tmp_path / "stopped", resume=True, progress=False)
    for name in ("model.safetensors", "ema.safetensors", "optimizer.safetensors"):
        straight = load_file(str(latest_checkpoint(tmp_path / "straight") / name))
        resumed = load_file(str(latest_checkpoint(tmp_path / "stopped") / name))
        assert straight.keys() == resumed.keys()
        assert all(torch.equal(straight[key], resumed[key]) for key in straight), name


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("unnoise: error: ")
    return error


def test_cli_trains_and_samples_a_gan_and_refuses_diffusion_only_flags(tmp_path, capsys):
    run = tmp_path / "gan"
    flags = [
        "--data",
        "builtin:64",
        "--image-size",
        "16",
        "--base-channels",
        "8",
        "--channel-mult",
        "1,2",
        "--latent-dim",
        "16",
        "--batch-size",
        "8",
        "--device",
        "cpu",
    ]
    assert main(["train", "--model", "gan", *flags, "--steps", "4", "--out", str(run), "--quiet"]) == 0
    assert (run / "samples" / "step_0000004.png").is_file()
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert "GAN, NFE 1 per image" in capsys.readouterr().out and (tmp_path / "grid.png").is_file()
    assert main(["sample", str(run), "--n", "4", "--steps", "20"]) == 2
    error = one_line_error(capsys)
    assert "GAN run" in error and "--steps does not apply" in error
    assert main(["train", "--model", "gan", *flags, "--condition", "attributes", "--out", str(tmp_path / "c")]) == 2
    assert "leave out --condition" in one_line_error(capsys)
    assert main(["train", "--model", "flow", *flags, "--out", str(tmp_path / "f")]) == 2
    assert "--model must be one of diffusion, vae, gan" in one_line_error(capsys)
    assert main(["train", "--model", "vae", *flags, "--accum", "2", "--out", str(tmp_path / "a")]) == 2
    assert "trains in one process" in one_line_error(capsys)
