"""Which images form each batch: a pure function of (seed, step), so a resumed run sees the same data."""

from __future__ import annotations

import torch

from ..seeds import derived_seed


def step_seed(seed: int, step: int, stream: str = "train") -> int:
    """A 63-bit seed for one training step, independent across steps, streams and run seeds."""
    return derived_seed(seed, stream, step)


class DataOrder:
    """Epoch e visits the dataset in a permutation drawn from (seed, e); step s takes the next batch_size of them.

    Batches run across epoch boundaries, so every image is seen once per epoch and nothing is dropped.
    """

    def __init__(self, dataset_size: int, batch_size: int, seed: int):
        self.dataset_size = dataset_size
        self.batch_size = batch_size
        self.seed = seed
        self._permutations: dict[int, torch.Tensor] = {}

    def permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._permutations:
            generator = torch.Generator().manual_seed(step_seed(self.seed, epoch, stream="epoch"))
            self._permutations = {
                epoch: torch.randperm(self.dataset_size, generator=generator)
            }  # keep only the current one
        return self._permutations[epoch]

    def indices(self, step: int) -> torch.Tensor:
        """Dataset indices of the images in batch `step` (batch_size of them)."""
        positions = torch.arange(step * self.batch_size, (step + 1) * self.batch_size)
        epochs, offsets = positions // self.dataset_size, positions % self.dataset_size
        return torch.cat([self.permutation(int(epoch))[offsets[epochs == epoch]] for epoch in epochs.unique()])
