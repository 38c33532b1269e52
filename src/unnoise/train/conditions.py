"""The condition of each training image: its attributes or one of its captions, sometimes nothing.

Random choices come from the step's generator, like every other draw of the step, so conditional
runs resume exactly and split across processes exactly too. Captions come from the attributes (builtin, celeba)
or from a folder's own caption files; a folder's images without one always train unconditioned.
"""

from __future__ import annotations

import logging

import torch

from ..config import CAPTIONED_KINDS, ConditionConfig, RunConfig
from ..data import ImageDataset
from ..errors import UserError
from ..models.conditioning import ABSENT, PRESENT, UNKNOWN, Condition
from ..text.table import CaptionTable

log = logging.getLogger("unnoise")


def attribute_condition(attributes: torch.Tensor, null: torch.Tensor, hidden: torch.Tensor) -> Condition:
    """0/1 attributes (B, A) -> Condition with +1 present, -1 absent, 0 where hidden; null rows as given."""
    values = torch.where(attributes.bool(), PRESENT, ABSENT)
    return Condition(null, attributes=torch.where(hidden, UNKNOWN, values))


class TrainingConditions:
    """Builds the Condition of a global batch of dataset indices, with the classifier-free drop."""

    def __init__(
        self,
        config: ConditionConfig,
        attributes: torch.Tensor,
        captions: CaptionTable | None,
        device: torch.device,
        uncaptioned: torch.Tensor | None = None,
    ):
        """uncaptioned: (N,) bool, images without a caption of their own, whose rows are always null."""
        self.config, self.device = config, device
        self.attributes = attributes.to(device)  # (N, A) uint8, columns in config.attribute_names order
        self.captions = captions
        self.uncaptioned = None if uncaptioned is None else uncaptioned.to(device)
        if config.kind in CAPTIONED_KINDS and captions is None:
            raise ValueError("text conditioning needs the embedded captions")

    def always_null(self, indices: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
        """null, and also every row of an image without a caption."""
        if self.uncaptioned is None:
            return null
        return null | self.uncaptioned[indices.to(self.device)]

    def draw(self, indices: torch.Tensor, generator: torch.Generator) -> Condition:
        """The conditions of dataset rows `indices` (B,) for one step; draws from generator (on self.device)."""
        count = len(indices)
        null = torch.rand(count, generator=generator, device=self.device) < self.config.drop_prob
        if self.config.kind == "attributes":
            fraction = torch.rand(count, 1, generator=generator, device=self.device) * self.config.hide_max
            hidden = torch.rand(count, self.attributes.shape[1], generator=generator, device=self.device) < fraction
            return attribute_condition(self.attributes[indices.to(self.device)], null, hidden)
        choice = torch.randint(0, self.captions.per_image, (count,), generator=generator, device=self.device)
        return self.caption_condition(indices, choice, self.always_null(indices, null))

    def caption_condition(self, indices: torch.Tensor, choices: torch.Tensor, null: torch.Tensor) -> Condition:
        tokens, mask, pooled = self.captions.gather(indices, choices)
        return Condition(null, tokens=tokens, token_mask=mask, pooled=pooled).to(self.device)

    def of_images(self, indices: torch.Tensor) -> Condition:
        """The full, never dropped conditions of dataset rows `indices` (their first caption): what the training grids
        ask for.
        """
        count = len(indices)
        null = torch.zeros(count, dtype=torch.bool, device=self.device)
        if self.config.kind == "attributes":
            return attribute_condition(self.attributes[indices.to(self.device)], null, torch.zeros_like(null)[:, None])
        return self.caption_condition(indices, torch.zeros_like(indices), self.always_null(indices, null))


def training_conditions(
    config: RunConfig, dataset: ImageDataset, device: torch.device, progress: bool
) -> TrainingConditions | None:
    """What a run with config.condition trains on, after recording the data's attribute names in the config.

    A resumed run must see the same attributes; a text run embeds its captions once (cached on disk): a folder's
    own, else captions made from the attributes.
    """
    condition = config.condition
    if condition.kind == "none":
        return None
    if condition.kind in CAPTIONED_KINDS and dataset.captions is not None:
        return folder_caption_conditions(config, dataset, device, progress)
    if dataset.attributes is None or not dataset.attribute_names:
        raise UserError(
            f"condition.kind {condition.kind} needs data with attributes (builtin or celeba); {dataset.source} has "
            "none",
            settings=("condition.kind",),
        )
    if not condition.attribute_names:
        condition.attribute_names = tuple(dataset.attribute_names)
    missing = sorted(set(condition.attribute_names) - set(dataset.attribute_names))
    if missing:
        raise UserError(f"this run was trained with attributes the data lacks: {', '.join(missing)}")
    columns = [dataset.attribute_names.index(name) for name in condition.attribute_names]
    attributes = dataset.attributes[:, columns]
    captions = None
    if condition.kind in CAPTIONED_KINDS:
        from ..text import caption_table, load_text_encoder  # the text extra, only for text runs

        captions = caption_table(
            list(condition.attribute_names),
            attributes,
            load_text_encoder("cpu"),
            config.train.seed,
            condition.captions_per_image,
            condition.max_tokens,
            progress=progress,
        )
    return TrainingConditions(condition, attributes, captions, device)


def folder_caption_conditions(
    config: RunConfig, dataset: ImageDataset, device: torch.device, progress: bool
) -> TrainingConditions:
    """A text run on a folder's own captions: at most condition.captions_per_image per image, drawn from those
    it has; images without one train unconditioned (with a warning), and a folder without any is a UserError."""
    condition = config.condition
    if condition.attribute_names:
        raise UserError(f"this run was trained with attributes the data lacks: {', '.join(condition.attribute_names)}")
    uncaptioned = torch.tensor([not own for own in dataset.captions], dtype=torch.bool)
    if uncaptioned.all():
        raise UserError(
            f"condition.kind {condition.kind} needs captions, and no image of {dataset.source} has one: add a "
            "metadata.jsonl "
            'beside the images, one line per image like {"file_name": "a.jpg", "text": "a caption"}, or a file '
            "a.txt beside each a.jpg holding its caption",
            settings=("condition.kind",),
        )
    if uncaptioned.any():
        fate = "sit out of the loss" if config.model.family == "clip" else "train unconditioned"
        log.warning(f"{int(uncaptioned.sum())} of {len(dataset)} images have no caption; they {fate}")
    from ..text import given_caption_table, load_text_encoder  # the text extra, only for text runs

    per_image = min(condition.captions_per_image, max(len(own) for own in dataset.captions))
    captions = given_caption_table(
        dataset.captions, load_text_encoder("cpu"), per_image, condition.max_tokens, progress=progress
    )
    attributes = torch.zeros(len(dataset), 0, dtype=torch.uint8)
    return TrainingConditions(condition, attributes, captions, device, uncaptioned)
