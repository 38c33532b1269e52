"""The argument parser: one subcommand per workflow; flags of settings come from flags.py."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from ..config import PRESETS
from ..diffusion.inpainting import DEFAULT_JUMP_LENGTH, DEFAULT_RESAMPLE
from ..errors import UserError
from ..families.clip import clip_reads
from ..metrics.faithfulness import DEFAULT_SCALES
from .flags import add_config_flags, add_prior_guidance_flag, add_sample_flags, float_tuple, int_tuple


class UsageError(UserError):
    """A command line argparse refused; `prog` is the command it was for ("unnoise sample")."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit code 2, like every other user error."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UsageError(self.prog, message)


def parse_command_line(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """The parsed command line; flags the command does not take are a UsageError naming the command (argparse would
    name only "unnoise"), and for train-clip, which hides what a CLIP does not read, where to look."""
    arguments, unknown = parser.parse_known_args(argv)
    if unknown:
        hint = ""
        if arguments.command == "train-clip":
            hint = " (train-clip takes only the settings a CLIP reads; unnoise train-clip --help lists them)"
        raise UsageError(f"unnoise {arguments.command}", f"unrecognized arguments: {' '.join(unknown)}{hint}")
    return arguments


def file_path(text: str) -> Path:
    """A file to write: Path("") would be ".", the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a file name, got an empty one")
    return Path(text)


def build_parser() -> Parser:
    parser = Parser(prog="unnoise", description="Train denoising diffusion models on images and generate new ones.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    add_training_flags(commands.add_parser("train", help="train a model (or --resume one)"))
    add_training_flags(
        commands.add_parser(
            "train-clip",
            help="train CLIP (an image and a caption tower in one space) on captioned data: train --model clip",
        ),
        out="runs/clip-PRESET",
        reads=clip_reads,
    )

    sample = commands.add_parser("sample", help="generate images from a trained run")
    sample.add_argument("run", type=Path, help="run folder")
    sample.add_argument("--out", type=Path, help="grid PNG (default: RUN/samples.png)")
    add_sample_flags(sample)
    sample.add_argument("--images-dir", type=Path, help="also write one PNG per image here")
    sample.add_argument("--trajectory", type=Path, help="also write a strip of x_t along the chain for 4 samples")
    sample.add_argument("--device", default="auto")
    sample.add_argument("--quiet", action="store_true", help="no progress bar (shown on a terminal otherwise)")

    noise = commands.add_parser("noise", help="picture the forward process: an image becoming noise")
    noise.add_argument("image", type=Path)
    noise.add_argument(
        "--run", type=Path, help="a run folder: its own schedule (all its diffusion settings) and image size"
    )
    noise.add_argument("--out", type=Path, default=Path("noising.png"))
    noise.add_argument(
        "--timesteps", type=int_tuple, default=None, help="default 0,T/20,T/10,T/5,2T/5,7T/10,T-1 (0,50,...,999)"
    )
    noise.add_argument("--schedule", default=None, help="a schedule by name, default betas (default linear; not --run)")
    noise.add_argument("--num-timesteps", type=int, default=None, help="T of that schedule (default 1000; not --run)")
    noise.add_argument("--size", type=int, default=None, help="pixels across (default 64, or the run's image size)")
    noise.add_argument("--seed", type=int, default=0)

    add_editing_parsers(commands)

    demo = commands.add_parser("demo", help="train preset demo on built-in faces, then sample and draw")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"))
    demo.add_argument("--quiet", action="store_true")
    add_evaluation_parsers(commands)
    return parser


def add_training_flags(parser, out: str = "runs/PRESET", reads: Callable[[str], bool] = lambda setting: True) -> None:
    parser.add_argument(
        "--data",
        dest="data.source",
        default=argparse.SUPPRESS,
        help="builtin | celeba:PATH | folder:PATH (default: the preset's)",
    )
    parser.add_argument("--preset", default=None, choices=list(PRESETS), help="starting settings (default: demo)")
    parser.add_argument("--out", help=f"run folder (default: {out})")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    add_config_flags(parser, reads)


def add_evaluation_parsers(commands) -> None:
    fid_stats = commands.add_parser("fid-stats", help="compute FID reference statistics of a data set")
    fid_stats.add_argument("data", help="builtin | celeba:PATH | folder:PATH, read as for training")
    fid_stats.add_argument("--size", type=int, default=64, help="image size, as the model trained on it (default 64)")
    fid_stats.add_argument("--out", type=Path, required=True, help="statistics file to write (.npz)")
    fid_stats.add_argument("--split", default="train", help="train | valid | test | all (default train)")
    fid_stats.add_argument("--n", type=int, default=None, help="use the first N images (default: all)")
    fid_stats.add_argument(
        "--exclude",
        metavar="DATA",
        help="leave out images whose file names are also in DATA (a run's training data): a held-out reference",
    )
    fid_stats.add_argument("--device", default="auto")
    fid_stats.add_argument("--quiet", action="store_true", help="no progress output")

    evaluate = commands.add_parser(
        "eval", help="FID and KID of a run's samples or a folder of images, as one JSON line"
    )
    evaluate.add_argument("target", type=Path, help="run folder, or a folder of images at the reference's size")
    evaluate.add_argument(
        "--ref", type=Path, help="statistics file from unnoise fid-stats (required, except with --faithfulness)"
    )
    add_sample_flags(evaluate, n=None, requests=False)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--quiet", action="store_true", help="no progress output")
    faithful = evaluate.add_argument_group("faithfulness of a conditional run (with --faithfulness)")
    faithful.add_argument(
        "--faithfulness",
        action="store_true",
        help="for each guidance scale: how often the requested attributes appear (or the CLIP score of each --prompt), "
        "and FID with --ref; samples with --steps, default 50 here",
    )
    faithful.add_argument("--classifier", type=Path, help="folder from unnoise train-classifier, the judge")
    faithful.add_argument(
        "--guidance-scales",
        type=float_tuple,
        default=DEFAULT_SCALES,
        metavar="W,W,...",
        help="default " + ",".join(f"{scale:g}" for scale in DEFAULT_SCALES),
    )
    faithful.add_argument(
        "--request",
        action="append",
        dest="requests",
        metavar="ATTRS",
        help="an attribute request like Smiling,-Male (repeat it; default: a fixed set)",
    )
    faithful.add_argument(
        "--prompt",
        action="append",
        dest="prompts",
        metavar="TEXT",
        help="a prompt for a run trained on captions (repeat it), judged by --clip's CLIP score, not a classifier",
    )
    faithful.add_argument("--per-request", type=int, default=16, help="images per request and scale (default 16)")
    add_prior_guidance_flag(faithful)
    faithful.add_argument(
        "--clip", type=Path, help="a CLIP run folder (train-clip): adds each scale's CLIP score of images and prompts"
    )
    faithful.add_argument("--out", type=Path, help="folder for the table, curves and grids (default RUN/faithfulness)")

    versus = commands.add_parser(
        "compare", help="runs of any model (diffusion, vae, gan) side by side: a table and a figure"
    )
    versus.add_argument("runs", type=Path, nargs="+", help="run folders")
    versus.add_argument(
        "--ref", type=Path, required=True, help="statistics file from unnoise fid-stats, at the runs' size"
    )
    add_sample_flags(versus, n=None, requests=False, steps_help="diffusion runs' solver steps (default 50)")
    versus.add_argument(
        "--out",
        type=Path,
        default=Path("comparison"),
        help="writes OUT.md, OUT.json and OUT.png (default ./comparison)",
    )
    versus.add_argument("--device", default="auto")
    versus.add_argument("--quiet", action="store_true", help="no progress output")

    page = commands.add_parser(
        "serve", help="a web page to generate images from a run, step by step (needs the web extra)"
    )
    page.add_argument("run", type=Path, help="run folder")
    page.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    page.add_argument("--port", type=int, default=7860)
    page.add_argument("--max-images", type=int, default=16, help="most images one request may ask for (default 16)")
    page.add_argument(
        "--max-steps", type=int, default=250, help="most sampling steps one request may ask for (default 250)"
    )
    page.add_argument(
        "--queue-size", type=int, default=8, help="requests that may wait; more get 'try again' (default 8)"
    )
    page.add_argument("--device", default="auto")

    clip_eval = commands.add_parser(
        "clip-eval", help="a CLIP run: retrieval recall@k on held-out pairs and zero-shot attributes against the judge"
    )
    clip_eval.add_argument("clip", type=Path, help="CLIP run folder (from train-clip)")
    clip_eval.add_argument("--data", required=True, help="builtin:N:SEED | celeba:PATH | folder:PATH (held out)")
    clip_eval.add_argument(
        "--split", default=None, help="train | valid | test | all (default: celeba's test split, all of other data)"
    )
    clip_eval.add_argument("--n", type=int, default=1000, help="held-out pairs (default 1000)")
    clip_eval.add_argument("--classifier", type=Path, help="folder from unnoise train-classifier: its accuracy beside")
    clip_eval.add_argument(
        "--out", type=Path, help="also write the tables (clip_eval.md) and the numbers (clip_eval.json) to this folder"
    )
    clip_eval.add_argument("--device", default="auto")
    clip_eval.add_argument("--quiet", action="store_true", help="no progress output")

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


def add_editing_parsers(commands) -> None:
    """edit, inpaint, invert, interpolate: a trained diffusion run applied to pictures (any size: the centre square)."""
    edit = commands.add_parser("edit", help="image-to-image (SDEdit): noise a picture part-way, then denoise it")
    edit.add_argument("run", type=Path, help="run folder")
    edit.add_argument("image", type=Path, help="the picture (any size; its centre square is used)")
    edit.add_argument(
        "--strength", type=float, default=0.5, help="0 keeps the picture, 1 ignores it (plain sampling); default 0.5"
    )
    add_editing_outputs(edit, "edit.png", 1, "edits to draw, each from its own noise (default 1)")

    inpaint = commands.add_parser("inpaint", help="inpainting (RePaint): redraw where a mask is white, keep the rest")
    inpaint.add_argument("run", type=Path, help="run folder")
    inpaint.add_argument("image", type=Path, help="the picture (any size; its centre square is used)")
    inpaint.add_argument(
        "--mask", type=Path, required=True, help="black and white picture: white = redraw (gray and RGBA: 50%%)"
    )
    inpaint.add_argument(
        "--jump-length",
        type=int,
        default=DEFAULT_JUMP_LENGTH,
        help=f"levels each jump goes back (default {DEFAULT_JUMP_LENGTH})",
    )
    inpaint.add_argument(
        "--resample",
        type=int,
        default=DEFAULT_RESAMPLE,
        help=f"times each stretch is walked; 1 = no resampling (default {DEFAULT_RESAMPLE})",
    )
    add_editing_outputs(inpaint, "inpaint.png", 1, "inpaintings to draw, each from its own noise (default 1)")

    invert = commands.add_parser(
        "invert", help="invert pictures into noise (deterministic), reconstruct them and report the error"
    )
    invert.add_argument("run", type=Path, help="run folder")
    invert.add_argument("images", type=Path, nargs="+", help="one or more pictures")
    add_editing_outputs(invert, "inversion.png", None, "refused: invert makes one inversion per picture")

    interpolate = commands.add_parser(
        "interpolate", help="a strip between two seeds' samples or two inverted pictures (spherical, in the noise)"
    )
    interpolate.add_argument("run", type=Path, help="run folder")
    ends = interpolate.add_mutually_exclusive_group(required=True)
    ends.add_argument("--seeds", type=int_tuple, metavar="A,B", help="two seeds: their first samples are the ends")
    ends.add_argument("--images", type=Path, nargs=2, metavar="IMAGE", help="two pictures, inverted first")
    add_editing_outputs(interpolate, "interpolation.png", 8, "frames, both ends included (default 8)")

    variations = commands.add_parser(
        "variations", help="unCLIP runs: new images from a picture's CLIP image embedding, or a walk between two"
    )
    pictures = variations.add_mutually_exclusive_group(required=True)
    pictures.add_argument("image", type=Path, nargs="?", help="the picture (any size; its centre square is used)")
    pictures.add_argument(
        "--interpolate", type=Path, nargs=2, metavar="IMAGE", help="two pictures: frames between their embeddings"
    )
    variations.add_argument(
        "--run", type=Path, required=True, help="an unCLIP run folder (trained with --condition clip)"
    )
    add_editing_outputs(
        variations, "variations.png", 8, "variations (or frames with --interpolate) (default 8)", requests=False
    )


def add_editing_outputs(parser, out: str, n: int | None, n_help: str, requests: bool = True) -> None:
    parser.add_argument(
        "--out", type=file_path, default=Path(out), help=f"the strip: .png, .jpg, .jpeg or .webp (default {out})"
    )
    add_sample_flags(parser, n=n, n_help=n_help, requests=requests, guidance=True)
    parser.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu, cuda, cuda:1, mps")
