"""What users import: train a run, load a run, sample from it.

    import unnoise
    run = unnoise.train(unnoise.preset("demo"), out="runs/demo")
    images = unnoise.load_run("runs/demo").sample(16, steps=250, seed=0)   # (16, 3, 32, 32) uint8
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
import torch
from PIL import Image
from torch import nn

from .condition_requests import request_condition
from .config import RunConfig, validate
from .data import open_dataset
from .devices import resolve_device
from .diffusion.guidance import DEFAULT_GUIDANCE
from .diffusion.samplers import count_nfe
from .diffusion.schedules import NoiseSchedule, make_schedule
from .errors import UserError
from .generation import generate, generate_from_prior, images_from_model_range
from .models import build_model, count_parameters, network_for
from .train.checkpoint import MODEL_FILE, STATE_DIR, checkpoint_step, latest_checkpoint, load_weights
from .train.distributed import init_distributed
from .train.hooks import CheckpointHook, LogHook, ProgressHook, SampleGridHook, TensorBoardHook, tensorboard_available
from .train.conditions import training_conditions
from .train.trainer import Trainer
from .viz import display_scale, labelled_rows

log = logging.getLogger("unnoise")

CONFIG_FILE = "config.json"
# Settings that may change when a run is resumed; anything else would make it a different run.
RESUMABLE = {
    "train.steps", "train.log_every", "train.sample_every", "train.sample_count", "train.sample_steps",
    "train.checkpoint_every", "train.keep", "train.device", "train.max_minutes", "train.precision", "train.compile",
}


def schedule_of(config: RunConfig) -> NoiseSchedule:
    d = config.diffusion
    return make_schedule(d.schedule, d.timesteps, d.beta_start, d.beta_end, d.zero_terminal_snr)


@dataclass
class Run:
    """A trained (or training) run folder: its config, its network with EMA weights, and its schedule."""

    path: Path
    config: RunConfig
    model: nn.Module
    schedule: NoiseSchedule
    step: int = 0
    status: str = ""  # after train(): "finished", "interrupted" (Ctrl-C, SIGTERM) or "out_of_time" (max_minutes)

    @property
    def finished(self) -> bool:
        return self.step >= self.config.train.steps

    @property
    def family(self) -> str:
        """diffusion, vae or gan."""
        return self.config.model.family

    def nfe(self, sampler: str = "ddpm", steps: int | None = None) -> int:
        """Network evaluations per image: the sampler's for a diffusion run, one decoder or generator pass otherwise."""
        return count_nfe(sampler, steps or self.schedule.timesteps) if self.family == "diffusion" else 1

    def sample(
        self,
        n: int = 16,
        steps: int | None = None,
        seed: int = 0,
        batch_size: int = 64,
        on_step=None,
        sampler: str = "ddpm",
        attrs: str | list[str] | dict[str, bool] | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance: float = DEFAULT_GUIDANCE,
        **sampler_options,
    ) -> torch.Tensor:
        """n new images (n, 3, H, W) uint8 from `sampler` (see unnoise.diffusion.samplers.SAMPLERS) with `steps` steps.

        sampler_options: eta (ddim), spacing (uniform | quadratic | trailing; ddpm, ddim, dpmpp_*),
        variance (beta_tilde | beta; ddpm), rho (euler, heun). steps=None means all T timesteps.
        A conditional run takes attrs ("Smiling,-Male", for runs trained on attributes) or prompt (and
        negative_prompt, for runs trained on captions), with classifier-free guidance of scale
        `guidance` (1: the conditional model alone; larger: more faithful, less varied).
        """
        if n < 1:
            raise UserError(f"the number of images must be at least 1, got {n}")
        if self.family != "diffusion":
            return self.sample_from_prior(n, steps, seed, batch_size, on_step, sampler, attrs, prompt, **sampler_options)
        if not math.isfinite(guidance):
            raise UserError(f"the guidance scale must be a finite number, got {guidance}")
        device = next(self.model.parameters()).device
        condition, baseline = request_condition(self.config.condition, n, device, attrs, prompt, negative_prompt)
        return generate(
            self.model, self.schedule, n, self.config.data.image_size, steps, seed, batch_size, on_step, sampler,
            self.config.diffusion.prediction, condition=condition, baseline=baseline, guidance=guidance, **sampler_options,
        )

    def sample_from_prior(self, n, steps, seed, batch_size, on_step, sampler, attrs, prompt, **sampler_options) -> torch.Tensor:
        """A VAE or GAN run: one pass of the decoder or generator; diffusion's sampler settings do not apply."""
        given = [flag for flag, value in (("--steps", steps), ("--attrs", attrs), ("--prompt", prompt)) if value]
        given += ["--sampler"] * (sampler != "ddpm") + [f"--{name}" for name, value in sampler_options.items() if value is not None]
        if given or on_step is not None:
            what = ", ".join(given) or "intermediate steps"
            raise UserError(f"{self.path} is a {self.family.upper()} run: it draws in one network pass, so {what} do not apply")
        return generate_from_prior(self.model, n, seed, batch_size)

    def sample_trajectory(self, n: int = 4, steps: int | None = None, seed: int = 0, snapshots: int = 8,
                          sampler: str = "ddpm", **sampler_options) -> Image.Image:
        """A picture of x_t along the reverse chain: one row per sample, `snapshots` columns from noise to image.

        Columns are spaced geometrically in the steps still to go (K, K/2.5, ..., 1), because the picture
        changes most near the end of the chain.
        """
        total = steps or self.schedule.timesteps  # on_step is called once per step, whatever the sampler
        picks = sorted({total - max(1, round(total ** (1 - k / (snapshots - 1)))) for k in range(snapshots)})
        frames: dict[int, torch.Tensor] = {}
        timesteps: list[float] = []

        def remember(i: int, t: float, x_t: torch.Tensor, x0: torch.Tensor) -> None:
            timesteps.append(t)
            if i in picks:
                frames[i] = images_from_model_range(x_t)

        self.sample(n, steps, seed, batch_size=n, on_step=remember, sampler=sampler, **sampler_options)
        columns = torch.stack([frames[i] for i in sorted(frames)], dim=1)  # (n, snapshots, 3, H, W)
        # The state after step i is x at the timestep step i + 1 starts from; after the last step it is x_0.
        labels = [f"t={round(timesteps[i + 1])}" if i + 1 < len(timesteps) else "x0" for i in sorted(frames)]
        return labelled_rows(list(columns), labels, scale=display_scale(self.config.data.image_size))


def load_run(path: str | Path, device: str = "auto") -> Run:
    """Rebuild a run's network from config.json and load its EMA weights (model.safetensors)."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"run folder {path} does not exist")
    config = RunConfig.load(path / CONFIG_FILE)
    model = network_for(config)
    if not (path / MODEL_FILE).exists():
        raise UserError(f"{path} has no {MODEL_FILE} yet: train it first (or resume it with --resume)")
    load_weights(model, path / MODEL_FILE)
    model.to(resolve_device(device)).eval().requires_grad_(False)
    latest = latest_checkpoint(path)
    return Run(path, config, model, schedule_of(config), checkpoint_step(latest) if latest else 0)


def check_resumable(saved: RunConfig, requested: RunConfig) -> None:
    saved_flat, requested_flat = flatten(saved.to_dict()), flatten(requested.to_dict())
    changed = sorted(key for key in saved_flat if saved_flat[key] != requested_flat.get(key) and key not in RESUMABLE | {"preset", "condition.attribute_names"})
    if changed:
        names = ", ".join(f"--{key.split('.')[1].replace('_', '-')}" for key in changed)
        raise UserError(f"a resumed run keeps its settings; these differ from its config.json: {names}")


def flatten(raw: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def train(config: RunConfig | None = None, out: str | Path = "runs/demo", resume: bool = False, progress: bool = True) -> Run:
    """Train (or with resume=True continue) the run in folder `out`; returns it with its EMA weights.

    A run stopped by Ctrl-C, SIGTERM or its max_minutes budget saves a checkpoint and returns early
    (run.status says which; run.finished is False).
    """
    run_dir = Path(out)
    config = prepare_run_folder(run_dir, config, resume)
    validate(config)
    if not config.data.source:
        raise UserError(f"preset {config.preset!r} has no default data: pass --data celeba:PATH or folder:PATH")
    build_model(config.model, config.data.image_size)  # reject impossible shapes before decoding any data
    distributed, device = init_distributed(config.train.device)
    dataset = open_dataset(config.data.source, config.data.image_size, config.data.split, progress=progress and distributed.is_main)
    hooks: list = [CheckpointHook()]  # on every rank: its saves include a collective finiteness check
    if distributed.is_main:
        hooks = [ProgressHook(progress), LogHook(), *hooks, SampleGridHook()]
        if tensorboard_available():
            hooks.append(TensorBoardHook())
    conditions = training_conditions(config, dataset, device, progress and distributed.is_main)
    trainer = Trainer(config, dataset, run_dir, device, hooks, distributed, conditions)
    start = trainer.resume() if resume else 0
    if distributed.is_main:
        config.save(run_dir / CONFIG_FILE)
        if progress:
            t = config.train
            architecture = {"vae": "VAE", "gan": "GAN"}.get(config.model.family) or (
                "U-Net" if config.model.architecture == "unet" else "toy U-Net")
            log.info(
                f"{architecture}: {count_parameters(trainer.model) / 1e6:.2f}M parameters | data: {dataset.source}, "
                f"{len(dataset)} images at {config.data.image_size}x{config.data.image_size} | device: {device}, "
                f"{trainer.precision}{', compiled' if t.compile else ''} | global batch {trainer.global_batch} = "
                f"{t.batch_size} per process x {distributed.world_size} processes x {t.accum} accumulation | "
                f"steps {start} -> {t.steps}{condition_summary(config)}"
            )
    status = trainer.fit()
    return Run(run_dir, config, trainer.ema.model, trainer.schedule, trainer.step, status)


def condition_summary(config: RunConfig) -> str:
    c = config.condition
    if c.kind == "none":
        return ""
    told = f"{len(c.attribute_names)} attributes" if c.kind == "attributes" else f"{c.captions_per_image} captions per image"
    return f" | conditioned on {told}, dropped {c.drop_prob:.0%} of the time for guidance"


def prepare_run_folder(run_dir: Path, config: RunConfig | None, resume: bool) -> RunConfig:
    """The config to train with: the saved one on resume (with allowed changes), else the given one in a fresh folder."""
    holds_run = (run_dir / CONFIG_FILE).exists() or (run_dir / STATE_DIR).exists()
    if resume:
        if not holds_run:
            raise UserError(f"nothing to resume in {run_dir}: it holds no run (no {CONFIG_FILE})")
        saved = RunConfig.load(run_dir / CONFIG_FILE)
        if config is None:
            return saved
        check_resumable(saved, config)
        return config
    if holds_run:
        raise UserError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out")
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out {run_dir} is a file, not a folder")
    if config is None:
        raise UserError("train() needs a config (e.g. unnoise.preset('demo')) unless it resumes a run")
    run_dir.mkdir(parents=True, exist_ok=True)
    return config
