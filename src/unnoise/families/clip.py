"""CLIP as a family (Radford et al. 2021): image and caption towers trained with the symmetric InfoNCE loss.

It trains through the same Trainer as every family (progress, checkpoints, resume, torchrun), on the captions of
condition.kind text; it draws no images. Rows whose caption is null (images without one) sit out of the loss.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..data.transforms import to_model_range
from ..errors import UserError
from ..models.clip import CLIP
from ..sampling.settings import SampleSettings
from .base import Objective
from .losses import symmetric_info_nce

PICTURE_BATCH = 256
# The model and condition settings a CLIP run reads besides every data and train setting (its towers' widths and
# embedding, its captions); `unnoise train-clip --help` shows only these.
CLIP_MODEL_SETTINGS = frozenset(
    {
        "model.family",
        "model.base_channels",
        "model.channel_mult",
        "model.clip_dim",
        "model.clip_text_layers",
        "condition.captions_per_image",
        "condition.max_tokens",
    }
)


def clip_reads(setting: str) -> bool:
    """Whether a CLIP run reads `setting` ("section.field"): no diffusion, sampling, image or FID settings (its
    train.sample_every times its loss.png), and no train.accum (refused: see config.validate)."""
    section, name = setting.split(".")
    drawing = name in ("sample_count", "sample_steps") or name.startswith("eval_")  # a CLIP draws no images
    return (
        setting in CLIP_MODEL_SETTINGS or section == "data" or (section == "train" and not drawing and name != "accum")
    )


@torch.no_grad()
def embed_pictures(clip: CLIP, images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 pictures (N, 3, H, W) -> unit CLIP image embeddings (N, d) on the CPU, in batches on the CLIP's device,
    resized (antialiased) to the CLIP's image size `size` where they differ, as it was trained."""
    device = next(clip.parameters()).device
    rows = []
    for start in range(0, images.shape[0], PICTURE_BATCH):
        batch = to_model_range(images[start : start + PICTURE_BATCH].to(device))
        if batch.shape[-2:] != (size, size):
            batch = F.interpolate(batch, size=(size, size), mode="bilinear", antialias=True)
        rows.append(clip.encode_image(batch).float().cpu())
    return torch.cat(rows) if rows else torch.zeros(0, clip.embedding_dim)


class GatherRows(torch.autograd.Function):
    """All processes' rows (B, ...) -> (world x B, ...) in rank order; backward sums each row's gradient over the
    processes (every process's loss used every row) and hands each process its own rows' share."""

    @staticmethod
    def forward(ctx, rows: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.count = dist.get_rank(), rows.shape[0]
        parts = [torch.empty_like(rows) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, rows.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        gradient = gradient.contiguous()
        dist.all_reduce(gradient)
        return gradient[ctx.rank * ctx.count : (ctx.rank + 1) * ctx.count]


def from_every_process(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Each (B, ...) tensor with the rows of every process of a torchrun job, in rank order (as they are in one
    process). Gradients flow back to each process's own rows, summed over the processes' losses; as every process
    computes the same loss and DDP averages the gradients, the step is the one-process step on the whole batch."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensors
    return tuple(GatherRows.apply(tensor) for tensor in tensors)


class CLIPObjective(Objective):
    name, network_name = "clip", "CLIP"
    makes_images = False

    def loss(self, network: nn.Module, x0: torch.Tensor, draws: dict[str, torch.Tensor], condition) -> torch.Tensor:
        """The symmetric InfoNCE of the global batch's captioned pairs (0 when fewer than two have a caption): under
        torchrun every process tells its captions from all processes' images, as one process with the whole batch."""
        image, text, scale = network(x0, condition)  # every row through the towers: DDP wants every weight used
        image, text, keep = from_every_process(image, text, (~condition.null).to(torch.uint8))
        return symmetric_info_nce(image, text, scale, keep=keep.bool())

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
