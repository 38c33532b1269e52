"""SIGKILL at random moments (also mid-checkpoint), then --resume: the weights equal an uninterrupted run's."""

import random
import signal
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

import unnoise
from unnoise.models import build_model
from unnoise.train.checkpoint import latest_checkpoint, load_checkpoint

from .cli.conftest import TINY_FLAGS

STEPS = 40


def assert_latest_checkpoint_loads(run, config):
    folder = latest_checkpoint(run)
    if folder is None:
        return 0
    model = build_model(config.model, config.data.image_size)
    ema = build_model(config.model, config.data.image_size)
    return load_checkpoint(folder, model, ema, torch.optim.AdamW(model.parameters()))


def logged_steps(run) -> int:
    """Training progress as seen from outside, without touching checkpoints the run may be pruning."""
    log = run / "log.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_killed_and_resumed_run_equals_the_uninterrupted_one(tmp_path):
    flags = [*TINY_FLAGS, "--steps", str(STEPS), "--checkpoint-every", "1", "--log-every", "1"]
    uninterrupted = tmp_path / "uninterrupted"
    subprocess.run(
        [sys.executable, "-m", "unnoise", "train", "--out", str(uninterrupted), *flags],
        check=True,
        capture_output=True,
        timeout=300,
    )
    config = unnoise.RunConfig.load(uninterrupted / "config.json")

    run = tmp_path / "killed"
    chooser = random.Random(0)
    kills, resumes = 0, 0
    while True:
        command = [sys.executable, "-m", "unnoise", "train", "--out", str(run), *flags]
        if (run / "config.json").exists():
            command.append("--resume")
            resumes += 1
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills < 4:
            # Wait until training runs, then kill at a random moment: between steps or inside a checkpoint write.
            deadline = time.time() + 60
            logged = logged_steps(run)
            while time.time() < deadline and logged_steps(run) <= logged and process.poll() is None:
                time.sleep(0.05)
            time.sleep(chooser.uniform(0.0, 0.6))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                assert_latest_checkpoint_loads(run, config)  # a kill never leaves a broken latest checkpoint
                continue
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        break
    assert kills >= 3 and resumes >= 3
    for name in ("model.safetensors", "ema.safetensors", "optimizer.safetensors"):
        expected = load_file(str(latest_checkpoint(uninterrupted) / name))
        actual = load_file(str(latest_checkpoint(run) / name))
        assert expected.keys() == actual.keys()
        for key in expected:
            assert torch.equal(expected[key], actual[key]), (name, key)
    assert latest_checkpoint(run).name == f"step_{STEPS:07d}"
