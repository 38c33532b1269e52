"""What users import: train a run, load a run, sample from it, evaluate it.

import unnoise
run = unnoise.train(unnoise.preset("demo"), out="runs/demo")
images = unnoise.load_run("runs/demo").sample(16, steps=250, seed=0)   # (16, 3, 32, 32) uint8
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from .config import CAPTIONED_KINDS, PRESETS, RunConfig, validate
from .data import open_dataset
from .errors import UserError
from .families import objective_for
from .metrics.faithfulness import faithfulness
from .metrics.quality import evaluate, evaluate_run
from .models import build_model
from .runs import CONFIG_FILE, LOCK_FILE, RESUMABLE, Run, checkpoint_step, holds_run, latest_checkpoint, load_run
from .sampling.settings import SampleSettings
from .storage.lock import lock_if_free
from .train.clip_conditions import clip_training_conditions
from .train.conditions import training_conditions
from .train.distributed import init_distributed
from .train.eval_hook import EvalHook, reference_for_training
from .train.hooks import CheckpointHook, LogHook, ProgressHook, SampleGridHook, TensorBoardHook, tensorboard_available
from .train.trainer import Trainer

log = logging.getLogger("unnoise")

__all__ = ["CONFIG_FILE", "Run", "SampleSettings", "evaluate", "evaluate_run", "faithfulness", "load_run", "train"]


def check_resumable(saved: RunConfig, requested: RunConfig) -> None:
    """A resumed run keeps its settings: UserError naming those that differ (other than RESUMABLE ones)."""
    saved_flat, requested_flat = flatten(saved.to_dict()), flatten(requested.to_dict())
    changed = sorted(
        key
        for key in saved_flat
        if saved_flat[key] != requested_flat.get(key) and key not in RESUMABLE | {"preset", "condition.attribute_names"}
    )
    if changed:
        raise UserError(
            f"a resumed run keeps its settings; these differ from its config.json: {', '.join(changed)}",
            settings=tuple(changed),
        )


def flatten(raw: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def train(
    config: RunConfig | None = None, out: str | Path = "runs/demo", resume: bool = False, progress: bool = True
) -> Run:
    """Train (or with resume=True continue) the run in folder `out`; returns it with its EMA weights.

    A run stopped by Ctrl-C, SIGTERM or its max_minutes budget saves a checkpoint and returns early
    (run.status says which; run.finished is False). Raises UserError for bad settings, data or folders.
    """
    run_dir = Path(out)
    config = prepare_run_folder(run_dir, config, resume)
    validate(config)
    if not config.data.source:
        named = config.preset in PRESETS and PRESETS[config.preset].data.source
        raise UserError(
            "data.source is empty: set it to builtin, celeba:PATH or folder:PATH"
            if named
            else f"preset {config.preset!r} has no default data: set data.source to celeba:PATH or folder:PATH",
            settings=("data.source",),
        )
    build_model(config.model, config.data.image_size)  # reject impossible shapes before decoding any data
    clip_run = adopt_clip_run(config, resume)
    objective_for(config).check_config()  # and sampling defaults the run could never use
    if config.train.eval_every:
        reference_for_training(config)  # a missing or wrong-size reference, before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    distributed, device = init_distributed(config.train.device)
    with contextlib.ExitStack() as stack:
        if distributed.is_main:  # the other processes of a torchrun train the same run beside it
            stack.enter_context(training_alone(run_dir, resume))
        return train_in(run_dir, config, resume, progress, distributed, device, clip_run)


@contextlib.contextmanager
def training_alone(run_dir: Path, resume: bool) -> Iterator[None]:
    """Hold run_dir's lock while a run trains in it: a second `train` into the folder would interleave its logs and
    checkpoints with the first's. Raises UserError when another process holds it, or (for a new run) when the
    folder came to hold a run since prepare_run_folder looked."""
    with lock_if_free(run_dir / LOCK_FILE) as held:
        if not held:
            raise UserError(
                f"another process is training in {run_dir}: wait for it to finish, or train into another folder",
                settings=("out",),
            )
        if not resume:
            refuse_existing_run(run_dir)
        yield


def train_in(run_dir: Path, config: RunConfig, resume: bool, progress: bool, distributed, device, clip_run) -> Run:
    """train()'s work once its checks have passed and it holds the folder."""
    dataset = open_dataset(
        config.data.source,
        config.data.image_size,
        config.data.split,
        progress=progress and distributed.is_main,
        captions=config.condition.kind in CAPTIONED_KINDS,
    )
    hooks: list = [CheckpointHook()]  # on every rank: its saves include a collective finiteness check
    if distributed.is_main:
        hooks = [ProgressHook(progress), LogHook(), *hooks, SampleGridHook()]
        if tensorboard_available():
            hooks.append(TensorBoardHook())
        if config.train.eval_every:
            hooks.append(EvalHook())
    conditions = training_conditions(config, dataset, device, progress and distributed.is_main)
    trainer = Trainer(config, dataset, run_dir, device, hooks, distributed, conditions)
    if clip_run is not None:  # a new unCLIP run starts from the CLIP it names (a resumed one has it in its weights)
        for model in (trainer.model, trainer.ema.model):
            model.clip.load_state_dict(clip_run.model.state_dict())
    start = trainer.resume() if resume else 0
    if config.condition.kind == "clip":
        trainer.conditions = clip_training_conditions(config, dataset, trainer.model.clip, conditions, device)
    if distributed.is_main:
        config.save(run_dir / CONFIG_FILE)
        if progress:
            for warning in trainer.objective.warnings():
                log.warning(warning)
            if config.model.family == "clip" and len(dataset) < trainer.global_batch:
                log.warning(
                    f"a CLIP batch of {trainer.global_batch} from {len(dataset)} images holds some image twice, each "
                    "copy the other's wrong answer; use a batch size below the number of images"
                )
            t = config.train
            log.info(
                f"{trainer.objective.describe_parameters(trainer.model)} | data: "
                f"{dataset.source}, {len(dataset)} images at {config.data.image_size}x{config.data.image_size} | "
                "device: "
                f"{device}, {trainer.precision}{', compiled' if t.compile else ''} | global batch "
                f"{trainer.global_batch} = "
                f"{t.batch_size} per process x {distributed.world_size} processes x {t.accum} accumulation | "
                f"steps {start} -> {t.steps}{budget_summary(t)}{condition_summary(config)}"
            )
            log.info(trainer.data_placement)
    status = trainer.fit()
    return Run(run_dir, config, trainer.ema.model, trainer.step, status)


def adopt_derived(config: RunConfig, saved: RunConfig) -> None:
    """What a run derived when it began, kept on resume: an unCLIP run's CLIP (its settings come from the CLIP)."""
    if saved.condition.kind == "clip" and config.condition.kind == "clip":
        config.condition.clip_network = saved.condition.clip_network
        config.model.clip_dim, config.model.clip_text_layers = saved.model.clip_dim, saved.model.clip_text_layers


def adopt_clip_run(config: RunConfig, resume: bool) -> Run | None:
    """For a new unCLIP run: the CLIP run of condition.clip_run, its settings recorded in condition.clip_network."""
    condition = config.condition
    if condition.kind != "clip" or (resume and condition.clip_network):
        return None
    if not Path(condition.clip_run).is_dir():
        raise UserError(
            f"condition.clip_run {condition.clip_run} is not a folder: name the folder of a CLIP run (train-clip)",
            settings=("condition.clip_run",),
        )
    clip_run = load_run(condition.clip_run, device="cpu")
    if clip_run.family != "clip":
        raise UserError(
            f"condition.clip_run {condition.clip_run} is a {clip_run.family} run, not a CLIP run (train-clip)",
            settings=("condition.clip_run",),
        )
    condition.clip_network = {
        "model": clip_run.config.model.__dict__ | {"channel_mult": list(clip_run.config.model.channel_mult)},
        "image_size": clip_run.config.data.image_size,
        "run": str(Path(condition.clip_run).resolve()),
        "step": clip_run.step,
    }
    # The run's own CLIP settings are the CLIP's: config.json says what the run holds.
    config.model.clip_dim = clip_run.config.model.clip_dim
    config.model.clip_text_layers = clip_run.config.model.clip_text_layers
    return clip_run


def budget_summary(train) -> str:
    """Where a run under max_minutes ends: at its budget, if that comes first (the schedule ends with it)."""
    return f", or sooner where the {train.max_minutes:g}-minute budget runs out" if train.max_minutes else ""


def condition_summary(config: RunConfig) -> str:
    c = config.condition
    if c.kind == "none":
        return ""
    if config.model.family == "clip":
        return f" | pairs each image with one of its {c.captions_per_image} captions per step"
    told = {
        "attributes": f"{len(c.attribute_names)} attributes",
        "text": f"{c.captions_per_image} captions per image",
        "clip": "CLIP image embeddings (the prior: on captions)",
    }[c.kind]
    return f" | conditioned on {told}, dropped {c.drop_prob:.0%} of the time for guidance"


def refuse_existing_run(run_dir: Path) -> None:
    """A new run never trains over another: UserError when run_dir holds one."""
    if holds_run(run_dir):
        raise UserError(
            f"{run_dir} already holds a run: resume it, or train into another folder", settings=("resume", "out")
        )


def prepare_run_folder(run_dir: Path, config: RunConfig | None, resume: bool) -> RunConfig:
    """The config to train with: the saved one on resume (with allowed changes), else the given one (for a new run).

    Creates nothing: train() makes the folder once every check has passed."""
    if resume:
        if not holds_run(run_dir):
            raise UserError(f"nothing to resume in {run_dir}: it holds no run (no {CONFIG_FILE})")
        saved = RunConfig.load(run_dir / CONFIG_FILE)
        if config is None:
            return saved
        adopt_derived(config, saved)
        check_resumable(saved, config)
        latest = latest_checkpoint(run_dir)
        if latest is not None and config.train.steps < checkpoint_step(latest):
            raise UserError(
                f"{run_dir} has trained {checkpoint_step(latest)} steps, more than the {config.train.steps} asked for: "
                "give more steps to continue it",
                settings=("train.steps",),
            )
        return config
    refuse_existing_run(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"out {run_dir} is a file, not a folder", settings=("out",))
    if config is None:
        raise UserError("train() needs a config (e.g. unnoise.preset('demo')) unless it resumes a run")
    return config
