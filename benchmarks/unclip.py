"""Direct text conditioning against unCLIP (prior + decoder) on the same data and training budget.

    python benchmarks/unclip.py --ref REF.npz --out OUT_DIR [--train celeba:../shared/data/celeba-halfres]
        [--held-out celeba:../shared/data/celeba] [--preset celeba32] [--per-request 40] [--scales 0,1,3,5]

REF.npz: `unnoise fid-stats celeba:../shared/data/celeba-halfres --size 32 --n 2000 --out REF.npz`. One step after
another (never two at once), each through the CLI as a user runs it, each skipped when its output exists:
1. two CLIPs on the training data (`unnoise train-clip`): the text tower as an MLP on MiniLM's pooled vector, and as
   two transformer layers over its tokens; `unnoise clip-eval` of each on the held-out test split;
2. the attribute judge (`unnoise train-classifier`) on the training data;
3. the two decoders with the preset's recipe and steps: `--condition text` (MiniLM tokens, Imagen-style) and
   `--condition clip --clip-run` the better CLIP (its prior trains in the same steps);
4. `unnoise eval --faithfulness` of both at each guidance scale: requested attributes as asked (the judge), FID and
   KID of those images against REF, and the CLIP score of each image for its request's caption under the same CLIP
   (unCLIP's prior unguided); then unCLIP with its prior guided at 2 and 4, decoder guidance 1 and 3.
Prints the tables and writes OUT_DIR/unclip.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from unnoise.metrics.clip_eval import mean_row

PRIOR_GUIDANCES = ("2", "4")  # the prior's guidance scales measured beside the unguided prior


def run(command: list[str], log: Path) -> float:
    """Run a CLI command, its output appended to log; returns seconds. Exits on failure."""
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    with log.open("a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        finished = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    if finished.returncode:
        sys.exit(f"failed ({finished.returncode}): {' '.join(command)}; see {log}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", default="celeba:../shared/data/celeba-halfres")
    parser.add_argument("--held-out", default="celeba:../shared/data/celeba")
    parser.add_argument("--preset", default="celeba32")
    parser.add_argument("--per-request", type=int, default=40)
    parser.add_argument("--scales", default="0,1,3,5")
    arguments = parser.parse_args()
    out, log = arguments.out, arguments.out / "log.txt"
    out.mkdir(parents=True, exist_ok=True)
    unnoise = [sys.executable, "-m", "unnoise"]
    seconds: dict[str, float] = {}

    clips = {"mlp": [], "transformer2": ["--clip-text-layers", "2"]}
    for name, flags in clips.items():
        folder = out / f"clip_{name}"
        if not (folder / "model.safetensors").exists():
            seconds[f"clip_{name}"] = run(
                [*unnoise, "train-clip", "--preset", arguments.preset, "--data", arguments.train, "--out", str(folder),
                 "--quiet", *flags], log)  # fmt: skip
        if not (folder / "eval" / "clip_eval.json").exists():
            run([*unnoise, "clip-eval", str(folder), "--data", arguments.held_out, "--split", "test", "--quiet",
                 "--out", str(folder / "eval")], log)  # fmt: skip
    judge = out / "judge"
    if not (judge / "classifier.json").exists():
        seconds["judge"] = run(
            [*unnoise, "train-classifier", "--data", arguments.train, "--size", "32", "--out", str(judge), "--quiet"],
            log,
        )
    evaluations = {name: json.loads((out / f"clip_{name}" / "eval" / "clip_eval.json").read_text()) for name in clips}
    best = max(evaluations, key=lambda name: evaluations[name]["retrieval"]["image_to_text_r@5"])
    clip = out / f"clip_{best}"
    for name in clips:  # the judge's column, now that it exists
        if "judge" not in evaluations[name]["zero_shot"][0]:
            run([*unnoise, "clip-eval", str(out / f"clip_{name}"), "--data", arguments.held_out, "--split", "test",
                 "--quiet", "--classifier", str(judge), "--out", str(out / f"clip_{name}" / "eval")], log)  # fmt: skip
            evaluations[name] = json.loads((out / f"clip_{name}" / "eval" / "clip_eval.json").read_text())

    decoders = {"text": ["--condition", "text"], "unclip": ["--condition", "clip", "--clip-run", str(clip)]}
    results = {}

    def faithfulness(name: str, label: str, scales: str, *flags: str) -> None:
        measured = out / name / label / "faithfulness.json"
        if not measured.exists():
            seconds[f"{name}_{label}"] = run(
                [*unnoise, "eval", str(out / name), "--faithfulness", "--classifier", str(judge), "--ref",
                 arguments.ref, "--clip", str(clip), "--guidance-scales", scales, "--per-request",
                 str(arguments.per_request), "--steps", "20", "--quiet", "--out", str(out / name / label), *flags],
                log)  # fmt: skip
        results[f"{name} {label}"] = json.loads(measured.read_text())

    for name, flags in decoders.items():
        folder = out / name
        if not (folder / "model.safetensors").exists():
            seconds[name] = run(
                [*unnoise, "train", "--preset", arguments.preset, "--data", arguments.train, "--out", str(folder),
                 "--quiet", *flags], log)  # fmt: skip
        # unCLIP's prior unguided, as the table was first measured; its guidance comes next
        faithfulness(name, "faithfulness", arguments.scales, *(["--prior-guidance", "1"] if name == "unclip" else []))
    for prior_guidance in PRIOR_GUIDANCES:
        faithfulness("unclip", f"faithfulness_prior{prior_guidance}", "1,3", "--prior-guidance", prior_guidance)

    print(f"\nCLIP text towers (clip-eval on {arguments.held_out} test split); decoders use {best}\n")
    print(
        "| text tower | image->text R@1 | R@5 | R@10 | text->image R@1 | R@5 | R@10 | zero-shot balanced accuracy "
        "(mean over the attributes shown both ways) | supervised judge, balanced |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, result in evaluations.items():
        r = result["retrieval"]
        mean = mean_row(result["zero_shot"])
        cells = [f"{100 * r[f'{way}_r@{k}']:.1f}%" for way in ("image_to_text", "text_to_image") for k in (1, 5, 10)]
        cells += [f"{100 * mean['zero_shot_balanced']:.1f}%", f"{100 * mean['judge_balanced']:.1f}%"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nDirect text conditioning against unCLIP, preset {arguments.preset}, FID against {arguments.ref}\n")
    print("| decoder | prior guidance | guidance | attributes as asked | CLIP score | FID | KID x1000 | n |")
    print("|---|---|---|---|---|---|---|---|")
    for name, result in results.items():
        prior = ("1" if name == "unclip faithfulness" else name.rsplit("prior", 1)[-1]) if "unclip" in name else "-"
        for row in result["rows"]:
            print(
                f"| {name.split()[0]} | {prior} | {row['guidance']:g} | {100 * row['accuracy']:.1f}% | "
                f"{row['clip_score']:.1f} | {row['fid']:.1f} | {1000 * row['kid']:.2f} | {row['n']} |"
            )
    summary = {"clips": evaluations, "best_clip": best, "decoders": results, "seconds": seconds}
    (out / "unclip.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
