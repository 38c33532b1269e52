"""What happens around the training loop: progress, log.csv, sample grids, loss curve, checkpoints."""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ..atomic import write_text_atomic
from ..generation import generate
from ..viz import display_scale, image_grid, line_chart, save_png

LOG_FILE = "log.csv"
LOG_COLUMNS = ("step", "loss", "lr", "images_per_s", "elapsed_s")


class ProgressHook:
    """A tqdm bar (step, loss, images/s, ETA) on a terminal; a plain line every `every_s` seconds elsewhere."""

    def __init__(self, enabled: bool = True, every_s: float = 30.0):
        self.enabled, self.every_s = enabled, every_s
        self.bar = None

    def on_start(self, trainer) -> None:
        if not self.enabled:
            return
        self.total, self.batch_size = trainer.config.train.steps, trainer.config.train.batch_size
        self.interactive = sys.stderr.isatty()
        self.first_step, self.started = trainer.step, time.perf_counter()
        self.last_line = self.started
        self.smoothed_loss = None
        if self.interactive:
            self.bar = tqdm(total=self.total, initial=trainer.step, unit="step", dynamic_ncols=True, file=sys.stderr)

    def after_step(self, trainer, loss: float) -> None:
        if not self.enabled:
            return
        self.smoothed_loss = loss if self.smoothed_loss is None else 0.98 * self.smoothed_loss + 0.02 * loss
        elapsed = time.perf_counter() - self.started
        steps_done = trainer.step - self.first_step
        images_per_s = steps_done * self.batch_size / max(elapsed, 1e-9)
        if self.bar is not None:
            self.bar.update(1)
            if trainer.step % 5 == 0 or trainer.step == self.total:
                self.bar.set_postfix(loss=f"{self.smoothed_loss:.4f}", img_s=f"{images_per_s:.1f}", refresh=False)
        elif time.perf_counter() - self.last_line >= self.every_s or trainer.step == self.total:
            self.last_line = time.perf_counter()
            eta = (self.total - trainer.step) * elapsed / max(steps_done, 1)
            print(
                f"step {trainer.step}/{self.total}  loss {self.smoothed_loss:.4f}  {images_per_s:.1f} img/s  "
                f"ETA {format_duration(eta)}",
                file=sys.stderr,
                flush=True,
            )

    def on_end(self, trainer, interrupted: bool) -> None:
        if self.bar is not None:
            self.bar.close()


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class CsvLogHook:
    """log.csv: one row every log_every steps with the mean loss since the last row. Resuming drops later rows."""

    def on_start(self, trainer) -> None:
        self.path = trainer.run_dir / LOG_FILE
        self.every = max(1, trainer.config.train.log_every)
        self.batch_size = trainer.config.train.batch_size
        kept = [row for row in read_log(self.path) if int(row["step"]) <= trainer.step]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(LOG_COLUMNS)
        writer.writerows([[row[column] for column in LOG_COLUMNS] for row in kept])
        write_text_atomic(self.path, buffer.getvalue())
        self.elapsed_before = float(kept[-1]["elapsed_s"]) if kept else 0.0
        self.started = self.interval_start = time.perf_counter()
        self.losses: list[float] = []

    def after_step(self, trainer, loss: float) -> None:
        self.losses.append(loss)
        if trainer.step % self.every == 0:
            self.write_row(trainer)

    def write_row(self, trainer) -> None:
        now = time.perf_counter()
        images_per_s = len(self.losses) * self.batch_size / max(now - self.interval_start, 1e-9)
        row = [
            trainer.step,
            f"{sum(self.losses) / len(self.losses):.6f}",
            f"{trainer.optimizer.param_groups[0]['lr']:.6g}",
            f"{images_per_s:.2f}",
            f"{self.elapsed_before + now - self.started:.1f}",
        ]
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow(row)
        self.losses, self.interval_start = [], now

    def on_end(self, trainer, interrupted: bool) -> None:
        if self.losses:
            self.write_row(trainer)


def read_log(path: Path) -> list[dict[str, str]]:
    if not Path(path).exists():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("step", "").isdigit()]


class CheckpointHook:
    """A checkpoint every checkpoint_every steps, at the end, and when a signal stops the run."""

    def on_start(self, trainer) -> None:
        self.every = trainer.config.train.checkpoint_every

    def after_step(self, trainer, loss: float) -> None:
        if self.every > 0 and trainer.step % self.every == 0:
            trainer.save()

    def on_end(self, trainer, interrupted: bool) -> None:
        trainer.save()


class SampleGridHook:
    """samples/step_XXXXXXX.png from the EMA weights every sample_every steps and at the end, plus loss.png."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def on_start(self, trainer) -> None:
        self.every = trainer.config.train.sample_every

    def after_step(self, trainer, loss: float) -> None:
        if self.enabled and self.every > 0 and trainer.step % self.every == 0 and trainer.step < trainer.config.train.steps:
            self.write(trainer)

    def on_end(self, trainer, interrupted: bool) -> None:
        if self.enabled and not interrupted:
            self.write(trainer)

    def write(self, trainer) -> Path:
        train, size = trainer.config.train, trainer.config.data.image_size
        steps = min(train.sample_steps, trainer.schedule.timesteps)
        images = generate(trainer.ema.model, trainer.schedule, train.sample_count, size, steps=steps, seed=train.seed,
                          prediction=trainer.config.diffusion.prediction)
        path = save_png(image_grid(images, scale=display_scale(size)), trainer.run_dir / "samples" / f"step_{trainer.step:07d}.png")
        write_loss_curve(trainer.run_dir)
        return path


def write_loss_curve(run_dir: Path) -> Path | None:
    rows = read_log(run_dir / LOG_FILE)
    if len(rows) < 2:
        return None
    steps, losses = [int(row["step"]) for row in rows], [float(row["loss"]) for row in rows]
    chart = line_chart({"loss": (steps, losses)}, "training loss (mean per log interval)", x_label="step")
    return save_png(chart, run_dir / "loss.png")
