"""The training loop: short on purpose. Logging, pictures and checkpoints hook in from hooks.py.

Every random draw of step s (which images, their flips, t, the noise) comes from a seed derived
from (run seed, s), and dropout from (run seed, s, rank): a run resumed from a checkpoint continues
exactly as if it had not stopped, with no RNG state to save, and N data-parallel processes draw
exactly what one process with N times the batch would.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from torch.nn.parallel import DistributedDataParallel

from ..config import RunConfig
from ..data import ImageDataset
from ..data.transforms import horizontal_flip, to_model_range
from ..errors import UserError
from ..families import objective_for
from ..models import Condition, network_for
from .checkpoint import checkpoint_step, latest_checkpoint, load_checkpoint, save_checkpoint
from .conditions import TrainingConditions
from .data_order import DataOrder, step_seed
from .distributed import Distributed
from .ema import EMA
from .hooks import Hook

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
GPU_DATASET_LIMIT_BYTES = 8 * 2**30


class LossNotFinite(UserError):
    """The loss became NaN or infinite; the run stops and the last good checkpoint stays."""


def learning_rate_at(
    step: int, base_lr: float, warmup_steps: int, total_steps: int = 0, schedule: str = "constant"
) -> float:
    """Linear warm-up to base_lr over warmup_steps, then constant or cosine decay to 0 at total_steps."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "cosine" and total_steps > warmup_steps:
        progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        return base_lr * 0.5 * (1 + math.cos(math.pi * progress))
    return base_lr


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
        # On a GPU the uint8 images live in GPU memory when they fit comfortably (CelebA at 64x64: 2.5 GB), so
        # a batch is one gather with no host-to-device copy; otherwise they stay in pinned host memory.
        images = dataset.images
        if device.type == "cuda":
            images = images.to(device) if images.nbytes < GPU_DATASET_LIMIT_BYTES else images.pin_memory()
        self.images = images
        self.global_batch = train.batch_size * distributed.world_size * train.accum
        self.order = DataOrder(len(dataset), self.global_batch, train.seed)
        self.step = 0
        self.horizon = train.steps  # where the learning-rate schedule ends: train.steps, or sooner under max_minutes
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
            self.step = load_checkpoint(folder, self.model, self.ema.model, self.optimizer, self.scaler)
        self.tally_start = self.step
        return self.step

    def save(self) -> Path | None:
        """Write a checkpoint (rank 0) after making sure no non-finite loss slipped in since the last check."""
        self.check_finite()
        path = None
        if self.distributed.is_main:
            path = save_checkpoint(
                self.run_dir, self.step, self.model, self.ema.model, self.optimizer, self.config.train.keep, self.scaler
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
                f"the loss became NaN or infinite at {where}; training stopped and {kept}. Try a lower train.lr",
                settings=("train.lr",),
            )

    def mean_loss(self) -> float:
        """The mean loss since the last call, over all ranks; also the NaN check."""
        self.check_finite()
        count = torch.tensor(float(self.loss_count), device=self.device)
        totals = self.distributed.all_reduce_sum(torch.stack([self.loss_sum, count]))
        self.reset_loss_tally()
        return (totals[0] / totals[1].clamp(min=1)).item()

    def budget_horizon(self, budget_s: float, elapsed_s: float, first_step: int) -> int:
        """The step at which the time budget will run out at the pace so far (at most train.steps), agreed by all ranks.

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
        budget_s = train.max_minutes * 60
        started, first_step = time.perf_counter(), self.step
        with stop_on_signals() as stop:
            while self.step < train.steps:
                self.train_step()
                if self.step % max(1, train.log_every) == 0 or self.step == train.steps:
                    loss = self.mean_loss()
                    if budget_s:
                        self.horizon = self.budget_horizon(budget_s, time.perf_counter() - started, first_step)
                    for hook in self.hooks:
                        hook.on_log(self, loss)
                for hook in self.hooks:
                    hook.after_step(self)
                status = self.agreed_status(
                    stop.requested, bool(budget_s and time.perf_counter() - started >= budget_s)
                )
                if status != "finished":
                    break
        if self.loss_count:
            loss = self.mean_loss()
            for hook in self.hooks:
                hook.on_log(self, loss)
        for hook in self.hooks:
            hook.on_end(self, interrupted=status == "interrupted")
        return status
