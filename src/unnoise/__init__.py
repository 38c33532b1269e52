"""unnoise: train denoising diffusion models on your images and generate new ones.

The Python API the command line is a thin shell over:

    import unnoise
    run = unnoise.train(unnoise.preset("demo"), out="runs/demo")      # or load_run("runs/demo")
    images = run.sample(16, steps=250, seed=0)                         # (16, 3, 32, 32) uint8; or
    run.sample(SampleSettings(...))
    unnoise.save_grid(images, "grid.png")
"""

from .api import Run, SampleSettings, evaluate, evaluate_run, faithfulness, load_run, train
from .cli.demo import demo
from .config import PRESETS, DataConfig, DiffusionConfig, ModelConfig, RunConfig, TrainConfig, override, preset
from .data import ImageDataset, open_dataset
from .errors import UserError
from .metrics.classifier import load_classifier, train_classifier
from .viz import save_grid
from .viz.noising import noising_strip

__version__ = "0.1.0"

__all__ = [
    "Run",
    "SampleSettings",
    "demo",
    "load_run",
    "noising_strip",
    "train",
    "PRESETS",
    "DataConfig",
    "DiffusionConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "override",
    "preset",
    "ImageDataset",
    "open_dataset",
    "UserError",
    "save_grid",
    "evaluate",
    "evaluate_run",
    "faithfulness",
    "load_classifier",
    "train_classifier",
]
