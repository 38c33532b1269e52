"""A network's weights as safetensors: no pickle, and a clear error when a file belongs to another network."""

from __future__ import annotations

import os
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import UserError


def fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def save_weights(model: nn.Module, path: Path) -> None:
    """A model's state dict (parameters and buffers) as safetensors, written in place (callers make it atomic)."""
    tensors = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    save_file(tensors, str(path))
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
