"""Choosing the device a run uses."""

from __future__ import annotations

import torch

from .errors import UserError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"device must be auto, cpu, cuda, cuda:N or mps, got {name!r}", settings=("device",)) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(
            f"device {name!r} was asked for, but this torch build sees no CUDA GPU; use device cpu",
            settings=("device",),
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(
            f"device {name!r} was asked for, but MPS is not available here; use device cpu", settings=("device",)
        )
    return device
