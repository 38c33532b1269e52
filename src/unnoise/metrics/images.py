"""FID and KID of images or a folder of images against reference statistics, and making those statistics.

    import unnoise.eval
    unnoise.eval.fid_stats("celeba:data/celeba", "celeba64.npz", image_size=64, n=2000)
    unnoise.eval.evaluate_images(images, "celeba64.npz")   # {"fid": ..., "kid": ..., "kid_std": ..., "n": ..., "ref_n":
    ...}

A trained run is sampled first, by unnoise.evaluation.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

import torch
from PIL import Image

from ..data import open_dataset
from ..data.decoding import UNREADABLE_IMAGE_ERRORS
from ..data.folder import list_image_files
from ..data.spec import parse_data_spec
from ..devices import resolve_device
from ..errors import UserError
from .features import extract_features
from .fid import feature_statistics, frechet_distance
from .kid import kernel_inception_distance
from .precision_recall import DEFAULT_K, precision_recall
from .reference import ReferenceStatistics, load_reference

log = logging.getLogger("unnoise")


def fid_stats(
    data: str,
    out: str | Path,
    image_size: int = 64,
    split: str = "train",
    n: int | None = None,
    device: str = "auto",
    progress: bool = True,
    exclude: str | None = None,
) -> ReferenceStatistics:
    """Reference statistics of the first n images of a data spec at image_size (as training sees them), saved to out.

    exclude: another data spec (the one a run trained on, say); images of `data` whose file names (without their
    folders) are also file names of its images are left out, so the reference holds none of the training images.
    Raises UserError where either is builtin (its faces are named by number, whatever their seed).
    """
    check_count(n)
    if exclude and "builtin" in (parse_data_spec(data).kind, parse_data_spec(exclude).kind):
        raise UserError(
            "exclude matches images by file name; builtin faces have none (use another builtin seed)",
            settings=("exclude",),
        )
    dataset = open_dataset(data, image_size, split, progress=progress)
    images, source = dataset.images, f"{dataset.source} split={split}"
    if exclude:
        kept = names_not_in(dataset.names, exclude, image_size, progress)
        if not kept:
            raise UserError(f"every image of {data} is also in {exclude}: nothing left for a reference")
        images = images[torch.tensor(kept, dtype=torch.long)]
        source += f" without the {len(dataset) - len(kept)} images also in {exclude}"
    images = first_images(images, n, source)
    features = extract_features(images, device=resolve_device(device), progress=progress)
    reference = ReferenceStatistics.from_features(features.numpy(), image_size, source)
    reference.save(out)
    return reference


def evaluate_images(
    images: torch.Tensor,
    reference: ReferenceStatistics | str | Path,
    device: str | torch.device = "cpu",
    progress: bool = True,
    seed: int = 0,
) -> dict:
    """{fid, kid, kid_std, precision, recall, n, ref_n} of uint8 images (N, 3, S, S) against reference statistics (or
    file).

    Precision and recall (k = 3) compare equal numbers of samples, as their paper does: the first min(n, ref_n)
    of each set (None below 4 images).
    """
    reference = as_reference(reference)
    size = reference.image_size
    if tuple(images.shape[-2:]) != (size, size):
        raise UserError(
            f"the images are {images.shape[-1]}x{images.shape[-2]} but the reference statistics are of {size}x{size} "
            "images; FID compares images at the same size, so make a reference at this size with unnoise fid-stats"
        )
    check_count(len(images))
    features = extract_features(images, device=device, progress=progress).numpy()
    mu, sigma = feature_statistics(features)
    kid, kid_std = kernel_inception_distance(features, reference.features, seed=seed)
    fid = frechet_distance(mu, sigma, reference.mu, reference.sigma)
    count = min(len(features), reference.n)
    # None where too few images for k nearest neighbours (JSON has no NaN).
    precision, recall = (
        precision_recall(reference.features[:count], features[:count]) if count > DEFAULT_K else (None, None)
    )
    return {
        "fid": fid,
        "kid": kid,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
        "n": len(images),
        "ref_n": reference.n,
    }


def evaluate_folder(
    folder: str | Path,
    reference: ReferenceStatistics | str | Path,
    n: int | None = None,
    device: str = "auto",
    progress: bool = True,
) -> dict:
    """evaluate_images on a folder's first n images (default all), already at the reference's size."""
    check_count(n)
    reference = as_reference(reference)
    folder = Path(folder)
    check_image_sizes(folder, list_image_files(folder), reference.image_size)
    dataset = open_dataset(f"folder:{folder}", reference.image_size, "all", progress=progress)
    images = first_images(dataset.images, n, str(folder))
    result = evaluate_images(images, reference, resolve_device(device), progress)
    return {**result, "nfe": None, "seconds": None, "sampler": None, "steps": None}


def names_not_in(names: list[str], exclude: str, image_size: int, progress: bool) -> list[int]:
    """Indices of the names whose file names (without their folders: the same CelebA id is 000001.jpg under celeba:
    and img_align_celeba/000001.jpg under folder:) are not file names of exclude's images (all of its splits)."""
    excluded = {PurePosixPath(name).name for name in open_dataset(exclude, image_size, "all", progress=progress).names}
    kept = [index for index, name in enumerate(names) if PurePosixPath(name).name not in excluded]
    if len(kept) == len(names):
        log.warning(f"no file name of these images is a file name in {exclude}: nothing left out")
    return kept


def first_images(images: torch.Tensor, n: int | None, source: str) -> torch.Tensor:
    """The first n images (all when n is None); FID needs at least 2, and n must not exceed what there is."""
    n = len(images) if n is None else n
    check_count(n)
    if n > len(images):
        raise UserError(f"{source} has {len(images)} images, fewer than the {n} asked for")
    return images[:n]


def check_count(n: int | None) -> None:
    """A covariance needs at least 2 images (and FID with few is mostly noise: see docs/fid.md)."""
    if n is not None and n < 2:
        raise UserError(f"FID needs at least 2 images, got {n}")


def check_image_sizes(folder: Path, names: list[str], size: int) -> None:
    """Refuse images that are not size x size: the folder reader would resize them silently, and FID would change."""
    if not names:
        raise UserError(f"no images in {folder} or its subfolders; point to a folder of generated images")
    for name in names:
        try:
            with Image.open(folder / name) as image:
                width, height = image.size
        except UNREADABLE_IMAGE_ERRORS:
            continue  # the folder reader skips it with a warning
        if (width, height) != (size, size):
            raise UserError(
                f"{folder / name} is {width}x{height} but the reference statistics are of {size}x{size} images; "
                "evaluate images at the reference's size, or make a reference at theirs with unnoise fid-stats"
            )


def as_reference(reference: ReferenceStatistics | str | Path) -> ReferenceStatistics:
    return reference if isinstance(reference, ReferenceStatistics) else load_reference(reference)
