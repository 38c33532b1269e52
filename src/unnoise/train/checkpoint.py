"""Checkpoints without pickle: tensors in safetensors, everything else in JSON, every write atomic.

Layout inside a run folder:
    model.safetensors          EMA weights of the latest checkpoint (what sampling loads)
    state/step_0000500/        one complete checkpoint, made in a hidden temp folder and renamed into place
        model.safetensors      raw weights
        ema.safetensors        EMA weights
        optimizer.safetensors  optimizer moments, flattened
        trainer.json           step and optimizer hyperparameters
The latest checkpoint is the highest-numbered complete step folder; a killed write leaves only a
hidden temp folder behind, which is ignored and cleaned up later.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ..errors import UserError
from ..runs import MODEL_FILE, STATE_DIR, STEP_PREFIX, checkpoint_step, latest_checkpoint, step_folders
from ..storage.atomic import WriteError, atomic_path, make_folder
from ..storage.weights import fsync, load_weights, save_tensors, save_weights

__all__ = [
    "MODEL_FILE",
    "STATE_DIR",
    "checkpoint_step",
    "latest_checkpoint",
    "load_checkpoint",
    "read_progress",
    "save_checkpoint",
    "step_folders",
]


def optimizer_to_files(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into flat tensors (for safetensors) and the rest (for JSON)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for parameter_id, parameter_state in state["state"].items():
        for name, value in parameter_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{parameter_id}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{parameter_id}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_files(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], rest: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *rest["scalars"].items()]:
        parameter_id, name = key.split(".", 1)
        state.setdefault(int(parameter_id), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": rest["param_groups"]})


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: nn.Module,
    ema_model: nn.Module,
    optimizer: torch.optim.Optimizer,
    keep: int = 2,
    scaler: torch.amp.GradScaler | None = None,
    progress: dict | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a complete checkpoint for `step`, publish its EMA weights as model.safetensors, keep the newest `keep`.

    progress: JSON-able facts about the run so far that resuming needs besides the tensors (seconds trained, where
    the learning-rate schedule ends), read back by `read_progress`. metadata: text facts stored in both weight files
    (load_checkpoint and load_weights check them).

    Raises WriteError naming the folder or file that could not be written (no space, ...); the checkpoints and the
    model.safetensors written before stay as they were, and no temporary folder is left behind.
    """
    run_dir = Path(run_dir)
    state_dir = run_dir / STATE_DIR
    make_folder(state_dir)
    final = state_dir / f"{STEP_PREFIX}{step:07d}"
    if not final.exists():  # a step's state is a function of the step, so an existing folder already holds it
        write_checkpoint_folder(final, step, model, ema_model, optimizer, scaler, progress, metadata)
    publish_model(final / "ema.safetensors", run_dir / MODEL_FILE)
    for old in step_folders(run_dir)[: -max(keep, 1)]:
        shutil.rmtree(old, ignore_errors=True)
    for leftover in state_dir.glob(".tmp-*"):  # from writes that a kill interrupted
        shutil.rmtree(leftover, ignore_errors=True)
    return final


def write_checkpoint_folder(
    final: Path,
    step: int,
    model: nn.Module,
    ema_model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    progress: dict | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Fill a hidden folder beside `final`, then rename it to `final`: readers see a complete checkpoint or none.

    Raises WriteError naming `final` when any file cannot be written, after removing the hidden folder.
    """
    temporary = final.parent / f".tmp-{final.name}-{os.getpid()}"
    try:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        save_weights(model, temporary / "model.safetensors", metadata)
        save_weights(ema_model, temporary / "ema.safetensors", metadata)
        optimizer_tensors, optimizer_rest = optimizer_to_files(optimizer)
        save_tensors(optimizer_tensors, temporary / "optimizer.safetensors")
        fsync(temporary / "optimizer.safetensors")
        scaler_state = scaler.state_dict() if scaler is not None and scaler.is_enabled() else None
        trainer_state = {"step": step, "optimizer": optimizer_rest, "grad_scaler": scaler_state, "progress": progress}
        (temporary / "trainer.json").write_text(json.dumps(trainer_state, indent=1))
        fsync(temporary / "trainer.json")
        os.rename(temporary, final)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise WriteError(final, error) from None


def publish_model(source: Path, target: Path) -> None:
    """Atomically make target a copy of source: a hard link where the file system allows, else a byte copy."""
    with atomic_path(target) as temporary:
        temporary.unlink()
        try:
            os.link(source, temporary)
        except OSError:
            shutil.copyfile(source, temporary)


def load_checkpoint(
    folder: Path,
    model: nn.Module,
    ema_model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None = None,
    metadata: dict[str, str] | None = None,
) -> int:
    """Restore everything a checkpoint folder holds (its weights checked against metadata); returns its step."""
    load_weights(model, folder / "model.safetensors", metadata)
    load_weights(ema_model, folder / "ema.safetensors", metadata)
    try:
        trainer_state = json.loads((folder / "trainer.json").read_text())
        optimizer_tensors = load_file(str(folder / "optimizer.safetensors"))
    except (OSError, ValueError, SafetensorError) as error:
        raise UserError(
            f"checkpoint {folder} is unreadable ({error}); delete it to resume from the one before"
        ) from None
    optimizer_from_files(optimizer, optimizer_tensors, trainer_state["optimizer"])
    if scaler is not None and scaler.is_enabled() and trainer_state.get("grad_scaler"):
        scaler.load_state_dict(trainer_state["grad_scaler"])
    return int(trainer_state["step"])


def read_progress(folder: Path) -> dict:
    """The `progress` facts save_checkpoint stored in a checkpoint folder ({} for checkpoints written before them)."""
    try:
        return json.loads((Path(folder) / "trainer.json").read_text()).get("progress") or {}
    except (OSError, ValueError) as error:
        raise UserError(
            f"checkpoint {folder} is unreadable ({error}); delete it to resume from the one before"
        ) from None
