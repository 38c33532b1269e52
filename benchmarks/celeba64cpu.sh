#!/bin/bash
# 64x64 faces on a CPU: which network and learning rate at equal minutes, then the hour-long run of the winner.
#
#   bash benchmarks/celeba64cpu.sh compare OUT REF64 [NAMES] # 6-minute runs, FID/KID at n = 500 (about 8 min each);
#                                                             # NAMES: some of them, comma-separated (default: all)
#   bash benchmarks/celeba64cpu.sh hour OUT REF64 [STEPS]     # preset celeba64cpu for STEPS steps (14400: an idle
#                                                             # hour on 2 cores), FID/KID while training, n = 1000 at the end
#
# REF64: `unnoise fid-stats celeba:../shared/data/celeba --split all --size 64 --n 1000 --exclude
# celeba:../shared/data/celeba-halfres --out REF64` (full-resolution faces; --exclude leaves out the 183 that are also in
# the half-resolution training set). Run from the repository root, one job at a time, on an
# otherwise idle machine: the compare runs are budgeted in minutes, so anything else running changes their result.
# Results: benchmarks/RESULTS.md, "64x64 faces on the CPU".
set -euo pipefail
what=${1:?compare or hour}; out=${2:?output folder}; ref=${3:?reference statistics at 64x64}
data=celeba:../shared/data/celeba-halfres
mkdir -p "$out"
case $what in
  compare)
    for spec in "p2-lr1e-3|--lr 1e-3" "p2-lr2e-3|--lr 2e-3" "plain-lr2e-3|--lr 2e-3 --patch-size 1" \
        "p2-lr2e-3-b16|--lr 2e-3 --batch-size 16 --warmup-steps 200"; do
      name=${spec%%|*}; flags=${spec#*|}
      [[ -z ${4:-} || ",$4," == *",$name,"* ]] || continue
      # shellcheck disable=SC2086 # flags is a list of flags
      unnoise train --preset celeba64cpu --data $data --out "$out/$name" --steps 100000 --max-minutes 6 $flags
      unnoise eval "$out/$name" --ref "$ref" --n 500 | tee "$out/$name.eval"
    done ;;
  hour)
    unnoise train --preset celeba64cpu --data $data --out "$out/hour" --steps "${4:-14400}" \
      --eval-every 3000 --eval-n 250 --eval-ref "$ref"
    unnoise eval "$out/hour" --ref "$ref" --n 1000 | tee "$out/hour.eval"
    unnoise sample "$out/hour" --n 64 --out "$out/hour/grid64.png" ;;
  *) echo "first argument: compare or hour" >&2; exit 2 ;;
esac
