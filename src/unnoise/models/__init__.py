"""Networks. Denoisers map (x_t, t) to a tensor shaped like x_t and know nothing of noise schedules; the VAE and
GAN baselines map a latent code z ~ N(0, I) to an image (their `generate`)."""

from __future__ import annotations

from torch import nn

from ..errors import UserError
from .conditioning import TEXT_CHANNELS, Condition

__all__ = ["ARCHITECTURES", "FAMILIES", "Condition", "build_model", "count_parameters", "network_for"]
from .clip import CLIP
from .gan import GAN
from .log_variance import WithLogVariance
from .prior import EmbeddingPrior
from .toy_unet import ToyUNet
from .unclip import UnCLIP
from .unet import UNet
from .vae import ConvVAE

ARCHITECTURES = ("unet", "toy_unet")
FAMILIES = ("diffusion", "vae", "gan", "clip")


def build_model(
    model_config, image_size: int, image_channels: int = 3, attribute_count: int = 0, text_channels: int = 0
) -> nn.Module:
    """The network a ModelConfig describes, for images of image_size x image_size.

    attribute_count or text_channels make it conditional (the U-Net only; see UNet).
    """
    family = model_config.family
    architecture = model_config.architecture if family == "diffusion" else family
    if family not in FAMILIES:
        raise UserError(
            f"model.family must be one of {', '.join(FAMILIES)}, got {family!r}", settings=("model.family",)
        )
    if family == "diffusion" and architecture not in ARCHITECTURES:
        raise UserError(
            f"model.architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}",
            settings=("model.architecture",),
        )
    levels = len(model_config.channel_mult)
    halvings = levels - 1  # every network here halves the resolution between consecutive levels
    patch = model_config.patch_size if architecture == "unet" else 1
    if model_config.patch_size < 1 or image_size % patch:
        raise UserError(
            f"model.patch_size must be a positive divisor of data.image_size {image_size}, got "
            f"{model_config.patch_size}",
            settings=("model.patch_size", "data.image_size"),
        )
    if (image_size // patch) % (2**halvings):
        raise UserError(
            f"image size {image_size} must be divisible by {2**halvings} for {levels} levels of {architecture}; "
            "change data.image_size or model.channel_mult",
            settings=("data.image_size", "model.channel_mult"),
        )
    if family in ("vae", "gan"):
        network = ConvVAE if family == "vae" else GAN
        return network(
            image_size,
            image_channels,
            model_config.base_channels,
            tuple(model_config.channel_mult),
            model_config.latent_dim,
        )
    if family == "clip":
        return CLIP(
            model_config.base_channels,
            tuple(model_config.channel_mult),
            model_config.clip_dim,
            model_config.clip_text_layers,
        )
    if architecture == "toy_unet":
        return ToyUNet(image_channels, model_config.base_channels, tuple(model_config.channel_mult))
    resolutions = [image_size // patch // 2**level for level in range(levels)]
    missing = [size for size in model_config.attention_resolutions if size not in resolutions]
    if missing:  # silently dropped, a typo would train a network without the attention its user asked for
        raise UserError(
            f"model.attention_resolutions names {', '.join(map(str, missing))}, but this U-Net's levels work at "
            f"{', '.join(map(str, resolutions))} pixels (data.image_size {image_size}"
            + (f" on {patch}x{patch} patches" if patch > 1 else "")
            + "); choose among those, or none",
            settings=("model.attention_resolutions", "data.image_size"),
        )
    return UNet(
        image_size=image_size,
        image_channels=image_channels,
        base_channels=model_config.base_channels,
        channel_mult=tuple(model_config.channel_mult),
        blocks_per_level=model_config.blocks_per_level,
        attention_resolutions=tuple(model_config.attention_resolutions),
        attention_heads=model_config.attention_heads,
        dropout=model_config.dropout,
        attribute_count=attribute_count,
        text_channels=text_channels,
        scale_shift=model_config.scale_shift,
        patch_size=model_config.patch_size,
    )


def network_for(config) -> nn.Module:
    """The network of a RunConfig: its model settings at its image size, conditional as its condition says."""
    condition = config.condition
    if condition.kind == "clip":
        return unclip_for(config)
    attribute_count = len(condition.attribute_names) if condition.kind == "attributes" else 0
    text_channels = TEXT_CHANNELS if condition.kind == "text" else 0
    if condition.kind == "attributes" and not attribute_count:
        raise UserError(
            "condition.kind attributes needs data with attributes (builtin or celeba); this run has none",
            settings=("condition.kind",),
        )
    network = build_model(
        config.model, config.data.image_size, attribute_count=attribute_count, text_channels=text_channels
    )
    # EDM2's uncertainty weighting learns its weights beside the network; runs without it keep the bare network.
    uncertainty = config.model.family == "diffusion" and config.diffusion.weighting == "uncertainty"
    return WithLogVariance(network) if uncertainty else network


def clip_of(clip_network: dict) -> CLIP:
    """The CLIP a config's condition.clip_network describes (its weights come from the checkpoint)."""
    if not clip_network:
        raise UserError(
            "this unCLIP run has no CLIP recorded (condition.clip_network); train it with condition.clip_run",
            settings=("condition.clip_run",),
        )
    model = clip_network["model"]
    return CLIP(model["base_channels"], tuple(model["channel_mult"]), model["clip_dim"], model["clip_text_layers"])


def unclip_for(config) -> UnCLIP:
    """The decoder (the run's U-Net told CLIP image embeddings), the prior, and the run's recorded CLIP."""
    clip = clip_of(config.condition.clip_network)
    decoder = build_model(config.model, config.data.image_size, text_channels=clip.embedding_dim)
    if not isinstance(decoder, UNet):
        raise UserError("condition.kind clip needs model.architecture unet", settings=("model.architecture",))
    prior = EmbeddingPrior(clip.embedding_dim, config.model.prior_width, config.model.prior_blocks)
    return UnCLIP(decoder, prior, clip)


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
