"""The VAE baseline as an objective: maximise the ELBO (Kingma & Welling 2014) with the optimal-sigma decoder."""

from __future__ import annotations

import torch
from torch import nn

from .base import OnePassObjective
from .losses import negative_elbo


class VAEObjective(OnePassObjective):
    name, network_name = "vae", "VAE"

    def loss(self, network: nn.Module, x0: torch.Tensor, draws: dict[str, torch.Tensor], condition) -> torch.Tensor:
        """-ELBO per dimension (nats): encode, decode a reparameterised draw z = mu + sigma eps."""
        mean, mu, log_variance = network(x0, draws["z"])
        return negative_elbo(x0, mean, mu, log_variance, self.config.model.vae_beta).mean() / x0[0].numel()

    def sampling_network(self, model: nn.Module) -> nn.Module:
        return model.decoder
