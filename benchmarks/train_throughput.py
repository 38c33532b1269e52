"""Training throughput race: unnoise's U-Net against diffusers' UNet2DModel at matched size.

    python benchmarks/train_throughput.py                         # CPU, fp32, 32x32 and 64x64
    python benchmarks/train_throughput.py --device cuda --precision bf16 --compile

Both networks get the same widths, blocks per level, attention resolutions (one head) and a
parameter count within 5% (printed). Images/s covers a whole training step (forward, L2 loss on
the noise, backward, AdamW step) on random data; the two models alternate in one process, best of
--repeats rounds each. Peak memory is measured in a fresh subprocess per model (peak RSS on the
CPU; on a GPU, max_memory_allocated of the eager model trained alone). Needs the `bench` extra (diffusers).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from peak_memory import peak_rss_mb, reset_peak_rss

# One configuration per resolution: base width, multipliers, blocks per level, attention resolutions.
MATCHED = {
    32: dict(base_channels=64, channel_mult=(1, 2, 2, 2), blocks_per_level=2, attention_resolutions=(16,)),
    64: dict(base_channels=64, channel_mult=(1, 2, 2, 2), blocks_per_level=2, attention_resolutions=(16,)),
}


def build_unnoise(size: int):
    from unnoise.models.unet import UNet

    return UNet(size, dropout=0.0, **MATCHED[size])


def build_diffusers(size: int):
    from diffusers import UNet2DModel

    config = MATCHED[size]
    widths = tuple(config["base_channels"] * mult for mult in config["channel_mult"])
    resolutions = [size // 2**level for level in range(len(widths))]
    attention = [resolution in config["attention_resolutions"] for resolution in resolutions]
    model = UNet2DModel(
        sample_size=size,
        in_channels=3,
        out_channels=3,
        layers_per_block=config["blocks_per_level"],
        block_out_channels=widths,
        down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attention),
        up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)),
        attention_head_dim=max(widths),  # one head, as unnoise's default
        norm_num_groups=32,
        dropout=0.0,
    )

    class Wrapped(torch.nn.Module):  # same call signature as unnoise's network
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x, t):
            return self.inner(x, t).sample

    return Wrapped()


BUILDERS = {"unnoise": build_unnoise, "diffusers": build_diffusers}


def make_step(model, batch: int, size: int, device: str, precision: str, compile_model: bool):
    model = model.to(device)
    if device.startswith("cuda"):
        model = model.to(memory_format=torch.channels_last)
    network = torch.compile(model) if compile_model else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, size, size, device=device)
    noise = torch.randn_like(x)
    t = torch.randint(0, 1000, (batch,), device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def step():
        with torch.autocast(device_type=device.split(":")[0], dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = F.mse_loss(network(x, t).float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def images_per_second(step, batch: int, steps: int, device: str) -> float:
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return batch * steps / (time.perf_counter() - started)


def peak_memory_child(arguments) -> None:
    reset_peak_rss()  # the parent's high-water mark is not this measurement's
    name, size = arguments.child[0], int(arguments.child[1])
    step = make_step(
        BUILDERS[name](size), arguments.batch_size, size, arguments.device, arguments.precision, arguments.compile
    )
    for _ in range(arguments.steps):
        step()
    synchronize(arguments.device)
    if arguments.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = peak_rss_mb()
    print(json.dumps({"peak_mb": peak}))


def peak_memory(name: str, size: int, arguments) -> float:
    """Peak memory of training one model alone: in a fresh process on the CPU; eager, in-process on a GPU."""
    if arguments.device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        step = make_step(BUILDERS[name](size), arguments.batch_size, size, arguments.device, arguments.precision, False)
        for _ in range(2):
            step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
        del step
        torch.cuda.empty_cache()
        return peak
    command = [
        sys.executable,
        __file__,
        "--child",
        name,
        str(size),
        "--device",
        arguments.device,
        "--precision",
        arguments.precision,
        "--batch-size",
        str(arguments.batch_size),
        "--steps",
        "2",
    ]
    if arguments.compile:
        command.append("--compile")
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="32,64")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--batch-size", type=int, default=None, help="default 16 on CPU, 128 on GPU")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; the best of each is reported")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    arguments.batch_size = arguments.batch_size or (128 if arguments.device.startswith("cuda") else 16)
    if arguments.child:
        peak_memory_child(arguments)
        return

    from unnoise.models import count_parameters

    device_name = (
        torch.cuda.get_device_name()
        if arguments.device.startswith("cuda")
        else platform.processor() or platform.machine()
    )
    print(
        f"device {arguments.device} ({device_name}), {torch.get_num_threads()} CPU threads, torch {torch.__version__}, "
        f"precision {arguments.precision}, compile {arguments.compile}, batch {arguments.batch_size}"
    )
    print("| size | model | params (M) | train img/s | peak MB |\n|---|---|---|---|---|")
    for size in (int(value) for value in arguments.sizes.split(",")):
        torch.manual_seed(0)
        models = {name: build(size) for name, build in BUILDERS.items()}
        parameters = {name: count_parameters(model) for name, model in models.items()}
        steps = {
            name: make_step(model, arguments.batch_size, size, arguments.device, arguments.precision, arguments.compile)
            for name, model in models.items()
        }
        for step in steps.values():  # warm-up (and compilation)
            step()
            step()
        best = {name: 0.0 for name in steps}
        for _ in range(arguments.repeats):
            for name, step in steps.items():
                best[name] = max(
                    best[name], images_per_second(step, arguments.batch_size, arguments.steps, arguments.device)
                )
        del steps, models
        peaks = {name: peak_memory(name, size, arguments) for name in BUILDERS}
        for name in BUILDERS:
            print(
                f"| {size} | {name} | {parameters[name] / 1e6:.2f} | {best[name]:.1f} | {peaks[name]:.0f} |", flush=True
            )
        gap = abs(parameters["unnoise"] - parameters["diffusers"]) / parameters["diffusers"]
        print(
            f"| {size} | ratio unnoise/diffusers | params differ {gap:.1%} | "
            f"{best['unnoise'] / best['diffusers']:.2f}x | "
            f"{peaks['unnoise'] / peaks['diffusers']:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
