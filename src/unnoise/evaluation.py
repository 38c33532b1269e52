"""FID and KID of a trained run: sample it with any sampler, then measure against reference statistics.

    import unnoise
    unnoise.evaluate("runs/celeba32", "ref32.npz", n=2000, sampler="dpmpp_2m", steps=20)
    # {"fid": ..., "kid": ..., "kid_std": ..., "n": 2000, "ref_n": 2000, "nfe": 20, "seconds": ..., ...}
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from .api import CONFIG_FILE, Run, load_run
from .errors import UserError
from .eval import ReferenceStatistics, evaluate_folder, evaluate_images
from .eval.evaluate import as_reference, check_count

log = logging.getLogger("unnoise")


def evaluate_run(
    run: Run | str | Path, reference: ReferenceStatistics | str | Path, n: int | None = None, steps: int | None = None,
    seed: int = 0, batch_size: int = 64, sampler: str = "ddpm", device: str = "auto", progress: bool = True,
    **sampler_options,
) -> dict:
    """FID/KID of n new samples of a run (n = the reference's n by default), with their cost: nfe and seconds."""
    check_count(n)
    reference = as_reference(reference)
    run = run if isinstance(run, Run) else load_run(run, device)
    n = reference.n if n is None else n
    check_same_size(run, reference, "make a reference at the run's size with unnoise fid-stats --size")
    diffusion = run.family == "diffusion"
    steps_used = (run.schedule.timesteps if steps is None else steps) if diffusion else None
    if progress:
        how = f"{sampler}, {steps_used} steps" if diffusion else f"{run.family.upper()}, one network pass"
        log.info(f"sampling {n} images from {run.path} ({how})")
    start = time.perf_counter()
    images = run.sample(n, steps=steps, seed=seed, batch_size=batch_size, sampler=sampler, **sampler_options)
    seconds = time.perf_counter() - start
    result = evaluate_images(images, reference, next(run.model.parameters()).device, progress)
    return {**result, "nfe": run.nfe(sampler, steps), "seconds": seconds, "sampler": sampler if diffusion else run.family,
            "steps": steps_used, **sampler_options}


def check_same_size(run: Run, reference: ReferenceStatistics, advice: str) -> None:
    """FID compares images at one size: refuse a run whose images are not at the reference's."""
    drawn, size = run.config.data.image_size, reference.image_size
    if drawn != size:
        raise UserError(f"{run.path} draws {drawn}x{drawn} images but the reference statistics are of {size}x{size} "
                        f"images; {advice}")


def evaluate(
    target: str | Path, reference: ReferenceStatistics | str | Path, n: int | None = None, steps: int | None = None,
    seed: int = 0, batch_size: int = 64, sampler: str | None = None, device: str = "auto", progress: bool = True,
    **sampler_options,
) -> dict:
    """evaluate_run if target is a run folder (it holds config.json), else evaluate_folder on its images."""
    target = Path(target)
    if (target / CONFIG_FILE).is_file():
        return evaluate_run(target, reference, n, steps, seed, batch_size, sampler or "ddpm", device, progress, **sampler_options)
    if not target.is_dir():
        raise UserError(f"{target} is neither a run folder (with {CONFIG_FILE}) nor a folder of images")
    if steps is not None or sampler is not None or any(value is not None for value in sampler_options.values()):
        raise UserError(f"{target} is a folder of images, not a run: sampler flags apply only to runs")
    return evaluate_folder(target, reference, n, device, progress)
