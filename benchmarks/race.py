"""The race a user runs before choosing: diffusers' train_unconditional recipe against unnoise's default preset.

    python benchmarks/race.py --ref REF.npz --out OUT_DIR [--steps 700] [--n 1000] [--lr 1e-4] [--warmup 500]

Both train the same network size on the same images in the same order, one after the other: unnoise's preset
celeba32 (its U-Net) and diffusers' examples/unconditional_image_generation recipe on a UNet2DModel of matched
widths (DDPMScheduler defaults: linear betas, T = 1000, eps; AdamW at --lr with betas (0.95, 0.999), weight decay
1e-6; --warmup steps of linear warm-up then cosine decay; EMA with diffusers' warm-up (inv_gamma 1, power 3/4,
max 0.9999); gradient clipping at 1.0; random flips). Each is sampled with its best 20-NFE sampler (unnoise: the
run's default and DPM-Solver++; diffusers: its DDPM and DPM-Solver++ schedulers) and measured by KID and FID at
n = --n against REF, with wall time. A tuned diffusers row is a second call with other --lr / --warmup.
Needs the `bench` extra (diffusers).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers_schedulers import make_scheduler, sample_with_scheduler
from train_throughput import MATCHED

import unnoise
from unnoise.data.transforms import horizontal_flip, images_from_model_range, to_model_range
from unnoise.metrics import evaluate_images, load_reference
from unnoise.train.data_order import DataOrder, step_seed

DATA = "celeba:../shared/data/celeba-halfres"
SIZE, BATCH = 32, 32


def diffusers_network():
    """UNet2DModel with the widths of preset celeba32's U-Net (train_throughput.build_diffusers at these settings)."""
    from train_throughput import build_diffusers

    preset = unnoise.preset("celeba32").model
    MATCHED[SIZE] = dict(
        base_channels=preset.base_channels,
        channel_mult=preset.channel_mult,
        blocks_per_level=preset.blocks_per_level,
        attention_resolutions=preset.attention_resolutions,
    )
    return build_diffusers(SIZE)


def train_diffusers(out: Path, steps: int, lr: float, warmup: int) -> tuple[torch.nn.Module, float]:
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from diffusers.training_utils import EMAModel

    torch.manual_seed(0)
    model = diffusers_network()
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    schedule = get_cosine_schedule_with_warmup(optimizer, warmup, steps)
    ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4)
    images = unnoise.open_dataset(DATA, SIZE).images
    order = DataOrder(len(images), BATCH, seed=0)  # the images unnoise's run sees, in its order
    started = time.perf_counter()
    for step in range(steps):
        generator = torch.Generator().manual_seed(step_seed(0, step))
        x0 = to_model_range(images[order.indices(step)])
        x0 = horizontal_flip(x0, torch.rand(len(x0), generator=generator) < 0.5)
        noise = torch.randn(x0.shape, generator=generator)
        t = torch.randint(0, 1000, (len(x0),), generator=generator)
        loss = F.mse_loss(model(scheduler.add_noise(x0, noise, t), t), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        ema.step(model.parameters())
        if step % 100 == 0:
            print(f"diffusers step {step}/{steps} loss {loss.item():.4f}", flush=True)
    seconds = time.perf_counter() - started
    ema_model = copy.deepcopy(model)
    ema.copy_to(ema_model.parameters())
    return ema_model.eval(), seconds


def diffusers_rows(model, reference, n: int, seconds: float, label: str) -> list[dict]:
    rows = []
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    for name, spacing in (("diffusers_ddim", "trailing"), ("diffusers_dpmsolver++", None)):
        scheduler = make_scheduler(name, betas, "eps", spacing)
        generator = torch.Generator().manual_seed(1)
        x_T = torch.randn((n, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(0))
        images = torch.cat(
            [
                images_from_model_range(sample_with_scheduler(model, scheduler, batch, 20, generator))
                for batch in x_T.split(250)
            ]
        )
        rows.append(row(label, f"{name} ({spacing or 'default'} spacing)", 20, images, reference, seconds))
    return rows


def unnoise_rows(out: Path, steps: int, reference, n: int) -> list[dict]:
    folder = out / "unnoise"
    if not (folder / "model.safetensors").exists():
        config = unnoise.override(unnoise.preset("celeba32"), {"data.source": DATA, "train.steps": steps})
        unnoise.train(config, out=folder)
    run = unnoise.load_run(folder, device="cpu")
    seconds = float(unnoise.runs.read_log(folder / unnoise.runs.LOG_FILE)[-1]["elapsed_s"])
    rows = []
    for sampler in (None, "dpmpp_2m"):
        settings = run.settings(unnoise.SampleSettings(n=n, sampler=sampler, steps=20, batch_size=250))
        rows.append(
            row(
                "unnoise celeba32",
                f"{settings.sampler} ({settings.spacing})",
                run.nfe(settings),
                run.sample(settings),
                reference,
                seconds,
            )
        )
    return rows


def row(recipe: str, sampler: str, nfe: int, images: torch.Tensor, reference, train_seconds: float) -> dict:
    measured = evaluate_images(images, reference, "cpu", progress=False)
    result = {
        "recipe": recipe,
        "sampler": sampler,
        "nfe": nfe,
        "kid": measured["kid"],
        "fid": measured["fid"],
        "n": measured["n"],
        "ref_n": measured["ref_n"],
        "train_minutes": round(train_seconds / 60, 1),
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--skip-unnoise", action="store_true", help="only the diffusers row (e.g. a tuned one)")
    arguments = parser.parse_args()
    reference = load_reference(arguments.ref)
    arguments.out.mkdir(parents=True, exist_ok=True)
    rows = [] if arguments.skip_unnoise else unnoise_rows(arguments.out, arguments.steps, reference, arguments.n)
    model, seconds = train_diffusers(arguments.out, arguments.steps, arguments.lr, arguments.warmup)
    rows += diffusers_rows(
        model, reference, arguments.n, seconds, f"diffusers lr={arguments.lr:g} warm-up {arguments.warmup}"
    )
    (arguments.out / f"race_lr{arguments.lr:g}_w{arguments.warmup}.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("| recipe | sampler | NFE | KID x 1000 | FID | train minutes |\n|---|---|---|---|---|---|")
    for r in rows:
        cells = [r["recipe"], r["sampler"], r["nfe"], f"{1000 * r['kid']:.1f}", f"{r['fid']:.1f}", r["train_minutes"]]
        print("| " + " | ".join(map(str, cells)) + " |")
    print(f"\nKID and FID at n = {rows[0]['n']} against ref_n = {rows[0]['ref_n']}.")


if __name__ == "__main__":
    main()
