"""Ctrl-C during training: the step in flight finishes, a checkpoint is written, and --resume continues."""

import csv
import os
import signal
import subprocess
import sys
import time

from unnoise.train.checkpoint import checkpoint_step, latest_checkpoint

from .cli.conftest import TINY_FLAGS


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_the_run(tmp_path):
    run = tmp_path / "run"
    flags = [flag for flag in TINY_FLAGS if flag != "--quiet"]
    command = [
        sys.executable,
        "-m",
        "unnoise",
        "train",
        "--out",
        str(run),
        *flags,
        "--steps",
        "100000",
        "--checkpoint-every",
        "0",
        "--log-every",
        "1",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        log = run / "log.csv"
        if log.exists() and len(list(csv.reader(log.open()))) > 3:
            break
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "checkpoint saved" in stderr and "Traceback" not in stderr
    stopped_at = checkpoint_step(latest_checkpoint(run))
    assert stopped_at >= 3

    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "unnoise",
            "train",
            "--resume",
            "--out",
            str(run),
            "--steps",
            str(stopped_at + 2),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint_step(latest_checkpoint(run)) == stopped_at + 2
