"""A run folder: its file names, its config, its network with EMA weights, and what it can draw.

runs/NAME/
  config.json            everything needed to rebuild the network and the objective
  model.safetensors      EMA weights of the latest checkpoint (what sampling uses)
  state/step_XXXXXXX/    complete checkpoints (resume)
  log.csv, log.jsonl     step, loss, lr, images/s, elapsed seconds
  samples/, loss.png     pictures written while training
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from .config import RunConfig
from .devices import resolve_device
from .diffusion.schedules import NoiseSchedule, schedule_of
from .errors import UserError
from .families import Objective, objective_for
from .models import network_for
from .sampling.settings import SampleSettings
from .sampling.trajectory import trajectory_strip
from .storage.weights import load_weights
from .viz import display_scale

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
STATE_DIR = "state"
STEP_PREFIX = "step_"
LOG_FILE = "log.csv"
JSON_LOG_FILE = "log.jsonl"
LOG_COLUMNS = ("step", "loss", "lr", "images_per_s", "elapsed_s")
EVAL_LOG_FILE = "eval.csv"  # FID/KID measured while training (train.eval_every)
EVAL_COLUMNS = ("step", "images_seen", "minutes", "kid", "kid_std", "fid", "n", "seconds")
# Settings that may change when a run is resumed; anything else would make it a different run.
RESUMABLE = {
    "train.steps",
    "train.log_every",
    "train.sample_every",
    "train.sample_count",
    "train.sample_steps",
    "train.checkpoint_every",
    "train.keep",
    "train.device",
    "train.max_minutes",
    "train.precision",
    "train.compile",
    "train.eval_every",
    "train.eval_n",
    "train.eval_ref",
}


def step_folders(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    state_dir = Path(run_dir) / STATE_DIR
    if not state_dir.is_dir():
        return []
    folders = [
        path
        for path in state_dir.iterdir()
        if path.is_dir() and path.name.startswith(STEP_PREFIX) and path.name[len(STEP_PREFIX) :].isdigit()
    ]
    return sorted(folders, key=checkpoint_step)


def checkpoint_step(folder: Path) -> int:
    return int(folder.name[len(STEP_PREFIX) :])


def latest_checkpoint(run_dir: Path) -> Path | None:
    folders = step_folders(run_dir)
    return folders[-1] if folders else None


def read_lines(path: Path) -> list[str]:
    return [line for line in Path(path).read_text().splitlines() if line.strip()] if Path(path).exists() else []


def read_log(path: Path) -> list[dict[str, str]]:
    """The rows of a log.csv (an empty list when there is none)."""
    if not Path(path).exists():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("step", "").isdigit()]


def holds_run(run_dir: Path) -> bool:
    return (run_dir / CONFIG_FILE).exists() or (run_dir / STATE_DIR).exists()


@dataclass
class Run:
    """A trained (or training) run folder: its config, its network with EMA weights, and its objective."""

    path: Path
    config: RunConfig
    model: nn.Module
    step: int = 0
    status: str = ""  # after train(): "finished", "interrupted" (Ctrl-C, SIGTERM) or "out_of_time" (max_minutes)
    objective: Objective = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.objective = objective_for(self.config)

    @property
    def finished(self) -> bool:
        return self.step >= self.config.train.steps

    @property
    def family(self) -> str:
        """diffusion, vae or gan."""
        return self.config.model.family

    @property
    def schedule(self) -> NoiseSchedule:
        """The run's noise schedule, built from all of its diffusion settings."""
        return schedule_of(self.config.diffusion)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def settings(self, settings: SampleSettings | int | None = None, **fields) -> SampleSettings:
        """SampleSettings from settings (or n) with fields replaced, the run's defaults filled in, validated."""
        if isinstance(settings, SampleSettings):
            settings = settings.replace(**fields)
        else:
            settings = SampleSettings(**({"n": settings} if settings is not None else {}), **fields)
        return self.objective.resolve(settings).validate()

    def sample(self, settings: SampleSettings | int | None = None, on_step=None, **fields) -> torch.Tensor:
        """settings.n new images (n, 3, H, W) uint8, as SampleSettings says (see its docstring for every field).

            run.sample(SampleSettings(n=16, sampler="dpmpp_2m", steps=20))
            run.sample(16, sampler="dpmpp_2m", steps=20, prompt="a smiling woman")   # the same, fields as keywords

        on_step(i, sigma, x, x0_hat) sees each solver step (diffusion runs). Raises UserError naming the setting
        for a value this run cannot use (steps above T, a prompt to an attribute run, a sampler to a GAN, ...).
        """
        return self.objective.generate(self.model, self.settings(settings, **fields), on_step)

    def nfe(self, settings: SampleSettings | int | None = None, **fields) -> int:
        """Network evaluations per image for these settings (one decoder or generator pass for a VAE or GAN)."""
        return self.objective.nfe(self.settings(settings, **fields))

    def sample_trajectory(self, settings: SampleSettings | int | None = 4, snapshots: int = 8, **fields) -> Image.Image:
        """A picture of x_t along the reverse chain: one row per image, `snapshots` columns from noise to image."""
        settings = self.settings(settings, **fields)
        steps = self.objective.solver_steps(settings)
        label = self.objective.noise_level_label
        return trajectory_strip(
            lambda on_step: self.sample(settings, on_step=on_step),
            steps,
            label,
            snapshots,
            display_scale(self.config.data.image_size),
        )


def load_run(path: str | Path, device: str = "auto") -> Run:
    """Rebuild a run's network from config.json and load its EMA weights (model.safetensors).

    Raises UserError when the folder, its config or its weights are missing or unreadable.
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"run folder {path} does not exist")
    config = RunConfig.load(path / CONFIG_FILE)
    model = network_for(config)
    if not (path / MODEL_FILE).exists():
        raise UserError(f"{path} has no {MODEL_FILE} yet: train it first (or resume it)")
    load_weights(model, path / MODEL_FILE)
    model.to(resolve_device(device)).eval().requires_grad_(False)
    latest = latest_checkpoint(path)
    return Run(path, config, model, checkpoint_step(latest) if latest else 0)
