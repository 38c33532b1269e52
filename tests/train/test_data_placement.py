"""Training reads the memory-mapped cache as it read images in memory; small sets go to the GPU, with a reason."""

from dataclasses import replace
from pathlib import Path

import torch

from unnoise.data import open_dataset
from unnoise.train.placement import placement
from unnoise.train.trainer import Trainer


def batches(config, dataset, run_dir, steps):
    trainer = Trainer(config, dataset, run_dir, torch.device("cpu"), hooks=[])
    found = []
    for step in range(steps):
        trainer.step = step
        found += [x0 for x0, _, _ in trainer.micro_batches()]
    return trainer, found


def test_memory_mapped_batches_are_byte_identical_to_in_memory_ones(tiny, tmp_path):
    config = tiny(batch_size=24, accum=2)  # 64 images, 48 a step: batches cross epoch boundaries
    mapped = open_dataset(config.data.source, config.data.image_size, progress=False)
    assert mapped.cache_file is not None
    copied = replace(mapped, images=mapped.images.clone(), cache_file=None)
    mapped_trainer, from_map = batches(config, mapped, tmp_path / "a", steps=5)
    copied_trainer, from_memory = batches(config, copied, tmp_path / "b", steps=5)
    assert mapped_trainer.images.data_ptr() == mapped.images.data_ptr()  # gathered from the map, never copied whole
    assert len(from_map) == 10
    for one, other in zip(from_map, from_memory):
        assert one.dtype == torch.float32 and torch.equal(one, other)
    assert not torch.equal(from_map[0], from_map[2])  # the steps do differ
    assert "memory-mapped from" in mapped_trainer.data_placement
    assert "in this process's memory" in copied_trainer.data_placement


def test_small_sets_go_to_the_gpu_and_large_ones_stay_mapped_each_with_its_reason():
    cache = Path("/cache/celeba.uint8")
    gpu = 80 * 10**9  # free bytes (torch.cuda.mem_get_info), not the card's total
    on_gpu, reason = placement(2_500_000_000, "cuda", gpu, cache)
    assert on_gpu and reason.startswith("data: 2.50 GB of uint8 images on the GPU") and "20.00 GB" in reason
    on_gpu, reason = placement(21 * 10**9, "cuda", gpu, cache)
    assert not on_gpu and "more than a quarter of the GPU's free memory (20.00 GB)" in reason and str(cache) in reason
    on_gpu, reason = placement(49_152, "cpu", 0, cache)
    assert not on_gpu and reason.startswith("data: 49.2 kB of uint8") and "shared by every process of" in reason
