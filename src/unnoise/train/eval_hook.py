"""FID and KID of the EMA model while training: a row in eval.csv and log.jsonl, a scalar in TensorBoard, a curve.

KID is the headline at the small n a training run can afford (it is unbiased); FID beside it is biased upward at
small n, so compare FIDs only at equal n (docs/fid.md). Each measurement prints what it cost.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from pathlib import Path

from ..errors import check
from ..metrics.images import as_reference, evaluate_images
from ..metrics.kid import kid_std_text
from ..metrics.reference import ReferenceStatistics
from ..runs import EVAL_COLUMNS, EVAL_LOG_FILE, JSON_LOG_FILE, LOG_FILE, read_log
from ..sampling.settings import SampleSettings
from ..storage.atomic import append_text, write_text_atomic
from ..viz import line_chart, save_png, titled_panels
from .hooks import Hook, TensorBoardHook

log = logging.getLogger("unnoise")
CURVE_FILE = "quality.png"


class EvalHook(Hook):
    """Every train.eval_every steps and at the end: train.eval_n images of the EMA model (its run's default sampler)
    against train.eval_ref. A resumed run keeps the rows up to its checkpoint."""

    def on_start(self, trainer) -> None:
        train = trainer.config.train
        self.every, self.path = train.eval_every, trainer.run_dir / EVAL_LOG_FILE
        self.reference = reference_for_training(trainer.config)
        kept = [row for row in read_log(self.path) if int(row["step"]) <= trainer.step]
        write_text_atomic(self.path, csv_text([[row[column] for column in EVAL_COLUMNS] for row in kept]))
        logged = [row for row in read_log(trainer.run_dir / LOG_FILE) if int(row["step"]) <= trainer.step]
        self.minutes_before = float(logged[-1]["elapsed_s"]) / 60 if logged else 0.0
        self.started, self.last_step = time.perf_counter(), int(kept[-1]["step"]) if kept else -1

    def after_step(self, trainer) -> None:
        if trainer.step % self.every == 0:
            self.measure(trainer)

    def on_end(self, trainer, interrupted: bool) -> None:
        if not interrupted and trainer.step != self.last_step:
            self.measure(trainer)

    def measure(self, trainer) -> dict:
        train = trainer.config.train
        minutes = self.minutes_before + (time.perf_counter() - self.started) / 60
        started = time.perf_counter()
        settings = SampleSettings(n=train.eval_n, seed=train.seed, batch_size=min(train.eval_n, 256))
        images = trainer.objective.generate(trainer.ema.model, settings)
        measured = evaluate_images(images, self.reference, trainer.device, progress=False)
        row = {
            "step": trainer.step,
            "images_seen": trainer.step * trainer.global_batch,
            "minutes": round(minutes, 2),
            "kid": measured["kid"],
            "kid_std": measured["kid_std"],
            "fid": measured["fid"],
            "n": measured["n"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        line = io.StringIO()
        csv.writer(line).writerow([row[column] for column in EVAL_COLUMNS])
        append_text(self.path, line.getvalue())
        append_text(trainer.run_dir / JSON_LOG_FILE, json.dumps(row) + "\n")
        for hook in trainer.hooks:
            if isinstance(hook, TensorBoardHook):
                for name in ("kid", "fid"):
                    hook.writer.add_scalar(name, row[name], trainer.step)
        log.info(
            f"step {row['step']}: KID {row['kid']:.4f} +- {kid_std_text(row['kid_std'])}, FID {row['fid']:.1f} "
            f"(n = {row['n']}; measuring took {row['seconds']:.0f} s, NFE {trainer.objective.nfe(settings)} per image)"
        )
        self.last_step = trainer.step
        write_quality_curve(trainer.run_dir)
        return row


def reference_for_training(config) -> ReferenceStatistics:
    """train.eval_ref's statistics, checked against the run's image size (UserError naming train.eval_ref)."""
    reference = as_reference(config.train.eval_ref)
    size = config.data.image_size
    check(
        reference.image_size == size,
        f"train.eval_ref holds statistics of {reference.image_size}px images but the "
        f"run draws {size}px images; make them at {size}px with fid-stats",
        "train.eval_ref",
    )
    return reference


def csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EVAL_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def write_quality_curve(run_dir: Path) -> Path | None:
    """quality.png: KID and FID against images seen and against minutes of training."""
    rows = read_log(run_dir / EVAL_LOG_FILE)
    if not rows:
        return None
    columns = {name: [float(row[name]) for row in rows] for name in ("images_seen", "minutes", "kid", "fid")}
    n = rows[-1]["n"]
    panels = [
        line_chart(
            {
                f"KID x 1000 (n={n})": (columns[x], [1000 * kid for kid in columns["kid"]]),
                f"FID (n={n})": (columns[x], columns["fid"]),
            },
            "KID x 1000 and FID, lower is better (log scale)",  # the panels' own titles say against what
            x_label=label,
            log_y=True,
        )
        for x, label in (("images_seen", "images seen"), ("minutes", "minutes of training"))
    ]
    return save_png(titled_panels(panels, ["against training images", "against minutes"]), run_dir / CURVE_FILE)
