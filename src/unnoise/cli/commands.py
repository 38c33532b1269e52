"""The commands: each parses nothing and decides nothing, it calls the Python API and prints what came back."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from .. import api
from ..config import RunConfig, override, preset, with_family
from ..data import open_dataset
from ..data.decoding import open_image
from ..data.transforms import images_from_model_range
from ..devices import resolve_device
from ..errors import UserError
from ..families.editing import deterministic, tool_steps
from ..metrics import fid_stats
from ..metrics.classifier import train_classifier
from ..metrics.clip_eval import clip_eval
from ..metrics.clip_eval import markdown_tables as clip_eval_tables
from ..metrics.compare import compare, write_comparison
from ..metrics.compare import markdown_table as comparison_table
from ..metrics.faithfulness import faithfulness, markdown_table, write_faithfulness
from ..runs import latest_checkpoint
from ..sampling.pictures import masks_for_run
from ..sampling.progress import sampling_bar
from ..storage.atomic import describe_os_error, make_folder, refuse_unwritable_folder, write_text_atomic
from ..train.checkpoint import read_progress
from ..train.distributed import is_main_process, shutdown_distributed
from ..viz import check_picture_path, display_scale, labelled_rows, save_grid, save_images, save_picture, save_png
from ..viz.noising import noising_strip, square_pixels
from .demo import demo
from .flags import as_flags, attach_dashed_values, config_overrides, sample_fields
from .parser import UsageError, build_parser, parse_command_line

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def command_train(arguments: argparse.Namespace) -> int:
    overrides = config_overrides(arguments)
    if arguments.resume:
        if not arguments.out:
            raise UserError("--resume needs --out RUN_DIR, the run to continue")
        saved = RunConfig.load(Path(arguments.out) / api.CONFIG_FILE) if overrides or arguments.preset else None
        if arguments.preset and arguments.preset != saved.preset:
            raise UserError(f"{arguments.out} trains preset {saved.preset}; a resumed run keeps it: leave out --preset")
        config = override(saved, overrides) if overrides else None
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
        print(
            f"stopped at step {run.step}; checkpoint saved. Continue with: unnoise {arguments.command} --resume --out "
            f"{out}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if run.status == "out_of_time":
        budget = run.config.train.max_minutes
        # A resume under a budget the run had already spent stops at once: the minutes to beat are those it trained.
        spent = max(budget, read_progress(latest_checkpoint(out)).get("seconds_trained", 0.0) / 60)
        print(
            f"--max-minutes {budget:g} spent at step {run.step}, where the schedule ended; checkpoint saved (the "
            f"budget is the run's: to train on, unnoise train --resume --out {out} --max-minutes M with M above "
            f"{spent:.3g})"
        )
        return 0
    curve = out / "loss.png"
    shown = f"samples in {out / 'samples'}" if run.objective.makes_images else f"log {out / 'log.csv'}"
    shown += f", loss curve {curve}" if curve.exists() and not run.objective.makes_images else ""
    print(f"trained {out} to step {run.step}: weights {out / 'model.safetensors'}, {shown}")
    return 0


def command_clip_eval(arguments: argparse.Namespace) -> int:
    result = clip_eval(
        arguments.clip,
        arguments.data,
        split=arguments.split,
        n=arguments.n,
        classifier=arguments.classifier,
        device=str(resolve_device(arguments.device)),
        progress=not arguments.quiet,
    )
    tables = clip_eval_tables(result)
    if arguments.out:
        make_folder(arguments.out)
        write_text_atomic(arguments.out / "clip_eval.md", tables + "\n")
        write_text_atomic(arguments.out / "clip_eval.json", json.dumps(result, indent=2) + "\n")
    print(tables)
    return 0


def command_train_clip(arguments: argparse.Namespace) -> int:
    family = getattr(arguments, "model.family", "clip")
    if family != "clip":
        raise UserError(f"train-clip trains model clip; leave out --model {family} (or use unnoise train)")
    setattr(arguments, "model.family", "clip")
    if not arguments.out:
        arguments.out = f"runs/clip-{arguments.preset or 'demo'}"
    return command_train(arguments)


def command_sample(arguments: argparse.Namespace) -> int:
    run = api.load_run(arguments.run, device=arguments.device)
    settings = run.settings(**sample_fields(arguments))
    if arguments.trajectory and run.objective.draws_in_one_pass:  # refuse before any work is done or written
        # A trajectory watches the intermediate steps: any on_step asks for them, and a one-pass family has none.
        run.objective.check_sampling(settings, on_step=lambda *step: None)
    out = check_picture_path(arguments.out or arguments.run / "samples.png")  # before the work, as every write below
    if arguments.images_dir:
        refuse_unwritable_folder(arguments.images_dir / "sample_00000.png")
    if arguments.trajectory:
        check_picture_path(arguments.trajectory)
    started = time.perf_counter()
    with sampling_bar(run, settings, enabled=sys.stderr.isatty() and not arguments.quiet) as on_step:
        images = run.sample(settings, on_step)
    seconds = time.perf_counter() - started
    out = save_grid(images, out)
    print(
        f"wrote {out} ({settings.n} images, {run.objective.describe_sampling(settings)}, NFE {run.nfe(settings)} per "
        "image"
        f"{request_summary(settings)}, {seconds:.1f} s)"
    )
    if arguments.images_dir:
        save_images(images, arguments.images_dir)
        print(f"wrote {settings.n} images to {arguments.images_dir}")
    if arguments.trajectory:
        save_png(run.sample_trajectory(settings.replace(n=4, batch_size=4)), arguments.trajectory)
        print(f"wrote {arguments.trajectory}")
    return 0


def request_summary(settings) -> str:
    """What a conditional run was asked, as it ran: an empty prompt is a request for the empty caption."""
    if not settings.asks:
        return ""
    asked = f"attrs {settings.attrs!r}" if settings.attrs is not None else f"prompt {settings.prompt!r}"
    away = f" away from {settings.negative_prompt!r}" if settings.negative_prompt is not None else ""
    doubled = " on a doubled batch" if settings.guidance not in (0, 1) else ""
    return f", asked {asked} with guidance {settings.guidance:g}{away}{doubled}"


def command_noise(arguments: argparse.Namespace) -> int:
    """With --run, the strip the run's web page draws: its own forward process (every diffusion setting; flow and EDM
    runs on their own levels) at its image size."""
    if arguments.num_timesteps is not None and arguments.num_timesteps < 2:
        raise UserError(f"--num-timesteps must be at least 2, got {arguments.num_timesteps}")
    if arguments.timesteps is not None and not arguments.timesteps:
        raise UserError("--timesteps needs at least one timestep, e.g. 0,100,500,999")
    if arguments.size is not None and arguments.size < 8:
        raise UserError(f"--size must be at least 8, got {arguments.size}")
    if arguments.run is None:
        strip = noising_strip(
            arguments.image,
            arguments.timesteps,
            arguments.schedule or "linear",
            arguments.num_timesteps or 1000,
            arguments.size or 64,
            arguments.seed,
        )
    else:
        if arguments.schedule is not None or arguments.num_timesteps is not None:
            raise UserError("--run brings the run's own schedule: leave out --schedule and --num-timesteps")
        run = api.load_run(arguments.run, device="cpu")
        pixels = square_pixels(open_image(arguments.image), arguments.size or run.config.data.image_size)
        strip = run.noising_strip(pixels, arguments.timesteps, arguments.seed)
    print(f"wrote {save_png(strip, arguments.out)}")
    return 0


def command_demo(arguments: argparse.Namespace) -> int:
    pictures = demo(arguments.out, progress=not arguments.quiet)
    print("demo done. Look at:")
    for name, path in pictures.items():
        print(f"  {name:<11} {path}")
    return 0


def command_fid_stats(arguments: argparse.Namespace) -> int:
    refuse_unwritable_folder(arguments.out)  # before reading a single image
    reference = fid_stats(
        arguments.data,
        arguments.out,
        image_size=arguments.size,
        split=arguments.split,
        n=arguments.n,
        device=arguments.device,
        progress=not arguments.quiet,
        exclude=arguments.exclude,
    )
    print(
        f"wrote {arguments.out}: statistics of {reference.n} images at {reference.image_size}x{reference.image_size} "
        f"({reference.source})"
    )
    return 0


def command_eval(arguments: argparse.Namespace) -> int:
    if arguments.faithfulness:
        return command_faithfulness(arguments)
    judged = {"--classifier": arguments.classifier, "--clip": arguments.clip}
    judged |= {"--request": arguments.requests, "--prompt": arguments.prompts}
    given = [flag for flag, value in judged.items() if value]
    if given:  # else the FID below would be of unconditional images, whatever the flags asked
        raise UserError(f"{', '.join(given)} only apply with --faithfulness")
    if arguments.ref is None:
        raise UserError("eval needs --ref STATS (from unnoise fid-stats), unless it measures --faithfulness")
    result = api.evaluate(
        arguments.target,
        arguments.ref,
        device=arguments.device,
        progress=not arguments.quiet,
        **sample_fields(arguments),
    )
    print(json.dumps(result))
    return 0


def command_faithfulness(arguments: argparse.Namespace) -> int:
    run = api.load_run(arguments.target, device=arguments.device)
    result = faithfulness(
        run,
        arguments.classifier,
        scales=arguments.guidance_scales,
        requests=arguments.requests,
        prompts=arguments.prompts,
        per_request=arguments.per_request,
        reference=arguments.ref,
        clip=arguments.clip,
        progress=not arguments.quiet,
        **sample_fields(arguments),
    )
    written = write_faithfulness(result, arguments.out or arguments.target / "faithfulness", run.config.data.image_size)
    print(markdown_table(result), end="")
    print("wrote " + ", ".join(str(path) for path in written.values()))
    return 0


def command_compare(arguments: argparse.Namespace) -> int:
    rows, grids = compare(
        arguments.runs, arguments.ref, device=arguments.device, progress=not arguments.quiet, **sample_fields(arguments)
    )
    written = write_comparison(rows, grids, arguments.out)
    print(comparison_table(rows), end="")
    print("wrote " + ", ".join(str(path) for path in written.values()))
    return 0


def command_serve(arguments: argparse.Namespace) -> int:
    from ..web import Limits, serve

    limits = Limits(max_images=arguments.max_images, max_steps=arguments.max_steps, queue_size=arguments.queue_size)
    serve(arguments.run, arguments.host, arguments.port, limits, arguments.device)
    return 0


def command_train_classifier(arguments: argparse.Namespace) -> int:
    dataset = open_dataset(arguments.data, arguments.size, arguments.split, progress=not arguments.quiet)
    classifier = train_classifier(
        dataset,
        arguments.steps,
        arguments.batch_size,
        arguments.lr,
        arguments.width,
        arguments.seed,
        resolve_device(arguments.device),
        progress=not arguments.quiet,
    )
    classifier.save(arguments.out)
    mean = sum(classifier.accuracy.values()) / len(classifier.accuracy)
    print(f"wrote {arguments.out}: {len(classifier.accuracy)} attributes, mean validation accuracy {mean:.3f}")
    return 0


def command_edit(arguments: argparse.Namespace) -> int:
    out = check_picture_path(arguments.out)  # before any work: a bad --out is one line, not lost minutes
    run = api.load_run(arguments.run, device=arguments.device)
    images = run.pictures(arguments.image)
    settings = run.editing_settings(None, 1, **sample_fields(arguments))
    started = time.perf_counter()
    edits = run.edit(images, arguments.strength, settings, n=settings.n)
    strip = editing_strip(run, [[images, edits]], ["input", *numbered("edit", len(edits))])
    steps = tool_steps(run.objective, "edit", settings, strength=arguments.strength)
    print(
        f"wrote {save_picture(strip, out)} ({plural(len(edits), 'edit')} at strength {arguments.strength + 0:g}, "
        f"{plural(steps, 'solver step')} ({run.objective.describe_sampling(settings)})"
        f"{request_summary(run.settings(settings))}, {time.perf_counter() - started:.1f} s)"
    )
    return 0


def command_inpaint(arguments: argparse.Namespace) -> int:
    out = check_picture_path(arguments.out)
    run = api.load_run(arguments.run, device=arguments.device)
    images = run.pictures(arguments.image)
    redraw = masks_for_run(arguments.mask, run.config.data.image_size)
    settings = run.editing_settings(None, 1, **sample_fields(arguments))
    steps = tool_steps(
        run.objective, "inpaint", settings, jump_length=arguments.jump_length, resample=arguments.resample
    )  # refuses a resample that no jump would carry out, before any work
    started = time.perf_counter()
    filled = run.inpaint(images, redraw, settings, arguments.jump_length, arguments.resample, n=settings.n)
    hole = torch.where(redraw, torch.full_like(images, 128), images)
    strip = editing_strip(run, [[images, hole, filled]], ["input", "mask", *numbered("inpainted", len(filled))])
    resampling = (
        f"jumping back {arguments.jump_length} levels, each stretch walked {arguments.resample} times"
        if arguments.resample > 1
        else "no resampling"
    )
    print(
        f"wrote {save_picture(strip, out)} ({plural(len(filled), 'inpainting')} of {int(redraw.sum())} pixels, "
        f"{plural(steps, 'solver step')} ({resampling}; {run.objective.describe_sampling(settings)})"
        f"{request_summary(run.settings(settings))}, {time.perf_counter() - started:.1f} s)"
    )
    return 0


def command_invert(arguments: argparse.Namespace) -> int:
    if arguments.n is not None:
        raise UserError("invert makes one inversion per picture: leave out --n")
    if arguments.seed is not None:
        raise UserError("invert draws no noise (the inversion is deterministic): leave out --seed")
    out = check_picture_path(arguments.out)
    run = api.load_run(arguments.run, device=arguments.device)
    images = run.pictures([str(path) for path in arguments.images])
    settings = run.editing_settings(None, len(images), **sample_fields(arguments))
    started = time.perf_counter()
    inversion = run.invert(images, settings)
    rows = [
        [images[k : k + 1], inversion.noise[k : k + 1], inversion.reconstruction[k : k + 1]] for k in range(len(images))
    ]
    strip = editing_strip(run, rows, ["input", "noise", "reconstructed"])
    chosen = deterministic(run.objective, settings)
    errors = ", ".join(f"{error:.2f}" for error in inversion.error.tolist())
    psnrs = ", ".join(decibels(value) for value in inversion.psnr.tolist())
    print(
        f"wrote {save_picture(strip, out)} (inverted with {run.objective.describe_sampling(chosen)}"
        f"{request_summary(chosen)}, {time.perf_counter() - started:.1f} s)"
    )
    print(f"reconstruction error per picture: RMSE {errors} in pixel values 0-255 (PSNR {psnrs})")
    return 0


def decibels(psnr: float) -> str:
    """A PSNR as people read it: '50.3 dB', or 'exact' for a reconstruction equal to its picture (inf dB)."""
    return "exact" if math.isinf(psnr) else f"{psnr:.1f} dB"


def command_interpolate(arguments: argparse.Namespace) -> int:
    if arguments.seed is not None:
        raise UserError("interpolate takes its ends from --seeds or --images: leave out --seed")
    out = check_picture_path(arguments.out)
    run = api.load_run(arguments.run, device=arguments.device)
    ends = (
        tuple(arguments.seeds)
        if arguments.seeds is not None
        else run.pictures([str(path) for path in arguments.images])
    )
    settings = run.editing_settings(None, 8, **sample_fields(arguments))
    started = time.perf_counter()
    frames = run.interpolate(ends, settings, n=settings.n)
    weights = [f"{k / (len(frames) - 1):.2f}" for k in range(len(frames))]
    if isinstance(ends, tuple):
        strip = editing_strip(run, [[frames]], weights)
        between = f"seeds {ends[0]} and {ends[1]}"
    else:
        strip = editing_strip(run, [[ends[:1], frames, ends[1:]]], ["A", *weights, "B"])
        between = "the two pictures' inversions"
    chosen = deterministic(run.objective, settings)
    print(
        f"wrote {save_picture(strip, out)} ({len(frames)} frames between {between}, "
        f"{run.objective.describe_sampling(chosen)}{request_summary(chosen)}, {time.perf_counter() - started:.1f} s)"
    )
    return 0


def command_variations(arguments: argparse.Namespace) -> int:
    out = check_picture_path(arguments.out)
    run = api.load_run(arguments.run, device=arguments.device)
    settings = run.editing_settings(None, 8, **sample_fields(arguments))
    started = time.perf_counter()
    if arguments.interpolate:
        images = run.pictures([str(path) for path in arguments.interpolate], setting="images")
        frames = run.embedding_walk(images, settings, n=settings.n)
        weights = [f"{k / max(1, len(frames) - 1):.2f}" for k in range(len(frames))]
        strip = editing_strip(run, [[images[:1], frames, images[1:]]], ["A", *weights, "B"])
        made = f"{len(frames)} frames between the two pictures' CLIP embeddings"
    else:
        images = run.pictures(arguments.image)
        made_images = run.variations(images, settings, n=settings.n)
        strip = editing_strip(run, [[images, made_images]], ["input", *numbered("variation", len(made_images))])
        made = plural(len(made_images), "variation")
    print(
        f"wrote {save_picture(strip, out)} ({made}, {run.objective.describe_sampling(settings)}, NFE "
        f"{run.nfe(settings)} per image, guidance {run.settings(settings).guidance:g}, "
        f"{time.perf_counter() - started:.1f} s)"
    )
    return 0


def plural(count: int, name: str) -> str:
    return f"{count} {name}{'s' if count != 1 else ''}"


def numbered(name: str, count: int) -> list[str]:
    return [name] if count == 1 else [f"{name} {k + 1}" for k in range(count)]


def editing_strip(run, rows, labels):
    """Rows of pictures (each a list of uint8 (K, 3, H, W) or [-1, 1] noise tensors, joined), labelled under each
    column."""
    joined = [
        torch.cat([part if part.dtype == torch.uint8 else images_from_model_range(part) for part in row])
        for row in rows
    ]
    return labelled_rows(joined, labels, scale=display_scale(run.config.data.image_size))


COMMANDS = {
    "train": command_train,
    "train-clip": command_train_clip,
    "clip-eval": command_clip_eval,
    "variations": command_variations,
    "sample": command_sample,
    "noise": command_noise,
    "demo": command_demo,
    "fid-stats": command_fid_stats,
    "eval": command_eval,
    "compare": command_compare,
    "serve": command_serve,
    "train-classifier": command_train_classifier,
    "edit": command_edit,
    "inpaint": command_inpaint,
    "invert": command_invert,
    "interpolate": command_interpolate,
}


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
        arguments = parse_command_line(build_parser(), attach_dashed_values(sys.argv[1:] if argv is None else argv))
        return COMMANDS[arguments.command](arguments)
    except UserError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        command = error.prog if isinstance(error, UsageError) else "unnoise"  # argparse's "unnoise sample: error: ..."
        print(f"{command}: error: {as_flags(message, error.settings)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as error:  # a file the command reads or writes: no space, a folder in its place, ... (one line)
        print(f"unnoise: error: {file_problem(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("unnoise: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def file_problem(error: OSError) -> str:
    """'PATH: REASON' for an operating system error on a file, e.g. 'runs/a/log.csv: No space left on device'."""
    reason = describe_os_error(error)
    return f"{error.filename}: {reason}" if error.filename else reason
