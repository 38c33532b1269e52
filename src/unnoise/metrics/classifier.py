"""An attribute classifier, the judge of "did the model draw what I asked for?".

A small CNN trained on the same data as the diffusion model (multi-label, binary cross-entropy),
saved as classifier.safetensors + classifier.json (attribute names, size, validation accuracy).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..data import ImageDataset
from ..data.transforms import horizontal_flip, to_model_range
from ..errors import UserError, check
from ..storage.atomic import atomic_path, make_folder, write_text_atomic
from ..storage.weights import load_weights, save_weights

log = logging.getLogger("unnoise")

WEIGHTS_FILE = "classifier.safetensors"
INFO_FILE = "classifier.json"
VALIDATION_FRACTION = 0.1


class AttributeCNN(nn.Module):
    """uint8-range images in [-1, 1] (B, 3, S, S) -> one logit per attribute (B, A): strided convs, global mean."""

    def __init__(self, attributes: int, width: int = 32, levels: int = 4):
        super().__init__()
        self.width = width
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1), nn.SiLU()]
        channels = width
        for level in range(levels):
            out = width * 2 ** min(level + 1, 3)
            layers += [
                nn.Conv2d(channels, out, 3, stride=2, padding=1),
                nn.GroupNorm(8, out),
                nn.SiLU(),
                nn.Conv2d(out, out, 3, padding=1),
                nn.GroupNorm(8, out),
                nn.SiLU(),
            ]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, attributes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


@dataclass
class AttributeClassifier:
    """A trained AttributeCNN with what it needs to judge images: its attribute names and image size."""

    network: AttributeCNN
    attribute_names: list[str]
    image_size: int
    accuracy: dict[str, float]  # validation accuracy per attribute
    majority: dict[str, float]  # accuracy of always guessing the more common value, per attribute

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """uint8 images (N, 3, S, S) -> (N, A) bool, whether each attribute is present."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1:] != (3, self.image_size, self.image_size):
            raise UserError(
                f"the classifier judges (N, 3, {self.image_size}, {self.image_size}) uint8 images, "
                f"got {tuple(images.shape)} {images.dtype}"
            )
        device = next(self.network.parameters()).device
        self.network.eval()
        out = [
            self.network(to_model_range(images[start : start + batch_size].to(device))) > 0
            for start in range(0, len(images), batch_size)
        ]
        return torch.cat(out).cpu()

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        make_folder(folder)
        with atomic_path(folder / WEIGHTS_FILE) as temporary:
            save_weights(self.network, temporary)
        info = {
            "attribute_names": self.attribute_names,
            "image_size": self.image_size,
            "accuracy": self.accuracy,
            "majority": self.majority,
            "width": self.network.width,
        }
        write_text_atomic(folder / INFO_FILE, json.dumps(info, indent=2) + "\n")


def load_classifier(folder: str | Path, device: str | torch.device = "cpu") -> AttributeClassifier:
    folder = Path(folder)
    try:
        info = json.loads((folder / INFO_FILE).read_text())
        names, size, width = list(info["attribute_names"]), int(info["image_size"]), int(info["width"])
    except FileNotFoundError:
        raise UserError(f"{folder} holds no classifier ({INFO_FILE}); make one with unnoise train-classifier") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{folder / INFO_FILE} is not a classifier description ({error})") from None
    network = AttributeCNN(len(names), width)
    load_weights(network, folder / WEIGHTS_FILE)
    return AttributeClassifier(
        network.to(device).eval(), names, size, info.get("accuracy", {}), info.get("majority", {})
    )


def split_rows(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random 90/10 split of range(count) into training and validation rows."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    held_out = max(1, math.ceil(VALIDATION_FRACTION * count))
    return order[held_out:], order[:held_out]


def train_classifier(
    dataset: ImageDataset,
    steps: int = 1500,
    batch_size: int = 64,
    lr: float = 2e-3,
    width: int = 32,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> AttributeClassifier:
    """Fit an AttributeCNN to a dataset's attributes on 90% of it; accuracy is measured on the other 10%.

    Raises UserError (naming the setting) for steps or batch_size below 1, width below 8, a non-positive lr, or
    data without attributes.
    """
    check(steps >= 1, f"steps must be at least 1, got {steps}", "steps")
    check(batch_size >= 1, f"batch_size must be at least 1, got {batch_size}", "batch_size")
    check(width >= 8, f"width must be at least 8, got {width}", "width")
    check(lr > 0, f"lr must be positive, got {lr}", "lr")
    if dataset.attributes is None or not dataset.attribute_names:
        raise UserError(f"{dataset.source} has no attributes to learn; use builtin or celeba data")
    if len(dataset) < 10:
        raise UserError(f"{len(dataset)} images are too few to train and validate a classifier (10 at least)")
    device = torch.device(device)
    torch.manual_seed(seed)
    network = AttributeCNN(len(dataset.attribute_names), width).to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=1e-4)
    train_rows, valid_rows = split_rows(len(dataset), seed)
    images, labels = dataset.images, dataset.attributes.float()
    generator = torch.Generator().manual_seed(seed)
    bar = tqdm(total=steps, desc="training classifier", unit="step", disable=not progress, file=sys.stderr)
    started = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:  # cosine decay: a short schedule that ends well trained
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        rows = train_rows[torch.randint(len(train_rows), (batch_size,), generator=generator)]
        x = horizontal_flip(to_model_range(images[rows]), torch.rand(batch_size, generator=generator) < 0.5)
        loss = F.binary_cross_entropy_with_logits(network(x.to(device)), labels[rows].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if not torch.isfinite(loss):
            raise UserError(f"the classifier's loss became NaN or infinite at step {step + 1}; try a lower lr")
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    classifier = AttributeClassifier(network.eval(), list(dataset.attribute_names), dataset.images.shape[-1], {}, {})
    predicted = classifier.predict(images[valid_rows])
    truth = dataset.attributes[valid_rows].bool()
    for column, name in enumerate(dataset.attribute_names):
        classifier.accuracy[name] = (predicted[:, column] == truth[:, column]).float().mean().item()
        share = truth[:, column].float().mean().item()
        classifier.majority[name] = max(share, 1 - share)
    if progress:
        log.info(
            f"classifier trained in {time.perf_counter() - started:.0f} s; validation accuracy on {len(valid_rows)} "
            "images:"
        )
        for name in dataset.attribute_names:
            log.info(
                f"  {name:<22} {classifier.accuracy[name]:.3f}   (always the majority: {classifier.majority[name]:.3f})"
            )
    return classifier
