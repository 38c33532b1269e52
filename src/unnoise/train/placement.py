"""Where the training images live: in GPU memory when they are small beside what is free there, else mapped from the
cache file."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import ImageDataset

# A set takes at most this share of the GPU's free memory (other processes may hold some of a shared GPU); the network,
# its activations and the optimizer need the rest.
GPU_DATA_SHARE = 0.25


def gigabytes(count: int) -> str:
    """Bytes in words: 2.50 GB, 49.2 MB, 12.3 kB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:.2f} {unit}" if unit == "GB" else f"{count / scale:.1f} {unit}"
    return f"{count / 1e3:.1f} kB"


def placement(nbytes: int, device_type: str, gpu_free: int, cache_file: Path | None) -> tuple[bool, str]:
    """(whether the images go to the GPU, the sentence saying where they are and why)."""
    on_host = (
        f"memory-mapped from {cache_file}: one copy in the page cache, shared by every process of this machine"
        if cache_file is not None
        else "in this process's memory, the data cache being unwritable"
    )
    if device_type != "cuda":
        return False, f"data: {gigabytes(nbytes)} of uint8 images, {on_host}"
    limit = int(GPU_DATA_SHARE * gpu_free)
    if nbytes <= limit:
        return True, (
            f"data: {gigabytes(nbytes)} of uint8 images on the GPU, as they fit in a quarter of its free memory "
            f"({gigabytes(limit)}): a batch is one gather there, with no copy from the host"
        )
    return False, (
        f"data: {gigabytes(nbytes)} of uint8 images, more than a quarter of the GPU's free memory "
        f"({gigabytes(limit)}), so {on_host}; each batch is gathered there and copied to the GPU"
    )


def place_images(dataset: ImageDataset, device: torch.device) -> tuple[torch.Tensor, str]:
    """The tensor batches are gathered from (on the GPU, or the dataset's own, mapped) and the reason for it."""
    gpu_free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else 0
    on_gpu, reason = placement(dataset.images.nbytes, device.type, gpu_free, dataset.cache_file)
    return (dataset.images.to(device) if on_gpu else dataset.images), reason
