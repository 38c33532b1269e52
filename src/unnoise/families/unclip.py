"""unCLIP (Ramesh et al. 2022) on any formulation: the decoder trains as that formulation's conditional U-Net on
CLIP image embeddings, and the prior, in the same step and the same forward pass, learns text embedding -> image
embedding by flow matching in embedding space (DALL-E 2 used a DDPM predicting the clean embedding; at d = 64 the
straight-path objective trains as well and samples in few steps).

Sampling a prompt runs the prior (its own grid, guided like any conditional network) and then the decoder on the
embedding it drew; a picture's variations run the decoder on the picture's own embedding.
"""

from __future__ import annotations

import torch
from torch import nn

from ..diffusion.denoiser import TIME_SCALE, FlowDenoiser
from ..diffusion.flow import flow_interpolate, uniform_time_grid, velocity_target
from ..diffusion.guidance import GuidedNetwork
from ..diffusion.samplers import sample_euler
from ..errors import UserError, check
from ..models.conditioning import null_condition_like
from ..models.unclip import caption_condition, image_embedding_condition, to_unit
from ..sampling.editing import slerp_frames
from ..sampling.generation import PerImageNoise, batch_slices
from ..sampling.requests import prompt_condition, prompt_of_request, refuse_negative_prompt
from ..sampling.settings import SampleSettings
from ..seeds import derived_seed
from .base import millions
from .clip import embed_pictures
from .denoising import DenoisingObjective

PRIOR_STEPS = 25  # Euler steps of the prior's flow; it is a small MLP, so this costs little beside the decoder
# The prior's classifier-free guidance unless asked: on celeba32 (benchmarks/RESULTS.md) 2 raised the requested
# attributes from 60.6% to 72.5% at decoder guidance 1 (FID 77.9 -> 81.9), 4 to 74.6% (FID 85.9).
PRIOR_GUIDANCE = 2.0
PRIOR_LOSS_WEIGHT = 1.0


class UnCLIPObjective:
    """Mixed in before a formulation's objective (see unclip_objective): adds the prior to its draws and loss, and
    the prior to its sampling of prompts."""

    def embedding_dim(self) -> int:
        return int(self.config.condition.clip_network["model"]["clip_dim"])

    def training_draws(self, generator: torch.Generator, count: int, device: torch.device) -> dict[str, torch.Tensor]:
        draws = super().training_draws(generator, count, device)
        draws["prior_t"] = torch.rand(count, generator=generator, device=device)
        draws["prior_noise"] = torch.randn((count, self.embedding_dim()), generator=generator, device=device)
        draws["prior_drop"] = torch.rand(count, generator=generator, device=device) < self.config.condition.drop_prob
        return draws

    def loss(self, network: nn.Module, x0: torch.Tensor, draws: dict[str, torch.Tensor], condition) -> torch.Tensor:
        """The formulation's decoder loss + the prior's flow-matching loss, from one call of the network."""
        target = condition.pooled.float()  # spread(image embedding): the prior's x_0, on every row (null or not)
        t, noise = draws["prior_t"], draws["prior_noise"]
        caption = caption_condition(condition.caption, draws["prior_drop"] | condition.caption_null)
        prior_input = (flow_interpolate(target, noise, t), TIME_SCALE * t, caption)
        outputs = {}

        def decoder(x, t, condition=None):
            decoded, outputs["prior"] = network(x, t, condition, prior=prior_input)
            return decoded

        decoder_loss = super().loss(decoder, x0, draws, condition)
        prior_loss = (outputs["prior"].float() - velocity_target(target, noise)).square().mean()
        self.tally("decoder_loss", decoder_loss)  # the log shows both: the sum alone would hide a prior that stalls
        self.tally("prior_loss", prior_loss)
        return decoder_loss + PRIOR_LOSS_WEIGHT * prior_loss

    def describe_parameters(self, model: nn.Module) -> str:
        return (
            f"{self.network_name}: {millions(model.decoder)} parameters, prior {millions(model.prior)}, frozen CLIP "
            f"{millions(model.clip)}"
        )

    # --- sampling ---

    def describe_sampling(self, settings: SampleSettings) -> str:
        decoder = super().describe_sampling(settings)
        if not settings.asks:
            return decoder
        return f"prior: Euler, {PRIOR_STEPS} steps, guidance {prior_guidance_of(settings):g}; decoder: {decoder}"

    def request(self, model: nn.Module, settings: SampleSettings, count: int):
        """A prompt (or attrs, as a caption) runs the prior: the decoder is told the image embeddings it draws."""
        if settings.prompt is None and settings.attrs is None:
            refuse_prior_guidance_without_prompt(settings)
            return super().request(model, settings, count)
        return image_embedding_condition(self.prompt_embeddings(model, settings.replace(n=count))), None

    def prompt_embeddings(self, model: nn.Module, settings: SampleSettings) -> torch.Tensor:
        """settings.n CLIP image embeddings (n, d) the prior draws for the settings' prompt (or attrs as a caption)."""
        refuse_negative_prompt(settings.negative_prompt)
        prompt = prompt_of_request(self.config.condition, settings.attrs, settings.prompt)
        device = next(model.parameters()).device
        text = prompt_condition(prompt, 1, self.config.condition.max_tokens, device)
        caption = model.clip.encode_text(text).expand(settings.n, -1)
        return draw_image_embeddings(model, caption, settings.seed, settings.batch_size, prior_guidance_of(settings))

    def image_embeddings(self, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """Unit CLIP image embeddings (B, d) of uint8 images (B, 3, H, W), at the CLIP's own image size."""
        size = int(self.config.condition.clip_network["image_size"])
        return embed_pictures(model.clip, images, size).to(next(model.parameters()).device)


def prior_guidance_of(settings: SampleSettings) -> float:
    """The prior's guidance scale the settings ask for: theirs, or PRIOR_GUIDANCE."""
    return PRIOR_GUIDANCE if settings.prior_guidance is None else settings.prior_guidance


def refuse_prior_guidance_without_prompt(settings: SampleSettings) -> None:
    """UserError for a prior guidance without a prompt (or attrs) for the prior to follow."""
    asked = settings.prior_guidance is None or settings.prompt is not None or settings.attrs is not None
    check(asked, "prior_guidance guides the prior of a prompt: give a prompt too", "prior_guidance", "prompt")


def require_unclip(objective) -> None:
    """UserError unless the objective is an unCLIP run's (its CLIP turns pictures into decoder conditions)."""
    if not isinstance(objective, UnCLIPObjective):
        config = objective.config
        if config.model.family == "clip":
            this = "a CLIP run (train-clip), which draws no images: train an unCLIP run on it"
        else:
            told = f", conditioned on {config.condition.kind}" if config.condition.kind != "none" else ""
            this = f"a {config.model.family} run{told}"
        raise UserError(
            f"variations and embedding walks need an unCLIP run (trained with condition.kind clip); this one is {this}",
            settings=("condition.kind",),
        )


def variations(objective, model: nn.Module, images: torch.Tensor, settings: SampleSettings, on_step=None):
    """settings.n images (n, 3, H, W) uint8 decoded from the CLIP image embedding of picture k mod N (images (N, 3, H,
    W) uint8): the same embedding, new decoder noise (Ramesh et al. 2022, 3.1, "image variations")."""
    require_unclip(objective)
    asked = [name for name in ("prompt", "negative_prompt", "attrs") if getattr(settings, name) is not None]
    if asked:
        raise UserError(f"variations come from a picture: leave out {', '.join(asked)}", settings=tuple(asked))
    embeddings = objective.image_embeddings(model, images)
    rows = torch.arange(settings.n) % images.shape[0]
    return objective.generate(model, settings, on_step, condition=image_embedding_condition(embeddings[rows]))


def embedding_walk(objective, model: nn.Module, images: torch.Tensor, settings: SampleSettings, on_step=None):
    """settings.n frames (n, 3, H, W) uint8 between two pictures' CLIP image embeddings (slerp on the unit sphere),
    every frame decoded from the same noise (seed's image 0), so only the embedding moves (Ramesh et al. 2022, 3.2)."""
    require_unclip(objective)
    if images.shape[0] != 2:
        raise UserError(f"an embedding walk goes between two pictures, got {images.shape[0]}", settings=("images",))
    ends = objective.image_embeddings(model, images)
    path = slerp_frames(ends[0], ends[1], settings.n)
    frames = [
        objective.generate(model, settings.replace(n=1), on_step, condition=image_embedding_condition(point[None]))
        for point in path
    ]
    return torch.cat(frames)


@torch.no_grad()
def draw_image_embeddings(
    model: nn.Module, caption: torch.Tensor, seed: int, batch_size: int, guidance: float = PRIOR_GUIDANCE
) -> torch.Tensor:
    """Unit image embeddings (n, d) from the prior for unit caption embeddings (n, d): Euler on the flow from noise,
    guided with scale `guidance` away from the null caption, row k's noise from its own generator (seed, k), so the
    same seed gives the same embedding at any n."""
    grid = uniform_time_grid(PRIOR_STEPS)
    prior_seed = derived_seed(seed, "prior")
    rows = []
    for part in batch_slices(caption.shape[0], batch_size):
        noise = PerImageNoise(prior_seed, part, caption.device)
        condition = caption_condition(caption[part])
        network = GuidedNetwork(model.prior, condition, null_condition_like(condition), guidance)
        z = sample_euler(FlowDenoiser(network), noise.draw((caption.shape[1],)), grid, noise)
        rows.append(to_unit(z))
    return torch.cat(rows)


def unclip_objective(formulation: type[DenoisingObjective]) -> type[DenoisingObjective]:
    """The formulation's objective with unCLIP's prior added (a class named e.g. UnCLIPFlowObjective)."""
    return type(f"UnCLIP{formulation.__name__}", (UnCLIPObjective, formulation), {"name": formulation.name})


__all__ = ["UnCLIPObjective", "draw_image_embeddings", "embedding_walk", "unclip_objective", "variations"]
