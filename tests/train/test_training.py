import math

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import unnoise
from unnoise.config import override
from unnoise.families import ddpm as diffusion_module
from unnoise.runs import LOCK_FILE
from unnoise.storage.lock import lock_if_free
from unnoise.train.checkpoint import latest_checkpoint, step_folders
from unnoise.train.hooks import read_log
from unnoise.train.trainer import LossNotFinite


def test_training_lowers_the_loss_substantially(tiny, tmp_path):
    config = tiny(steps=200, batch_size=16, checkpoint_every=0, log_every=10)
    config.model.base_channels = 16
    unnoise.train(config, out=tmp_path / "run", progress=False)
    losses = [float(row["loss"]) for row in read_log(tmp_path / "run" / "log.csv")]
    assert len(losses) == 20
    # An untrained network predicts zero noise (its output layer starts at zero): L2 loss ~1.
    assert losses[0] > 0.6
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0]


def test_samples_are_finite_images_of_the_right_shape(tiny, tmp_path):
    run = unnoise.train(tiny(steps=20), out=tmp_path / "run", progress=False)
    seen = []
    images = run.sample(5, steps=10, seed=0, on_step=lambda i, t, x_t, x0: seen.append(bool(torch.isfinite(x_t).all())))
    assert images.shape == (5, 3, 16, 16) and images.dtype == torch.uint8
    assert len(seen) == 10 and all(seen)
    assert torch.equal(images, run.sample(5, steps=10, seed=0))
    assert images.float().std() > 1  # not a constant picture


def state_of(folder):
    return {
        name: load_file(str(folder / name))
        for name in ("model.safetensors", "ema.safetensors", "optimizer.safetensors")
    }


def test_resumed_run_equals_uninterrupted_run(tiny, tmp_path):
    unnoise.train(tiny(steps=8), out=tmp_path / "straight", progress=False)
    unnoise.train(tiny(steps=4), out=tmp_path / "stopped", progress=False)
    resumed = unnoise.train(tiny(steps=8), out=tmp_path / "stopped", resume=True, progress=False)
    assert resumed.step == 8
    straight, stopped = (
        state_of(latest_checkpoint(tmp_path / "straight")),
        state_of(latest_checkpoint(tmp_path / "stopped")),
    )
    for file_name in straight:
        assert straight[file_name].keys() == stopped[file_name].keys()
        for key in straight[file_name]:
            assert torch.equal(straight[file_name][key], stopped[file_name][key]), (file_name, key)
    log_a, log_b = read_log(tmp_path / "straight" / "log.csv"), read_log(tmp_path / "stopped" / "log.csv")
    assert [row["loss"] for row in log_a] == [row["loss"] for row in log_b]


def test_resume_refuses_changed_settings(tiny, tmp_path):
    unnoise.train(tiny(steps=4), out=tmp_path / "run", progress=False)
    changed = tiny(steps=8)
    changed.train.lr = 1e-2
    with pytest.raises(unnoise.UserError, match="differ from its config.json: train.lr"):
        unnoise.train(changed, out=tmp_path / "run", resume=True, progress=False)
    with pytest.raises(unnoise.UserError, match="already holds a run"):
        unnoise.train(tiny(steps=8), out=tmp_path / "run", progress=False)


def test_a_second_train_into_a_folder_being_trained_is_refused_and_the_first_run_is_untouched(tiny, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with lock_if_free(run_dir / LOCK_FILE) as held:  # as the process training there holds it
        assert held
        with pytest.raises(unnoise.UserError, match="another process is training in"):
            unnoise.train(tiny(steps=2), out=run_dir, progress=False)
        assert not (run_dir / "config.json").exists() and not (run_dir / "log.csv").exists()
    assert unnoise.train(tiny(steps=2), out=run_dir, progress=False).step == 2  # the lock dies with its holder


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_loss = diffusion_module.denoising_loss

    def loss_that_breaks_at_step_6(*arguments, **keywords):
        calls["n"] += 1
        loss = real_loss(*arguments, **keywords)
        return loss * math.nan if calls["n"] == 6 else loss

    monkeypatch.setattr(diffusion_module, "denoising_loss", loss_that_breaks_at_step_6)
    with pytest.raises(LossNotFinite, match=r"steps 5-6.*step 4\) is kept"):
        unnoise.train(tiny(steps=20, checkpoint_every=4), out=tmp_path / "run", progress=False)
    assert [folder.name for folder in step_folders(tmp_path / "run")] == ["step_0000004"]
    weights = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert all(torch.isfinite(tensor).all() for tensor in weights.values())
    assert unnoise.load_run(tmp_path / "run").step == 4


def test_checkpoints_keep_only_the_newest(tiny, tmp_path):
    unnoise.train(tiny(steps=12, checkpoint_every=2, keep=2), out=tmp_path / "run", progress=False)
    assert [folder.name for folder in step_folders(tmp_path / "run")] == ["step_0000010", "step_0000012"]


def test_logs_are_written_as_csv_and_jsonl_with_the_same_rows(tiny, tmp_path):
    import json

    unnoise.train(tiny(steps=6, log_every=2), out=tmp_path / "run", progress=False)
    csv_rows = read_log(tmp_path / "run" / "log.csv")
    json_rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [int(row["step"]) for row in csv_rows] == [row["step"] for row in json_rows] == [2, 4, 6]
    assert [float(row["loss"]) for row in csv_rows] == [row["loss"] for row in json_rows]


def test_a_time_budget_stops_the_run_early_with_a_checkpoint(tiny, tmp_path):
    run = unnoise.train(tiny(steps=1000, max_minutes=1e-6, checkpoint_every=0), out=tmp_path / "run", progress=False)
    assert run.status == "out_of_time" and run.step == 1 and not run.finished
    assert [folder.name for folder in step_folders(tmp_path / "run")] == ["step_0000001"]
    assert (tmp_path / "run" / "samples" / "step_0000001.png").exists()  # the end-of-run grid is still drawn


def test_tensorboard_hook_writes_scalars(tiny, tmp_path, monkeypatch):
    import sys
    import types

    written = []

    class FakeWriter:
        def __init__(self, folder, purge_step=None):
            written.append(("open", folder, purge_step))

        def add_scalar(self, name, value, step):
            written.append((name, step))

        def close(self):
            written.append(("close",))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    monkeypatch.setattr("unnoise.api.tensorboard_available", lambda: True)
    unnoise.train(tiny(steps=4, log_every=2), out=tmp_path / "run", progress=False)
    assert written[0] == ("open", str(tmp_path / "run" / "tensorboard"), 0)
    assert ("loss", 2) in written and ("lr", 4) in written and ("images_per_s", 4) in written
    assert written[-1] == ("close",)


def test_resuming_on_changed_data_is_refused_with_what_changed(tiny, tmp_path):
    """The data order continues only on the data it began with: a folder that gained an image is refused."""
    folder = tmp_path / "faces"
    folder.mkdir()
    colours = torch.randint(0, 256, (13, 3), generator=torch.Generator().manual_seed(0)).tolist()
    for index, colour in enumerate(colours[:12]):
        Image.new("RGB", (20, 20), tuple(colour)).save(folder / f"{index:02d}.png")
    config = override(tiny(steps=4, checkpoint_every=4), {"data.source": f"folder:{folder}"})
    unnoise.train(config, out=tmp_path / "run", progress=False)
    Image.new("RGB", (20, 20), tuple(colours[12])).save(folder / "12.png")
    longer = override(config, {"train.steps": 8})
    with pytest.raises(unnoise.UserError, match=r"step 4 was trained on other data .*\(12 images then, 13 now\)"):
        unnoise.train(longer, out=tmp_path / "run", resume=True, progress=False)
    (folder / "12.png").unlink()
    assert unnoise.train(longer, out=tmp_path / "run", resume=True, progress=False).step == 8
