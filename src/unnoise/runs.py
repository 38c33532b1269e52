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
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from .config import RunConfig, validate, weights_metadata
from .devices import resolve_device
from .diffusion.inpainting import DEFAULT_JUMP_LENGTH, DEFAULT_RESAMPLE
from .diffusion.schedules import NoiseSchedule, schedule_of
from .errors import UserError, check
from .families import Objective, editing, objective_for
from .families.editing import Inversion
from .families.unclip import embedding_walk, variations
from .models import network_for
from .sampling.pictures import Picture, masks_for_run, noise_for_run, pictures_for_run
from .sampling.settings import SampleSettings, as_python_number
from .sampling.trajectory import trajectory_strip
from .storage.weights import load_weights
from .viz import display_scale
from .viz.noising import strip_of_frames

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
LOCK_FILE = ".training.lock"  # held (flock) by the process training the run; never deleted (see storage/lock.py)
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

    def noising_strip(self, image: torch.Tensor, levels=None, seed: int = 0) -> Image.Image:
        """The forward process of one uint8 image (3, H, W) as this run trains on it: the image and one noise (from
        seed) at growing noise levels, labelled (DDPM: timesteps t, flow: times t, EDM: sigma; `levels` in those
        units, default seven from data to noise). Raises UserError for a VAE or GAN run or levels out of range."""
        return strip_of_frames(image, lambda x0, noise: self.objective.forward_process(x0, noise, levels), seed)

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

    # --- editing (families/editing.py, sampling/editing.py): any picture in, the run's chain, the same settings ---

    def edit(self, image: Picture, strength: float = 0.5, settings=None, on_step=None, **fields) -> torch.Tensor:
        """Image-to-image (SDEdit, Meng et al. 2022): the picture noised to the level `strength` names, then denoised.

            run.edit("face.jpg", strength=0.6, attrs="Smiling")     # one output per picture unless n is given

        image: a path, a file's bytes, a PIL image, uint8 pixels (3, H, W) or (N, 3, H, W) (a tensor, or a numpy array
        (H, W, 3)), or a list of those, of any size (its centre square is resized to the run's). strength, a number in
        [0, 1]: the flow-matching time t of the start, x_VE = x_0 + t / (1 - t) eps, the same on every formulation; 0
        returns the picture, 1 is plain sampling with the same seed. settings: a SampleSettings (its n is not used:
        n is the keyword, default one output per picture). Returns uint8 (n, 3, H, W), output k from picture k mod N.
        Raises UserError naming the setting (image, strength, n, seed, sampler, ...).
        """
        images = self.pictures(image)
        chosen = self.editing_settings(settings, len(images), **fields)
        return editing.edit(self.objective, self.model, images, as_strength(strength), chosen, on_step)

    def inpaint(
        self,
        image: Picture,
        mask: Picture,
        settings=None,
        jump_length: int = DEFAULT_JUMP_LENGTH,
        resample: int = DEFAULT_RESAMPLE,
        on_step=None,
        **fields,
    ) -> torch.Tensor:
        """Inpainting (RePaint, Lugmayr et al. 2022): redraw where the mask is white, keep every other pixel exactly.

        image: as edit takes it, N pictures. mask: one for all pictures or one per picture: a picture (white = redraw;
        gray, RGBA and 16-bit thresholded at 50%, any size, read upright), or a bool / uint8 / float tensor or numpy
        array (H, W), (1, H, W) or (N, 1, H, W) (sampling/pictures.py). jump_length, resample: go back jump_length
        grid levels, resample times per stretch (1: no resampling; above 1 it needs jump_length below steps).
        settings: as edit. Returns uint8 (n, 3, H, W), n one per picture unless given. Any sampler, any conditioning,
        no retraining. Raises UserError naming the setting (mask for one that marks nothing, is coloured or does not
        match the pictures' count; jump_length, resample, steps; ...).
        """
        images = self.pictures(image)
        redraw = masks_for_run(mask, self.config.data.image_size)
        chosen = self.editing_settings(settings, len(images), **fields)
        return editing.inpaint(self.objective, self.model, images, redraw, chosen, jump_length, resample, on_step)

    def invert(self, image: Picture, settings=None, on_step=None, **fields) -> Inversion:
        """Deterministic inversion: the noise the run's deterministic solver turns into each picture, the reconstruction
        from it and its error (Inversion).

        DDIM inversion (Song et al. 2021, eq. 13 run backwards) for a run whose sampler draws noise (DDPM), the ODE
        run backwards with the run's own solver otherwise (Euler for flow, Heun for EDM), each step solved to its
        fixed point (Pan et al. 2023) so the reconstruction comes back close. image: as edit takes it, N pictures.
        Returns Inversion: noise float32 (N, 3, H, W) on the variance-preserving scale (about unit variance),
        reconstruction uint8 (N, 3, H, W), error (N,) RMSE in pixel values 0-255, psnr (N,) in dB (inf: exact).
        One inversion per picture: n, if given, must be N; seed is not used (nothing is drawn). Raises UserError naming
        the setting (image, n, a sampler that draws noise, a grid too short to invert, ...).
        """
        images = self.pictures(image)
        asked = fields.pop("n", None)
        if settings is not None and not isinstance(settings, SampleSettings):
            asked, settings = settings, None
        check(
            asked is None or asked == len(images),
            f"invert makes one inversion per picture ({len(images)} here): leave out n, got {asked!r}",
            "n",
        )
        chosen = self.editing_settings(settings, len(images), **fields)
        return editing.invert(self.objective, self.model, images, chosen, on_step)

    def reconstruct(self, noise: torch.Tensor, settings=None, on_step=None, **fields) -> torch.Tensor:
        """The images the deterministic solver (as invert chooses it: DDIM for a run whose sampler draws noise) makes
        from noise at the grid's top, e.g. an Inversion's (DDIM, Song et al. 2021).

        noise: float (N, 3, H, W) at the run's size, on the variance-preserving scale (standard normal noise, or an
        Inversion's noise). Returns uint8 (N, 3, H, W). Raises UserError naming noise (not a float tensor, another
        shape or size, nan or inf) or the setting (a sampler that draws noise, ...).
        """
        noise = noise_for_run(noise, self.objective.image_shape)
        chosen = self.editing_settings(settings, len(noise), **fields)
        return editing.reconstruct(self.objective, self.model, noise, chosen.replace(n=len(noise)), on_step)

    def interpolate(self, ends, settings=None, on_step=None, **fields) -> torch.Tensor:
        """n frames (default 8) between two seeds' first images, or between two pictures (inverted first as invert
        does): their noises interpolated spherically (slerp, Shoemake 1985, as DDIM interpolates, Song et al. 2021
        sec. 5.3), each turned into an image by a deterministic solver (DDIM for a run whose sampler draws noise).

            run.interpolate((3, 7), n=8)                  # frame 0 is run.sample(1, seed=3, sampler=...)[0]
            run.interpolate(["a.jpg", "b.jpg"], n=8)

        ends: two seeds (integers in [0, 2^63), numpy's too) or two pictures (as edit takes them). n: frames, both ends
        included, at least 2 (a SampleSettings' n is not used). Returns uint8 (n, 3, H, W). Raises UserError naming
        the setting (seeds, images, n, a sampler that draws noise, ...).
        """
        ends = as_seeds(ends)
        if not isinstance(ends, tuple):
            ends = self.pictures(ends, setting="images")
        chosen = self.editing_settings(settings, 8, **fields)
        return editing.interpolate(self.objective, self.model, ends, chosen, on_step)

    # --- unCLIP (families/unclip.py): pictures through the run's CLIP ---

    def variations(self, image: Picture, settings=None, on_step=None, **fields) -> torch.Tensor:
        """unCLIP image variations (Ramesh et al. 2022): new images from a picture's CLIP image embedding.

            run.variations("face.jpg", n=8, guidance=3)

        image: as edit takes it, N pictures; output k is a variation of picture k mod N. n: default 8 per call.
        Returns uint8 (n, 3, H, W). Raises UserError for a run that is not unCLIP (condition.kind clip), or naming
        the setting (image, prompt, n, sampler, ...).
        """
        images = pictures_for_run(image, self.config.data.image_size, "image")
        chosen = self.editing_settings(settings, 8, **fields)
        return variations(self.objective, self.model, images, chosen, on_step)

    def embedding_walk(self, images, settings=None, on_step=None, **fields) -> torch.Tensor:
        """n frames (default 8) between two pictures' CLIP image embeddings (slerp), decoded from one noise.

        images: two pictures (as edit takes them). Returns uint8 (n, 3, H, W). Raises UserError for a run that is not
        unCLIP, or naming the setting (images, n, ...).
        """
        pictures = pictures_for_run(images, self.config.data.image_size, "images")
        chosen = self.editing_settings(settings, 8, **fields)
        return embedding_walk(self.objective, self.model, pictures, chosen, on_step)

    def editing_settings(self, settings, count: int, **fields) -> SampleSettings:
        """SampleSettings as given, left unresolved (each tool fills in the run's defaults), with n the tool's `count`
        (one output per picture, 8 frames) unless n is given as a keyword or as `settings` itself (an int). A
        SampleSettings' own n is not used: its default (16) is a sampling batch, not a number of edits."""
        if isinstance(settings, SampleSettings):
            return settings.replace(n=count).replace(**fields)
        if settings is not None:
            fields.setdefault("n", settings)
        fields.setdefault("n", count)
        return SampleSettings(**fields)

    def pictures(self, image: Picture, setting: str = "image") -> torch.Tensor:
        editing.require_chain(self.objective)
        return pictures_for_run(image, self.config.data.image_size, setting)


def as_strength(strength):
    """numpy's real scalars and a one-number tensor as a float; anything else as it is (sigma_of_strength refuses)."""
    if isinstance(strength, torch.Tensor) and strength.numel() == 1 and strength.dtype != torch.bool:
        return strength.item()
    return as_python_number(strength)


def as_seeds(ends):
    """Two seeds as a tuple of ints (numpy's integers too); pictures as they are. UserError naming seeds for a mix of
    a seed and a picture, or a bool."""
    if not isinstance(ends, (list, tuple)):
        return ends
    are_seeds = [isinstance(end, numbers.Integral) for end in ends]  # bool is one too: refused below
    if not any(are_seeds):
        return ends
    check(
        all(are_seeds) and not any(isinstance(end, bool) for end in ends),
        f"interpolate between two seeds (integers) or two pictures, not a mix or booleans; got {ends!r}",
        "seeds",
    )
    return tuple(int(end) for end in ends)


def load_run(path: str | Path, device: str = "auto") -> Run:
    """Rebuild a run's network from config.json and load its EMA weights (model.safetensors).

    Raises UserError when the folder, its config or its weights are missing or unreadable.
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"run folder {path} does not exist")
    config = RunConfig.load(path / CONFIG_FILE)
    validate(config)  # a hand-edited value (NaN, -8 channels, an unknown objective) as one line, before any network
    model = network_for(config)
    if not (path / MODEL_FILE).exists():
        raise UserError(f"{path} has no {MODEL_FILE} yet: train it first (or resume it)")
    load_weights(model, path / MODEL_FILE, weights_metadata(config))
    model.to(resolve_device(device)).eval().requires_grad_(False)
    latest = latest_checkpoint(path)
    return Run(path, config, model, checkpoint_step(latest) if latest else 0)
