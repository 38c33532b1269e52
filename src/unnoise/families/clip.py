"""CLIP as a family (Radford et al. 2021): image and caption towers trained with the symmetric InfoNCE loss.

It trains through the same Trainer as every family (progress, checkpoints, resume, torchrun), on the captions of
condition.kind text; it draws no images. Rows whose caption is null (images without one) sit out of the loss.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UserError
from ..sampling.settings import SampleSettings
from .base import Objective
from .losses import symmetric_info_nce


class CLIPObjective(Objective):
    name, network_name = "clip", "CLIP"
    makes_images = False

    def loss(self, network: nn.Module, x0: torch.Tensor, draws: dict[str, torch.Tensor], condition) -> torch.Tensor:
        """The symmetric InfoNCE of the micro-batch's captioned pairs (0 when fewer than two have a caption)."""
        image, text, scale = network(x0, condition)
        keep = ~condition.null
        if int(keep.sum()) < 2:  # nothing to tell apart; a zero that still touches every weight (DDP wants that)
            return (image.sum() + text.sum()) * 0.0 * scale
        return symmetric_info_nce(image[keep], text[keep], scale)

    def generate(self, model: nn.Module, settings: SampleSettings, on_step=None, condition=None) -> torch.Tensor:
        raise UserError(
            "a CLIP run draws no images: evaluate it with clip-eval, or train an unCLIP run on it (condition.kind clip,"
            " condition.clip_run)",
            settings=("condition.kind", "condition.clip_run"),
        )

    def check_sampling(self, settings: SampleSettings, on_step) -> None:
        self.generate(None, settings)

    def describe_sampling(self, settings: SampleSettings) -> str:
        return "no sampling (a CLIP run)"
