"""One training step of each baseline (VAE, GAN) on the trainer's batch; the Trainer calls them in place of diffusion's.

Each step draws its latent noise from `generator` (seeded by the step), updates through trainer.apply_gradients,
and returns its loss for the log: the VAE's -ELBO in nats per dimension, the GAN's discriminator hinge loss.
"""

from __future__ import annotations

import torch

from .baseline_losses import hinge_discriminator_loss, hinge_generator_loss, negative_elbo


def latent_noise(trainer, count: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn((count, trainer.model.latent_dim), generator=generator, device=trainer.device)


def vae_step(trainer, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Maximise the ELBO: encode, decode a reparameterised draw, step on -ELBO / D."""
    trainer.optimizer.zero_grad(set_to_none=True)
    with trainer.autocast():
        mean, mu, log_variance = trainer.network(x0, latent_noise(trainer, len(x0), generator))
        loss = negative_elbo(x0, mean, mu, log_variance, trainer.config.model.vae_beta).mean() / x0[0].numel()
    loss.backward()
    trainer.apply_gradients()
    return loss.detach()


def set_grads_to_none(module: torch.nn.Module) -> None:
    """Adam skips parameters without a gradient: how one optimizer updates one player at a time."""
    for parameter in module.parameters():
        parameter.grad = None


def gan_step(trainer, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One discriminator update on real and (detached) fake images, then one generator update through it."""
    gan = trainer.model
    trainer.optimizer.zero_grad(set_to_none=True)
    with trainer.autocast():
        fake = gan.generator(latent_noise(trainer, len(x0), generator)).detach()
        d_loss = hinge_discriminator_loss(gan.discriminator(x0), gan.discriminator(fake))
    d_loss.backward()
    trainer.apply_gradients()
    trainer.optimizer.zero_grad(set_to_none=True)
    with trainer.autocast():
        g_loss = hinge_generator_loss(gan.discriminator(gan.generator(latent_noise(trainer, len(x0), generator))))
    g_loss.backward()
    set_grads_to_none(gan.discriminator)
    trainer.apply_gradients()
    trainer.nonfinite |= ~torch.isfinite(g_loss.detach())  # a NaN in either player stops the run
    return d_loss.detach()  # the log shows the discriminator's loss, the GAN's health signal


BASELINE_STEPS = {"vae": vae_step, "gan": gan_step}
