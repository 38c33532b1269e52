"""Denoising networks. They map (x_t, t) to a tensor shaped like x_t and know nothing of noise schedules."""

from __future__ import annotations

from torch import nn

from ..errors import UserError
from .toy_unet import ToyUNet
from .unet import UNet

ARCHITECTURES = ("unet", "toy_unet")


def build_model(model_config, image_size: int, image_channels: int = 3) -> nn.Module:
    """The network a ModelConfig describes, for images of image_size x image_size."""
    architecture = model_config.architecture
    if architecture not in ARCHITECTURES:
        raise UserError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    levels = len(model_config.channel_mult)
    halvings = levels - 1  # both networks halve the resolution between consecutive levels
    if image_size % (2**halvings):
        raise UserError(
            f"image size {image_size} must be divisible by {2**halvings} for {levels} levels of {architecture}; "
            "change --image-size or --channel-mult"
        )
    if architecture == "toy_unet":
        return ToyUNet(image_channels, model_config.base_channels, tuple(model_config.channel_mult))
    return UNet(
        image_size=image_size,
        image_channels=image_channels,
        base_channels=model_config.base_channels,
        channel_mult=tuple(model_config.channel_mult),
        blocks_per_level=model_config.blocks_per_level,
        attention_resolutions=tuple(model_config.attention_resolutions),
        attention_heads=model_config.attention_heads,
        dropout=model_config.dropout,
    )


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
