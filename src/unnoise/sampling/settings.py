"""SampleSettings: everything that decides which images a run draws, in one object, validated once.

The CLI, Run.sample, evaluation, faithfulness, compare and the web page all speak it. Errors name the setting
(`eta`, `negative_prompt`), never a flag: the CLI turns names into flags, the page into its fields.

    import unnoise
    run = unnoise.load_run("runs/celeba32")
    images = run.sample(unnoise.SampleSettings(n=16, sampler="dpmpp_2m", steps=20, seed=3))
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

from ..diffusion.grids import DEFAULT_RHO, SPACINGS
from ..diffusion.guidance import DEFAULT_GUIDANCE
from ..diffusion.samplers import SOLVERS, VARIANCES
from ..errors import check

AttributeRequest = str | list[str] | tuple[str, ...] | dict[str, bool]
SOLVER_OPTIONS = ("eta", "variance")  # options of one solver each; `spacing` and `rho` shape the grid of any solver


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not a string)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_integer(value: Any) -> bool:
    """An int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def as_python_number(value: Any) -> Any:
    """numpy's (and other libraries') integer and real scalars as int and float, -0.0 as 0.0 (so a guidance of -0
    reads back as 0); anything else as it is (a bool too, which validation then refuses)."""
    if isinstance(value, bool) or type(value) is int:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) + 0.0  # IEEE: -0.0 + 0.0 is +0.0
    return value


NUMBER_FIELDS = ("n", "seed", "batch_size", "steps", "rho", "eta", "guidance", "prior_guidance")


@dataclass(frozen=True)
class SampleSettings:
    """How to draw images from a run. None means "the run's default" (see each field).

    n: images to draw. seed: image k of seed s is the same whatever n, batch_size or device count (each image
    draws from its own generator, seeded by (s, k)). batch_size: images per network call (memory, not results).
    sampler: ddpm | ddim | dpmpp_2m | dpmpp_2m_sde | euler | heun | midpoint (None: the run's default, stored in its
    config's sampling section, else its objective's: ddpm for DDPM runs, heun for EDM, euler for flow; VAE and GAN
    runs take none). steps: solver steps K, the same meaning for every sampler (None: the run's default); NFE = K,
    or 2K - 1 for heun and midpoint (2K - 2 on a grid that starts at sigma = inf). spacing: the grid of noise levels,
    uniform | quadratic | trailing | karras (None: the run's default for the sampler). rho: karras spacing's
    exponent (default 7). eta: ddim's noise in [0, 1] (0 deterministic, 1 is ddpm). variance: ddpm's step variance,
    beta_tilde | beta. attrs / prompt / negative_prompt: what a conditional run is asked for (an empty prompt asks
    for the empty caption); guidance: the classifier-free guidance scale w (1: the conditional model alone).
    prior_guidance: unCLIP runs only, the guidance scale of the prior that turns a prompt into a CLIP image
    embedding (None: the run's default).
    """

    n: int = 16
    seed: int = 0
    batch_size: int = 64
    sampler: str | None = None
    steps: int | None = None
    spacing: str | None = None
    rho: float | None = None
    eta: float | None = None
    variance: str | None = None
    attrs: AttributeRequest | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    guidance: float = DEFAULT_GUIDANCE
    prior_guidance: float | None = None

    def __post_init__(self) -> None:
        for name in NUMBER_FIELDS:  # np.int64(3) is the seed 3, np.float32(0.5) the eta 0.5
            object.__setattr__(self, name, as_python_number(getattr(self, name)))

    def replace(self, **changes: Any) -> "SampleSettings":
        return dataclasses.replace(self, **changes)

    def validate(self) -> "SampleSettings":
        """Check every value that does not depend on the run; returns self. Raises UserError naming the setting."""
        check(is_integer(self.n) and self.n >= 1, f"n must be at least 1, got {self.n}", "n")
        check(
            is_integer(self.batch_size) and self.batch_size >= 1,
            f"batch_size must be at least 1, got {self.batch_size}",
            "batch_size",
        )
        check(
            is_integer(self.seed) and 0 <= self.seed < 2**63,
            f"seed must be an integer in [0, 2^63), got {self.seed!r}",
            "seed",
        )
        check(
            self.sampler is None or self.sampler in SOLVERS,
            f"sampler must be one of {', '.join(SOLVERS)}, got {self.sampler!r}",
            "sampler",
        )
        check(
            self.steps is None or (is_integer(self.steps) and self.steps >= 1),
            f"steps must be at least 1, got {self.steps}",
            "steps",
        )
        check(
            self.spacing is None or self.spacing in SPACINGS,
            f"spacing must be one of {', '.join(SPACINGS)}, got {self.spacing!r}",
            "spacing",
        )
        check(
            self.rho is None or (is_number(self.rho) and self.rho > 0),
            f"rho must be a positive number, got {self.rho}",
            "rho",
        )
        check(self.rho is None or self.grid_spacing == "karras", "rho shapes only the karras spacing", "rho")
        check(
            self.eta is None or (is_number(self.eta) and 0 <= self.eta <= 1),
            f"eta must be a number in [0, 1] (0: deterministic, 1: DDPM's variance), got {self.eta!r}",
            "eta",
        )
        check(
            self.variance is None or self.variance in VARIANCES,
            f"variance must be one of {', '.join(VARIANCES)}, got {self.variance!r}",
            "variance",
        )
        # A scale below 0 would push away from the request: no recipe of the field asks for it, and a typo should not
        # quietly draw the opposite of what was asked (negative_prompt is the way to steer away from something).
        for name in ("guidance", "prior_guidance"):
            value = getattr(self, name)
            check(
                (value is None and name == "prior_guidance") or (is_number(value) and value >= 0),
                f"{name} must be a finite number >= 0 (0: the unconditional model, 1: the conditional model alone), "
                f"got {value}",
                name,
            )
        for name in ("prompt", "negative_prompt"):
            value = getattr(self, name)
            check(value is None or isinstance(value, str), f"{name} must be text, got {value!r}", name)
        check(
            self.negative_prompt is None or self.prompt is not None,
            "negative_prompt needs a prompt",
            "negative_prompt",
            "prompt",
        )
        check(self.attrs is None or self.prompt is None, "ask with attrs or with prompt, not both", "attrs", "prompt")
        solver = self.solver_name
        for option in SOLVER_OPTIONS:
            if getattr(self, option) is not None and option not in SOLVERS[solver].options:
                takes = ", ".join(SOLVERS[solver].options) or "no solver options"
                check(False, f"sampler {solver} does not take {option}; it takes {takes}", option)
        return self

    @property
    def solver_name(self) -> str:
        return self.sampler or "ddpm"

    @property
    def grid_spacing(self) -> str:
        return self.spacing or SOLVERS[self.solver_name].default_spacing

    @property
    def grid_rho(self) -> float:
        return DEFAULT_RHO if self.rho is None else self.rho

    def solver_options(self) -> dict[str, Any]:
        """The options given to the solver itself (eta, variance), those left at None omitted."""
        return {option: getattr(self, option) for option in SOLVER_OPTIONS if getattr(self, option) is not None}

    @property
    def asks(self) -> bool:
        """Whether a condition is requested (attrs or prompt; an empty prompt is a request for the empty caption)."""
        return self.attrs is not None or self.prompt is not None

    def sampling_options_given(self) -> list[str]:
        """The diffusion-only settings given a value: what a one-pass model (VAE, GAN) cannot use."""
        names = ("sampler", "steps", "spacing", "rho", "eta", "variance", "attrs", "prompt", "negative_prompt")
        names += ("prior_guidance",)
        return [name for name in names if getattr(self, name) is not None]
