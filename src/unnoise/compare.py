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
from torch import nn

from .api import Run, load_run
from .atomic import write_text_atomic
from .errors import UserError
from .eval import ReferenceStatistics, evaluate_images
from .eval.evaluate import as_reference, check_count
from .evaluation import check_same_size
from .models import count_parameters
from .train.hooks import LOG_FILE, read_log
from .viz import display_scale, image_grid, save_png, titled_panels

log = logging.getLogger("unnoise")

GRID_IMAGES = 16
COLUMNS = ("run", "model", "fid", "kid", "precision", "recall", "sampling_images_per_s", "nfe", "train_minutes",
           "train_steps", "parameters_m", "sampling_parameters_m")


def sampling_network(run: Run) -> nn.Module:
    """The part of the model that makes images: the GAN's generator, the VAE's decoder, the whole denoiser."""
    if run.family == "gan":
        return run.model.generator
    if run.family == "vae":
        return run.model.decoder
    return run.model


def training_minutes(run: Run) -> float | None:
    """Wall-clock training time from the run's log (its last row's elapsed_s), in minutes."""
    rows = read_log(run.path / LOG_FILE)
    return round(float(rows[-1]["elapsed_s"]) / 60, 2) if rows else None


def compare(
    runs: list[str | Path], reference: ReferenceStatistics | str | Path, n: int | None = None, sampler: str = "ddpm",
    steps: int | None = 50, seed: int = 0, batch_size: int = 64, device: str = "auto", progress: bool = True,
) -> tuple[list[dict], list[Image.Image]]:
    """One row of numbers and one sample grid per run; diffusion runs sample with `sampler` and `steps`."""
    if not runs:
        raise UserError("compare needs at least one run folder")
    check_count(n)
    reference = as_reference(reference)
    n = reference.n if n is None else n
    rows, grids = [], []
    for path in runs:
        run = load_run(path, device)
        check_same_size(run, reference, "compare runs at the reference's size")
        options = {"sampler": sampler, "steps": steps} if run.family == "diffusion" else {}
        if progress:
            log.info(f"{path}: sampling {n} images ({run.family}{f', {sampler}, {steps} steps' if options else ''})")
        started = time.perf_counter()
        images = run.sample(n, seed=seed, batch_size=batch_size, **options)
        seconds = time.perf_counter() - started
        metrics = evaluate_images(images, reference, next(run.model.parameters()).device, progress)
        rows.append({
            "run": str(path), "model": run.family, "fid": metrics["fid"], "kid": metrics["kid"],
            "precision": metrics["precision"], "recall": metrics["recall"], "sampling_images_per_s": n / seconds,
            "nfe": run.nfe(sampler, steps), "train_minutes": training_minutes(run), "train_steps": run.step,
            "parameters_m": count_parameters(run.model) / 1e6,
            "sampling_parameters_m": count_parameters(sampling_network(run)) / 1e6, "n": n, "ref_n": reference.n,
        })
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
    return header + body + f"\nFID and KID at n = {n} against ref_n = {ref_n}; precision and recall (k = 3) at n = {min(n, ref_n)} each.\n"


def write_comparison(rows: list[dict], grids: list[Image.Image], out: str | Path) -> dict[str, Path]:
    """OUT.md (the table), OUT.json (the rows) and OUT.png (a sample grid per run, side by side)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out.with_suffix(".md"), "json": out.with_suffix(".json"), "figure": out.with_suffix(".png")}
    write_text_atomic(paths["markdown"], markdown_table(rows))
    write_text_atomic(paths["json"], json.dumps(rows, indent=1) + "\n")
    titles = [f"{Path(row['run']).name} ({row['model']}): FID {row['fid']:.1f}" for row in rows]
    save_png(titled_panels(grids, titles), paths["figure"])
    return paths
