"""How good is a run at each number of network evaluations (NFE), with each of its samplers?

    python benchmarks/nfe_curve.py RUN --ref REF.npz [--n 1000] [--nfe 5,10,20,50,100] [--samplers euler,heun,...]

For every sampler the run's formulation offers (default: all of SOLVERS), the step count whose NFE comes closest to
each target from below, n images from the same seeds, KID and FID against REF. Prints a Markdown table (FID, NFE
in brackets) and checks two targets of the default model: the best FID at 20 NFE or fewer is within 10% of the
best at any NFE, and a deterministic sampler is among the best (within 10% of the best at 20 NFE). Writes
RUN/nfe_curve.json, rewritten after every cell.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import unnoise
from unnoise.diffusion.samplers import SOLVERS, is_stochastic
from unnoise.metrics import evaluate_images, load_reference


def steps_for(run, sampler: str, target: int) -> int | None:
    """The most steps whose NFE is at most target (None if even one step costs more)."""
    best = None
    for steps in range(1, target + 1):
        try:
            nfe = run.nfe(sampler=sampler, steps=steps)
        except unnoise.UserError:  # steps beyond T, or a sampler this formulation refuses
            break
        if nfe > target:
            break
        best = steps
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--nfe", default="5,10,20,50,100")
    parser.add_argument("--samplers", default=",".join(SOLVERS))
    parser.add_argument("--batch-size", type=int, default=250)
    arguments = parser.parse_args()
    run = unnoise.load_run(arguments.run, device="cpu")
    reference = load_reference(arguments.ref)
    rows = []
    for sampler in arguments.samplers.split(","):
        for target in map(int, arguments.nfe.split(",")):
            try:
                steps = steps_for(run, sampler, target)
                if steps is None:
                    continue
                settings = run.settings(n=arguments.n, sampler=sampler, steps=steps, batch_size=arguments.batch_size)
            except unnoise.UserError as error:
                print(f"{sampler}: {error}")
                break
            measured = evaluate_images(run.sample(settings), reference, "cpu", progress=False)
            rows.append(
                {
                    "sampler": sampler,
                    "spacing": settings.spacing,
                    "steps": steps,
                    "nfe": run.nfe(settings),
                    "target_nfe": target,
                    "deterministic": not is_stochastic(sampler, {"eta": settings.eta}),
                    "fid": measured["fid"],
                    "kid": measured["kid"],
                    "n": arguments.n,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            (arguments.run / "nfe_curve.json").write_text(json.dumps(rows, indent=1) + "\n")
    targets = sorted({row["target_nfe"] for row in rows})
    print("| sampler | " + " | ".join(f"~{t} NFE" for t in targets) + " |")
    print("|---|" + "---|" * len(targets))
    for sampler in dict.fromkeys(row["sampler"] for row in rows):
        cells = {row["target_nfe"]: f"{row['fid']:.1f} ({row['nfe']})" for row in rows if row["sampler"] == sampler}
        print(f"| {sampler} | " + " | ".join(cells.get(t, "") for t in targets) + " |")
    best = min(rows, key=lambda row: row["fid"])
    at_20 = [row for row in rows if row["nfe"] <= 20]
    best_20 = min(at_20, key=lambda row: row["fid"])
    deterministic = min((row for row in at_20 if row["deterministic"]), key=lambda row: row["fid"], default=None)
    print(f"\nFID at n = {arguments.n}. Best at any NFE: {best['sampler']} {best['nfe']} NFE, FID {best['fid']:.1f}.")
    ratio = best_20["fid"] / best["fid"]
    verdict = "met" if ratio <= 1.10 else "NOT met"
    print(f"Best at <= 20 NFE: {best_20['sampler']} {best_20['nfe']} NFE, FID {best_20['fid']:.1f}")
    print(f"  ({ratio:.2f}x the best: target <= 1.10x {verdict}).")
    if deterministic:
        gap = deterministic["fid"] / best_20["fid"]
        verdict = "met" if gap <= 1.10 else "NOT met"
        print(f"Best deterministic at <= 20 NFE: {deterministic['sampler']} {deterministic['nfe']} NFE, FID")
        print(f"  {deterministic['fid']:.1f} ({gap:.2f}x the best at <= 20 NFE: target <= 1.10x {verdict}).")


if __name__ == "__main__":
    main()
