"""Make the README's pictures of the editing tools: image-to-image, inpainting, inversion and interpolation.

    python docs/editing_pictures.py RUN_DIR CELEBA_DIR [--split test] [--out docs] [--faces 4]

RUN_DIR: a trained diffusion run (any formulation); CELEBA_DIR: CelebA in its official layout, whose faces of --split
are read as the run's data were (the standard face crop, at the run's size). Writes
editing_edit.png, editing_inpaint.png, editing_invert.png and editing_interpolate.png to --out and prints what each
shows (the inversion's reconstruction error among it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import unnoise
from unnoise.viz import captioned_rows, display_scale, labelled_rows, save_png

STRENGTHS = (0.3, 0.5, 0.7, 0.9)


def masks(size: int) -> dict[str, torch.Tensor]:
    """Three holes to fill, bool (1, 1, size, size): the mouth and chin, the eyes, the left half."""
    lower, eyes, half = (torch.zeros(1, 1, size, size, dtype=torch.bool) for _ in range(3))
    lower[..., size * 5 // 8 :, size // 4 : size * 3 // 4] = True
    eyes[..., size * 5 // 16 : size * 9 // 16, size // 8 : size * 7 // 8] = True
    half[..., :, : size // 2] = True
    return {"mouth": lower, "eyes": eyes, "left half": half}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("celeba", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--faces", type=int, default=4, help="test faces per picture (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="test", help="which faces: train | valid | test | all (default test)")
    arguments = parser.parse_args()

    torch.manual_seed(0)
    run = unnoise.load_run(arguments.run, device="cpu")
    size = run.config.data.image_size
    scale = display_scale(size, target=64)
    faces = unnoise.open_dataset(f"celeba:{arguments.celeba}", size, split=arguments.split, progress=False).images
    faces = faces[: max(arguments.faces, 2)]
    settings = unnoise.SampleSettings(n=1, seed=arguments.seed)
    print(f"{run.path}: {run.objective.describe_sampling(settings)}; {len(faces)} CelebA {arguments.split} faces")

    started = time.perf_counter()
    rows = [torch.cat([face[None], *(run.edit(face, s, settings) for s in STRENGTHS)]) for face in faces]
    labels = ["input", *(f"strength {s:g}" for s in STRENGTHS)]
    save_png(labelled_rows(rows, labels, scale=scale), arguments.out / "editing_edit.png")
    print(f"editing_edit.png: strengths {STRENGTHS} ({time.perf_counter() - started:.0f} s)")

    started = time.perf_counter()
    holes = masks(size)
    rows = []
    for face, (name, redraw) in zip(faces, holes.items()):
        shown = torch.where(redraw[0], torch.full_like(face, 128), face)
        filled = run.inpaint(face, redraw, settings.replace(n=3))
        rows.append(torch.cat([face[None], shown[None], filled]))
    save_png(
        labelled_rows(rows, ["input", "mask", "inpainted 1", "2", "3"], scale=scale),
        arguments.out / "editing_inpaint.png",
    )
    print(f"editing_inpaint.png: holes {', '.join(holes)} ({time.perf_counter() - started:.0f} s)")

    started = time.perf_counter()
    inversion = run.invert(faces, settings)
    noise = ((inversion.noise.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    rows = [torch.stack([face, noise[k], inversion.reconstruction[k]]) for k, face in enumerate(faces)]
    captions = [f"RMSE {error:.1f}" for error in inversion.error.tolist()]
    columns = labelled_rows([torch.stack([faces[0]] * 3)], ["input", "noise", "rebuilt"], scale=scale)
    picture = captioned_rows(rows, captions, scale=scale)
    save_png(stack_label_row(picture, columns), arguments.out / "editing_invert.png")
    print(
        f"editing_invert.png: reconstruction RMSE {', '.join(f'{e:.2f}' for e in inversion.error.tolist())} of 255, "
        f"PSNR {inversion.psnr.mean().item():.1f} dB on average ({time.perf_counter() - started:.0f} s)"
    )

    started = time.perf_counter()
    between_seeds = run.interpolate((arguments.seed + 1, arguments.seed + 2), settings.replace(n=8))
    between_faces = run.interpolate(faces[:2], settings.replace(n=8))
    blank = torch.full_like(faces[:1], 255)
    rows = [
        torch.cat([blank, between_seeds, blank]),  # between two seeds: no pictures at the ends
        torch.cat([faces[:1], between_faces, faces[1:2]]),
    ]
    weights = [f"{k / 7:.2f}" for k in range(8)]
    save_png(
        labelled_rows(rows, ["picture A", *weights, "picture B"], scale=scale),
        arguments.out / "editing_interpolate.png",
    )
    print(f"editing_interpolate.png: seeds and two inverted faces ({time.perf_counter() - started:.0f} s)")


def stack_label_row(picture, header):
    """The captioned rows with the column labels of `header` (its last 14 pixels) underneath, right-aligned."""
    from PIL import Image

    labels = header.crop((0, header.height - 14, header.width, header.height))
    canvas = Image.new("RGB", (picture.width, picture.height + labels.height), (255, 255, 255))
    canvas.paste(picture, (0, 0))
    canvas.paste(labels, (picture.width - labels.width, picture.height))
    return canvas


if __name__ == "__main__":
    main()
