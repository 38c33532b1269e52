"""A trained CLIP run as a judge: the CLIP score of images for their prompts (Hessel et al. 2021), and the embeddings
that retrieval and zero-shot classification (clip_eval.py) compare.

    judge = load_clip_judge("runs/clip")
    judge.score(images, ["a photo of a smiling woman"] * len(images))   # mean 100 max(cos, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UserError
from ..families.clip import embed_pictures
from ..models.clip import CLIP
from ..models.conditioning import Condition
from ..runs import Run, load_run

BATCH = 256
CLIP_SCORE_WEIGHT = 100.0  # as torchmetrics' CLIPScore; Hessel et al. use 2.5 with their ViT-B/32


def clip_score(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
    """CLIP-S(c, v) = w max(cos(c, v), 0) per pair of unit rows (N, d), (N, d)  (Hessel et al. 2021, eq. 1)."""
    return CLIP_SCORE_WEIGHT * (image_embeddings * text_embeddings).sum(-1).clamp(min=0)


@dataclass
class ClipJudge:
    """A CLIP run's towers with what they need: its image size and how its captions were cut."""

    model: CLIP
    image_size: int
    max_tokens: int
    path: Path

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, 3, H, W) of any square size -> unit embeddings (N, d) on the CPU."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise UserError(f"CLIP judges uint8 images (N, 3, H, W), got {tuple(images.shape)} {images.dtype}")
        return embed_pictures(self.model, images, self.image_size)

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        """Prompts -> unit embeddings (N, d) on the CPU: the frozen text encoder (the text extra), then the tower."""
        from ..text import load_text_encoder  # the text extra, only when texts are judged

        distinct = list(dict.fromkeys(texts))
        encoder = load_text_encoder(self.device)
        rows = []
        for start in range(0, len(distinct), BATCH):
            embedded = encoder.encode(distinct[start : start + BATCH], self.max_tokens)
            null = torch.zeros(len(embedded), dtype=torch.bool, device=self.device)
            condition = Condition(null, tokens=embedded.tokens, token_mask=embedded.mask, pooled=embedded.pooled)
            rows.append(self.model.encode_text(condition).float().cpu())
        table = torch.cat(rows) if rows else torch.zeros(0, self.model.embedding_dim)
        where = {text: index for index, text in enumerate(distinct)}
        return table[[where[text] for text in texts]]

    def score(self, images: torch.Tensor, prompts: list[str]) -> float:
        """The mean CLIP score of images (N, 3, H, W) uint8 for their prompts (N of them)."""
        if len(prompts) != len(images):
            raise UserError(f"{len(prompts)} prompts for {len(images)} images")
        return clip_score(self.embed_images(images), self.embed_texts(prompts)).mean().item()


def load_clip_judge(run: Run | str | Path, device: str = "cpu") -> ClipJudge:
    """The CLIP of a CLIP run folder (train-clip); UserError for another kind of run."""
    run = run if isinstance(run, Run) else load_run(run, device)
    if run.family != "clip":
        raise UserError(f"{run.path} is a {run.family} run, not a CLIP run (make one with unnoise train-clip)")
    return ClipJudge(run.model, run.config.data.image_size, run.config.condition.max_tokens, Path(run.path))
