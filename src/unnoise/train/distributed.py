"""Data-parallel training on PyTorch's own engine: torchrun starts the processes, DDP averages the gradients.

    torchrun --nproc_per_node 8 -m unnoise train ...                      # one node, 8 GPUs
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d \\
             --rdzv-endpoint HOST:29500 --rdzv-id RUN -m unnoise train ...   # two nodes

NCCL on GPUs, gloo on CPUs. Every rank sees the same global batch order and draws the same t, noise
and flips for it (they come from the step's seed), then takes its own slice: so N processes with
batch B compute what one process with batch N x B would, and EMA weights stay identical on all ranks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..devices import resolve_device


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def init_distributed(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the process group torchrun describes in the environment (a no-op for a single process)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_name)
    if world_size == 1:
        return Distributed(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    return Distributed(rank, world_size, local_rank), device


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """Rank 0 of a torchrun launch, or a plain single process."""
    return int(os.environ.get("RANK", "0")) == 0
