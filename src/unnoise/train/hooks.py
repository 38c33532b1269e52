"""What happens around the training loop: progress, logs, sample grids, loss curve, checkpoints, TensorBoard.

Only process 0 of a distributed run gets the hooks that write or print; every process gets
CheckpointHook, whose saves include a check that all processes take part in.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..runs import JSON_LOG_FILE, LOG_COLUMNS, LOG_FILE, read_lines, read_log
from ..storage.atomic import append_text, write_text_atomic
from ..viz import display_scale, image_grid, line_chart, save_png


class Hook:
    """Something that happens around the training loop; each method is a no-op unless a hook needs it."""

    def on_start(self, trainer) -> None:
        pass

    def after_step(self, trainer) -> None:
        pass

    def on_log(self, trainer, loss: float) -> None:
        pass

    def on_end(self, trainer, interrupted: bool) -> None:
        pass


def images_per_s(steps: int, global_batch: int, seconds: float) -> float:
    """Training throughput: images seen per second of wall clock."""
    return steps * global_batch / max(seconds, 1e-9)


class ProgressHook(Hook):
    """A tqdm bar (step, loss, images/s, ETA) on a terminal; a plain line every `every_s` seconds elsewhere."""

    def __init__(self, enabled: bool = True, every_s: float = 30.0):
        self.enabled, self.every_s = enabled, every_s
        self.bar = None

    def on_start(self, trainer) -> None:
        if not self.enabled:
            return
        # Under max_minutes the run ends where its budget runs out (trainer.horizon), not at train.steps: the total and
        # the ETA follow that estimate as it is refined at each log step.
        self.total, self.batch_size = trainer.horizon, trainer.global_batch
        self.first_step, self.started = trainer.step, time.perf_counter()
        self.last_line, self.last_shown, self.loss = self.started, trainer.step, None
        if sys.stderr.isatty():
            self.bar = tqdm(total=self.total, initial=trainer.step, unit="step", dynamic_ncols=True, file=sys.stderr)

    def images_per_s(self, trainer) -> float:
        return images_per_s(trainer.step - self.first_step, self.batch_size, time.perf_counter() - self.started)

    def after_step(self, trainer) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_log(self, trainer, loss: float) -> None:
        if not self.enabled:
            return
        self.total, self.loss = max(trainer.horizon, trainer.step), loss
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{self.images_per_s(trainer):.1f}", refresh=False)
        elif time.perf_counter() - self.last_line >= self.every_s or trainer.step == self.total:
            self.print_line(trainer)

    def print_line(self, trainer) -> None:
        self.last_line, self.last_shown = time.perf_counter(), trainer.step
        elapsed = self.last_line - self.started
        eta = (self.total - trainer.step) * elapsed / max(trainer.step - self.first_step, 1)
        print(
            f"step {trainer.step}/{self.total}  loss {self.loss:.4f}  {self.images_per_s(trainer):.1f} img/s  "
            f"ETA {format_duration(eta)}",
            file=sys.stderr,
            flush=True,
        )

    def on_end(self, trainer, interrupted: bool) -> None:
        if not self.enabled:
            return
        if not interrupted:  # it ended where it was to end (the budget's end or train.steps): the bar is full
            self.total = trainer.step
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()
            self.bar.close()
        elif self.loss is not None and self.last_shown != trainer.step:  # a run ended between lines shows its end
            self.print_line(trainer)


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class LogHook(Hook):
    """log.csv and log.jsonl: a row at every log step with the mean loss since the previous one.

    Resuming drops the rows after the checkpoint's step, so the logs match the weights.
    """

    def on_start(self, trainer) -> None:
        self.path, self.json_path = trainer.run_dir / LOG_FILE, trainer.run_dir / JSON_LOG_FILE
        kept = [row for row in read_log(self.path) if int(row["step"]) <= trainer.step]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(LOG_COLUMNS)
        writer.writerows([[row[column] for column in LOG_COLUMNS] for row in kept])
        write_text_atomic(self.path, buffer.getvalue())
        json_kept = [line for line in read_lines(self.json_path) if json.loads(line)["step"] <= trainer.step]
        write_text_atomic(self.json_path, "".join(line + "\n" for line in json_kept))
        self.elapsed_before = float(kept[-1]["elapsed_s"]) if kept else 0.0
        self.started = self.interval_start = time.perf_counter()
        self.interval_first_step = trainer.step

    def on_log(self, trainer, loss: float) -> None:
        now = time.perf_counter()
        row = {
            "step": trainer.step,
            "loss": round(loss, 6),
            "lr": float(f"{trainer.optimizer.param_groups[0]['lr']:.6g}"),
            "images_per_s": round(
                images_per_s(trainer.step - self.interval_first_step, trainer.global_batch, now - self.interval_start),
                2,
            ),
            "elapsed_s": round(self.elapsed_before + now - self.started, 1),
        }
        csv_row = io.StringIO()
        csv.writer(csv_row).writerow([row[column] for column in LOG_COLUMNS])
        append_text(self.path, csv_row.getvalue())  # WriteError (one line, exit 2) when the disk is full
        # The loss's parts (unCLIP: decoder_loss, prior_loss) go to the JSON log, whose rows may differ in keys.
        append_text(self.json_path, json.dumps({**row, **trainer.objective.logged_parts()}) + "\n")
        self.interval_start, self.interval_first_step = now, trainer.step


class CheckpointHook(Hook):
    """A checkpoint every checkpoint_every steps, at the end, and when a signal stops the run."""

    def on_start(self, trainer) -> None:
        self.every = trainer.config.train.checkpoint_every

    def after_step(self, trainer) -> None:
        if self.every > 0 and trainer.step % self.every == 0:
            trainer.save()

    def on_end(self, trainer, interrupted: bool) -> None:
        trainer.save()


class SampleGridHook(Hook):
    """samples/step_XXXXXXX.png from the EMA weights every sample_every steps and at the end, plus loss.png."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def on_start(self, trainer) -> None:
        self.every = trainer.config.train.sample_every

    def after_step(self, trainer) -> None:
        if (
            self.enabled
            and self.every > 0
            and trainer.step % self.every == 0
            and trainer.step < trainer.config.train.steps
        ):
            self.write(trainer)

    def on_end(self, trainer, interrupted: bool) -> None:
        if self.enabled and not interrupted:
            self.write(trainer)

    def write(self, trainer) -> Path | None:
        if not trainer.objective.makes_images:  # CLIP: its loss curve is the picture
            return write_loss_curve(trainer.run_dir)
        # A conditional run draws image i with the attributes (or first caption) of training image i, guided.
        condition = None
        if trainer.conditions is not None:
            rows = torch.arange(trainer.config.train.sample_count) % len(trainer.dataset)
            condition = trainer.conditions.of_images(rows)
        return self.save(trainer, trainer.objective.preview(trainer.ema.model, condition))

    @staticmethod
    def save(trainer, images: torch.Tensor) -> Path:
        size = trainer.config.data.image_size
        path = save_png(
            image_grid(images, scale=display_scale(size)), trainer.run_dir / "samples" / f"step_{trainer.step:07d}.png"
        )
        write_loss_curve(trainer.run_dir)
        return path


def write_loss_curve(run_dir: Path) -> Path | None:
    """RUN/loss.png: the logged loss and its parts (log.jsonl's *_loss: unweighted_loss, decoder_loss, ...)."""
    rows = read_log(run_dir / LOG_FILE)
    if len(rows) < 2:
        return None
    series = {"loss": ([int(row["step"]) for row in rows], [float(row["loss"]) for row in rows]), **loss_parts(run_dir)}
    positive = all(value > 0 for _, values in series.values() for value in values)
    chart = line_chart(
        series, "training loss (mean per log interval)", x_label="step", log_y=None if positive else False
    )
    return save_png(chart, run_dir / "loss.png")


def loss_parts(run_dir: Path) -> dict[str, tuple[list[int], list[float]]]:
    """name -> (steps, values) of each part of the loss that log.jsonl holds beside it (none for most runs)."""
    parts: dict[str, tuple[list[int], list[float]]] = {}
    for line in read_lines(run_dir / JSON_LOG_FILE):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash; the CSV log holds the loss itself
        for name, value in row.items():
            if name.endswith("_loss") and isinstance(value, (int, float)):
                steps, values = parts.setdefault(name, ([], []))
                steps.append(int(row["step"]))
                values.append(float(value))
    return parts


class TensorBoardHook(Hook):
    """Loss, learning rate and images/s as TensorBoard scalars in RUN/tensorboard (needs the tensorboard package)."""

    def on_start(self, trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(trainer.run_dir / "tensorboard"), purge_step=trainer.step)
        self.last_time, self.last_step = time.perf_counter(), trainer.step

    def on_log(self, trainer, loss: float) -> None:
        now = time.perf_counter()
        self.writer.add_scalar("loss", loss, trainer.step)
        self.writer.add_scalar("lr", trainer.optimizer.param_groups[0]["lr"], trainer.step)
        rate = images_per_s(trainer.step - self.last_step, trainer.global_batch, now - self.last_time)
        self.writer.add_scalar("images_per_s", rate, trainer.step)
        self.last_time, self.last_step = now, trainer.step

    def on_end(self, trainer, interrupted: bool) -> None:
        self.writer.close()


def tensorboard_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None
