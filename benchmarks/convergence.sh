#!/usr/bin/env bash
# The convergence experiment: the article's recipe (preset `seed`) against ours at the same CPU
# training budget, on celeba-halfres at 32x32, FID at equal n (see benchmarks/RESULTS.md).
#
#   benchmarks/convergence.sh REF.npz OUT_DIR [MINUTES]
#
# REF.npz: `unnoise fid-stats celeba:../shared/data/celeba-halfres --size 32 --n 2000 --out REF.npz`.
# Six runs, one after another (never two at once: they would share the cores), each stopped by
# --max-minutes (or its --steps, sized so the cosine decay ends near the budget), then each sampled
# with 20-step DDPM (the race's best sampler) for FID/KID at n = 500. Prints one JSON line per run.
set -euo pipefail
ref=$1 out=$2 minutes=${3:-10}
data=celeba:../shared/data/celeba-halfres
common=(--data "$data" --image-size 32 --max-minutes "$minutes" --sample-every 0 --quiet)
# celeba32 was DDPM (eps, L2, min-SNR-5) when this experiment ran; it is flow matching now, so rows 2-6 pin that
# objective (the preset's optimisation settings are today's, so the numbers in RESULTS.md will not repeat exactly).
ddpm=(--objective ddpm --weighting min_snr --loss l2)
mkdir -p "$out"

train() {  # name, flags...
  local name=$1
  shift
  [ -f "$out/$name/model.safetensors" ] || unnoise train "${common[@]}" --out "$out/$name" "$@"
}
# 1. The article's recipe as it is: its 62M-parameter toy U-Net, linear schedule over T = 300, L1, no EMA.
train seed --preset seed
# 2. The article's diffusion recipe on our CPU-sized network: what the recipe costs apart from the network.
train seed-recipe-small-net --preset celeba32 --objective ddpm --schedule linear --timesteps 300 --loss l1 --weighting uniform \
  --lr-schedule constant --warmup-steps 0 --ema-decay 0 --grad-clip 0 --steps 100000
# 3. Our preset: eps, min-SNR-5 weighting, cosine learning-rate decay, EMA.
train celeba32 --preset celeba32 "${ddpm[@]}" --steps 750
# 4. The same with v prediction and scale-shift norm (best in benchmarks/conditioning_recipes.py).
train celeba32-v --preset celeba32 "${ddpm[@]}" --steps 750 --prediction v --scale-shift
# 5, 6. Which half of the article's recipe helps at this budget: its optimisation (constant learning rate, no
# warm-up, no EMA, no clipping) or its diffusion objective (L1 loss, T = 300, uniform weighting)?
train celeba32-seed-optim --preset celeba32 "${ddpm[@]}" --ema-decay 0 --lr-schedule constant --warmup-steps 0 --grad-clip 0 --steps 100000
train celeba32-seed-diffusion --preset celeba32 --objective ddpm --steps 750 --loss l1 --timesteps 300 --weighting uniform

for name in seed seed-recipe-small-net celeba32 celeba32-v celeba32-seed-optim celeba32-seed-diffusion; do
  IFS=, read -r step _ _ _ seconds < <(tail -n 1 "$out/$name/log.csv")
  printf '{"run": "%s", "trained_steps": %s, "train_seconds": %s, ' "$name" "$step" "$seconds"
  unnoise eval "$out/$name" --ref "$ref" --n 500 --sampler ddpm --steps 20 --quiet | sed 's/^{//'
done | tee "$out/convergence.jsonl"
