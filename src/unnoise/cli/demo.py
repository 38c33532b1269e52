"""`unnoise demo`: train preset demo on the built-in faces, then draw what a newcomer wants to see."""

from __future__ import annotations

import logging
from pathlib import Path

from ..api import CONFIG_FILE, load_run, train
from ..config import preset
from ..data import open_dataset
from ..sampling.settings import SampleSettings
from ..viz import save_grid, save_png

log = logging.getLogger("unnoise")


def demo(
    out: str | Path = "runs/demo", samples: int = 64, steps: int | None = 100, progress: bool = True
) -> dict[str, Path]:
    """Train preset `demo` on the built-in faces (resuming or reusing a run already in `out`), then draw its pictures.

    Returns the paths of samples.png (a grid of new faces), trajectory.png (noise becoming faces) and
    noising.png (a training face becoming noise).
    """
    run_dir = Path(out)
    if (run_dir / CONFIG_FILE).exists():
        if not load_run(run_dir).finished:
            train(out=run_dir, resume=True, progress=progress)
        elif progress:
            log.info(f"{run_dir} is already trained; delete it to train again")
    else:
        train(preset("demo"), out=run_dir, progress=progress)
    run = load_run(run_dir)
    pictures = {
        "samples": save_grid(run.sample(SampleSettings(n=samples, steps=steps, seed=0)), run_dir / "samples.png"),
        "trajectory": save_png(
            run.sample_trajectory(SampleSettings(n=4, steps=steps, seed=1)), run_dir / "trajectory.png"
        ),
    }
    face = open_dataset(run.config.data.source, 64, progress=False).images[0]
    pictures["noising"] = save_png(run.noising_strip(face), run_dir / "noising.png")
    return pictures
