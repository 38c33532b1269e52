"""Model families and diffusion formulations as objectives: the one place that maps a config's names to behaviour."""

from __future__ import annotations

from ..errors import UserError
from .base import Objective
from .clip import CLIPObjective
from .ddpm import DDPMObjective
from .edm import EDMObjective
from .flow import FlowObjective
from .gan import GANObjective
from .unclip import unclip_objective
from .vae import VAEObjective

# A diffusion run's objective is its formulation (config.diffusion.objective); a baseline's is its family.
FORMULATIONS: dict[str, type[Objective]] = {"ddpm": DDPMObjective, "edm": EDMObjective, "flow": FlowObjective}
BASELINES: dict[str, type[Objective]] = {"vae": VAEObjective, "gan": GANObjective, "clip": CLIPObjective}


def objective_for(config) -> Objective:
    """The objective of a RunConfig: its diffusion formulation, or its baseline family (UserError for unknown names)."""
    family = config.model.family
    if family == "diffusion":
        formulation = config.diffusion.objective
        if formulation not in FORMULATIONS:
            raise UserError(
                f"diffusion.objective must be one of {', '.join(FORMULATIONS)}, got {formulation!r}",
                settings=("diffusion.objective",),
            )
        objective = FORMULATIONS[formulation]
        return (unclip_objective(objective) if config.condition.kind == "clip" else objective)(config)
    if family not in BASELINES:
        raise UserError(
            f"model.family must be one of diffusion, {', '.join(BASELINES)}, got {family!r}", settings=("model.family",)
        )
    return BASELINES[family](config)


__all__ = ["BASELINES", "FORMULATIONS", "Objective", "objective_for"]
