"""Measuring while training (FID/KID of the EMA model, its curve) and a time budget that ends the LR schedule."""

import csv
import os
import signal
import threading

import numpy as np
import pytest

import unnoise
from tests.metrics.conftest import require_network
from unnoise.config import with_family
from unnoise.metrics.reference import ReferenceStatistics
from unnoise.runs import read_lines, read_log
from unnoise.train.checkpoint import latest_checkpoint, read_progress


def test_eval_every_measures_kid_and_fid_and_draws_their_curve(tiny, tmp_path):
    require_network()
    features = np.random.default_rng(0).random((16, 2048), dtype=np.float32)
    ReferenceStatistics.from_features(features, image_size=16, source="test").save(tmp_path / "ref16.npz")
    config = tiny(steps=8, eval_every=4, eval_n=6, eval_ref=str(tmp_path / "ref16.npz"), checkpoint_every=4)
    unnoise.train(config, out=tmp_path / "run", progress=False)
    rows = read_log(tmp_path / "run" / "eval.csv")
    assert [int(row["step"]) for row in rows] == [4, 8]
    assert [int(row["images_seen"]) for row in rows] == [4 * 8, 8 * 8] and all(int(row["n"]) == 6 for row in rows)
    assert all(float(row["fid"]) > 0 and np.isfinite(float(row["kid"])) and float(row["seconds"]) > 0 for row in rows)
    assert (tmp_path / "run" / "quality.png").is_file()
    measured = [line for line in read_lines(tmp_path / "run" / "log.jsonl") if '"fid"' in line]
    assert len(measured) == 2

    # A resumed run keeps the rows up to its checkpoint and measures on from there.
    more = tiny(steps=12, eval_every=4, eval_n=6, eval_ref=str(tmp_path / "ref16.npz"), checkpoint_every=4)
    unnoise.train(more, out=tmp_path / "run", resume=True, progress=False)
    assert [int(row["step"]) for row in read_log(tmp_path / "run" / "eval.csv")] == [4, 8, 12]


def test_eval_needs_a_reference_at_the_runs_size(tiny, tmp_path):
    with pytest.raises(unnoise.UserError, match="train.eval_every needs train.eval_ref"):
        unnoise.train(tiny(eval_every=4), out=tmp_path / "a", progress=False)
    with pytest.raises(unnoise.UserError, match="train.eval_ref is read only with train.eval_every N"):
        with_family(tiny(), "diffusion", {"train.eval_ref": "ref.npz"})  # as the flags give it: else never measured
    require_network()
    ReferenceStatistics.from_features(np.ones((4, 2048), np.float32), image_size=32, source="t").save(
        tmp_path / "r.npz"
    )
    with pytest.raises(unnoise.UserError, match="32px images but the run draws 16px"):
        unnoise.train(tiny(eval_every=4, eval_ref=str(tmp_path / "r.npz")), out=tmp_path / "b", progress=False)


def test_a_time_budget_ends_the_learning_rate_schedule_when_it_runs_out(tiny, tmp_path):
    """Under max_minutes a cosine schedule decays to ~0 when the budget is spent, not at the distant train.steps."""
    config = tiny(
        steps=100_000, max_minutes=0.05, lr_schedule="cosine", warmup_steps=0, log_every=2, checkpoint_every=0
    )
    run = unnoise.train(config, out=tmp_path / "run", progress=False)
    assert run.status == "out_of_time" and 4 < run.step < 100_000
    with open(tmp_path / "run" / "log.csv", newline="") as handle:
        rates = [float(row["lr"]) for row in csv.DictReader(handle)]
    assert rates[0] > 0.5 * config.train.lr and rates[-1] < 0.2 * config.train.lr, rates


def test_the_budget_is_the_whole_runs_and_a_resume_goes_on_along_its_schedule(tiny, tmp_path):
    """Stopped by Ctrl-C mid-budget, a resumed run keeps decaying towards the budget's end (no jump back to the full
    rate) and stops when the run's total training time reaches max_minutes; with nothing left it trains no step."""
    config = tiny(steps=100_000, max_minutes=0.1, lr_schedule="cosine", warmup_steps=0, log_every=1, checkpoint_every=0)
    timer = threading.Timer(3.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        first = unnoise.train(config, out=tmp_path / "run", progress=False)
    finally:
        timer.cancel()
    assert first.status == "interrupted"
    progress = read_progress(latest_checkpoint(tmp_path / "run"))
    assert 1.0 < progress["seconds_trained"] < 6.0 and first.step < progress["budget_horizon"] < 100_000

    second = unnoise.train(config, out=tmp_path / "run", resume=True, progress=False)
    assert second.status == "out_of_time" and second.step > first.step
    rows = read_log(tmp_path / "run" / "log.csv")
    before = [float(row["lr"]) for row in rows if int(row["step"]) <= first.step]
    after = [float(row["lr"]) for row in rows if int(row["step"]) > first.step]
    assert max(after) < min(0.75 * config.train.lr, 1.25 * before[-1]), (before[-3:], after[:3])
    assert after[-1] < 0.2 * config.train.lr
    assert 6.0 <= read_progress(latest_checkpoint(tmp_path / "run"))["seconds_trained"] < 9.0

    third = unnoise.train(config, out=tmp_path / "run", resume=True, progress=False)
    assert third.status == "out_of_time" and third.step == second.step


def test_a_spent_budget_raised_on_resume_trains_on_at_a_learning_rate_above_zero(tiny, tmp_path):
    config = tiny(steps=100_000, max_minutes=0.02, lr_schedule="cosine", warmup_steps=0, log_every=5)
    first = unnoise.train(config, out=tmp_path / "run", progress=False)
    assert first.status == "out_of_time"
    config.train.max_minutes = 0.04
    second = unnoise.train(config, out=tmp_path / "run", resume=True, progress=False)
    assert second.step > first.step
    after = [float(row["lr"]) for row in read_log(tmp_path / "run" / "log.csv") if int(row["step"]) > first.step]
    assert after[0] > 0.05 * config.train.lr, after[:3]  # was 0 until the first re-estimate


def test_progress_under_a_budget_counts_towards_the_budgets_end(capsys):
    """With max_minutes the progress line's total and ETA are the step where the budget runs out (trainer.horizon),
    not the distant train.steps (which once printed an ETA of hours for a six-minute run)."""
    from types import SimpleNamespace

    from unnoise.train.hooks import ProgressHook

    trainer = SimpleNamespace(global_batch=8, step=0, horizon=100_000)
    hook = ProgressHook(every_s=0.0)
    hook.on_start(trainer)
    hook.started -= 10.0  # ten seconds for the first 50 steps: 0.2 s a step
    trainer.step, trainer.horizon = 50, 200
    hook.on_log(trainer, 0.5)
    line = capsys.readouterr().err
    assert "step 50/200 " in line and "ETA 0:30" in line, line

    # A run past the estimate never reads "step 203/200"; lines come every every_s seconds, and a run whose budget
    # ends between two of them still shows where it ended.
    trainer.step = 203
    hook.on_log(trainer, 0.4)
    assert "step 203/203 " in capsys.readouterr().err
    hook.every_s = 3600.0
    trainer.step, trainer.horizon = 205, 240
    hook.on_log(trainer, 0.4)
    assert capsys.readouterr().err == ""
    hook.on_end(trainer, interrupted=False)
    assert "step 205/205 " in capsys.readouterr().err

    # Ctrl-C halfway: the last line says how far it got, not a full 210/210.
    trainer.step, trainer.horizon = 0, 240
    hook = ProgressHook(every_s=3600.0)
    hook.on_start(trainer)
    trainer.step = 200
    hook.on_log(trainer, 0.4)
    trainer.step = 210
    hook.on_end(trainer, interrupted=True)
    assert "step 210/240 " in capsys.readouterr().err
