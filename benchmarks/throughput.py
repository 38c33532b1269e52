"""Training and sampling speed and peak memory of each preset's network on this machine.

    .venv/bin/python benchmarks/throughput.py                       # every preset, its own batch size
    .venv/bin/python benchmarks/throughput.py --presets demo celeba32 --batch-size 16

Each measurement runs in a fresh subprocess so that its peak memory is its own: peak resident set
size on the CPU (VmHWM, reset at the child's start), torch.cuda.max_memory_allocated on a GPU. Training images/s covers
the whole step of unnoise's Trainer (batch indexing, flips, forward, backward, AdamW, EMA update)
on random images. Sampling is timed per DDPM
step (one network evaluation plus the update); images/s for K steps is batch / (K x step time),
since a sampler's cost is exactly K such steps.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from peak_memory import peak_rss_mb, reset_peak_rss

SAMPLING_STEP_COUNTS = (10, 100, 1000)


def measure_training(preset_name: str, batch_size: int | None, steps: int, device: str) -> dict:
    """Steps of unnoise's own Trainer (data indexing, flips, loss, backward, AdamW, EMA) on random images."""
    from unnoise.config import override, preset
    from unnoise.data import ImageDataset
    from unnoise.models import count_parameters
    from unnoise.train.trainer import Trainer

    config = preset(preset_name)
    changes = {"train.device": device, "data.source": "random"}
    if batch_size:
        changes["train.batch_size"] = batch_size
    config = override(config, changes)
    size = config.data.image_size
    images = torch.randint(0, 256, (512, 3, size, size), dtype=torch.uint8)
    dataset = ImageDataset(images, [str(i) for i in range(len(images))], [], None, "random")
    trainer = Trainer(config, dataset, Path(tempfile.mkdtemp()), torch.device(device), hooks=[])
    trainer.train_step()  # warm-up: allocator, kernels
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    synchronize(device)
    seconds = (time.perf_counter() - started) / steps
    batch = trainer.global_batch
    return {
        "parameters_m": count_parameters(trainer.model) / 1e6,
        "batch": batch,
        "train_images_per_s": batch / seconds,
        "train_step_s": seconds,
        "peak_memory_mb": peak_memory_mb(device),
    }


@torch.no_grad()
def measure_sampling(preset_name: str, batch_size: int | None, steps: int, device: str) -> dict:
    from unnoise.config import preset
    from unnoise.diffusion.denoiser import Denoiser
    from unnoise.diffusion.grids import noise_level_grid
    from unnoise.diffusion.samplers import sample_ddpm
    from unnoise.diffusion.schedules import schedule_of
    from unnoise.models import build_model

    config = preset(preset_name)
    batch = batch_size or config.train.batch_size
    size = config.data.image_size
    model = build_model(config.model, size).to(device).eval()
    schedule = schedule_of(config.diffusion)
    x = torch.randn(batch, 3, size, size, device=device)
    denoiser = Denoiser(model, schedule, config.diffusion.prediction)
    sample_ddpm(denoiser, x, noise_level_grid(schedule, 2))  # warm-up
    synchronize(device)
    started = time.perf_counter()
    sample_ddpm(denoiser, x, noise_level_grid(schedule, steps))
    synchronize(device)
    seconds_per_step = (time.perf_counter() - started) / steps
    rates = {f"sample_images_per_s_{k}_steps": batch / (k * seconds_per_step) for k in SAMPLING_STEP_COUNTS}
    return {
        "sample_batch": batch,
        "sample_step_s": seconds_per_step,
        **rates,
        "sample_peak_memory_mb": peak_memory_mb(device),
    }


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return peak_rss_mb()


def run_child(mode: str, preset_name: str, arguments: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        preset_name,
        "--device",
        arguments.device,
        "--steps",
        str(arguments.steps),
    ]
    if arguments.batch_size:
        command += ["--batch-size", str(arguments.batch_size)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["demo", "seed", "celeba32", "celeba64"])
    parser.add_argument("--batch-size", type=int, default=None, help="default: each preset's own")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps / sampling steps")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PRESET"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        reset_peak_rss()  # the parent's high-water mark is not this measurement's
        mode, preset_name = arguments.child
        measure = measure_training if mode == "train" else measure_sampling
        print(json.dumps(measure(preset_name, arguments.batch_size, arguments.steps, arguments.device)))
        return

    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, device {arguments.device}"
    )
    header = (
        "preset",
        "params (M)",
        "batch",
        "train img/s",
        "train peak MB",
        *(f"sample img/s @{k}" for k in SAMPLING_STEP_COUNTS),
        "sample peak MB",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for preset_name in arguments.presets:
        train = run_child("train", preset_name, arguments)
        sample = run_child("sample", preset_name, arguments)
        cells = (
            preset_name,
            f"{train['parameters_m']:.2f}",
            str(train["batch"]),
            f"{train['train_images_per_s']:.1f}",
            f"{train['peak_memory_mb']:.0f}",
            *(f"{sample[f'sample_images_per_s_{k}_steps']:.3g}" for k in SAMPLING_STEP_COUNTS),
            f"{sample['sample_peak_memory_mb']:.0f}",
        )
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
