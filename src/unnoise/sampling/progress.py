"""A progress bar over a diffusion run's sampling: one tick per solver step of each batch."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator

from tqdm import tqdm

from .settings import SampleSettings


@contextlib.contextmanager
def sampling_bar(run, settings: SampleSettings, enabled: bool = True) -> Iterator:
    """Yields an on_step callback for run.sample that moves a bar on stderr (steps x batches), or None where there
    is nothing to show: disabled, or a VAE or GAN run (one network pass, no solver steps)."""
    if not enabled or run.objective.draws_in_one_pass:
        yield None
        return
    settings = run.settings(settings)
    total = run.objective.solver_steps(settings) * math.ceil(settings.n / settings.batch_size)
    with tqdm(total=total, desc=f"sampling {settings.n} images", unit="step", file=sys.stderr) as bar:
        yield lambda *state: bar.update(1)
