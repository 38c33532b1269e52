"""The GAN baseline as an objective: SN-GAN's hinge game (Miyato et al. 2018), one update of each player per step."""

from __future__ import annotations

import torch
from torch import nn

from .base import OnePassObjective
from .losses import hinge_discriminator_loss, hinge_generator_loss


def set_grads_to_none(module: nn.Module) -> None:
    """Adam skips parameters without a gradient: how one optimizer updates one player at a time."""
    for parameter in module.parameters():
        parameter.grad = None


class GANObjective(OnePassObjective):
    name, network_name = "gan", "GAN"
    # Momentum makes the two-player game oscillate: SN-GAN's Adam betas (0, 0.9).
    adam_betas = (0.0, 0.9)
    latent_draws = ("z_fake", "z_generator")

    def train_step(self, trainer) -> torch.Tensor:
        """One discriminator update on real and (detached) fake images, then one generator update through it.

        Returns the discriminator's loss, the GAN's health signal in the log; a NaN in either player stops the run.
        """
        gan = trainer.model
        x0, draws, _ = next(trainer.micro_batches())
        trainer.optimizer.zero_grad(set_to_none=True)
        with trainer.autocast():
            fake = gan.generator(draws["z_fake"]).detach()
            d_loss = hinge_discriminator_loss(gan.discriminator(x0), gan.discriminator(fake))
        d_loss.backward()
        trainer.apply_gradients()
        trainer.optimizer.zero_grad(set_to_none=True)
        with trainer.autocast():
            g_loss = hinge_generator_loss(gan.discriminator(gan.generator(draws["z_generator"])))
        g_loss.backward()
        set_grads_to_none(gan.discriminator)
        trainer.apply_gradients()
        trainer.nonfinite |= ~torch.isfinite(g_loss.detach())
        return d_loss.detach()

    def sampling_network(self, model: nn.Module) -> nn.Module:
        return model.generator
