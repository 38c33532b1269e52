#!/usr/bin/env bash
# The generative trilemma on celeba-halfres at 32x32: a VAE, a GAN and a diffusion model, each trained for the
# same wall-clock budget on this machine, then measured side by side by `unnoise compare` (see benchmarks/RESULTS.md).
#
#   benchmarks/trilemma.sh REF.npz OUT_DIR [MINUTES] [DIFFUSION_RUN]
#
# REF.npz: `unnoise fid-stats celeba:../shared/data/celeba-halfres --size 32 --n 2000 --out REF.npz`.
# DIFFUSION_RUN: reuse a diffusion run trained with the same budget (benchmarks/convergence.sh's celeba32 run);
# otherwise one is trained here. Runs train one after another, never two at once (they would share the cores).
set -euo pipefail
ref=$1 out=$2 minutes=${3:-10} diffusion=${4:-$2/diffusion}
data=celeba:../shared/data/celeba-halfres
common=(--preset celeba32 --data "$data" --image-size 32 --max-minutes "$minutes" --sample-every 0 --quiet)
mkdir -p "$out"

train() {  # folder, flags...
  local folder=$1
  shift
  [ -f "$folder/model.safetensors" ] || unnoise train "${common[@]}" --out "$folder" "$@"
}
# The baselines are cheap per image, so they get wider networks and larger batches than the U-Net; the steps are
# an upper bound that the budget cuts.
train "$out/vae" --model vae --base-channels 64 --latent-dim 128 --batch-size 64 --lr 1e-3 --lr-schedule constant --steps 1000000
train "$out/gan" --model gan --base-channels 64 --latent-dim 128 --batch-size 64 --steps 1000000
train "$diffusion" --steps 750
unnoise compare "$out/vae" "$out/gan" "$diffusion" --ref "$ref" --n 500 --sampler ddpm --steps 20 --out "$out/trilemma"
