"""unnoise: train denoising diffusion models on your images and generate new ones.

The Python API the command line is a thin shell over:

    import unnoise
    run = unnoise.train(unnoise.preset("demo"), out="runs/demo")      # or load_run("runs/demo")
    images = run.sample(16, steps=250, seed=0)                         # (16, 3, 32, 32) uint8; or
    run.sample(SampleSettings(...))
    unnoise.save_grid(images, "grid.png")

CLIP and unCLIP:

    clip = unnoise.train(unnoise.with_family(unnoise.preset("celeba32"), "clip", {"data.source": "celeba:PATH"}),
                         out="runs/clip")
    unnoise.clip_eval("runs/clip", "celeba:PATH")                      # retrieval, zero-shot attributes
    judge = unnoise.load_clip_judge("runs/clip"); judge.score(images, prompts)   # CLIP score
    unclip = unnoise.load_run("runs/unclip")                           # trained with condition.kind clip
    unclip.sample(8, prompt="a smiling woman"); unclip.variations("face.jpg", n=8)
"""

from .api import Run, SampleSettings, evaluate, evaluate_run, faithfulness, load_run, train
from .cli.demo import demo
from .config import (
    PRESETS,
    DataConfig,
    DiffusionConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    override,
    preset,
    with_family,
)
from .data import ImageDataset, open_dataset
from .errors import UserError
from .metrics.classifier import load_classifier, train_classifier
from .metrics.clip_eval import clip_eval
from .metrics.clip_judge import ClipJudge, load_clip_judge
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
    "with_family",
    "clip_eval",
    "ClipJudge",
    "load_clip_judge",
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
