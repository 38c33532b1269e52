"""Configuration as data: dataclasses with defaults, the named presets, and their JSON form.

A run folder's config.json is `RunConfig.to_dict()`; it alone rebuilds the network and schedule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diffusion.grids import SPACINGS
from .diffusion.losses import LOSS_NAMES, WEIGHTINGS
from .diffusion.parameterization import PREDICTIONS
from .diffusion.samplers import SAMPLERS
from .diffusion.schedules import SCHEDULE_NAMES
from .errors import UserError, check
from .models import ARCHITECTURES, FAMILIES
from .storage.atomic import write_text_atomic

CONFIG_VERSION = 1


@dataclass
class DataConfig:
    source: str = "builtin"  # builtin[:N[:SEED]] | celeba:PATH | folder:PATH; "" means --data is required
    image_size: int = 32
    split: str = "train"  # train | valid | test | all (CelebA partitions)
    flip: bool = True  # random horizontal flips, as in DDPM


@dataclass
class ModelConfig:
    # diffusion | vae | gan: the VAE and GAN are the baselines diffusion replaced, trained on the same data pipeline.
    # Their encoder/decoder and discriminator/generator take their widths from base_channels x channel_mult.
    family: str = "diffusion"
    architecture: str = "unet"  # unet | toy_unet (diffusion only)
    base_channels: int = 64
    channel_mult: tuple[int, ...] = (1, 2, 2)
    blocks_per_level: int = 2
    attention_resolutions: tuple[int, ...] = (16,)
    attention_heads: int = 1
    dropout: float = 0.1
    scale_shift: bool = False  # the embedding scales and shifts GroupNorm (ADM) instead of being added
    # unet: fold p x p pixel patches into channels at the input (and back at the output), so the network runs at
    # image_size / p: a 64x64 image at p = 2 costs about what a 32x32 image does (a ViT's patch embedding, in a U-Net)
    patch_size: int = 1
    latent_dim: int = (
        128  # vae, gan: size of the latent code z ~ N(0, I) that the decoder or generator maps to an image
    )
    vae_beta: float = 1.0  # vae: weight of the KL term in the ELBO (beta-VAE, Higgins et al. 2017); 1 is the true ELBO
    # clip: the joint space's dimension, and the text tower: 0 = an MLP on the frozen encoder's pooled vector, >= 1 =
    # that many trained transformer layers over its tokens (the image tower takes base_channels x channel_mult)
    clip_dim: int = 64
    clip_text_layers: int = 0
    # unCLIP (condition.kind clip): the prior, a residual MLP in CLIP embedding space
    prior_width: int = 256
    prior_blocks: int = 4


@dataclass
class DiffusionConfig:
    # The formulation (--objective): ddpm (discrete VP, Ho et al. 2020) | edm (Karras et al. 2022) | flow (flow
    # matching, Lipman et al. 2023). schedule .. zero_terminal_snr describe ddpm's schedule and its target.
    objective: str = "ddpm"
    schedule: str = "linear"  # linear | cosine | quadratic | sigmoid | constant
    timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    loss: str = "l2"  # l2 | l1 | huber
    prediction: str = "eps"  # what the network predicts: eps | x0 | v
    weighting: str = "uniform"  # uniform | min_snr (ddpm; Hang et al. 2023) | uncertainty (edm, flow; EDM2)
    min_snr_gamma: float = 5.0
    zero_terminal_snr: bool = False  # rescale the schedule so alpha_bar_T = 0 (Lin et al. 2024); needs x0 or v
    sigma_data: float = 0.5  # edm: the data's standard deviation in the preconditioning
    p_mean: float = -1.2  # edm: ln(sigma) ~ N(p_mean, p_std^2) in training
    p_std: float = 1.2
    sigma_min: float = 0.002  # edm: the sampling grid runs from sigma_max to sigma_min (then 0)
    sigma_max: float = 80.0
    time_sampling: str = "uniform"  # flow: training times t ~ uniform | logit_normal (Esser et al. 2024)


@dataclass
class SamplingConfig:
    """How `unnoise sample RUN` draws unless told otherwise; empty means the formulation's measured default."""

    sampler: str = ""  # ddpm | ddim | dpmpp_2m | dpmpp_2m_sde | euler | heun | midpoint
    steps: int = 0
    spacing: str = ""  # uniform | quadratic | trailing | karras


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 32  # per process and accumulation step
    lr: float = 2e-4
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    ema_decay: float = 0.9999  # 0 samples with the raw weights
    seed: int = 0
    log_every: int = 10
    sample_every: int = 0  # steps between sample grids; 0 = only at the end
    sample_count: int = 16  # images in each grid written during training
    sample_steps: int = 100  # DDPM steps for those grids (the final `unnoise sample` uses any number)
    checkpoint_every: int = 500
    keep: int = 2  # checkpoints kept in state/
    # A wall-clock budget for this invocation: the learning-rate schedule ends when it is spent (the run stops and
    # saves then, or at `steps`, whichever comes first); 0 = none.
    max_minutes: float = 0.0
    eval_every: int = 0  # steps between FID/KID measurements of the EMA model (needs eval_ref); 0 = never
    eval_n: int = 256  # images each measurement draws (KID is unbiased at small n; FID is biased upward)
    eval_ref: str = ""  # reference statistics (.npz from unnoise fid-stats) at the run's image size
    lr_schedule: str = "constant"  # constant | cosine (decay to 0 at `steps`), both after warm-up
    accum: int = 1  # gradient accumulation; global batch = batch_size x processes x accum
    precision: str = "auto"  # auto (bf16 on GPUs that have it, else fp32) | fp32 | bf16 | fp16
    compile: bool = False  # torch.compile the network
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps


CONDITION_KINDS = ("none", "attributes", "text", "clip")
# The kinds that learn from captions (and are asked in prompts): text, and clip (unCLIP's prior learns from them).
CAPTIONED_KINDS = ("text", "clip")
OBJECTIVES = ("ddpm", "edm", "flow")
TIME_SAMPLINGS = ("uniform", "logit_normal")


@dataclass
class ConditionConfig:
    """What the network is told besides (x_t, t), and how often it is not told (classifier-free guidance)."""

    # none | attributes (the data's 0/1 attributes) | text (captions: made from attributes, or the folder's own) |
    # clip (unCLIP: the decoder is told a CLIP image embedding, and a prior learns text -> image embedding)
    kind: str = "none"
    drop_prob: float = 0.1  # the condition is replaced by the learned null embedding this often (Ho & Salimans 2022)
    # attributes: each image hides ("unknown") a random fraction of its attributes, uniform on [0, hide_max], so
    # that the network learns to answer requests naming any number of them; 0 never hides
    hide_max: float = 0.5
    captions_per_image: int = 4  # text: distinct captions written for each image; one is drawn per step
    max_tokens: int = 32  # text: captions and prompts are cut to this many tokens
    clip_run: str = ""  # clip: the CLIP run folder (unnoise train-clip) whose space the decoder and prior use
    # Filled in from the data when training starts: the attribute names, in the network's input order.
    attribute_names: tuple[str, ...] = ()
    # Filled in from clip_run when training starts: its model settings and image size (the CLIP is copied into the
    # run's weights, so the run needs clip_run no more).
    clip_network: dict = field(default_factory=dict)


@dataclass
class RunConfig:
    preset: str = "demo"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    version: int = CONFIG_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "RunConfig":
        if raw.get("version") != CONFIG_VERSION:
            raise UserError(f"config version {raw.get('version')!r} is not one this unnoise reads ({CONFIG_VERSION})")
        sections = {
            name: section_from_dict(section_type, raw.get(name, {}), name) for name, section_type in SECTIONS.items()
        }
        return cls(preset=str(raw.get("preset", "")), version=CONFIG_VERSION, **sections)

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "RunConfig":
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserError(f"{path.parent} is not a run folder: it has no config.json") from None
        except (OSError, ValueError) as error:
            raise UserError(f"cannot read {path}: {error}") from None
        if not isinstance(raw, dict):
            raise UserError(f"{path} does not hold an unnoise config")
        return cls.from_dict(raw)


SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "diffusion": DiffusionConfig,
    "condition": ConditionConfig,
    "sampling": SamplingConfig,
    "train": TrainConfig,
}
# Fields that are not flags: set by --data, or derived from the data when training starts.
DERIVED_FIELDS = {"data.source", "condition.attribute_names", "condition.clip_network"}


def section_from_dict(section_type: type, raw: dict[str, Any], section_name: str):
    """Build one config section, converting JSON lists back to tuples and rejecting unknown keys."""
    if not isinstance(raw, dict):
        raise UserError(f"config section {section_name!r} must be an object")
    fields = {f.name: f for f in dataclasses.fields(section_type)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise UserError(f"unknown {section_name} settings in config: {', '.join(unknown)}")
    hints = typing.get_type_hints(section_type)
    values = {name: typed(value, hints[name], f"{section_name}.{name}") for name, value in raw.items()}
    return section_type(**values)


def typed(value: Any, kind: Any, setting: str) -> Any:
    """value as a setting of type `kind` (JSON lists as tuples, whole numbers as floats where a float is due); a
    UserError naming the setting when it is of another type (a hand-edited config.json, a Python override)."""
    if typing.get_origin(kind) is tuple and isinstance(value, (list, tuple)):
        item = typing.get_args(kind)[0]
        return tuple(typed(part, item, setting) for part in value)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if kind is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if kind in (str, dict) and isinstance(value, kind):
        return value
    names = {int: "a whole number", float: "a number", str: "text", bool: "true or false", dict: "an object"}
    if typing.get_origin(kind) is tuple:
        plurals = {int: "whole numbers", str: "texts"}
        wanted = f"a list of {plurals.get(typing.get_args(kind)[0], 'values')}"
    else:
        wanted = names.get(kind, str(kind))
    raise UserError(f"{setting} must be {wanted}, got {value!r}")


# The CPU-sized CelebA network, objective and optimisation that celeba32 and celeba64cpu share (1.53M parameters).
# Learning rate 2e-3, the best that trains at both sizes (benchmarks/RESULTS.md): at 32x32 (1,400 steps, n = 1,000)
# 5e-4 72.9, 1e-3 56.2, 2e-3 51.1, 4e-3 diverged; at 64x64 (6 minutes, n = 500) 1e-3 187.5, 2e-3 148.1.
CPU_UNET = ModelConfig(
    base_channels=32, channel_mult=(1, 2, 2, 2), blocks_per_level=1, attention_resolutions=(8,), dropout=0.0
)
CPU_FLOW = DiffusionConfig(objective="flow", loss="l1")
CPU_TRAINING = TrainConfig(
    steps=1400,
    batch_size=32,
    lr=2e-3,
    warmup_steps=100,
    lr_schedule="cosine",
    ema_decay=0.999,
    sample_every=500,
    checkpoint_every=250,
)

PRESETS: dict[str, RunConfig] = {
    # Built-in cartoon faces at 32x32: trains on a 2-core CPU in about four minutes. The network is
    # narrow where the images are large (16 channels at 32x32), which is where a CPU spends its time.
    "demo": RunConfig(
        preset="demo",
        data=DataConfig(source="builtin", image_size=32),
        model=ModelConfig(
            base_channels=16, channel_mult=(1, 2, 4), blocks_per_level=1, attention_resolutions=(8,), dropout=0.0
        ),
        train=TrainConfig(
            steps=1000,
            batch_size=16,
            lr=2e-3,
            warmup_steps=100,
            ema_decay=0.995,
            sample_every=500,
            checkpoint_every=250,
        ),
    ),
    # The article's recipe: its toy U-Net, a linear schedule over T = 300 steps, L1 loss, Adam at 1e-3,
    # no EMA, 64x64. Kept as the baseline to beat; note that its terminal alpha_bar is ~0.05, not ~0.
    "seed": RunConfig(
        preset="seed",
        data=DataConfig(source="", image_size=64),
        model=ModelConfig(architecture="toy_unet", base_channels=64, channel_mult=(1, 2, 4, 8, 16), dropout=0.0),
        diffusion=DiffusionConfig(schedule="linear", timesteps=300, loss="l1"),
        train=TrainConfig(
            steps=12000,
            batch_size=128,
            lr=1e-3,
            warmup_steps=0,
            grad_clip=0.0,
            ema_decay=0.0,
            sample_every=1000,
            checkpoint_every=1000,
        ),
    ),
    # A real CelebA run sized for a CPU: 32x32, a narrow U-Net, 2,800 steps of 16 images (about 6 minutes on 2 idle
    # cores). Flow matching won the recipe table (benchmarks/RESULTS.md): at 1,400 steps FID 71 with 20 Euler steps,
    # where the DDPM objective this preset had (min-SNR eps, L2, T = 1000) gets 85 with 20 ancestral steps; its L1
    # loss beat L2 at both budgets measured (700 steps: 103.8 against 110.4 at n = 500; 1,400: 56.2 against 62.6 at
    # n = 1,000). Batches of 16: at equal images (44,800) more, smaller steps win (batches of 32 51.1, of 16 45.7, of 8
    # 43.5, n = 1,000); 8 costs 8% more time per image than 16 on one core for 5% less FID, so 16.
    "celeba32": RunConfig(
        preset="celeba32",
        data=DataConfig(source="", image_size=32),
        model=CPU_UNET,
        diffusion=CPU_FLOW,
        train=dataclasses.replace(CPU_TRAINING, steps=2800, batch_size=16, warmup_steps=200),
    ),
    # 64x64 faces on a CPU: celeba32's U-Net run at 32x32 on 2x2 patches (patch_size 2: 12 channels in and out), so a
    # 64x64 step costs about a 32x32 one; celeba32's recipe (flow matching). In 6 minutes it reaches FID 148 where the
    # plain U-Net at 64x64, 4x as costly per image, reaches 325. 14,400 steps: an hour on 2 idle cores; train with
    # --max-minutes for another budget (the schedule ends with it).
    "celeba64cpu": RunConfig(
        preset="celeba64cpu",
        data=DataConfig(source="", image_size=64),
        model=dataclasses.replace(CPU_UNET, patch_size=2),
        diffusion=CPU_FLOW,
        train=dataclasses.replace(CPU_TRAINING, steps=14_400, sample_every=1000, checkpoint_every=500),
    ),
    # The DDPM CelebA-64 network (as used by DDIM): 128 wide, (1, 2, 2, 2, 4), attention at 16x16. For GPUs. Flow
    # matching, the formulation that won every CPU budget measured (benchmarks/RESULTS.md); not yet measured on a GPU.
    "celeba64": RunConfig(
        preset="celeba64",
        data=DataConfig(source="", image_size=64),
        diffusion=DiffusionConfig(objective="flow"),
        model=ModelConfig(
            base_channels=128,
            channel_mult=(1, 2, 2, 2, 4),
            blocks_per_level=2,
            attention_resolutions=(16,),
            dropout=0.1,
        ),
        train=TrainConfig(
            steps=500_000,
            batch_size=128,
            lr=2e-4,
            warmup_steps=5000,
            ema_decay=0.9999,
            sample_every=10_000,
            checkpoint_every=5000,
            sample_count=64,
        ),
    ),
}


def preset(name: str) -> RunConfig:
    """A fresh copy of a named preset."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return RunConfig.from_dict(PRESETS[name].to_dict())


def override(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """A copy of config with `{"section.field": value}` overrides applied."""
    raw = config.to_dict()
    for key, value in overrides.items():
        section, name = key.split(".")
        raw[section][name] = value
    return RunConfig.from_dict(raw)


# What `--model vae|gan` changes in a preset besides the family, unless given as flags: the GAN trains with the
# SN-GAN recipe (Miyato et al. 2018: Adam at 2e-4, no warm-up, no clipping; the trainer sets its betas) and an EMA
# of its weights; the VAE keeps the preset's settings but needs no warm-up.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "diffusion": {},
    "vae": {"train.warmup_steps": 0},
    "gan": {
        "train.lr": 2e-4,
        "train.warmup_steps": 0,
        "train.lr_schedule": "constant",
        "train.grad_clip": 0.0,
        "train.ema_decay": 0.999,
    },
    # CLIP learns from captions, never dropped (a dropped caption has no pair), and from larger batches: each image's
    # caption is told apart from the batch's other captions (Radford et al. 2021 used 32,768; a CPU affords 128).
    "clip": {"condition.kind": "text", "condition.drop_prob": 0.0, "train.batch_size": 128},
}
# How many times the preset's training images a family sees, where its batches differ from the preset's: its steps
# (and warm-up steps) are the preset's scaled to that many images at its own batch size (accumulation counted), unless
# given. A CLIP costs a fraction of a U-Net per image, so four times the images take about the preset's own time
# (celeba32's CLIP, as measured in benchmarks/RESULTS.md: 1,400 steps of 128, 179,200 images, in about 7 minutes, the
# preset's 44,800 in 5-8); a change of the preset's batch size then leaves the CLIP's training as it was.
FAMILY_IMAGES = {"clip": 4}


# What choosing an objective other than ddpm changes in a preset, unless given as flags: its DDPM-only settings go back
# to their defaults; and a weighting the chosen objective does not take goes back to uniform (a preset's min-SNR
# weighting, say, belongs to its DDPM objective).
DDPM_ONLY_DEFAULTS = {
    "diffusion.prediction": "eps",
    "diffusion.zero_terminal_snr": False,
}
# The loss weightings each objective takes: min-SNR is DDPM's (Hang et al. 2023), uncertainty (EDM2) is built for the
# edm and flow losses.
OBJECTIVE_WEIGHTINGS = {
    "ddpm": ("uniform", "min_snr"),
    "edm": ("uniform", "uncertainty"),
    "flow": ("uniform", "uncertainty"),
}


# The diffusion settings each objective reads besides objective, loss and weighting (families/ddpm.py, edm.py,
# flow.py); a VAE or GAN reads none of them.
OBJECTIVE_SETTINGS = {
    "ddpm": {"schedule", "timesteps", "beta_start", "beta_end", "prediction", "min_snr_gamma", "zero_terminal_snr"},
    "edm": {"sigma_data", "p_mean", "p_std", "sigma_min", "sigma_max"},
    "flow": {"time_sampling", "sigma_min", "sigma_max"},
}


def unread_settings(config: RunConfig, given: Iterable[str]) -> dict[str, str]:
    """Of the settings given ("section.field" keys, the flags a user typed), those the run would never read, each
    with the reason: a diffusion setting of another objective (or of any, for a VAE or GAN), min_snr_gamma without
    the min_snr weighting, a condition setting of an unconditional run, a measurement setting without eval_every.

    Only what was given: a saved run's config is never refused for a default it carries."""
    d, family = config.diffusion, config.model.family
    reads = OBJECTIVE_SETTINGS.get(d.objective, set()) | {"objective", "loss", "weighting"}
    unread = {}
    for key in given:
        section, name = key.split(".")
        if section == "diffusion" and family != "diffusion":
            unread[key] = f"a {family} run reads no {key}"
        elif section == "diffusion" and name not in reads:
            owners = " and ".join(sorted(o for o, names in OBJECTIVE_SETTINGS.items() if name in names))
            unread[key] = f"{key} belongs to diffusion.objective {owners}, not {d.objective}"
        elif key == "diffusion.min_snr_gamma" and d.weighting != "min_snr":
            unread[key] = f"{key} shapes diffusion.weighting min_snr only"
        elif section == "condition" and name != "kind" and config.condition.kind == "none":
            unread[key] = f"{key} applies to conditional runs only (condition.kind)"
        elif key in ("train.eval_ref", "train.eval_n") and not config.train.eval_every:
            unread[key] = f"{key} is read only with train.eval_every N, the steps between measurements"
    return unread


def with_family(config: RunConfig, family: str, overrides: dict[str, Any] | None = None) -> RunConfig:
    """config as a `family` run: its FAMILY_DEFAULTS (and DDPM_ONLY_DEFAULTS for another objective, a weighting it
    takes), its steps from FAMILY_IMAGES, then the overrides (flags the user gave) on top.

    An unknown family gets no defaults here; validate() refuses it with the one message for that.
    """
    overrides = overrides or {}
    objective = overrides.get("diffusion.objective", config.diffusion.objective)
    ddpm_only = DDPM_ONLY_DEFAULTS if objective != "ddpm" else {}
    defaults = {**FAMILY_DEFAULTS.get(family, {}), **ddpm_only, "model.family": family}
    if config.diffusion.weighting not in OBJECTIVE_WEIGHTINGS.get(objective, WEIGHTINGS):
        defaults["diffusion.weighting"] = "uniform"
    if family in FAMILY_IMAGES:
        batch = overrides.get("train.batch_size", defaults.get("train.batch_size", config.train.batch_size))
        accum = overrides.get("train.accum", config.train.accum)
        preset_images = config.train.batch_size * config.train.accum
        scale = FAMILY_IMAGES[family] * preset_images / (batch * accum)
        defaults["train.steps"] = max(1, round(config.train.steps * scale))
        defaults["train.warmup_steps"] = round(config.train.warmup_steps * scale)
    result = override(config, {**defaults, **overrides})
    unread = unread_settings(result, overrides)  # a flag that would change nothing is a mistake the user should see
    named = ("diffusion.objective", "diffusion.weighting", "condition.kind", "train.eval_every")  # as flags, too
    check(
        not unread, "; ".join(unread.values()) + f": leave {'it' if len(unread) == 1 else 'them'} out", *unread, *named
    )
    return result


def weights_metadata(config: RunConfig) -> dict[str, str]:
    """What a run's weight files say they were trained as, checked when they are loaded: one network's tensors fit
    every objective, but mean something else under each (an EDM run's weights sampled as flow matching are noise)."""
    family = config.model.family
    return {"trained_as": f"{family} {config.diffusion.objective}" if family == "diffusion" else family}


def validate(config: RunConfig) -> None:
    """Reject settings no run can use: UserError with one line naming the setting (data.image_size, ...)."""
    d, m, t, data, c = config.diffusion, config.model, config.train, config.data, config.condition
    s = config.sampling
    diffusion = config.model.family == "diffusion"
    ddpm_settings_fit = d.objective == "ddpm" or (d.prediction == "eps" and not d.zero_terminal_snr)
    weightings = OBJECTIVE_WEIGHTINGS.get(d.objective, WEIGHTINGS)
    for name in SECTIONS:  # inf and nan pass every comparison below one way or the other
        for setting, value in dataclasses.asdict(getattr(config, name)).items():
            finite = not isinstance(value, float) or math.isfinite(value)
            check(finite, f"{name}.{setting} must be a finite number, got {value}", f"{name}.{setting}")
    checks = [
        (
            d.objective in OBJECTIVES,
            f"diffusion.objective must be one of {', '.join(OBJECTIVES)}, got {d.objective!r}",
            ("diffusion.objective",),
        ),
        (
            d.weighting in WEIGHTINGS,
            f"diffusion.weighting must be one of {', '.join(WEIGHTINGS)}, got {d.weighting!r}",
            ("diffusion.weighting",),
        ),
        (
            ddpm_settings_fit,
            f"diffusion.prediction and diffusion.zero_terminal_snr belong to diffusion.objective ddpm; "
            f"diffusion.objective {d.objective} has its own target",
            ("diffusion.prediction", "diffusion.zero_terminal_snr", "diffusion.objective"),
        ),
        (
            not diffusion or d.weighting in weightings,
            f"diffusion.weighting {d.weighting} does not weigh diffusion.objective {d.objective}'s loss; it takes "
            f"{' or '.join(weightings)}",
            ("diffusion.weighting", "diffusion.objective"),
        ),
        (
            not diffusion or d.weighting != "uncertainty" or c.kind != "clip",
            "diffusion.weighting uncertainty is not built for unCLIP runs (condition.kind clip); leave it uniform",
            ("diffusion.weighting", "condition.kind"),
        ),
        (
            d.sigma_data > 0 and d.p_std > 0,
            "diffusion.sigma_data and diffusion.p_std must be positive",
            ("diffusion.sigma_data", "diffusion.p_std"),
        ),
        (
            0 < d.sigma_min < d.sigma_max,
            "diffusion.sigma_min and diffusion.sigma_max must satisfy 0 < diffusion.sigma_min < diffusion.sigma_max",
            ("diffusion.sigma_min", "diffusion.sigma_max"),
        ),
        (
            d.time_sampling in TIME_SAMPLINGS,
            f"diffusion.time_sampling must be one of {', '.join(TIME_SAMPLINGS)}, got {d.time_sampling!r}",
            ("diffusion.time_sampling",),
        ),
        (
            s.sampler in ("", *SAMPLERS),
            f"sampling.sampler must be one of {', '.join(SAMPLERS)}, got {s.sampler!r}",
            ("sampling.sampler",),
        ),
        (s.steps >= 0, f"sampling.steps must be >= 0 (0: the objective's default), got {s.steps}", ("sampling.steps",)),
        (
            s.spacing in ("", *SPACINGS),
            f"sampling.spacing must be one of {', '.join(SPACINGS)}, got {s.spacing!r}",
            ("sampling.spacing",),
        ),
        (
            t.eval_every >= 0 and t.eval_n >= 2,
            "train.eval_every must be >= 0 and train.eval_n at least 2",
            ("train.eval_every", "train.eval_n"),
        ),
        (
            t.eval_every == 0 or bool(t.eval_ref),
            "train.eval_every needs train.eval_ref, reference statistics from fid-stats",
            ("train.eval_every", "train.eval_ref"),
        ),
        (data.image_size >= 8, f"data.image_size must be at least 8, got {data.image_size}", ("data.image_size",)),
        (
            data.split in ("train", "valid", "test", "all"),
            f"data.split must be train, valid, test or all, got {data.split!r}",
            ("data.split",),
        ),
        (
            m.family in FAMILIES,
            f"model.family must be one of {', '.join(FAMILIES)}, got {m.family!r}",
            ("model.family",),
        ),
        (
            m.family in ("diffusion", "clip") or c.kind == "none",
            f"model.family {m.family} is unconditional here: leave out condition.kind",
            ("model.family", "condition.kind"),
        ),
        (
            m.family != "clip" or c.kind == "text",
            f"model.family clip learns from captions: it needs condition.kind text, got {c.kind}",
            ("model.family", "condition.kind"),
        ),
        (
            m.family != "clip" or t.eval_every == 0,
            "a CLIP run draws no images to measure: leave out train.eval_every (evaluate it with clip-eval)",
            ("train.eval_every",),
        ),
        (
            not c.clip_run or c.kind == "clip",
            f"condition.clip_run names the CLIP of an unCLIP run: it needs condition.kind clip, got {c.kind}",
            ("condition.clip_run", "condition.kind"),
        ),
        (
            m.family != "clip" or t.batch_size >= 2,
            "CLIP learns by telling each image's caption from the batch's others: train.batch_size must be at least 2",
            ("train.batch_size",),
        ),
        (
            c.kind != "clip" or bool(c.clip_run or c.clip_network),
            "condition.kind clip (unCLIP) needs condition.clip_run, a CLIP run folder from train-clip",
            ("condition.kind", "condition.clip_run"),
        ),
        (
            m.clip_dim >= 2 and m.clip_text_layers >= 0 and m.prior_width >= 8 and m.prior_blocks >= 1,
            "model.clip_dim must be at least 2, model.clip_text_layers >= 0, model.prior_width at least 8 and "
            "model.prior_blocks at least 1",
            ("model.clip_dim", "model.clip_text_layers", "model.prior_width", "model.prior_blocks"),
        ),
        (m.latent_dim >= 1, f"model.latent_dim must be at least 1, got {m.latent_dim}", ("model.latent_dim",)),
        (m.vae_beta >= 0, f"model.vae_beta must be >= 0, got {m.vae_beta}", ("model.vae_beta",)),
        (
            m.architecture in ARCHITECTURES,
            f"model.architecture must be one of {', '.join(ARCHITECTURES)}, got {m.architecture!r}",
            ("model.architecture",),
        ),
        (
            m.base_channels >= 4,
            f"model.base_channels must be at least 4, got {m.base_channels}",
            ("model.base_channels",),
        ),
        (
            len(m.channel_mult) >= 1 and min(m.channel_mult) >= 1,
            f"model.channel_mult needs positive integers, got {m.channel_mult}",
            ("model.channel_mult",),
        ),
        (
            m.blocks_per_level >= 1,
            f"model.blocks_per_level must be at least 1, got {m.blocks_per_level}",
            ("model.blocks_per_level",),
        ),
        (
            m.attention_heads >= 1 and all(m.base_channels * mult % m.attention_heads == 0 for mult in m.channel_mult),
            f"model.attention_heads {m.attention_heads} must be at least 1 and divide every level's width "
            f"({', '.join(str(m.base_channels * mult) for mult in m.channel_mult)})",
            ("model.attention_heads",),
        ),
        (0 <= m.dropout < 1, f"model.dropout must lie in [0, 1), got {m.dropout}", ("model.dropout",)),
        (
            d.schedule in SCHEDULE_NAMES,
            f"diffusion.schedule must be one of {', '.join(SCHEDULE_NAMES)}, got {d.schedule!r}",
            ("diffusion.schedule",),
        ),
        (d.timesteps >= 2, f"diffusion.timesteps must be at least 2, got {d.timesteps}", ("diffusion.timesteps",)),
        (
            0 < d.beta_start <= d.beta_end < 1,
            "betas must satisfy 0 < diffusion.beta_start <= diffusion.beta_end < 1",
            (
                "diffusion.beta_start",
                "diffusion.beta_end",
            ),
        ),
        (
            d.loss in LOSS_NAMES,
            f"diffusion.loss must be one of {', '.join(LOSS_NAMES)}, got {d.loss!r}",
            ("diffusion.loss",),
        ),
        (
            d.prediction in PREDICTIONS,
            f"diffusion.prediction must be one of {', '.join(PREDICTIONS)}, got {d.prediction!r}",
            ("diffusion.prediction",),
        ),
        (
            d.min_snr_gamma > 0,
            f"diffusion.min_snr_gamma must be positive, got {d.min_snr_gamma}",
            ("diffusion.min_snr_gamma",),
        ),
        (
            not (d.zero_terminal_snr and d.prediction == "eps"),
            "diffusion.zero_terminal_snr leaves no signal at t = T, where eps cannot give x_0: use "
            "diffusion.prediction v or x0",
            (
                "diffusion.zero_terminal_snr",
                "diffusion.prediction",
            ),
        ),
        (
            c.kind in CONDITION_KINDS,
            f"condition.kind must be one of {', '.join(CONDITION_KINDS)}, got {c.kind!r}",
            ("condition.kind",),
        ),
        (
            c.kind == "none" or m.architecture == "unet",
            f"condition.kind {c.kind} needs model.architecture unet (the toy U-Net takes no condition)",
            (
                "condition.kind",
                "model.architecture",
            ),
        ),
        (0 <= c.drop_prob < 1, f"condition.drop_prob must lie in [0, 1), got {c.drop_prob}", ("condition.drop_prob",)),
        (0 <= c.hide_max <= 1, f"condition.hide_max must lie in [0, 1], got {c.hide_max}", ("condition.hide_max",)),
        (
            c.captions_per_image >= 1,
            f"condition.captions_per_image must be at least 1, got {c.captions_per_image}",
            ("condition.captions_per_image",),
        ),
        (
            3 <= c.max_tokens <= 512,
            f"condition.max_tokens must lie between 3 and 512, got {c.max_tokens}",
            ("condition.max_tokens",),
        ),
        (t.steps >= 1, f"train.steps must be at least 1, got {t.steps}", ("train.steps",)),
        (0 <= t.seed < 2**63, f"train.seed must be an integer in [0, 2^63), got {t.seed}", ("train.seed",)),
        (t.batch_size >= 1, f"train.batch_size must be at least 1, got {t.batch_size}", ("train.batch_size",)),
        (t.lr > 0, f"train.lr must be positive, got {t.lr}", ("train.lr",)),
        (t.weight_decay >= 0, f"train.weight_decay must be >= 0, got {t.weight_decay}", ("train.weight_decay",)),
        (t.warmup_steps >= 0, f"train.warmup_steps must be >= 0, got {t.warmup_steps}", ("train.warmup_steps",)),
        (t.grad_clip >= 0, f"train.grad_clip must be >= 0, got {t.grad_clip}", ("train.grad_clip",)),
        (0 <= t.ema_decay < 1, f"train.ema_decay must lie in [0, 1), got {t.ema_decay}", ("train.ema_decay",)),
        (t.log_every >= 1, f"train.log_every must be at least 1, got {t.log_every}", ("train.log_every",)),
        (
            t.sample_every >= 0 and t.checkpoint_every >= 0,
            "train.sample_every and train.checkpoint_every must be >= 0",
            (
                "train.sample_every",
                "train.checkpoint_every",
            ),
        ),
        (
            t.sample_count >= 1 and t.sample_steps >= 1,
            "train.sample_count and train.sample_steps must be at least 1",
            (
                "train.sample_count",
                "train.sample_steps",
            ),
        ),
        (t.keep >= 1, f"train.keep must be at least 1, got {t.keep}", ("train.keep",)),
        (t.max_minutes >= 0, f"train.max_minutes must be >= 0, got {t.max_minutes}", ("train.max_minutes",)),
        (
            t.lr_schedule in ("constant", "cosine"),
            f"train.lr_schedule must be constant or cosine, got {t.lr_schedule!r}",
            ("train.lr_schedule",),
        ),
        (t.accum >= 1, f"train.accum must be at least 1, got {t.accum}", ("train.accum",)),
        (
            t.accum == 1 or m.family != "clip",
            "a CLIP tells each caption from the other images of its micro-batch, so accumulated micro-batches would "
            "each contrast fewer: leave train.accum at 1 and raise train.batch_size (or train on more processes)",
            ("train.accum", "train.batch_size"),
        ),
        (
            t.precision in ("auto", "fp32", "bf16", "fp16"),
            f"train.precision must be auto, fp32, bf16 or fp16, got {t.precision!r}",
            ("train.precision",),
        ),
    ]
    for ok, message, settings in checks:
        check(ok, message, *settings)
