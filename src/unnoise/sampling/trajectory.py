"""A picture of the reverse chain: x at a few steps from noise to image, one row per image."""

from __future__ import annotations

from typing import Callable

import torch
from PIL import Image

from ..data.transforms import images_from_model_range
from ..diffusion.samplers import StepCallback
from ..viz import labelled_rows


def snapshot_steps(total: int, snapshots: int) -> list[int]:
    """Which of `total` steps to show: spaced geometrically in the steps still to go (K, K/2.5, ..., 1), because the
    picture changes most near the end of the chain."""
    if snapshots < 2:
        return [total - 1]
    return sorted({total - max(1, round(total ** (1 - k / (snapshots - 1)))) for k in range(snapshots)})


def trajectory_strip(
    draw: Callable[[StepCallback], torch.Tensor],
    total_steps: int,
    label: Callable[[float], str],
    snapshots: int = 8,
    scale: int = 1,
) -> Image.Image:
    """draw(on_step) runs a solver of total_steps steps; the strip shows the state after the chosen steps, each column
    labelled by label(sigma) of the level it reached (the last one is the image, "x0")."""
    picks = snapshot_steps(total_steps, snapshots)
    frames: dict[int, torch.Tensor] = {}
    labels: dict[int, str] = {}

    def remember(i: int, sigma: float, x: torch.Tensor, x0: torch.Tensor) -> None:
        if i in picks:
            frames[i] = images_from_model_range(x)
            labels[i] = label(sigma) if sigma > 0 else "x0"

    draw(remember)
    columns = torch.stack([frames[i] for i in sorted(frames)], dim=1)  # (n, snapshots, 3, H, W)
    return labelled_rows(list(columns), [labels[i] for i in sorted(frames)], scale=scale)
