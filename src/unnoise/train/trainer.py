"""The training loop: short on purpose. Logging, pictures and checkpoints hook in from hooks.py.

Every random draw of step s (which images, their flips, t, the noise, dropout) comes from a seed
derived from (run seed, s), so a run resumed from a checkpoint continues exactly as if it had not
stopped, with no RNG state to save.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

import torch

from ..config import RunConfig
from ..data import ImageDataset
from ..data.transforms import random_horizontal_flip, to_model_range
from ..diffusion.losses import denoising_loss
from ..diffusion.schedules import make_schedule
from ..errors import UserError
from ..models import build_model
from .checkpoint import checkpoint_step, latest_checkpoint, load_checkpoint, save_checkpoint
from .data_order import DataOrder, step_seed
from .ema import EMA


class LossNotFinite(UserError):
    """The loss became NaN or infinite; the run stops and the last good checkpoint stays."""


class Hook(Protocol):
    def on_start(self, trainer: "Trainer") -> None: ...
    def after_step(self, trainer: "Trainer", loss: float) -> None: ...
    def on_end(self, trainer: "Trainer", interrupted: bool) -> None: ...


def learning_rate_at(step: int, base_lr: float, warmup_steps: int) -> float:
    """Linear warm-up from base_lr / warmup_steps to base_lr over the first warmup_steps steps, then constant."""
    return base_lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else base_lr


class StopRequest:
    """Set by Ctrl-C or SIGTERM; the loop finishes its step, saves, and returns. A second Ctrl-C aborts at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    request = StopRequest()
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, request)
    except ValueError:  # not the main thread: signals stay with whoever owns them
        pass
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Trainer:
    """Owns the network, its EMA, the optimizer and the step counter of one run folder."""

    def __init__(self, config: RunConfig, dataset: ImageDataset, run_dir: Path, device: torch.device, hooks: list[Hook]):
        self.config, self.dataset, self.run_dir, self.device, self.hooks = config, dataset, Path(run_dir), device, hooks
        train = config.train
        torch.manual_seed(step_seed(train.seed, 0, stream="init"))  # the initial weights depend on the seed alone
        self.model = build_model(config.model, config.data.image_size).to(device)
        self.ema = EMA(self.model, train.ema_decay)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
        d = config.diffusion
        self.schedule = make_schedule(d.schedule, d.timesteps, d.beta_start, d.beta_end, d.zero_terminal_snr)
        self.alpha_bar = self.schedule.alpha_bar.to(device)
        self.order = DataOrder(len(dataset), train.batch_size, train.seed)
        self.step = 0

    def resume(self) -> int:
        """Load the latest checkpoint of the run folder; returns its step (0 when there is none)."""
        folder = latest_checkpoint(self.run_dir)
        if folder is not None:
            self.step = load_checkpoint(folder, self.model, self.ema.model, self.optimizer)
        return self.step

    def save(self) -> Path:
        return save_checkpoint(self.run_dir, self.step, self.model, self.ema.model, self.optimizer, self.config.train.keep)

    def batch(self, generator: torch.Generator) -> torch.Tensor:
        """The clean images x_0 of the current step, in [-1, 1], on the device."""
        images = self.dataset.images[self.order.indices(self.step)].to(self.device, non_blocking=True)
        x0 = to_model_range(images)
        return random_horizontal_flip(x0, generator) if self.config.data.flip else x0

    def train_step(self) -> float:
        train = self.config.train
        seed = step_seed(train.seed, self.step)
        torch.manual_seed(seed)  # dropout draws from the global generator
        generator = torch.Generator(device=self.device).manual_seed(seed)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate_at(self.step, train.lr, train.warmup_steps)

        d = self.config.diffusion
        loss = denoising_loss(
            self.model, self.alpha_bar, self.batch(generator), d.loss, generator, d.prediction, d.weighting, d.min_snr_gamma
        )
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise LossNotFinite(self.divergence_message(loss_value))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), train.grad_clip)
        self.optimizer.step()
        self.ema.update(self.model, self.step)
        self.step += 1
        return loss_value

    def divergence_message(self, loss_value: float) -> str:
        folder = latest_checkpoint(self.run_dir)
        kept = f"the last good checkpoint (step {checkpoint_step(folder)}) is kept" if folder else "no checkpoint had been written yet"
        return f"the loss became {loss_value} at step {self.step + 1}; training stopped and {kept}. Try a lower --lr"

    def fit(self) -> str:
        """Train until config.train.steps; returns "finished", "interrupted" (a signal) or "out_of_time" (max_minutes).

        Every way out saves a checkpoint (CheckpointHook.on_end).
        """
        for hook in self.hooks:
            hook.on_start(self)
        status = "finished"
        budget_s = self.config.train.max_minutes * 60
        started = time.perf_counter()
        with stop_on_signals() as stop:
            while self.step < self.config.train.steps:
                loss = self.train_step()
                for hook in self.hooks:
                    hook.after_step(self, loss)
                if stop.requested:
                    status = "interrupted"
                elif budget_s and time.perf_counter() - started >= budget_s:
                    status = "out_of_time"
                if status != "finished":
                    break
        for hook in self.hooks:
            hook.on_end(self, interrupted=status == "interrupted")
        return status
