"""Which training settings make an attribute-conditional model follow requests soonest? A small ablation.

Each recipe trains the same 16x16 U-Net for 300 steps on 1,024 built-in faces, then a classifier
trained on those faces judges the default faithfulness requests (12 on the built-in faces, 24 images
each, 20 DDPM steps) at guidance 0 (unconditional), 1 and 3.

    python benchmarks/conditioning_recipes.py
"""

from __future__ import annotations

import tempfile
import time

import torch

import unnoise
from unnoise.config import DataConfig, DiffusionConfig, ModelConfig, RunConfig, TrainConfig
from unnoise.data import open_dataset
from unnoise.metrics.classifier import train_classifier
from unnoise.metrics.faithfulness import faithfulness

RECIPES = {
    "eps, uniform weighting": dict(),
    "eps, min-SNR": dict(weighting="min_snr"),
    "eps, min-SNR, scale-shift": dict(weighting="min_snr", scale_shift=True),
    "v, min-SNR, scale-shift": dict(weighting="min_snr", scale_shift=True, prediction="v"),
}
SCALES = (0.0, 1.0, 3.0)


def recipe_config(weighting: str = "uniform", scale_shift: bool = False, prediction: str = "eps") -> RunConfig:
    config = RunConfig(
        preset="ablation",
        data=DataConfig(source="builtin:1024", image_size=16),
        model=ModelConfig(
            base_channels=16,
            channel_mult=(1, 2),
            blocks_per_level=1,
            attention_resolutions=(8,),
            dropout=0.0,
            scale_shift=scale_shift,
        ),
        diffusion=DiffusionConfig(timesteps=100, weighting=weighting, prediction=prediction),
        train=TrainConfig(
            steps=300,
            batch_size=32,
            lr=3e-3,
            warmup_steps=20,
            ema_decay=0.95,
            checkpoint_every=0,
            log_every=50,
            device="cpu",
        ),
    )
    config.condition.kind = "attributes"
    return config


def main() -> None:
    torch.manual_seed(0)
    judge = train_classifier(
        open_dataset("builtin:1024", 16, progress=False), steps=150, batch_size=32, width=8, progress=False
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; 300 steps of 32 images, 16x16, guidance "
        f"{SCALES}"
    )
    print("| recipe | " + " | ".join(f"w={w:g}" for w in SCALES) + " | seconds |")
    print("|---|" + "---|" * (len(SCALES) + 1))
    for name, settings in RECIPES.items():
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            run = unnoise.train(recipe_config(**settings), out=f"{folder}/run", progress=False)
            result = faithfulness(run, judge, scales=SCALES, per_request=24, steps=20, progress=False)
        cells = " | ".join(f"{100 * row['accuracy']:.1f}%" for row in result["rows"])
        print(f"| {name} | {cells} | {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
