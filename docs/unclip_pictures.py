"""Make the README's unCLIP pictures: prompts through direct text conditioning and through unCLIP side by side, and
variations of held-out faces.

    python docs/unclip_pictures.py TEXT_RUN UNCLIP_RUN CELEBA_DIR [--out docs] [--n 4] [--faces 6]

TEXT_RUN: a run trained with --condition text; UNCLIP_RUN: the same preset with --condition clip. CELEBA_DIR: CelebA
in its official layout, whose test faces (never trained on) are the variations' sources. Writes unclip_prompts.png
(each prompt's row: --n images of the text run, then --n of the unCLIP run, both at guidance 3 with the same seeds)
and unclip_variations.png (each test face, then six variations of it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import unnoise
from unnoise.viz import captioned_rows, display_scale, save_png

PROMPTS = [
    "a smiling woman with blond hair",
    "a man with black hair and a mustache",
    "a photo of a bald man",
    "a man wearing eyeglasses",
    "a woman with wavy brown hair, smiling",
    "a person with gray hair",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text_run", type=Path)
    parser.add_argument("unclip_run", type=Path)
    parser.add_argument("celeba", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--n", type=int, default=4, help="images per prompt and run (default 4)")
    parser.add_argument("--faces", type=int, default=6, help="test faces to vary (default 6)")
    parser.add_argument("--guidance", type=float, default=3.0)
    arguments = parser.parse_args()
    text, unclip = (unnoise.load_run(path, device="cpu") for path in (arguments.text_run, arguments.unclip_run))
    scale = display_scale(unclip.config.data.image_size, target=64)

    rows = [
        torch.cat(
            [run.sample(arguments.n, seed=index, prompt=prompt, guidance=arguments.guidance) for run in (text, unclip)]
        )
        for index, prompt in enumerate(PROMPTS)
    ]
    captions = [f'"{prompt}"' for prompt in PROMPTS]
    path = save_png(captioned_rows(rows, captions, scale=scale), arguments.out / "unclip_prompts.png")
    print(f"wrote {path}: per prompt {arguments.n} text-conditioned, then {arguments.n} unCLIP samples")

    faces = unnoise.open_dataset(
        f"celeba:{arguments.celeba}", unclip.config.data.image_size, split="test", progress=False
    ).images[: arguments.faces]
    rows = [
        torch.cat([face[None], unclip.variations(face, n=6, seed=k, guidance=arguments.guidance)])
        for k, face in enumerate(faces)
    ]
    captions = [f"test face {k + 1} -> variations" for k in range(len(faces))]
    path = save_png(captioned_rows(rows, captions, scale=scale), arguments.out / "unclip_variations.png")
    print(f"wrote {path}: {len(faces)} CelebA test faces, each followed by 6 variations")


if __name__ == "__main__":
    main()
