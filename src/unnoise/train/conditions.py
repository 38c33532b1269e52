"""The condition of each training image: its attributes or one of its captions, sometimes nothing.

Random choices come from the step's generator, like every other draw of the step, so conditional
runs resume exactly and split across processes exactly too.
"""

from __future__ import annotations

import torch

from ..config import ConditionConfig, RunConfig
from ..data import ImageDataset
from ..errors import UserError
from ..models.conditioning import ABSENT, PRESENT, UNKNOWN, Condition
from ..text.table import CaptionTable


def attribute_condition(attributes: torch.Tensor, null: torch.Tensor, hidden: torch.Tensor) -> Condition:
    """0/1 attributes (B, A) -> Condition with +1 present, -1 absent, 0 where hidden; null rows as given."""
    values = torch.where(attributes.bool(), PRESENT, ABSENT)
    return Condition(null, attributes=torch.where(hidden, UNKNOWN, values))


class TrainingConditions:
    """Builds the Condition of a global batch of dataset indices, with the classifier-free drop."""

    def __init__(
        self, config: ConditionConfig, attributes: torch.Tensor, captions: CaptionTable | None, device: torch.device
    ):
        self.config, self.device = config, device
        self.attributes = attributes.to(device)  # (N, A) uint8, columns in config.attribute_names order
        self.captions = captions
        if config.kind == "text" and captions is None:
            raise ValueError("text conditioning needs the embedded captions")

    def draw(self, indices: torch.Tensor, generator: torch.Generator) -> Condition:
        """The conditions of dataset rows `indices` (B,) for one step; draws from generator (on self.device)."""
        count = len(indices)
        null = torch.rand(count, generator=generator, device=self.device) < self.config.drop_prob
        if self.config.kind == "attributes":
            fraction = torch.rand(count, 1, generator=generator, device=self.device) * self.config.hide_max
            hidden = torch.rand(count, self.attributes.shape[1], generator=generator, device=self.device) < fraction
            return attribute_condition(self.attributes[indices.to(self.device)], null, hidden)
        choice = torch.randint(0, self.captions.per_image, (count,), generator=generator, device=self.device)
        return self.caption_condition(indices, choice, null)

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
        return self.caption_condition(indices, torch.zeros_like(indices), null)


def training_conditions(
    config: RunConfig, dataset: ImageDataset, device: torch.device, progress: bool
) -> TrainingConditions | None:
    """What a run with config.condition trains on, after recording the data's attribute names in the config.

    A resumed run must see the same attributes; a text run embeds its captions once (cached on disk).
    """
    condition = config.condition
    if condition.kind == "none":
        return None
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
    if condition.kind == "text":
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
