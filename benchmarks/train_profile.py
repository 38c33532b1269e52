"""Where a training step's time goes: convolutions against everything else, for both networks of the race.

    python benchmarks/train_profile.py                # CPU, fp32, 32x32, batch 16
    python benchmarks/train_profile.py --size 64

Profiles --steps training steps (forward, L2 loss, backward, AdamW) of the matched networks from
train_throughput.py with torch.profiler and prints, per network, the time in convolution kernels
(forward and backward), the rest, and the FLOPs of one step. It bounds what any change outside the
convolutions can win: a network whose convolutions take C seconds can be at most (diffusers' total) / C
times faster than diffusers while it runs the same convolutions.
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode
from train_throughput import BUILDERS, make_step

CONVOLUTION_KERNELS = (
    "aten::mkldnn_convolution",
    "aten::convolution_backward",
    "aten::_nnpack_spatial_convolution",
    "aten::_slow_conv2d_forward",
    "aten::_slow_conv2d_backward",
)


def step_flops(model, batch: int, size: int) -> float:
    x, t = torch.randn(batch, 3, size, size), torch.randint(0, 1000, (batch,))
    with FlopCounterMode(display=False) as counter:
        model(x, t).square().mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=32, choices=(32, 64))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    arguments = parser.parse_args()

    print(
        f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, fp32, batch {arguments.batch_size}, "
        f"{arguments.size}x{arguments.size}, {arguments.steps} profiled steps"
    )
    print(
        "| model | GFLOP per step | step s | convolution s | rest s | convolution share | unnoise's bound (rest = 0) |"
    )
    print("|---|---|---|---|---|---|---|")
    totals = {}
    for name in ("diffusers", "unnoise"):
        torch.manual_seed(0)
        model = BUILDERS[name](arguments.size)
        flops = step_flops(model, arguments.batch_size, arguments.size)
        step = make_step(model, arguments.batch_size, arguments.size, "cpu", "fp32", False)
        step()
        step()
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            for _ in range(arguments.steps):
                step()
        events = profiler.key_averages()
        total = sum(event.self_cpu_time_total for event in events) / 1e6 / arguments.steps
        convolution = (
            sum(event.self_cpu_time_total for event in events if event.key in CONVOLUTION_KERNELS)
            / 1e6
            / arguments.steps
        )
        totals[name] = total
        bound = f"{totals['diffusers'] / convolution:.2f}x" if name == "unnoise" else "-"
        print(
            f"| {name} | {flops / 1e9:.1f} | {total:.2f} | {convolution:.2f} | {total - convolution:.2f} | "
            f"{convolution / total:.0%} | {bound} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
