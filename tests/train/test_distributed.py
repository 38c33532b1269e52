"""Data-parallel training under torchrun (gloo on the CPU) computes what one process with the same global batch does."""

import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

from unnoise.train.checkpoint import latest_checkpoint
from unnoise.train.hooks import read_log

FLAGS = [
    "--data",
    "builtin:64",
    "--image-size",
    "16",
    "--base-channels",
    "8",
    "--channel-mult",
    "1,2",
    "--blocks-per-level",
    "1",
    "--attention-resolutions",
    "8",
    "--timesteps",
    "100",
    "--dropout",
    "0",
    "--steps",
    "4",
    "--checkpoint-every",
    "4",
    "--sample-count",
    "2",
    "--sample-steps",
    "2",
    "--device",
    "cpu",
    "--quiet",
]


def train(command, out, *extra):
    result = subprocess.run(
        [*command, "train", "--out", str(out), *FLAGS, *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    return load_file(str(latest_checkpoint(out) / "model.safetensors"))


def test_two_processes_and_accumulation_match_one_process_with_the_same_global_batch(tmp_path):
    single = [sys.executable, "-m", "unnoise"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "unnoise"]
    one = train(single, tmp_path / "one", "--batch-size", "8")
    two = train(torchrun, tmp_path / "two", "--batch-size", "4")
    accumulated = train(single, tmp_path / "accumulated", "--batch-size", "4", "--accum", "2")
    changed = 0
    for name, weights in one.items():
        assert torch.allclose(weights, two[name], atol=1e-5), name
        assert torch.allclose(weights, accumulated[name], atol=1e-5), name
        changed += not torch.equal(
            weights, load_file(str(latest_checkpoint(tmp_path / "one") / "ema.safetensors"))[name]
        )
    assert changed > 0  # the weights did move: the comparison is not between two untouched initialisations
    # Only process 0 wrote the log, and its loss is the mean over both processes: the single process's.
    rows = {name: read_log(tmp_path / name / "log.csv") for name in ("one", "two")}
    assert [row["step"] for row in rows["two"]] == [row["step"] for row in rows["one"]] == ["4"]
    assert abs(float(rows["two"][0]["loss"]) - float(rows["one"][0]["loss"])) < 1e-5
