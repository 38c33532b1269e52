"""The training loop: short on purpose. Logging, pictures and checkpoints hook in from hooks.py.

Every random draw of step s (which images, their flips, t, the noise) comes from a seed derived
from (run seed, s), and dropout from (run seed, s, rank): a run resumed from a checkpoint continues
exactly as if it had not stopped, with no RNG state to save, and N data-parallel processes draw
exactly what one process with N times the batch would.
"""

from __future__ import annotations

import hashlib
import math
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from torch.nn.parallel import DistributedDataParallel

from ..config import RunConfig, weights_metadata
from ..data import ImageDataset
from ..data.transforms import horizontal_flip, to_model_range
from ..errors import UserError
from ..families import objective_for
from ..models import Condition, network_for
from .checkpoint import checkpoint_step, latest_checkpoint, load_checkpoint, read_progress, save_checkpoint
from .conditions import TrainingConditions
from .data_order import DataOrder, step_seed
from .distributed import Distributed
from .ema import EMA
from .hooks import Hook
from .placement import place_images

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class LossNotFinite(UserError):
    """The loss became NaN or infinite; the run stops and the last good checkpoint stays."""


def learning_rate_at(
    step: int, base_lr: float, warmup_steps: int, total_steps: int = 0, schedule: str = "constant"
) -> float:
    """Linear warm-up to base_lr over warmup_steps, then constant or cosine decay to 0 at total_steps.

    A cosine schedule warms up for at most a quarter of total_steps: a run (or time budget) shorter than its warm-up
    would otherwise end at the full rate, never decaying.
    """
    if schedule == "cosine" and total_steps > 0:
        warmup_steps = min(warmup_steps, total_steps // 4)
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "cosine" and total_steps > warmup_steps:
        progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        return base_lr * 0.5 * (1 + math.cos(math.pi * progress))
    return base_lr


def data_identity(dataset) -> dict:
    """What a checkpoint remembers of its data: the image count and a hash of the file names in order (which image
    each index is). Not file times or paths, so a data set copied to another machine still resumes."""
    names = hashlib.sha256("\n".join(dataset.names).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return {"images": len(dataset), "names": names}


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' is bf16 on GPUs that support it and fp32 elsewhere; fp16 (with its gradient scaler) needs CUDA."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise UserError(
            "train.precision fp16 needs a CUDA GPU; use fp32 or bf16 on this device", settings=("train.precision",)
        )
    return precision


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

    def __init__(
        self,
        config: RunConfig,
        dataset: ImageDataset,
        run_dir: Path,
        device: torch.device,
        hooks: list[Hook],
        distributed: Distributed = Distributed(),
        conditions: TrainingConditions | None = None,
    ):
        self.config, self.dataset, self.run_dir, self.device, self.hooks = config, dataset, Path(run_dir), device, hooks
        self.conditions = conditions
        self.distributed = distributed
        train = config.train
        self.objective = objective_for(config)
        if not self.objective.scales_out and (
            distributed.enabled or train.accum > 1 or train.compile or train.precision == "fp16"
        ):
            raise UserError(
                f"a {self.objective.network_name} run trains in one process, without train.accum, train.compile or "
                "train.precision fp16",
                settings=("train.accum", "train.compile", "train.precision"),
            )
        torch.manual_seed(step_seed(train.seed, 0, stream="init"))  # the initial weights depend on the seed alone
        self.model = network_for(config).to(device)
        if device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)  # faster convolutions on tensor cores
        self.ema = EMA(self.model, train.ema_decay)
        self.ddp = DistributedDataParallel(self.model) if distributed.enabled else None
        self.network = self.ddp or self.model
        if train.compile:
            self.network = torch.compile(self.network)
        # foreach: one fused kernel per group of tensors instead of one per parameter (PyTorch defaults to it on GPUs
        # only).
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=train.lr,
            betas=self.objective.adam_betas,
            weight_decay=train.weight_decay,
            foreach=True,
        )
        self.precision = resolve_precision(train.precision, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.precision == "fp16")
        # Small sets live in GPU memory (a batch is one gather there); larger ones stay mapped from the cache file,
        # shared by the node's processes, never copied into each process (not even as pinned memory).
        self.images, self.data_placement = place_images(dataset, device)
        self.global_batch = train.batch_size * distributed.world_size * train.accum
        self.order = DataOrder(len(dataset), self.global_batch, train.seed)
        self.step = 0
        self.horizon = train.steps  # where the learning-rate schedule ends: train.steps, or sooner under max_minutes
        # max_minutes is a budget for the whole run: training seconds of earlier sessions (before a resume) count.
        self.seconds_before = 0.0
        self.session_started = time.perf_counter()
        self.data_identity = data_identity(dataset)
        self.reset_loss_tally()

    def reset_loss_tally(self) -> None:
        # Accumulated on the device and read only at log steps: no host-device sync in the hot loop.
        self.loss_sum = torch.zeros((), device=self.device)
        self.loss_count = 0
        self.nonfinite = torch.zeros((), device=self.device, dtype=torch.bool)
        self.tally_start = self.step

    def resume(self) -> int:
        """Load the latest checkpoint of the run folder; returns its step (0 when there is none)."""
        folder = latest_checkpoint(self.run_dir)
        if folder is not None:
            self.step = load_checkpoint(
                folder, self.model, self.ema.model, self.optimizer, self.scaler, weights_metadata(self.config)
            )
            progress = read_progress(folder)
            self.check_same_data(progress.get("data"), checkpoint_step(folder))
            self.seconds_before = float(progress.get("seconds_trained", 0.0))
            if self.config.train.max_minutes and progress.get("budget_horizon"):
                # The schedule goes on towards the end the budget set, instead of jumping back to train.steps.
                self.horizon = min(int(progress["budget_horizon"]), self.config.train.steps)
                left_s = 60 * self.config.train.max_minutes - self.seconds_before
                if self.horizon <= self.step and left_s > 0 and self.seconds_before > 0:
                    # A spent budget, raised: until the first log step measures this session's pace, the end is
                    # where the new minutes run out at the run's pace so far (not here, at a learning rate of 0).
                    pace = self.step / self.seconds_before
                    self.horizon = min(self.config.train.steps, self.step + max(1, round(left_s * pace)))
        self.tally_start = self.step
        return self.step

    def save(self) -> Path | None:
        """Write a checkpoint (rank 0) after making sure no non-finite loss slipped in since the last check."""
        self.check_finite()
        path = None
        if self.distributed.is_main:
            progress = {
                "data": self.data_identity,
                "seconds_trained": self.seconds_trained(),
                "budget_horizon": self.horizon if self.config.train.max_minutes else None,
            }
            train = self.config.train
            path = save_checkpoint(
                self.run_dir,
                self.step,
                self.model,
                self.ema.model,
                self.optimizer,
                train.keep,
                self.scaler,
                progress,
                weights_metadata(self.config),
            )
        self.distributed.barrier()  # nobody reads a checkpoint before it is complete
        return path

    def draws(self) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, Condition | None]:
        """The global batch of this step: dataset indices, the objective's draws (timesteps, noise, latents), flips and
        conditions, the same on every rank."""
        generator = torch.Generator(device=self.device).manual_seed(step_seed(self.config.train.seed, self.step))
        indices = self.order.indices(self.step)
        draws = self.objective.training_draws(generator, len(indices), self.device)
        flips = torch.rand(len(indices), generator=generator, device=self.device) < 0.5
        condition = self.conditions.draw(indices, generator) if self.conditions is not None else None
        return indices, draws, flips, condition

    def micro_batches(self) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor], Condition | None]]:
        """(x_0, draws, condition) for each accumulation step of this rank: its slice of the global batch."""
        indices, draws, flips, condition = self.draws()
        batch, rank, world = self.config.train.batch_size, self.distributed.rank, self.distributed.world_size
        for micro in range(self.config.train.accum):
            part = slice((micro * world + rank) * batch, (micro * world + rank + 1) * batch)
            x0 = to_model_range(self.images[indices[part].to(self.images.device)].to(self.device, non_blocking=True))
            if self.config.data.flip:
                x0 = horizontal_flip(x0, flips[part])
            if self.device.type == "cuda":
                x0 = x0.contiguous(memory_format=torch.channels_last)
            yield (
                x0,
                {name: value[part] for name, value in draws.items()},
                condition[part] if condition is not None else None,
            )

    def autocast(self):
        return torch.autocast(
            self.device.type, dtype=AUTOCAST_DTYPES.get(self.precision), enabled=self.precision != "fp32"
        )

    def apply_gradients(self) -> None:
        """Unscale (fp16), clip to the global norm, step the optimizer."""
        self.scaler.unscale_(self.optimizer)
        if self.config.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip, foreach=True)
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def train_step(self) -> None:
        train = self.config.train
        torch.manual_seed(step_seed(train.seed, self.step, stream=f"dropout-{self.distributed.rank}"))
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate_at(self.step, train.lr, train.warmup_steps, self.horizon, train.lr_schedule)
        step_loss = self.objective.train_step(self)
        self.ema.update(self.model, self.step)
        self.nonfinite |= ~torch.isfinite(step_loss)
        self.loss_sum += step_loss
        self.loss_count += 1
        self.step += 1

    def check_finite(self) -> None:
        """Raise LossNotFinite (on every rank alike) if any loss since the last check was NaN or infinite."""
        flag = self.distributed.all_reduce_sum(self.nonfinite.clone().to(torch.float32))
        if flag.item() > 0:
            folder = latest_checkpoint(self.run_dir)
            kept = (
                f"the last good checkpoint (step {checkpoint_step(folder)}) is kept"
                if folder
                else "no checkpoint had been written yet"
            )
            where = (
                f"step {self.step}"
                if self.step - self.tally_start <= 1
                else f"steps {self.tally_start + 1}-{self.step}"
            )
            raise LossNotFinite(
                f"the loss became NaN or infinite at {where}; training stopped and {kept}. Try a lower train.lr "
                "(or undo other changes to the preset's settings: a noise level or weight out of range does this too)",
                settings=("train.lr",),
            )

    def mean_loss(self) -> float:
        """The mean loss since the last call, over all ranks; also the NaN check."""
        self.check_finite()
        count = torch.tensor(float(self.loss_count), device=self.device)
        totals = self.distributed.all_reduce_sum(torch.stack([self.loss_sum, count]))
        self.reset_loss_tally()
        return (totals[0] / totals[1].clamp(min=1)).item()

    def check_same_data(self, trained_on: dict | None, step: int) -> None:
        """UserError when the data changed since the checkpoint: the batches would no longer continue the same order,
        and the resumed run would silently differ from an uninterrupted one. (Checkpoints older than this check
        carry no identity and resume as before.)"""
        if trained_on is None or trained_on == self.data_identity:
            return
        now = self.data_identity
        change = (
            f"{trained_on['images']} images then, {now['images']} now"
            if trained_on["images"] != now["images"]
            else "the same number of images, but other files or another order"
        )
        raise UserError(
            f"{self.run_dir}'s checkpoint at step {step} was trained on other data than {self.dataset.source} gives "
            f"now ({change}), so its data order cannot continue: resume with the data it trained on, or train a new "
            "run in another folder",
            settings=("data.source",),
        )

    def seconds_trained(self) -> float:
        """Wall-clock seconds of training in this run, over every session (resumes) so far."""
        return self.seconds_before + time.perf_counter() - self.session_started

    def budget_horizon(self, budget_s: float, elapsed_s: float, first_step: int) -> int:
        """The step at which budget_s (what was left of the budget when this session began) runs out at the pace so far
        (at most train.steps), agreed by all ranks.

        The learning-rate schedule ends there, so a run stopped by its budget has decayed properly. Called at log
        steps only, where the ranks already meet.
        """
        seconds_per_step = elapsed_s / max(self.step - first_step, 1)
        estimate = self.step + max(budget_s - elapsed_s, 0.0) / seconds_per_step
        mean = self.distributed.all_reduce_sum(torch.tensor(estimate, device=self.device, dtype=torch.float32))
        return max(self.step, min(self.config.train.steps, round(mean.item() / self.distributed.world_size)))

    def agreed_status(self, signalled: bool, out_of_time: bool) -> str:
        """Whether to stop now. Ranks must stop at the same step (or the others wait forever), so with several
        processes they vote, at log steps only, to keep collectives out of the other steps."""
        if self.distributed.enabled:
            if self.step % max(1, self.config.train.log_every):
                return "finished"
            votes = self.distributed.all_reduce_sum(
                torch.tensor([float(signalled), float(out_of_time)], device=self.device)
            )
            signalled, out_of_time = bool(votes[0] > 0), bool(votes[1] > 0)
        return "interrupted" if signalled else "out_of_time" if out_of_time else "finished"

    def fit(self) -> str:
        """Train until config.train.steps; returns "finished", "interrupted" (a signal) or "out_of_time" (max_minutes).

        Every way out saves a checkpoint (CheckpointHook.on_end).
        """
        for hook in self.hooks:
            hook.on_start(self)
        status = "finished"
        train = self.config.train
        budget_s = train.max_minutes * 60 - self.seconds_before  # what is left of the run's budget
        self.session_started, first_step = time.perf_counter(), self.step
        if train.max_minutes and budget_s <= 0 and self.step < train.steps:
            status = "out_of_time"  # resumed with nothing left of the budget: a larger max_minutes trains longer
        with stop_on_signals() as stop:
            while self.step < train.steps and status == "finished":
                self.train_step()
                elapsed = time.perf_counter() - self.session_started
                if self.step % max(1, train.log_every) == 0 or self.step == train.steps:
                    loss = self.mean_loss()
                    if train.max_minutes:
                        self.horizon = self.budget_horizon(budget_s, elapsed, first_step)
                    for hook in self.hooks:
                        hook.on_log(self, loss)
                for hook in self.hooks:
                    hook.after_step(self)
                status = self.agreed_status(stop.requested, bool(train.max_minutes and elapsed >= budget_s))
        if self.loss_count:
            loss = self.mean_loss()
            for hook in self.hooks:
                hook.on_log(self, loss)
        for hook in self.hooks:
            hook.on_end(self, interrupted=status == "interrupted")
        return status
