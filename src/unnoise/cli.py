"""The command line: parses arguments, calls the Python API, turns UserError into one line and exit code 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import api
from .config import PRESETS, SECTIONS, RunConfig, override, preset
from .diffusion.samplers import SAMPLERS, count_nfe
from .diffusion.timesteps import SPACINGS
from .errors import UserError
from .eval import fid_stats
from .demo import demo
from .evaluation import evaluate
from .pictures import noising_strip
from .train.distributed import is_main_process, shutdown_distributed
from .viz import save_grid, save_images, save_png

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit code 2, like every other user error."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UserError(f"{self.prog}: {message}")


def int_tuple(text: str) -> tuple[int, ...]:
    """'1,2,2' -> (1, 2, 2); '' or 'none' -> ()."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,2,2, got {text!r}") from None


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One --flag per config field (e.g. --batch-size, --channel-mult), each overriding the preset."""
    for section_name, section_type in SECTIONS.items():
        group = parser.add_argument_group(f"{section_name} settings (override the preset)")
        for field in dataclasses.fields(section_type):
            if (section_name, field.name) == ("data", "source"):
                continue  # that one is --data
            flag = "--" + field.name.replace("_", "-")
            default = getattr(section_type(), field.name)
            options: dict[str, Any] = {"dest": f"{section_name}.{field.name}", "default": argparse.SUPPRESS}
            if isinstance(default, bool):
                options["action"] = argparse.BooleanOptionalAction
            elif isinstance(default, tuple):
                options.update(type=int_tuple, metavar="N,N,...")
            else:
                options.update(type=type(default), metavar=field.name.upper())
            group.add_argument(flag, **options)


def add_sampler_flags(parser: argparse.ArgumentParser, default: str | None = "ddpm") -> None:
    """--sampler, --steps and the options only some samplers take (a sampler refuses the others)."""
    parser.add_argument("--sampler", default=default, choices=list(SAMPLERS), help="sampler (default ddpm)")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: all T); NFE is printed")
    parser.add_argument("--eta", type=float, default=None, help="ddim: 0 deterministic, 1 = ddpm")
    parser.add_argument("--spacing", choices=SPACINGS, default=None, help="ddpm, ddim, dpmpp_*: timestep spacing")
    parser.add_argument("--variance", choices=("beta_tilde", "beta"), default=None, help="ddpm: posterior variance")
    parser.add_argument("--rho", type=float, default=None, help="euler, heun: Karras sigma spacing (default 7)")


def sampler_options(arguments: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(arguments, name) for name in ("eta", "spacing", "variance", "rho")}


def build_parser() -> Parser:
    parser = Parser(prog="unnoise", description="Train denoising diffusion models on images and generate new ones.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = commands.add_parser("train", help="train a model (or --resume one)")
    train.add_argument("--data", help="builtin | celeba:PATH | folder:PATH (default: the preset's)")
    train.add_argument("--preset", default=None, choices=list(PRESETS), help="starting settings (default: demo)")
    train.add_argument("--out", help="run folder (default: runs/PRESET)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    add_config_flags(train)

    sample = commands.add_parser("sample", help="generate images from a trained run")
    sample.add_argument("run", type=Path, help="run folder")
    sample.add_argument("--n", type=int, default=64, help="number of images")
    sample.add_argument("--out", type=Path, help="grid PNG (default: RUN/samples.png)")
    sample.add_argument("--seed", type=int, default=0)
    add_sampler_flags(sample)
    sample.add_argument("--images-dir", type=Path, help="also write one PNG per image here")
    sample.add_argument("--trajectory", type=Path, help="also write a strip of x_t along the chain for 4 samples")
    sample.add_argument("--batch-size", type=int, default=64)
    sample.add_argument("--device", default="auto")

    noise = commands.add_parser("noise", help="picture the forward process: an image becoming noise")
    noise.add_argument("image", type=Path)
    noise.add_argument("--out", type=Path, default=Path("noising.png"))
    noise.add_argument("--timesteps", type=int_tuple, default=(0, 50, 100, 200, 400, 700, 999))
    noise.add_argument("--schedule", default="linear")
    noise.add_argument("--num-timesteps", type=int, default=1000, help="T of the schedule")
    noise.add_argument("--size", type=int, default=64)
    noise.add_argument("--seed", type=int, default=0)

    demo = commands.add_parser("demo", help="train preset demo on built-in faces, then sample and draw")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"))
    demo.add_argument("--quiet", action="store_true")
    add_evaluation_parsers(commands)
    return parser


# --- Evaluation (unnoise.eval): reference statistics, then FID and KID of a run or a folder of images. ---

def add_evaluation_parsers(commands) -> None:
    fid_stats = commands.add_parser("fid-stats", help="compute FID reference statistics of a data set")
    fid_stats.add_argument("data", help="builtin | celeba:PATH | folder:PATH, read as for training")
    fid_stats.add_argument("--size", type=int, default=64, help="image size, as the model trained on it (default 64)")
    fid_stats.add_argument("--out", type=Path, required=True, help="statistics file to write (.npz)")
    fid_stats.add_argument("--split", default="train", help="train | valid | test | all (default train)")
    fid_stats.add_argument("--n", type=int, default=None, help="use the first N images (default: all)")
    fid_stats.add_argument("--device", default="auto")
    fid_stats.add_argument("--quiet", action="store_true", help="no progress output")

    evaluate = commands.add_parser("eval", help="FID and KID of a run's samples or a folder of images, as one JSON line")
    evaluate.add_argument("target", type=Path, help="run folder, or a folder of images at the reference's size")
    evaluate.add_argument("--ref", type=Path, required=True, help="statistics file from unnoise fid-stats")
    evaluate.add_argument("--n", type=int, default=None, help="images to evaluate (default: a run draws the reference's n, a folder gives all)")
    add_sampler_flags(evaluate, default=None)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--batch-size", type=int, default=64, help="sampling batch size")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--quiet", action="store_true", help="no progress output")


def command_train(arguments: argparse.Namespace) -> int:
    overrides = {key: value for key, value in vars(arguments).items() if "." in key}
    if arguments.data is not None:
        overrides["data.source"] = arguments.data
    if arguments.resume:
        if not arguments.out:
            raise UserError("--resume needs --out RUN_DIR, the run to continue")
        config = override(RunConfig.load(Path(arguments.out) / api.CONFIG_FILE), overrides) if overrides else None
    else:
        config = override(preset(arguments.preset or "demo"), overrides)
    out = Path(arguments.out or f"runs/{arguments.preset or 'demo'}")
    try:
        run = api.train(config, out=out, resume=arguments.resume, progress=not arguments.quiet)
    finally:
        shutdown_distributed()
    if not is_main_process():
        return 0
    if run.status == "interrupted":
        print(f"stopped at step {run.step}; checkpoint saved. Continue with: unnoise train --resume --out {out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if run.status == "out_of_time":
        print(f"--max-minutes spent at step {run.step} of {run.config.train.steps}; checkpoint saved "
              f"(continue with: unnoise train --resume --out {out})")
        return 0
    print(f"trained {out} to step {run.step}: weights {out / 'model.safetensors'}, samples in {out / 'samples'}")
    return 0


def command_sample(arguments: argparse.Namespace) -> int:
    run = api.load_run(arguments.run, device=arguments.device)
    options = sampler_options(arguments)
    started = time.perf_counter()
    images = run.sample(arguments.n, steps=arguments.steps, seed=arguments.seed, batch_size=max(1, arguments.batch_size),
                        sampler=arguments.sampler, **options)
    seconds = time.perf_counter() - started
    out = save_grid(images, arguments.out or arguments.run / "samples.png")
    nfe = count_nfe(arguments.sampler, arguments.steps or run.schedule.timesteps)
    print(f"wrote {out} ({arguments.n} images, {arguments.sampler}, NFE {nfe} per image, {seconds:.1f} s)")
    if arguments.images_dir:
        save_images(images, arguments.images_dir)
        print(f"wrote {arguments.n} images to {arguments.images_dir}")
    if arguments.trajectory:
        strip = run.sample_trajectory(4, steps=arguments.steps, seed=arguments.seed, sampler=arguments.sampler, **options)
        save_png(strip, arguments.trajectory)
        print(f"wrote {arguments.trajectory}")
    return 0


def command_noise(arguments: argparse.Namespace) -> int:
    strip = noising_strip(arguments.image, arguments.timesteps, arguments.schedule, arguments.num_timesteps, arguments.size, arguments.seed)
    print(f"wrote {save_png(strip, arguments.out)}")
    return 0


def command_demo(arguments: argparse.Namespace) -> int:
    pictures = demo(arguments.out, progress=not arguments.quiet)
    print("demo done. Look at:")
    for name, path in pictures.items():
        print(f"  {name:<11} {path}")
    return 0


def command_fid_stats(arguments: argparse.Namespace) -> int:
    reference = fid_stats(
        arguments.data, arguments.out, image_size=arguments.size, split=arguments.split, n=arguments.n,
        device=arguments.device, progress=not arguments.quiet,
    )
    print(f"wrote {arguments.out}: statistics of {reference.n} images at {reference.image_size}x{reference.image_size}")
    return 0


def command_eval(arguments: argparse.Namespace) -> int:
    result = evaluate(
        arguments.target, arguments.ref, n=arguments.n, steps=arguments.steps, seed=arguments.seed,
        batch_size=max(1, arguments.batch_size), sampler=arguments.sampler, device=arguments.device,
        progress=not arguments.quiet, **sampler_options(arguments),
    )
    print(json.dumps(result))
    return 0


COMMANDS = {"train": command_train, "sample": command_sample, "noise": command_noise, "demo": command_demo,
            "fid-stats": command_fid_stats, "eval": command_eval}


def configure_logging() -> None:
    """Warnings as 'unnoise: warning: ...', information as plain lines, both on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LevelFormatter())
    logger = logging.getLogger("unnoise")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


class LevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return f"unnoise: warning: {message}" if record.levelno >= logging.WARNING else message


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    try:
        arguments = build_parser().parse_args(argv)
        return COMMANDS[arguments.command](arguments)
    except UserError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"unnoise: error: {message.removeprefix('unnoise: ')}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("unnoise: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
