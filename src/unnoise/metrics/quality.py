"""FID and KID of a trained run: sample it with any SampleSettings, then measure against reference statistics.

import unnoise
unnoise.evaluate("runs/celeba32", "ref32.npz", n=2000, sampler="dpmpp_2m", steps=20)
# {"fid": ..., "kid": ..., "kid_std": ..., "n": 2000, "ref_n": 2000, "nfe": 20, "seconds": ..., ...}
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..errors import UserError
from ..runs import CONFIG_FILE, Run, load_run
from ..sampling.progress import sampling_bar
from ..sampling.settings import SampleSettings
from .images import as_reference, check_count, evaluate_folder, evaluate_images
from .reference import ReferenceStatistics

log = logging.getLogger("unnoise")


def evaluate_run(
    run: Run | str | Path,
    reference: ReferenceStatistics | str | Path,
    settings: SampleSettings | None = None,
    device: str = "auto",
    progress: bool = True,
    **fields,
) -> dict:
    """FID/KID of new samples of a run, with their cost (nfe, seconds) and the settings that drew them.

    settings (or its fields as keywords) say how to sample; n defaults to the reference's n.
    """
    reference = as_reference(reference)
    run = run if isinstance(run, Run) else load_run(run, device)
    settings = run.settings(settings or SampleSettings(n=fields.pop("n", reference.n)), **fields)
    check_count(settings.n)
    check_same_size(run, reference, "make a reference at the run's size with fid-stats and its image size")
    if progress:
        log.info(f"sampling {settings.n} images from {run.path} ({run.objective.describe_sampling(settings)})")
    start = time.perf_counter()
    with sampling_bar(run, settings, progress) as on_step:
        images = run.sample(settings, on_step)
    seconds = time.perf_counter() - start
    result = evaluate_images(images, reference, run.device, progress)
    options = {
        name: value for name in ("spacing", "rho", "eta", "variance") if (value := getattr(settings, name)) is not None
    }
    drawn = (
        {"sampler": run.family, "steps": None}
        if run.objective.draws_in_one_pass
        else {"sampler": settings.solver_name, "steps": run.objective.solver_steps(settings), **options}
    )
    return {**result, "nfe": run.nfe(settings), "seconds": seconds, **drawn}


def check_same_size(run: Run, reference: ReferenceStatistics, advice: str) -> None:
    """FID compares images at one size: refuse a run whose images are not at the reference's."""
    drawn, size = run.config.data.image_size, reference.image_size
    if drawn != size:
        raise UserError(
            f"{run.path} draws {drawn}x{drawn} images but the reference statistics are of {size}x{size} "
            f"images; {advice}"
        )


def evaluate(
    target: str | Path,
    reference: ReferenceStatistics | str | Path,
    settings: SampleSettings | None = None,
    device: str = "auto",
    progress: bool = True,
    **fields,
) -> dict:
    """evaluate_run if target is a run folder (it holds config.json), else evaluate_folder on its images (n images)."""
    target = Path(target)
    if (target / CONFIG_FILE).is_file():
        return evaluate_run(target, reference, settings, device, progress, **fields)
    if not target.is_dir():
        raise UserError(f"{target} is neither a run folder (with {CONFIG_FILE}) nor a folder of images")
    n = fields.pop("n", None)
    check_count(n)
    given = sorted(name for name, value in fields.items() if value is not None)
    if settings is not None or given:
        raise UserError(
            f"{target} is a folder of images, not a run: sampling settings apply only to runs", settings=tuple(given)
        )
    return evaluate_folder(target, reference, n, device, progress)
