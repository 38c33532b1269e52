"""Inception features of an image set: batched, with a progress bar, and cached by the images' content.

A cache entry is keyed by sha256(protocol, shape, uint8 bytes), so the same images at the same
size never go through the network twice, whether they come from a dataset, a folder or a run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from tqdm import tqdm

from ..data.cache import cache_directory
from ..storage.atomic import WriteError, atomic_path
from ..storage.weights import save_tensors
from .inception import FEATURE_DIM, PROTOCOL, load_inception

log = logging.getLogger("unnoise")

FEATURE_CACHE_FOLDER = "inception-features"
# On a 2-core CPU, batches of 8 ran at 6 images/s and batches of 32 at 4.5; GPUs want large batches.
CPU_BATCH_SIZE, GPU_BATCH_SIZE = 8, 64
FeatureNetwork = Callable[[torch.Tensor], torch.Tensor]  # uint8 (B, 3, H, W) -> (B, 2048)


def content_key(images: torch.Tensor) -> str:
    """sha256 of the protocol, the shape and the uint8 bytes of images (N, 3, H, W)."""
    digest = hashlib.sha256(f"{PROTOCOL}|{tuple(images.shape)}".encode())
    digest.update(memoryview(images.detach().cpu().contiguous().numpy()).cast("B"))
    return digest.hexdigest()


def extract_features(
    images: torch.Tensor,
    network: FeatureNetwork | None = None,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> torch.Tensor:
    """(N, 2048) float32 features of uint8 images (N, 3, H, W); the standard network is loaded only on a cache miss."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"images must be (N, 3, H, W) uint8 with N >= 1, got {tuple(images.shape)} {images.dtype}")
    key = content_key(images)
    path = cache_directory(cache_dir) / FEATURE_CACHE_FOLDER / f"{key[:32]}.safetensors"
    features = load_cached_features(path, key, images.shape[0])
    if features is not None:
        return features
    device = torch.device(device)
    network = network or load_inception(device)
    batch_size = batch_size or (CPU_BATCH_SIZE if device.type == "cpu" else GPU_BATCH_SIZE)
    batches = []
    with tqdm(total=len(images), desc="inception features", unit="image", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(images), batch_size):
            batches.append(network(images[start : start + batch_size]).float().cpu())
            bar.update(len(batches[-1]))
    features = torch.cat(batches)  # (N, 2048)
    save_cached_features(path, features, key)
    return features


def load_cached_features(path: Path, key: str, count: int) -> torch.Tensor | None:
    """The cached features at path, or None when they are missing, damaged or not for these images."""
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as file:
            header = json.loads(file.metadata()["unnoise"])
            features = file.get_tensor("features")
        if header["key"] != key or tuple(features.shape) != (count, FEATURE_DIM):
            raise ValueError("it belongs to other images")
    except Exception as error:  # a cache is disposable: any damage just means extracting again
        log.warning(f"feature cache file {path} is unreadable ({type(error).__name__}: {error}); extracting again")
        return None
    return features


def save_cached_features(path: Path, features: torch.Tensor, key: str) -> None:
    header = {"key": key, "protocol": PROTOCOL, "count": features.shape[0]}
    try:
        with atomic_path(path) as temporary:
            save_tensors({"features": features.contiguous()}, temporary, metadata={"unnoise": json.dumps(header)})
    except WriteError as error:
        log.warning(f"could not write feature cache ({error}); continuing without it")
