"""A network's weights as safetensors: no pickle, and a clear error when a file belongs to another network."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
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


def save_weights(model: nn.Module, path: Path, metadata: dict[str, str] | None = None) -> None:
    """A model's state dict (parameters and buffers) as safetensors, written in place (callers make it atomic), with
    metadata (text facts load_weights can check, e.g. what the network was trained as) in the file's header.

    Raises OSError when the file cannot be written.
    """
    tensors = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    save_tensors(tensors, path, metadata)
    fsync(path)


def load_weights(model: nn.Module, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Load safetensors weights into model; any mismatch is a user error naming the file: tensors of another
    network, or a metadata fact of the file's that differs from the one given (files written before a fact was
    stored pass)."""
    try:
        with safe_open(str(path), "pt") as file:  # one read for the tensors and the header's metadata
            tensors = {name: file.get_tensor(name) for name in file.keys()}
            stored = file.metadata() or {}
    except FileNotFoundError:
        raise UserError(f"missing weights file {path}") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(f"{path} is not a readable safetensors file ({error})") from None
    for key, value in (metadata or {}).items():
        if stored.get(key, value) != value:
            raise UserError(
                f"{path} holds weights with {key} {stored[key]!r} where its config.json says {value!r}; wrong "
                "checkpoint?"
            )
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    wrong_shape = [name for name in set(expected) & set(tensors) if expected[name].shape != tensors[name].shape]
    if missing or unexpected or wrong_shape:
        details = f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong_shape)} of another shape"
        raise UserError(f"{path} does not match the network its config.json describes ({details}); wrong checkpoint?")
    model.load_state_dict(tensors)
