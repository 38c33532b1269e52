"""The conditions of an unCLIP run: each image's CLIP image embedding for the decoder, and one of its captions'
CLIP text embeddings for the prior (Ramesh et al. 2022).

Both are computed once, with the run's frozen CLIP, before the first step: the image tower over the whole set
and the text tower over every caption of the caption table. The step's draws (decoder drop, caption choice) come
from the step's generator, so unCLIP runs resume and split across processes exactly, as every conditional run.
"""

from __future__ import annotations

import torch

from ..config import RunConfig
from ..data import ImageDataset
from ..families.clip import embed_pictures
from ..models.clip import CLIP
from ..models.conditioning import Condition
from ..models.unclip import image_embedding_condition
from .conditions import TrainingConditions

BATCH = 256


@torch.no_grad()
def embed_captions(clip: CLIP, text: TrainingConditions, count: int, device: torch.device) -> torch.Tensor:
    """Every caption k of every image i through the CLIP text tower -> (N, K, d) unit embeddings on the CPU."""
    per_image = text.captions.per_image
    rows = []
    pairs = torch.arange(count * per_image)
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        images, choices = chunk // per_image, chunk % per_image
        condition = text.caption_condition(images, choices, torch.zeros(len(chunk), dtype=torch.bool))
        rows.append(clip.encode_text(condition.to(device)).float().cpu())
    return torch.cat(rows).reshape(count, per_image, -1)


class ClipTrainingConditions:
    """The Condition of a batch of dataset indices: the decoder's image embedding (dropped with condition.drop_prob)
    and, for the prior, a caption's text embedding (`caption`, (B, d)) and whether the image has none
    (`caption_null`)."""

    def __init__(
        self,
        config: RunConfig,
        image_embeddings: torch.Tensor,
        caption_embeddings: torch.Tensor,
        uncaptioned: torch.Tensor | None,
        device: torch.device,
    ):
        self.drop_prob, self.device = config.condition.drop_prob, device
        self.images = image_embeddings.to(device)  # (N, d)
        self.captions = caption_embeddings.to(device)  # (N, K, d)
        count = image_embeddings.shape[0]
        self.uncaptioned = (uncaptioned if uncaptioned is not None else torch.zeros(count, dtype=torch.bool)).to(device)

    def condition(self, indices: torch.Tensor, choices: torch.Tensor, null: torch.Tensor) -> Condition:
        indices = indices.to(self.device)
        decoder = image_embedding_condition(self.images[indices], null)
        caption = self.captions[indices, choices]
        return Condition(**decoder.tensors(), caption=caption, caption_null=self.uncaptioned[indices])

    def draw(self, indices: torch.Tensor, generator: torch.Generator) -> Condition:
        count = len(indices)
        null = torch.rand(count, generator=generator, device=self.device) < self.drop_prob
        choice = torch.randint(0, self.captions.shape[1], (count,), generator=generator, device=self.device)
        return self.condition(indices, choice, null)

    def of_images(self, indices: torch.Tensor) -> Condition:
        """The images' own embeddings, never dropped: the training grids show what the decoder makes of them."""
        zeros = torch.zeros(len(indices), dtype=torch.long, device=self.device)
        return self.condition(indices, zeros, torch.zeros(len(indices), dtype=torch.bool, device=self.device))


def clip_training_conditions(
    config: RunConfig, dataset: ImageDataset, clip: CLIP, text: TrainingConditions, device: torch.device
) -> ClipTrainingConditions:
    """Embed the dataset's images and captions with `clip` (the run's frozen CLIP, on device)."""
    size = int(config.condition.clip_network["image_size"])
    images = embed_pictures(clip, dataset.images, size)
    captions = embed_captions(clip, text, len(dataset), device)
    return ClipTrainingConditions(config, images, captions, text.uncaptioned, device)
