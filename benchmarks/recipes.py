"""Which recipe gives the best faces for a CPU budget: formulations and objectives at equal training images.

    python benchmarks/recipes.py --ref REF.npz --out OUT_DIR [--steps 700] [--n 500] [--only NAME,NAME]

REF.npz: `unnoise fid-stats celeba:../shared/data/celeba-halfres --size 32 --n 2000 --out REF.npz`. Every recipe
trains the same network (preset celeba32's U-Net, 1.5M parameters) on celeba-halfres at 32x32 with batches of 32 for
--steps steps (700: 2.5 minutes on 2 idle cores; a recipe with smaller batches takes the steps that see the same
images), one run after another (never two at once), then draws --n
images with each of its formulation's samplers at about 20 NFE and measures KID and FID against REF. Trained runs
are kept in OUT_DIR and reused. Prints a Markdown table and writes OUT_DIR/recipes.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import unnoise
from unnoise.metrics import evaluate_images, load_reference
from unnoise.metrics.kid import kid_std_text
from unnoise.runs import LOG_FILE, read_log

DATA = "celeba:../shared/data/celeba-halfres"

# name -> (what it is, config overrides on preset celeba32); every row but the first names its loss, so that a change
# of the preset changes only the first.
RECIPES = {
    "celeba32": ("the preset as it is (flow matching, t uniform, L1, its own batch size)", {}),
    "ddpm-minsnr": (
        "the preset until 2026-11-30: DDPM eps, L2, min-SNR-5, T = 1000",
        {
            "diffusion.objective": "ddpm",
            "diffusion.loss": "l2",
            "diffusion.weighting": "min_snr",
            "diffusion.min_snr_gamma": 5.0,
        },
    ),
    "article": (
        "the article's objective: DDPM eps, L1, uniform, T = 300",
        {
            "diffusion.objective": "ddpm",
            "diffusion.loss": "l1",
            "diffusion.timesteps": 300,
            "diffusion.weighting": "uniform",
        },
    ),
    "article-lr2e-3": (
        "the article's objective at learning rate 2e-3 (the lever that helped flow matching)",
        {
            "diffusion.objective": "ddpm",
            "diffusion.loss": "l1",
            "diffusion.timesteps": 300,
            "diffusion.weighting": "uniform",
            "train.lr": 2e-3,
        },
    ),
    "article-b16": (
        "the article's objective at learning rate 2e-3, batches of 16 (both levers of celeba32)",
        {
            "diffusion.objective": "ddpm",
            "diffusion.loss": "l1",
            "diffusion.timesteps": 300,
            "diffusion.weighting": "uniform",
            "train.lr": 2e-3,
            "train.batch_size": 16,
        },
    ),
    "edm": (
        "EDM: preconditioned, log-normal sigma, L2",
        {"diffusion.objective": "edm", "diffusion.loss": "l2", "diffusion.weighting": "uniform"},
    ),
    "flow": (
        "flow matching, t uniform, L2 (celeba32 until its L1)",
        {"diffusion.objective": "flow", "diffusion.loss": "l2", "diffusion.weighting": "uniform"},
    ),
    "flow-l1": (
        "flow matching, t uniform, L1",
        {"diffusion.objective": "flow", "diffusion.loss": "l1", "diffusion.weighting": "uniform"},
    ),
    "flow-l1-lr5e-4": (
        "flow matching, L1, learning rate 5e-4 (the preset's 1e-3 halved)",
        {"diffusion.objective": "flow", "diffusion.loss": "l1", "train.lr": 5e-4},
    ),
    "flow-l1-lr2e-3": (
        "flow matching, L1, learning rate 2e-3 (the preset's 1e-3 doubled)",
        {"diffusion.objective": "flow", "diffusion.loss": "l1", "train.lr": 2e-3},
    ),
    "flow-l1-lr4e-3": (
        "flow matching, L1, learning rate 4e-3 (the preset's 1e-3 times four)",
        {"diffusion.objective": "flow", "diffusion.loss": "l1", "train.lr": 4e-3},
    ),
    "flow-l1-patch2-wide": (
        "flow matching, L1, on 2x2 patches (the U-Net at 16x16) twice as wide: about the same cost per image",
        {"diffusion.objective": "flow", "diffusion.loss": "l1", "model.patch_size": 2, "model.base_channels": 64},
    ),
    "flow-l1-b16": (
        "flow matching, L1, learning rate 2e-3, batches of 16: twice the steps at equal images",
        {"diffusion.objective": "flow", "diffusion.loss": "l1", "train.lr": 2e-3, "train.batch_size": 16},
    ),
    "flow-l1-b8": (
        "flow matching, L1, learning rate 2e-3, batches of 8: four times the steps at equal images",
        {"diffusion.objective": "flow", "diffusion.loss": "l1", "train.lr": 2e-3, "train.batch_size": 8},
    ),
    "flow-l1-b16-uncertainty": (
        "celeba32's recipe (flow matching, L1, 2e-3, batches of 16) with EDM2's learned per-noise-level weighting",
        {
            "diffusion.objective": "flow",
            "diffusion.loss": "l1",
            "diffusion.weighting": "uncertainty",
            "train.lr": 2e-3,
            "train.batch_size": 16,
        },
    ),
    "edm-wide-b16": (
        "EDM, L2, ln sigma ~ N(0, 1.6^2) (about flow matching's spread of noise levels), 2e-3, batches of 16",
        {
            "diffusion.objective": "edm",
            "diffusion.loss": "l2",
            "diffusion.weighting": "uniform",
            "diffusion.p_mean": 0.0,
            "diffusion.p_std": 1.6,
            "train.lr": 2e-3,
            "train.batch_size": 16,
        },
    ),
    "edm-wide-b16-uncertainty": (
        "edm-wide-b16 with EDM2's learned per-noise-level weighting",
        {
            "diffusion.objective": "edm",
            "diffusion.loss": "l2",
            "diffusion.weighting": "uncertainty",
            "diffusion.p_mean": 0.0,
            "diffusion.p_std": 1.6,
            "train.lr": 2e-3,
            "train.batch_size": 16,
        },
    ),
    "flow-logit": (
        "flow matching, t logit-normal, L2",
        {
            "diffusion.objective": "flow",
            "diffusion.loss": "l2",
            "diffusion.weighting": "uniform",
            "diffusion.time_sampling": "logit_normal",
        },
    ),
}
# Samplers at about 20 network evaluations, per formulation: (sampler, steps). Heun spends about 2K (run.nfe says).
SAMPLERS = {
    "ddpm": [("ddpm", 20), ("dpmpp_2m", 20)],
    "edm": [("heun", 10), ("dpmpp_2m", 20)],
    "flow": [("euler", 20), ("heun", 11)],
}


# The protocol: --steps steps of 32 images, 100 of them warm-up, learning rate 1e-3 (what every row had when the
# tables were measured). Row celeba32 keeps the preset's own batch size and rate, other rows name theirs where they
# differ; a recipe with another batch size takes the steps, and warm-up steps, that see the same images.
PROTOCOL_BATCH, PROTOCOL_WARMUP, PROTOCOL_LR = 32, 100, 1e-3


def config_of(name: str, steps: int) -> unnoise.RunConfig:
    base = unnoise.preset("celeba32")
    own = {"train.batch_size": base.train.batch_size, "train.lr": base.train.lr} if name == "celeba32" else {}
    own |= RECIPES[name][1]
    batch = own.get("train.batch_size", PROTOCOL_BATCH)
    scale = PROTOCOL_BATCH / batch
    overrides = {
        "data.source": DATA,
        "train.steps": round(steps * scale),
        "train.batch_size": batch,
        "train.warmup_steps": round(PROTOCOL_WARMUP * scale),
        "train.lr": PROTOCOL_LR,
        "train.sample_every": 0,
        **own,
    }
    return unnoise.override(base, overrides)


def train(name: str, out: Path, steps: int) -> Path:
    folder = out / name
    if not (folder / "model.safetensors").exists():
        unnoise.train(config_of(name, steps), out=folder, progress=True)
    return folder


def measure(folder: Path, reference, n: int) -> list[dict]:
    run = unnoise.load_run(folder, device="cpu")
    seconds = float(read_log(folder / LOG_FILE)[-1]["elapsed_s"])
    rows = []
    for sampler, steps in SAMPLERS[run.config.diffusion.objective]:
        settings = unnoise.SampleSettings(n=n, sampler=sampler, steps=steps, seed=0, batch_size=250)
        started = time.perf_counter()
        images = run.sample(settings)
        drawn = time.perf_counter() - started
        result = evaluate_images(images, reference, "cpu", progress=False)
        rows.append(
            {
                "recipe": folder.name,
                "what": RECIPES[folder.name][0],
                "train_steps": run.step,
                "train_minutes": round(seconds / 60, 1),
                "sampler": sampler,
                "steps": steps,
                "nfe": run.nfe(settings),
                "kid": result["kid"],
                "kid_std": result["kid_std"],
                "fid": result["fid"],
                "n": n,
                "ref_n": result["ref_n"],
                "sampling_s": round(drawn, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| recipe | what | steps | minutes | sampler (NFE) | KID x 1000 | FID |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['recipe']} | {row['what']} | {row['train_steps']} | {row['train_minutes']} | "
            f"{row['sampler']} ({row['nfe']}) | {1000 * row['kid']:.1f} +- {kid_std_text(row['kid_std'], 1000, 1)} | "
            f"{row['fid']:.1f} |"
        )
    return "\n".join(lines) + f"\n\nKID and FID at n = {rows[0]['n']} against ref_n = {rows[0]['ref_n']}.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--only", default=",".join(RECIPES), help="comma-separated recipe names")
    arguments = parser.parse_args()
    reference = load_reference(arguments.ref)
    rows = []
    for name in arguments.only.split(","):
        rows += measure(train(name, arguments.out, arguments.steps), reference, arguments.n)
        (arguments.out / "recipes.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
