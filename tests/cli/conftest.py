"""A tiny trained run, made once through the command line, for the CLI tests."""

import pytest

from unnoise.cli import main

# Flags every tiny run takes, whatever its objective or family (a flag a run would not read is refused).
ANY_OBJECTIVE_FLAGS = [
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
    "--steps",
    "6",
    "--batch-size",
    "8",
    "--sample-count",
    "4",
    "--sample-steps",
    "5",
    "--checkpoint-every",
    "3",
    "--device",
    "cpu",
    "--quiet",
]
TINY_FLAGS = [*ANY_OBJECTIVE_FLAGS, "--timesteps", "100"]  # DDPM runs (the default objective): T = 100


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--out", str(run), *TINY_FLAGS]) == 0
    return run
