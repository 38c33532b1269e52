"""The command line: parses arguments, calls the Python API, turns UserError into one line and exit code 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import logging
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import api
from .compare import compare, markdown_table as comparison_table, write_comparison
from .config import DERIVED_FIELDS, PRESETS, SECTIONS, RunConfig, override, preset, with_family
from .diffusion.samplers import SAMPLERS
from .diffusion.timesteps import SPACINGS
from .errors import UserError
from .eval import fid_stats
from .demo import demo
from .data import open_dataset
from .devices import resolve_device
from .eval.classifier import train_classifier
from .evaluation import evaluate
from .faithfulness import DEFAULT_SCALES, faithfulness, markdown_table, write_faithfulness
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


FLAG_NAMES = {"condition.kind": "--condition", "model.family": "--model"}  # where the field's own name would be too vague a flag


def float_tuple(text: str) -> tuple[float, ...]:
    """'0,1,3' -> (0.0, 1.0, 3.0)."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 0,1,3, got {text!r}") from None
    if not all(math.isfinite(value) for value in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One --flag per config field (e.g. --batch-size, --channel-mult), each overriding the preset."""
    for section_name, section_type in SECTIONS.items():
        group = parser.add_argument_group(f"{section_name} settings (override the preset)")
        for field in dataclasses.fields(section_type):
            if f"{section_name}.{field.name}" in DERIVED_FIELDS:
                continue
            flag = FLAG_NAMES.get(f"{section_name}.{field.name}", "--" + field.name.replace("_", "-"))
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


def add_request_flags(parser: argparse.ArgumentParser) -> None:
    """What a conditional run is asked for, and how strongly it is guided."""
    parser.add_argument("--attrs", help="runs trained with --condition attributes: e.g. Smiling,Eyeglasses,-Male")
    parser.add_argument("--prompt", help='runs trained with --condition text: e.g. "a smiling woman with blond hair"')
    parser.add_argument("--negative-prompt", help="guide away from this prompt instead of from no prompt")
    parser.add_argument("--guidance", type=float, default=api.DEFAULT_GUIDANCE,
                        help=f"classifier-free guidance scale w: 1 = conditional model alone, larger = more faithful (default {api.DEFAULT_GUIDANCE})")


def request_options(arguments: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(arguments, name) for name in ("attrs", "prompt", "negative_prompt", "guidance")}


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
    add_request_flags(sample)
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
    evaluate.add_argument("--ref", type=Path, help="statistics file from unnoise fid-stats (required, except with --faithfulness)")
    evaluate.add_argument("--n", type=int, default=None, help="images to evaluate (default: a run draws the reference's n, a folder gives all)")
    add_sampler_flags(evaluate, default=None)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--batch-size", type=int, default=64, help="sampling batch size")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--quiet", action="store_true", help="no progress output")
    faithful = evaluate.add_argument_group("faithfulness of a conditional run (with --faithfulness)")
    faithful.add_argument("--faithfulness", action="store_true",
                          help="for each guidance scale: how often the requested attributes appear (and FID with --ref); "
                               "samples with --steps, default 50 here")
    faithful.add_argument("--classifier", type=Path, help="folder from unnoise train-classifier, the judge")
    faithful.add_argument("--guidance-scales", type=float_tuple, default=DEFAULT_SCALES, metavar="W,W,...",
                          help="default " + ",".join(f"{scale:g}" for scale in DEFAULT_SCALES))
    faithful.add_argument("--request", action="append", dest="requests", metavar="ATTRS",
                          help="an attribute request like Smiling,-Male (repeat it; default: a fixed set)")
    faithful.add_argument("--per-request", type=int, default=16, help="images per request and scale (default 16)")
    faithful.add_argument("--out", type=Path, help="folder for the table, curves and grids (default RUN/faithfulness)")

    versus = commands.add_parser("compare", help="runs of any model (diffusion, vae, gan) side by side: a table and a figure")
    versus.add_argument("runs", type=Path, nargs="+", help="run folders")
    versus.add_argument("--ref", type=Path, required=True, help="statistics file from unnoise fid-stats, at the runs' size")
    versus.add_argument("--n", type=int, default=None, help="images per run (default: the reference's n)")
    versus.add_argument("--sampler", default="ddpm", choices=list(SAMPLERS), help="diffusion runs' sampler (default ddpm)")
    versus.add_argument("--steps", type=int, default=50, help="diffusion runs' sampling steps (default 50)")
    versus.add_argument("--out", type=Path, default=Path("comparison"),
                        help="writes OUT.md, OUT.json and OUT.png (default ./comparison)")
    versus.add_argument("--seed", type=int, default=0)
    versus.add_argument("--batch-size", type=int, default=64)
    versus.add_argument("--device", default="auto")
    versus.add_argument("--quiet", action="store_true", help="no progress output")

    page = commands.add_parser("serve", help="a web page to generate images from a run, step by step (needs the web extra)")
    page.add_argument("run", type=Path, help="run folder")
    page.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    page.add_argument("--port", type=int, default=7860)
    page.add_argument("--max-images", type=int, default=16, help="most images one request may ask for (default 16)")
    page.add_argument("--max-steps", type=int, default=250, help="most sampling steps one request may ask for (default 250)")
    page.add_argument("--queue-size", type=int, default=8, help="requests that may wait; more get 'try again' (default 8)")
    page.add_argument("--device", default="auto")

    classifier = commands.add_parser("train-classifier", help="train the attribute classifier that judges faithfulness")
    classifier.add_argument("--data", required=True, help="builtin | celeba:PATH, as the runs it will judge")
    classifier.add_argument("--size", type=int, default=32, help="image size, as the runs it will judge (default 32)")
    classifier.add_argument("--out", type=Path, required=True, help="folder to write the classifier to")
    classifier.add_argument("--split", default="train", help="train | valid | test | all (default train)")
    classifier.add_argument("--steps", type=int, default=1500)
    classifier.add_argument("--batch-size", type=int, default=64)
    classifier.add_argument("--lr", type=float, default=2e-3)
    classifier.add_argument("--width", type=int, default=32, help="channels of the first layer")
    classifier.add_argument("--seed", type=int, default=0)
    classifier.add_argument("--device", default="auto")
    classifier.add_argument("--quiet", action="store_true", help="no progress output")


def command_train(arguments: argparse.Namespace) -> int:
    overrides = {key: value for key, value in vars(arguments).items() if "." in key}
    if arguments.data is not None:
        overrides["data.source"] = arguments.data
    if arguments.resume:
        if not arguments.out:
            raise UserError("--resume needs --out RUN_DIR, the run to continue")
        config = override(RunConfig.load(Path(arguments.out) / api.CONFIG_FILE), overrides) if overrides else None
    else:
        config = with_family(preset(arguments.preset or "demo"), overrides.get("model.family", "diffusion"), overrides)
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
    options = {**sampler_options(arguments), **request_options(arguments)}
    started = time.perf_counter()
    images = run.sample(arguments.n, steps=arguments.steps, seed=arguments.seed, batch_size=max(1, arguments.batch_size),
                        sampler=arguments.sampler, **options)
    seconds = time.perf_counter() - started
    out = save_grid(images, arguments.out or arguments.run / "samples.png")
    nfe = run.nfe(arguments.sampler, arguments.steps)
    how = f"{arguments.sampler}, " if run.family == "diffusion" else f"{run.family.upper()}, "
    asked = arguments.attrs or arguments.prompt
    guided = f", asked {asked!r} with guidance {arguments.guidance:g}" if asked else ""
    doubled = " on a doubled batch" if asked and arguments.guidance not in (0, 1) else ""
    print(f"wrote {out} ({arguments.n} images, {how}NFE {nfe} per image{doubled}{guided}, {seconds:.1f} s)")
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
    if arguments.faithfulness:
        return command_faithfulness(arguments)
    if arguments.ref is None:
        raise UserError("eval needs --ref STATS (from unnoise fid-stats), unless it measures --faithfulness")
    result = evaluate(
        arguments.target, arguments.ref, n=arguments.n, steps=arguments.steps, seed=arguments.seed,
        batch_size=max(1, arguments.batch_size), sampler=arguments.sampler, device=arguments.device,
        progress=not arguments.quiet, **sampler_options(arguments),
    )
    print(json.dumps(result))
    return 0


def command_faithfulness(arguments: argparse.Namespace) -> int:
    if arguments.classifier is None:
        raise UserError("--faithfulness needs --classifier DIR (make one with unnoise train-classifier)")
    run = api.load_run(arguments.target, device=arguments.device)
    result = faithfulness(
        run, arguments.classifier, scales=arguments.guidance_scales, requests=arguments.requests,
        per_request=arguments.per_request, sampler=arguments.sampler or "ddpm", steps=arguments.steps or 50,
        seed=arguments.seed, reference=arguments.ref, batch_size=max(1, arguments.batch_size), progress=not arguments.quiet,
        **sampler_options(arguments),
    )
    written = write_faithfulness(result, arguments.out or arguments.target / "faithfulness", run.config.data.image_size)
    print(markdown_table(result), end="")
    print("wrote " + ", ".join(str(path) for path in written.values()))
    return 0


def command_compare(arguments: argparse.Namespace) -> int:
    if arguments.steps < 1:
        raise UserError(f"--steps must be at least 1, got {arguments.steps}")
    rows, grids = compare(arguments.runs, arguments.ref, n=arguments.n, sampler=arguments.sampler, steps=arguments.steps,
                          seed=arguments.seed, batch_size=max(1, arguments.batch_size), device=arguments.device,
                          progress=not arguments.quiet)
    written = write_comparison(rows, grids, arguments.out)
    print(comparison_table(rows), end="")
    print("wrote " + ", ".join(str(path) for path in written.values()))
    return 0


def command_serve(arguments: argparse.Namespace) -> int:
    from .web import Limits, serve

    if min(arguments.max_images, arguments.max_steps, arguments.queue_size) < 1 or not 0 < arguments.port < 65536:
        raise UserError("--max-images, --max-steps and --queue-size must be at least 1, and --port a port number")
    limits = Limits(max_images=arguments.max_images, max_steps=arguments.max_steps, queue_size=arguments.queue_size)
    serve(arguments.run, arguments.host, arguments.port, limits, arguments.device)
    return 0


def command_train_classifier(arguments: argparse.Namespace) -> int:
    dataset = open_dataset(arguments.data, arguments.size, arguments.split, progress=not arguments.quiet)
    if arguments.steps < 1 or arguments.batch_size < 1 or arguments.width < 8 or arguments.lr <= 0:
        raise UserError("--steps and --batch-size must be at least 1, --width at least 8, --lr positive")
    classifier = train_classifier(dataset, arguments.steps, arguments.batch_size, arguments.lr, arguments.width,
                                  arguments.seed, resolve_device(arguments.device), progress=not arguments.quiet)
    classifier.save(arguments.out)
    mean = sum(classifier.accuracy.values()) / len(classifier.accuracy)
    print(f"wrote {arguments.out}: {len(classifier.accuracy)} attributes, mean validation accuracy {mean:.3f}")
    return 0


COMMANDS = {"train": command_train, "sample": command_sample, "noise": command_noise, "demo": command_demo,
            "fid-stats": command_fid_stats, "eval": command_eval, "compare": command_compare,
            "serve": command_serve, "train-classifier": command_train_classifier}


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


FLAGS_TAKING_NEGATIVES = {"--attrs", "--request"}


def attach_negative_values(argv: Sequence[str]) -> list[str]:
    """['--attrs', '-Male,Smiling'] -> ['--attrs=-Male,Smiling']: argparse would take '-Male' for a flag."""
    joined: list[str] = []
    for argument in argv:
        if joined and joined[-1] in FLAGS_TAKING_NEGATIVES and argument.startswith("-") and not argument.startswith("--"):
            joined[-1] = f"{joined[-1]}={argument}"
        else:
            joined.append(argument)
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    try:
        arguments = build_parser().parse_args(attach_negative_values(sys.argv[1:] if argv is None else argv))
        return COMMANDS[arguments.command](arguments)
    except UserError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"unnoise: error: {message.removeprefix('unnoise: ')}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("unnoise: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
