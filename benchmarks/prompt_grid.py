"""A grid of prompts and their samples: one row per prompt, the prompt on the left (the README's picture).

python benchmarks/prompt_grid.py runs/celeba32-text --out docs/celeba32_prompts.png
"""

from __future__ import annotations

import argparse

import unnoise
from unnoise.viz import captioned_rows, display_scale, save_png

PROMPTS = [
    "a smiling woman with blond hair",
    "a man with black hair and a mustache",
    "a photo of a bald man",
    "portrait of a young woman wearing lipstick",
    "a man wearing eyeglasses",
    "a woman with wavy brown hair, smiling",
    "a man wearing a hat",
    "a person with gray hair",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run trained with --condition text")
    parser.add_argument("--out", default="prompts.png")
    parser.add_argument("--prompt", action="append", help="a prompt (repeat it; default: eight face descriptions)")
    parser.add_argument("--n", type=int, default=8, help="images per prompt")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=3.0)
    arguments = parser.parse_args()
    run = unnoise.load_run(arguments.run)
    prompts = arguments.prompt or PROMPTS
    # Row i uses seed i, so a row can be redrawn alone with `unnoise sample RUN --prompt ... --seed i`.
    rows = [
        run.sample(arguments.n, steps=arguments.steps, seed=index, prompt=prompt, guidance=arguments.guidance)
        for index, prompt in enumerate(prompts)
    ]
    grid = captioned_rows(rows, [f'"{prompt}"' for prompt in prompts], scale=display_scale(run.config.data.image_size))
    print(f"wrote {save_png(grid, arguments.out)}")


if __name__ == "__main__":
    main()
