"""The generative trilemma in numbers: runs of any family (diffusion, VAE, GAN) side by side on the same reference.

    import unnoise.compare
    rows, grids = unnoise.compare.compare(["runs/vae", "runs/gan", "runs/diffusion"], "ref32.npz", n=500, steps=20)
    unnoise.compare.write_comparison(rows, grids, "comparison")   # comparison.md, comparison.json, comparison.png

For each run: FID, KID, precision and recall (quality and diversity), sampling images/s (n images, timed),
training time (from its log), parameters (all, and those sampling uses), and a grid of its first samples.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from PIL import Image

from ..errors import UserError
from ..models import count_parameters
from ..runs import LOG_FILE, Run, load_run, read_log
from ..sampling.settings import SampleSettings
from ..storage.atomic import make_folder, write_text_atomic
from ..viz import display_scale, image_grid, save_png, titled_panels
from .images import as_reference, check_count, evaluate_images
from .quality import check_same_size
from .reference import ReferenceStatistics

log = logging.getLogger("unnoise")

GRID_IMAGES = 16
COLUMNS = (
    "run",
    "model",
    "fid",
    "kid",
    "precision",
    "recall",
    "sampling_images_per_s",
    "nfe",
    "train_minutes",
    "train_steps",
    "parameters_m",
    "sampling_parameters_m",
)


def training_minutes(run: Run) -> float | None:
    """Wall-clock training time from the run's log (its last row's elapsed_s), in minutes."""
    rows = read_log(run.path / LOG_FILE)
    return round(float(rows[-1]["elapsed_s"]) / 60, 2) if rows else None


DEFAULT_STEPS = 50  # diffusion runs' steps unless told


def compare(
    runs: list[str | Path],
    reference: ReferenceStatistics | str | Path,
    settings: SampleSettings | None = None,
    device: str = "auto",
    progress: bool = True,
    **fields,
) -> tuple[list[dict], list[Image.Image]]:
    """One row of numbers and one sample grid per run.

    Diffusion runs sample with settings (or its fields as keywords; steps default to DEFAULT_STEPS, n to the
    reference's n); VAE and GAN runs, which draw in one pass, take only its n, seed and batch size.
    """
    if not runs:
        raise UserError("compare needs at least one run folder")
    reference = as_reference(reference)
    settings = (settings or SampleSettings(n=fields.pop("n", reference.n))).replace(**fields)
    settings = (settings if settings.steps is not None else settings.replace(steps=DEFAULT_STEPS)).validate()
    check_count(settings.n)
    n = settings.n
    one_pass = SampleSettings(n=n, seed=settings.seed, batch_size=settings.batch_size)
    rows, grids = [], []
    for path in runs:
        run = load_run(path, device)
        check_same_size(run, reference, "compare runs at the reference's size")
        drawn_with = one_pass if run.objective.draws_in_one_pass else settings
        if progress:
            log.info(f"{path}: sampling {n} images ({run.objective.describe_sampling(drawn_with)})")
        started = time.perf_counter()
        images = run.sample(drawn_with)
        seconds = time.perf_counter() - started
        metrics = evaluate_images(images, reference, run.device, progress)
        rows.append(
            {
                "run": str(path),
                "model": run.family,
                "fid": metrics["fid"],
                "kid": metrics["kid"],
                "precision": metrics["precision"],
                "recall": metrics["recall"],
                "sampling_images_per_s": n / seconds,
                "nfe": run.nfe(drawn_with),
                "train_minutes": training_minutes(run),
                "train_steps": run.step,
                "parameters_m": count_parameters(run.model) / 1e6,
                "sampling_parameters_m": count_parameters(run.objective.sampling_network(run.model)) / 1e6,
                "n": n,
                "ref_n": reference.n,
            }
        )
        grids.append(image_grid(images[:GRID_IMAGES], scale=display_scale(run.config.data.image_size)))
    return rows, grids


def format_cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    header = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    body = "".join("| " + " | ".join(format_cell(row[column]) for column in COLUMNS) + " |\n" for row in rows)
    n, ref_n = rows[0]["n"], rows[0]["ref_n"]
    return (
        header
        + body
        + f"\nFID and KID at n = {n} against ref_n = {ref_n}; precision and recall (k = 3) at n = {min(n, ref_n)} "
        "each.\n"
    )


def write_comparison(rows: list[dict], grids: list[Image.Image], out: str | Path) -> dict[str, Path]:
    """OUT.md (the table), OUT.json (the rows) and OUT.png (a sample grid per run, side by side)."""
    out = Path(out)
    make_folder(out.parent)
    paths = {"markdown": out.with_suffix(".md"), "json": out.with_suffix(".json"), "figure": out.with_suffix(".png")}
    write_text_atomic(paths["markdown"], markdown_table(rows))
    write_text_atomic(paths["json"], json.dumps(rows, indent=1) + "\n")
    titles = [f"{Path(row['run']).name} ({row['model']}): FID {row['fid']:.1f}" for row in rows]
    save_png(titled_panels(grids, titles), paths["figure"])
    return paths
