"""Classifier-free guidance (Ho & Salimans 2022): push the prediction from the unconditional one towards the
conditional.

The guided network has the plain (x_t, t) signature samplers expect, so every sampler guides. Its
output is combined in whatever the network predicts (eps, x_0 or v): at fixed x_t and t each of
them is an affine function of the others with weights that sum to one, so guiding v is guiding eps.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

DEFAULT_GUIDANCE = 3.0  # what sampling uses unless told: clearly more faithful than w = 1, still varied
ConditionalNetwork = Callable[..., torch.Tensor]  # network(x_t, t, condition) -> prediction


def classifier_free_guidance(uncond: torch.Tensor, cond: torch.Tensor, scale: float) -> torch.Tensor:
    """eps_hat = eps_uncond + w (eps_cond - eps_uncond)   (Ho & Salimans 2022, eq. 6 with w here = 1 + w there)."""
    return uncond + scale * (cond - uncond)


class GuidedNetwork:
    """network(x_t, t) conditioned on `condition`, guided with scale w away from `baseline`.

    baseline is the "null" condition for plain guidance, or a negative prompt. w = 1 is the
    conditional model alone and w = 0 the baseline alone (one network call each); any other w
    makes one call on the doubled batch [x_t, x_t] with [condition, baseline].
    """

    def __init__(self, network: ConditionalNetwork, condition: Any, baseline: Any, scale: float):
        self.network, self.condition, self.baseline, self.scale = network, condition, baseline, scale
        # Both halves of the doubled batch, joined once (for text, padding the shorter): every step reuses them.
        self.both = condition.cat(baseline) if scale not in (0, 1) else None

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            return self.network(x_t, t, self.condition)
        if self.scale == 0:
            return self.network(x_t, t, self.baseline)
        both = self.network(torch.cat([x_t, x_t]), torch.cat([t, t]), self.both)
        cond, uncond = both.chunk(2)
        return classifier_free_guidance(uncond, cond, self.scale)
