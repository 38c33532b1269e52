"""A network's weights as safetensors: no pickle, and a clear error when a file belongs to another network."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import UserError


def fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """safetensors' save_file, its I/O failures raised as the OSError they are (no space, file too large, ...).

    safetensors reports them as SafetensorError carrying '(os error N)'; callers, and atomic_path, handle OSError.
    """
    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as error:
        found = re.search(r"\(os error (\d+)\)", str(error))
        if found is None:
            raise
        number = int(found.group(1))
        raise OSError(number, os.strerror(number), str(path)) from None


def save_weights(model: nn.Module, path: Path) -> None:
    """A model's state dict (parameters and buffers) as safetensors, written in place (callers make it atomic).

    Raises OSError when the file cannot be written.
    """
    tensors = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    save_tensors(tensors, path)
    fsync(path)


def load_weights(model: nn.Module, path: Path) -> None:
    """Load safetensors weights into model; any mismatch is a user error naming the file."""
    try:
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise UserError(f"missing weights file {path}") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(f"{path} is not a readable safetensors file ({error})") from None
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    wrong_shape = [name for name in set(expected) & set(tensors) if expected[name].shape != tensors[name].shape]
    if missing or unexpected or wrong_shape:
        details = f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong_shape)} of another shape"
        raise UserError(f"{path} does not match the network its config.json describes ({details}); wrong checkpoint?")
    model.load_state_dict(tensors)
