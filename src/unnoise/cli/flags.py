"""Flags and settings: the one place that knows how a setting is spelled on the command line.

Lower layers raise UserError naming settings as the Python API spells them (`negative_prompt`,
`data.image_size`); `as_flags` rewrites those names in a message into this CLI's flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..config import CONDITION_KINDS, DERIVED_FIELDS, OBJECTIVES, SECTIONS, TIME_SAMPLINGS
from ..diffusion.grids import SPACINGS
from ..diffusion.guidance import DEFAULT_GUIDANCE
from ..diffusion.losses import LOSS_NAMES, WEIGHTINGS
from ..diffusion.parameterization import PREDICTIONS
from ..diffusion.samplers import SAMPLERS, VARIANCES
from ..diffusion.schedules import SCHEDULE_NAMES
from ..families.unclip import PRIOR_GUIDANCE
from ..models import ARCHITECTURES, FAMILIES
from ..sampling.settings import SampleSettings

# Where a setting's own name would make too vague a flag.
FLAG_NAMES = {
    "condition.kind": "--condition",
    "model.family": "--model",
    "data.source": "--data",
    "sampling.sampler": "--default-sampler",
    "sampling.steps": "--default-steps",
    "sampling.spacing": "--default-spacing",
    "requests": "--request",  # faithfulness's requests: one --request flag per request
    "prompts": "--prompt",  # and its prompts, one --prompt each
}
# Flags whose values may start with "-": attribute requests (-Male) and free text (a prompt like "-glasses").
FLAGS_TAKING_DASHED_VALUES = {"--attrs", "--request", "--prompt", "--negative-prompt", "--seeds"}


# The values of the settings that name a choice, for --help (config.validate checks them).
SETTING_VALUES = {
    "diffusion.objective": OBJECTIVES,
    "diffusion.time_sampling": TIME_SAMPLINGS,
    "diffusion.schedule": SCHEDULE_NAMES,
    "diffusion.prediction": PREDICTIONS,
    "diffusion.weighting": WEIGHTINGS,
    "diffusion.loss": LOSS_NAMES,
    "sampling.sampler": SAMPLERS,
    "sampling.spacing": SPACINGS,
    "condition.kind": CONDITION_KINDS,
    "model.family": FAMILIES,
    "model.architecture": ARCHITECTURES,
}


# What a setting does, for --help, where its name alone does not say.
SETTING_HELP = {
    "condition.clip_run": "with --condition clip (unCLIP): the CLIP run folder (train-clip) whose space it uses",
    "model.clip_dim": "CLIP: the joint space's dimension",
    "model.clip_text_layers": "CLIP: 0 = an MLP on the text encoder's pooled vector, N = N trained transformer layers",
    "model.prior_width": "unCLIP: the prior MLP's width",
    "model.prior_blocks": "unCLIP: the prior MLP's residual blocks",
    "diffusion.weighting": "min_snr for --objective ddpm, uncertainty (EDM2's learned weighting) for edm and flow",
}


def flag_of(setting: str) -> str:
    """'data.image_size' -> '--image-size', 'negative_prompt' -> '--negative-prompt', 'model.family' -> '--model'."""
    return FLAG_NAMES.get(setting, "--" + setting.rsplit(".", 1)[-1].replace("_", "-"))


def as_flags(message: str, settings: Sequence[str]) -> str:
    """The message with each named setting written as its flag (whole names only, longest first)."""
    for setting in sorted(settings, key=len, reverse=True):
        message = re.sub(rf"(?<![\w.\-]){re.escape(setting)}(?![\w\-])", flag_of(setting), message)
    return message


def int_tuple(text: str) -> tuple[int, ...]:
    """'1,2,2' -> (1, 2, 2); '' or 'none' -> ()."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,2,2, got {text!r}") from None


def float_tuple(text: str) -> tuple[float, ...]:
    """'0,1,3' -> (0.0, 1.0, 3.0)."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 0,1,3, got {text!r}") from None
    if not all(math.isfinite(value) for value in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def add_config_flags(parser: argparse.ArgumentParser, reads: Callable[[str], bool] = lambda setting: True) -> None:
    """One --flag per config field that the command's runs read (e.g. --batch-size, --channel-mult), each overriding
    the preset."""
    for section_name, section_type in SECTIONS.items():
        group = parser.add_argument_group(f"{section_name} settings (override the preset)")
        for field in dataclasses.fields(section_type):
            setting = f"{section_name}.{field.name}"
            if setting in DERIVED_FIELDS or not reads(setting):
                continue
            default = getattr(section_type(), field.name)
            options: dict[str, Any] = {"dest": setting, "default": argparse.SUPPRESS}
            if isinstance(default, bool):
                options["action"] = argparse.BooleanOptionalAction
            elif isinstance(default, tuple):
                options.update(type=int_tuple, metavar="N,N,...")
            else:
                options.update(type=type(default), metavar=field.name.upper())
            if setting in SETTING_VALUES:
                shown = default or "the objective's"
                options["help"] = "one of " + ", ".join(SETTING_VALUES[setting]) + f" (default {shown})"
                options["help"] += f": {SETTING_HELP[setting]}" if setting in SETTING_HELP else ""
            elif setting in SETTING_HELP:
                options["help"] = f"{SETTING_HELP[setting]} (default {default!r})"
            group.add_argument(flag_of(setting), **options)


def config_overrides(arguments: argparse.Namespace) -> dict[str, Any]:
    """{"section.field": value} for every config flag given."""
    return {key: value for key, value in vars(arguments).items() if "." in key}


def add_sample_flags(
    parser: argparse.ArgumentParser,
    n: int | None = 64,
    requests: bool = True,
    steps_help: str = "",
    n_help: str = "",
    guidance: bool | None = None,
) -> None:
    """The flags of SampleSettings: what to draw, by which solver on which grid, and what to ask (requests: attrs,
    prompts; guidance: its scale, by default where requests are taken)."""
    parser.add_argument(
        "--n", type=int, default=n, help=n_help or f"number of images (default {n if n else 'the reference n'})"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="image k of a seed is the same at any --n and --batch-size (default 0)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="images per network call: memory, not results (default 64)"
    )
    parser.add_argument(
        "--sampler", default=None, choices=SAMPLERS, help="solver (default: the run's, printed with its NFE)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help=steps_help or "solver steps (default: the run's); NFE is printed"
    )
    parser.add_argument(
        "--spacing", choices=SPACINGS, default=None, help="grid of noise levels (default: the run's, for its sampler)"
    )
    parser.add_argument("--rho", type=float, default=None, help="karras spacing exponent (default 7)")
    parser.add_argument("--eta", type=float, default=None, help="ddim: 0 deterministic, 1 = ddpm")
    parser.add_argument("--variance", choices=VARIANCES, default=None, help="ddpm: posterior variance")
    if requests:
        parser.add_argument("--attrs", help="runs trained with --condition attributes: e.g. Smiling,Eyeglasses,-Male")
        parser.add_argument(
            "--prompt", help='runs trained with --condition text: e.g. "a smiling woman with blond hair"'
        )
        parser.add_argument("--negative-prompt", help="guide away from this prompt instead of from no prompt")
    if requests if guidance is None else guidance:
        parser.add_argument(
            "--guidance",
            type=float,
            default=None,
            help=f"classifier-free guidance scale w: 1 = conditional model alone, larger = more faithful "
            f"(default {DEFAULT_GUIDANCE})",
        )
    if requests:
        add_prior_guidance_flag(parser)


def add_prior_guidance_flag(parser) -> None:
    parser.add_argument(
        "--prior-guidance",
        type=float,
        default=None,
        help=f"unCLIP runs: the guidance scale of the prior, prompt -> image embedding (default {PRIOR_GUIDANCE:g})",
    )


def sample_fields(arguments: argparse.Namespace) -> dict[str, Any]:
    """The SampleSettings fields the user gave a flag for (flags left out are None: the API's defaults apply)."""
    return {
        field.name: getattr(arguments, field.name)
        for field in dataclasses.fields(SampleSettings)
        if getattr(arguments, field.name, None) is not None
    }


def attach_dashed_values(argv: Sequence[str]) -> list[str]:
    """['--attrs', '-Male,Smiling'] -> ['--attrs=-Male,Smiling']: argparse would take '-Male' for a flag."""
    joined: list[str] = []
    for argument in argv:
        if (
            joined
            and joined[-1] in FLAGS_TAKING_DASHED_VALUES
            and argument.startswith("-")
            and not argument.startswith("--")
        ):
            joined[-1] = f"{joined[-1]}={argument}"
        else:
            joined.append(argument)
    return joined
