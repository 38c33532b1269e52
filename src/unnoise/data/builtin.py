"""Built-in data needing no download: cartoon faces drawn from a seed, with attributes you can see.

Attributes use CelebA names where CelebA has them. Hair colour is one-hot over Black_Hair,
Blond_Hair, Brown_Hair and Red_Hair; Smiling, Eyeglasses, Dark_Skin and Blue_Background are
independent coin flips, so a conditional model can be asked for any combination. The n-th face
depends only on the seed, so builtin:100 is the first 100 faces of builtin:4096.
"""

import sys

import numpy as np
import torch
from tqdm import tqdm

from .builtin_faces import ATTRIBUTE_NAMES, HAIR_ATTRIBUTES, HAIR_COLOURS, draw_face
from .dataset import ImageDataset
from .decoding import refuse_beyond_memory

__all__ = ["ATTRIBUTE_NAMES", "HAIR_ATTRIBUTES", "HAIR_COLOURS", "draw_face", "generate_faces", "sample_attributes"]

# Bump when the drawing or the sampling changes, so cached copies of the old faces are rebuilt.
BUILTIN_VERSION = 1

HAIR_PROBABILITIES = [0.3, 0.25, 0.25, 0.2]
COIN_PROBABILITIES = {"Smiling": 0.5, "Eyeglasses": 0.4, "Dark_Skin": 0.4, "Blue_Background": 0.5}


def sample_attributes(rng: np.random.Generator) -> dict[str, bool]:
    attributes = {name: bool(rng.random() < probability) for name, probability in COIN_PROBABILITIES.items()}
    hair = HAIR_ATTRIBUTES[rng.choice(len(HAIR_ATTRIBUTES), p=HAIR_PROBABILITIES)]
    attributes.update({name: name == hair for name in HAIR_ATTRIBUTES})
    return attributes


def generate_faces(count: int, seed: int, image_size: int, progress: bool, source: str) -> ImageDataset:
    """count faces drawn from numpy's default_rng(seed), with their attributes as 0/1 columns.

    Raises UserError, before drawing any, when they need more memory than the machine has free.
    """
    needed = count * (3 * image_size * image_size + len(ATTRIBUTE_NAMES))
    refuse_beyond_memory(needed, f"{count} built-in faces", image_size, ": ask for fewer (builtin:N)")
    rng = np.random.default_rng(seed)
    images = np.empty((count, 3, image_size, image_size), dtype=np.uint8)  # (N, 3, S, S)
    attributes = np.zeros((count, len(ATTRIBUTE_NAMES)), dtype=np.uint8)
    for index in tqdm(range(count), desc="drawing built-in faces", unit="image", disable=not progress, file=sys.stderr):
        chosen = sample_attributes(rng)
        images[index] = np.asarray(draw_face(chosen, image_size, rng)).transpose(2, 0, 1)
        attributes[index] = [chosen[name] for name in ATTRIBUTE_NAMES]
    return ImageDataset(
        images=torch.from_numpy(images),
        names=[f"builtin_{index:06d}" for index in range(count)],
        attribute_names=list(ATTRIBUTE_NAMES),
        attributes=torch.from_numpy(attributes),
        source=source,
    )
