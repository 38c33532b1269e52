"""The race a user runs before choosing: unnoise's default preset against diffusers' train_unconditional recipe.

    python benchmarks/race.py --ref REF.npz --out OUT_DIR [--steps 1400] [--n 1000]
        [--unnoise celeba32,article] [--diffusers 1e-4:500,5e-4:100,1e-3:100,2e-3:100]

REF.npz: `unnoise fid-stats celeba:../shared/data/celeba-halfres --size 32 --n 2000 --out REF.npz`. Every row trains
on celeba-halfres at 32x32, batches of 32, for --steps steps on the same images in the same order, one run after
another (never two at once):
- --unnoise: recipes of benchmarks/recipes.py on preset celeba32's U-Net (celeba32 is the preset itself; article is
  the article's objective on the same network);
- --diffusers LR:WARMUP: diffusers' examples/unconditional_image_generation recipe on a UNet2DModel of celeba32's
  widths (DDPMScheduler defaults: linear betas, T = 1000, eps, L2; AdamW at LR with betas (0.95, 0.999), weight
  decay 1e-6; WARMUP steps of linear warm-up then cosine decay; EMA with diffusers' warm-up (inv_gamma 1, power 3/4,
  max 0.9999); gradient clipping at 1.0; random flips). 1e-4:500 is its default; the others are the tuning sweep.
Each run is sampled with every 20-NFE sampler of its kind (unnoise: recipes.SAMPLERS; diffusers: its DDPM, DDIM and
DPM-Solver++ schedulers) and measured by KID and FID at n = --n against REF. Trained runs are kept in OUT_DIR and
reused. Prints a Markdown table (the best sampler of each run in bold) and writes OUT_DIR/race.json.
Needs the `bench` extra (diffusers).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import recipes
import torch
import torch.nn.functional as F
from diffusers_schedulers import make_scheduler, sample_with_scheduler
from safetensors.torch import load_file, save_file
from train_throughput import MATCHED, build_diffusers

import unnoise
from unnoise.data.transforms import horizontal_flip, images_from_model_range, to_model_range
from unnoise.metrics import evaluate_images, load_reference
from unnoise.metrics.kid import kid_std_text
from unnoise.train.data_order import DataOrder, step_seed

SIZE, BATCH, T = 32, 32, 1000
DIFFUSERS_SAMPLERS = (("diffusers_ddpm", None), ("diffusers_ddim", "trailing"), ("diffusers_dpmsolver++", None))


def diffusers_network() -> torch.nn.Module:
    """UNet2DModel with the widths of preset celeba32's U-Net."""
    preset = unnoise.preset("celeba32").model
    MATCHED[SIZE] = dict(
        base_channels=preset.base_channels,
        channel_mult=preset.channel_mult,
        blocks_per_level=preset.blocks_per_level,
        attention_resolutions=preset.attention_resolutions,
    )
    return build_diffusers(SIZE)


def train_diffusers(steps: int, lr: float, warmup: int) -> tuple[torch.nn.Module, float]:
    """diffusers' train_unconditional loop on unnoise's images and data order; returns (EMA network, seconds)."""
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from diffusers.training_utils import EMAModel

    torch.manual_seed(0)
    model = diffusers_network()
    print(f"diffusers UNet2DModel: {sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
    scheduler = DDPMScheduler(num_train_timesteps=T)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    schedule = get_cosine_schedule_with_warmup(optimizer, warmup, steps)
    ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4)
    images = unnoise.open_dataset(recipes.DATA, SIZE).images
    order = DataOrder(len(images), BATCH, seed=0)  # the images unnoise's runs see, in their order
    started = time.perf_counter()
    for step in range(steps):
        generator = torch.Generator().manual_seed(step_seed(0, step))
        x0 = to_model_range(images[order.indices(step)])
        x0 = horizontal_flip(x0, torch.rand(len(x0), generator=generator) < 0.5)
        noise = torch.randn(x0.shape, generator=generator)
        t = torch.randint(0, T, (len(x0),), generator=generator)
        loss = F.mse_loss(model(scheduler.add_noise(x0, noise, t), t), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        ema.step(model.parameters())
        if step % 100 == 0 or step == steps - 1:
            elapsed = time.perf_counter() - started
            print(f"diffusers step {step + 1}/{steps} loss {loss.item():.4f} {(step + 1) * BATCH / elapsed:.0f} img/s")
    seconds = time.perf_counter() - started
    ema_model = copy.deepcopy(model)
    ema.copy_to(ema_model.parameters())
    return ema_model.eval(), seconds


def diffusers_run(out: Path, steps: int, lr: float, warmup: int) -> tuple[torch.nn.Module, float]:
    """The trained EMA network of one diffusers row, trained now or read back from OUT_DIR."""
    folder = out / f"diffusers_lr{lr:g}_w{warmup}"
    weights, timing = folder / "ema.safetensors", folder / "train.json"
    if weights.exists():
        model = diffusers_network()
        model.load_state_dict(load_file(weights))
        return model.eval(), json.loads(timing.read_text())["seconds"]
    model, seconds = train_diffusers(steps, lr, warmup)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, weights)
    timing.write_text(json.dumps({"seconds": seconds, "steps": steps}) + "\n")
    return model, seconds


def diffusers_rows(model, reference, n: int, seconds: float, steps: int, label: str) -> list[dict]:
    rows = []
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    x_T = torch.randn((n, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(0))
    for name, spacing in DIFFUSERS_SAMPLERS:
        scheduler = make_scheduler(name, betas, "eps", spacing)
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            drawn = [sample_with_scheduler(model, scheduler, batch, 20, generator) for batch in x_T.split(250)]
        images = images_from_model_range(torch.cat(drawn))
        measured = evaluate_images(images, reference, "cpu", progress=False)
        rows.append(
            {
                "recipe": label,
                "train_steps": steps,
                "train_minutes": round(seconds / 60, 1),
                "sampler": f"{name} ({spacing or 'default'} spacing)",
                "nfe": 20,
                "kid": measured["kid"],
                "kid_std": measured["kid_std"],
                "fid": measured["fid"],
                "n": n,
                "ref_n": measured["ref_n"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    best = {}
    for row in rows:
        if row["recipe"] not in best or row["fid"] < best[row["recipe"]]["fid"]:
            best[row["recipe"]] = row
    lines = [
        "| recipe | steps | train minutes | sampler (NFE) | KID x 1000 | FID |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        mark = "**" if best[row["recipe"]] is row else ""
        lines.append(
            f"| {row['recipe']} | {row['train_steps']} | {row['train_minutes']} | {mark}{row['sampler']} "
            f"({row['nfe']}){mark} | {1000 * row['kid']:.1f} +- {kid_std_text(row['kid_std'], 1000, 1)} | "
            f"{mark}{row['fid']:.1f}{mark} |"
        )
    return "\n".join(lines) + f"\n\nKID and FID at n = {rows[0]['n']} against ref_n = {rows[0]['ref_n']}.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1400)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--unnoise", default="celeba32,article", help="recipes.py names, comma-separated")
    parser.add_argument("--diffusers", default="1e-4:500,5e-4:100,1e-3:100,2e-3:100", help="LR:WARMUP,...")
    arguments = parser.parse_args()
    reference = load_reference(arguments.ref)
    arguments.out.mkdir(parents=True, exist_ok=True)
    rows = []

    def save() -> None:
        (arguments.out / "race.json").write_text(json.dumps(rows, indent=1) + "\n")

    for name in filter(None, arguments.unnoise.split(",")):
        folder = recipes.train(name, arguments.out, arguments.steps)
        rows += [{**row, "recipe": f"unnoise {name}"} for row in recipes.measure(folder, reference, arguments.n)]
        save()
    for point in filter(None, arguments.diffusers.split(",")):
        lr, warmup = float(point.split(":")[0]), int(point.split(":")[1])
        model, seconds = diffusers_run(arguments.out, arguments.steps, lr, warmup)
        label = f"diffusers lr {lr:g}, warm-up {warmup}"
        rows += diffusers_rows(model, reference, arguments.n, seconds, arguments.steps, label)
        save()
    print(markdown(rows))


if __name__ == "__main__":
    main()
