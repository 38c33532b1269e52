"""Model families as objectives (diffusion, VAE, GAN): the one place that maps a config's family to its behaviour."""

from __future__ import annotations

from ..errors import UserError
from .base import Objective
from .diffusion import DiffusionObjective
from .gan import GANObjective
from .vae import VAEObjective

OBJECTIVES: dict[str, type[Objective]] = {"diffusion": DiffusionObjective, "vae": VAEObjective, "gan": GANObjective}


def objective_for(config) -> Objective:
    """The objective of a RunConfig's model family (UserError for an unknown one)."""
    family = config.model.family
    if family not in OBJECTIVES:
        raise UserError(
            f"model.family must be one of {', '.join(OBJECTIVES)}, got {family!r}", settings=("model.family",)
        )
    return OBJECTIVES[family](config)


__all__ = ["OBJECTIVES", "Objective", "objective_for"]
