"""Datasets larger than memory, shared by the processes of a node (issue 17): memory, throughput and cache builds.

    python benchmarks/shared_data.py memory --work /tmp/shared-data        # torchrun x 1, 2, 4 CPU processes
    python benchmarks/shared_data.py throughput --work /tmp/shared-data    # images/s, mapped vs copied, step by step
    python benchmarks/shared_data.py build --work /tmp/shared-data --limit-mb 1024   # cache build under a cgroup limit

memory: a synthetic cache of random uint8 64x64 images (--images, 2.2 GB by default) is written where
open_dataset("builtin:N:SEED", 64) looks for it, then `torchrun --nproc_per_node P` trains a tiny network on it for a
few steps through unnoise.train, each process first reading every image once (what an epoch does). "copied" is the
loader before issue 17 (each process copies the cache into its own memory, as safetensors' get_tensor did),
"mapped" the memory map. A monitor samples every worker's /proc/PID/smaps_rollup: RSS counts a shared page in every
process that touched it, PSS divides it among them, so the sum of PSS is the memory the node really spends.

throughput: images/s of the data path alone (a step's batch gathered and converted to [-1, 1]) and of whole
training steps (a small U-Net), mapped against copied, one trainer of each alternated step by step (A B, B A, ...)
in one process, so a change in the machine's load hits both; medians.

build: a folder of random 512x512 JPEGs larger than the memory limit is cached at 256x256 inside a cgroup v1 memory
limit (root needed), streamed (now) and decoded in memory first (before issue 17).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCHMARKS = Path(__file__).resolve().parent
CGROUP = Path("/sys/fs/cgroup/memory/unnoise-cache-build")


def synthetic_cache(cache: Path, count: int, size: int, seed: int = 7) -> str:
    """Write random images where open_dataset('builtin:count:seed', size) finds them; returns that spec."""
    from unnoise.data.builtin import BUILTIN_VERSION
    from unnoise.data.cache import cache_key
    from unnoise.data.cache_file import SUFFIX, header_of, write_header

    fields = {"reader": "builtin", "count": count, "seed": seed, "version": BUILTIN_VERSION, "image_size": size}
    key = cache_key(fields)
    path = cache / f"builtin-{count}-seed{seed}-{size}px-{key[:16]}{SUFFIX}"
    spec = f"builtin:{count}:{seed}"
    if path.exists():
        return spec
    cache.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (count, 3, size, size)
    with open(path.with_suffix(".tmp"), "wb") as handle:
        for start in range(0, count, 8192):
            rows = min(8192, count - start)
            handle.write(rng.integers(0, 256, (rows, 3, size, size), dtype=np.uint8).tobytes())
        header = {"key": key, "fields": fields, "file_count": 0, "source": spec, "warnings": []}
        write_header(
            handle,
            header_of(
                shape, None, {**header, "names": [f"random_{i:07d}" for i in range(count)], "attribute_names": []}
            ),
        )
    os.replace(path.with_suffix(".tmp"), path)
    return spec


def tiny_config(spec: str, size: int, steps: int, batch_size: int, base_channels: int = 8):
    from unnoise.config import DataConfig, DiffusionConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        preset="benchmark",
        data=DataConfig(source=spec, image_size=size),
        model=ModelConfig(
            base_channels=base_channels, channel_mult=(1, 2), blocks_per_level=1, attention_resolutions=(), dropout=0.0
        ),
        diffusion=DiffusionConfig(timesteps=100),
        train=TrainConfig(
            steps=steps,
            batch_size=batch_size,
            log_every=steps,
            sample_every=0,
            sample_count=2,
            sample_steps=2,
            checkpoint_every=steps,
            device="cpu",
        ),
    )


def worker(arguments: argparse.Namespace) -> None:
    """One torchrun process: open the data as the variant says, read every image once, train a few steps."""
    import torch.distributed as dist

    import unnoise.api
    from unnoise.data import open_dataset

    def opened(*args, **kwargs):
        dataset = open_dataset(*args, **kwargs)
        if arguments.variant == "copied":
            dataset.images, dataset.cache_file = dataset.images.clone(), None
        checksum = 0
        for start in range(0, len(dataset), 4096):  # one pass over every image, as an epoch of training makes
            checksum += int(dataset.images[start : start + 4096, :, 0, 0].sum())
        return dataset

    unnoise.api.open_dataset = opened
    unnoise.api.train(tiny_config(arguments.spec, 64, 3, 8), out=arguments.out, progress=False)
    if dist.is_initialized():
        dist.barrier()
    time.sleep(1.5)  # every process alive at its peak, for the monitor to see together


def memory_of(pid: int) -> dict[str, int] | None:
    """Rss, Pss, Pss_Anon, Pss_File (bytes) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Pss_Anon", "Pss_File"):
            values[name] = int(rest.split()[0]) * 1024
    return values


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                found.append(int(entry.name))
    return found


def measure_torchrun(processes: int, variant: str, spec: str, work: Path) -> dict:
    out = work / f"run-{variant}-{processes}"
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(processes),
        str(Path(__file__)),
        "worker",
        "--variant",
        variant,
        "--spec",
        spec,
        "--out",
        str(out),
    ]
    environment = {**os.environ, "UNNOISE_CACHE": str(work / "cache"), "OMP_NUM_THREADS": "1"}
    launcher = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak_rss: dict[int, int] = {}
    peak_total_pss = peak_total_rss = 0
    while launcher.poll() is None:
        samples = {pid: memory_of(pid) for pid in children_of(launcher.pid)}
        samples = {pid: sample for pid, sample in samples.items() if sample}
        for pid, sample in samples.items():
            peak_rss[pid] = max(peak_rss.get(pid, 0), sample["Rss"])
        peak_total_pss = max(peak_total_pss, sum(sample["Pss"] for sample in samples.values()))
        peak_total_rss = max(peak_total_rss, sum(sample["Rss"] for sample in samples.values()))
        time.sleep(0.2)
    output = launcher.stdout.read().decode()
    if launcher.returncode != 0:
        raise SystemExit(f"torchrun failed:\n{output}")
    shutil.rmtree(out, ignore_errors=True)
    return {
        "processes": processes,
        "variant": variant,
        "peak_rss_per_process": max(peak_rss.values()),
        "peak_rss_sum": peak_total_rss,
        "peak_pss_sum": peak_total_pss,
    }


def command_memory(arguments: argparse.Namespace) -> None:
    spec = synthetic_cache(arguments.work / "cache", arguments.images, 64)
    data_gb = arguments.images * 3 * 64 * 64 / 1e9
    print(f"data: {arguments.images} random 64x64 uint8 images, {data_gb:.2f} GB; {platform.processor() or ''}")
    print("| processes | loader | peak RSS per process | sum of RSS | sum of PSS (real total) | total / data |")
    print("|---|---|---|---|---|---|")
    rows = []
    for processes in arguments.processes:
        for variant in ("copied", "mapped"):
            row = measure_torchrun(processes, variant, spec, arguments.work)
            rows.append(row)
            print(
                f"| {processes} | {variant} | {row['peak_rss_per_process'] / 1e9:.2f} GB | "
                f"{row['peak_rss_sum'] / 1e9:.2f} GB | {row['peak_pss_sum'] / 1e9:.2f} GB | "
                f"{row['peak_pss_sum'] / 1e9 / data_gb:.2f} |",
                flush=True,
            )
    (arguments.work / "memory.json").write_text(json.dumps(rows, indent=1))


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def interleaved_rates(trainers: dict, measure: str, pairs: int) -> dict[str, float]:
    """Median images/s of each trainer, their steps alternated one by one (A B, B A, ...) so load drifts hit both.

    "data path": the step's batch gathered and converted (Trainer.micro_batches); "training step": a whole step.
    """
    names = list(trainers)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for pair in range(pairs):
        for name in names if pair % 2 == 0 else names[::-1]:
            trainer = trainers[name]
            if measure == "data path":
                trainer.step = pair
                seconds[name].append(timed(lambda: list(trainer.micro_batches())))
            else:
                seconds[name].append(timed(trainer.train_step))
    batch = next(iter(trainers.values())).config.train.batch_size
    return {name: batch / float(np.median(values)) for name, values in seconds.items()}


def command_throughput(arguments: argparse.Namespace) -> None:
    from dataclasses import replace

    from unnoise.data import open_dataset
    from unnoise.train.trainer import Trainer

    torch.set_num_threads(1)
    os.environ["UNNOISE_CACHE"] = str(arguments.work / "cache")
    print("| size | images | measure | steps each | mapped images/s | copied images/s | mapped / copied |")
    print("|---|---|---|---|---|---|---|")
    for size in arguments.sizes:
        spec = synthetic_cache(arguments.work / "cache", arguments.images, size)
        mapped = open_dataset(spec, size, progress=False)
        datasets = {"mapped": mapped, "copied": replace(mapped, images=mapped.images.clone(), cache_file=None)}
        for measure, batch, pairs in (("data path", 256, 400), ("training step", 32, arguments.steps)):
            config = tiny_config(spec, size, 1, batch, base_channels=16)
            trainers = {
                name: Trainer(config, dataset, arguments.work / "throughput-run", torch.device("cpu"), hooks=[])
                for name, dataset in datasets.items()
            }
            for trainer in trainers.values():  # warm-up, and the first touch of every page
                interleaved_rates({"warm-up": trainer}, measure, 2 if measure == "training step" else 50)
            rates = interleaved_rates(trainers, measure, pairs)
            print(
                f"| {size} | {len(mapped)} | {measure} (batch {batch}) | {pairs} | {rates['mapped']:,.0f} | "
                f"{rates['copied']:,.0f} | {rates['mapped'] / rates['copied']:.3f} |",
                flush=True,
            )
        del mapped, datasets, trainers


def synthetic_folder(folder: Path, count: int) -> int:
    """count random 512x512 JPEGs (quality 90); returns the folder's size in bytes."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        path = folder / f"{index:06d}.jpg"
        if not path.exists():
            coarse = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # blotches plus grain, like a noisy photo
            pixels = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)
            pixels = np.clip(pixels.astype(np.int16) + rng.integers(-40, 40, pixels.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(path, quality=90)
    return sum(path.stat().st_size for path in folder.iterdir())


def build_once(folder: Path, cache: Path, streamed: bool) -> None:
    """The cache build itself (run inside the cgroup): the streaming build, or the in-memory decode of before."""
    from unnoise.data import open_dataset
    from unnoise.data.folder import read_folder

    start = time.perf_counter()
    if streamed:
        dataset = open_dataset(f"folder:{folder}", 256, cache_dir=cache, progress=False)
    else:
        dataset = read_folder(folder, 256, progress=False, source=f"folder:{folder}")
    seconds = time.perf_counter() - start
    hwm = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    print(json.dumps({"seconds": seconds, "images": len(dataset), "peak_rss": hwm}))


def command_build(arguments: argparse.Namespace) -> None:
    folder = arguments.work / "photos"
    folder_bytes = synthetic_folder(folder, arguments.photos)
    limit = arguments.limit_mb * 2**20
    print(
        f"folder: {arguments.photos} random 512x512 JPEGs, {folder_bytes / 1e9:.2f} GB; cache at 256x256: "
        f"{arguments.photos * 3 * 256 * 256 / 1e9:.2f} GB; memory limit {limit / 1e9:.2f} GB (cgroup v1, page cache "
        "included)"
    )
    print("| build | result | time | images/s | peak RSS | cgroup peak (with page cache) |")
    print("|---|---|---|---|---|---|")
    for streamed in (True, False):
        cache = arguments.work / "build-cache"
        shutil.rmtree(cache, ignore_errors=True)
        CGROUP.mkdir(exist_ok=True)
        (CGROUP / "memory.limit_in_bytes").write_text(str(limit))
        (CGROUP / "memory.max_usage_in_bytes").write_text("0")
        script = f'echo $$ > {CGROUP}/cgroup.procs && exec "$@"'
        command = [
            "sh",
            "-c",
            script,
            "sh",
            sys.executable,
            str(Path(__file__)),
            "build-once",
            "--folder",
            str(folder),
            "--cache",
            str(cache),
        ] + ([] if streamed else ["--in-memory"])
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        peak = int((CGROUP / "memory.max_usage_in_bytes").read_text())
        name = "streamed to the cache (now)" if streamed else "decoded in memory first (before)"
        if result.returncode == 0:
            row = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"| {name} | {row['images']} images | {row['seconds']:.0f} s | {row['images'] / row['seconds']:.0f} "
                f"| {row['peak_rss'] / 1e9:.2f} GB | {peak / 1e9:.2f} GB |",
                flush=True,
            )
        else:
            reason = "killed by the OOM killer" if result.returncode in (-9, 137) else f"exit {result.returncode}"
            print(f"| {name} | {reason} | - | - | - | {peak / 1e9:.2f} GB |", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
        CGROUP.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    memory = commands.add_parser("memory")
    memory.add_argument("--work", type=Path, required=True)
    memory.add_argument("--images", type=int, default=180_000)  # x 12,288 bytes = 2.21 GB
    memory.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    throughput = commands.add_parser("throughput")
    throughput.add_argument("--work", type=Path, required=True)
    throughput.add_argument("--images", type=int, default=180_000)
    throughput.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    throughput.add_argument("--steps", type=int, default=40)
    build = commands.add_parser("build")
    build.add_argument("--work", type=Path, required=True)
    build.add_argument("--photos", type=int, default=6000)
    build.add_argument("--limit-mb", type=int, default=1024)
    once = commands.add_parser("build-once")
    once.add_argument("--folder", type=Path, required=True)
    once.add_argument("--cache", type=Path, required=True)
    once.add_argument("--in-memory", action="store_true")
    work = commands.add_parser("worker")
    work.add_argument("--variant", choices=("copied", "mapped"), required=True)
    work.add_argument("--spec", required=True)
    work.add_argument("--out", required=True)
    arguments = parser.parse_args()
    if arguments.command == "memory":
        command_memory(arguments)
    elif arguments.command == "throughput":
        command_throughput(arguments)
    elif arguments.command == "build":
        command_build(arguments)
    elif arguments.command == "build-once":
        build_once(arguments.folder, arguments.cache, not arguments.in_memory)
    else:
        worker(arguments)


if __name__ == "__main__":
    main()
