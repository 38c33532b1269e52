"""The sampling bar of `unnoise sample` and `unnoise eval`: one tick per solver step of each batch."""

import pytest

import unnoise
from unnoise.sampling import progress
from unnoise.sampling.progress import sampling_bar


@pytest.mark.parametrize("objective, sampler, steps", [("flow", "euler", 4), ("ddpm", "ddpm", 5), ("edm", "heun", 3)])
def test_the_bar_ends_full_after_every_step_of_every_batch(tiny, tmp_path, monkeypatch, objective, sampler, steps):
    bars = []
    real_tqdm = progress.tqdm
    monkeypatch.setattr(progress, "tqdm", lambda **keywords: bars.append(real_tqdm(**keywords)) or bars[-1])
    config = tiny(steps=2, checkpoint_every=0)
    config.diffusion.objective = objective
    run = unnoise.train(config, out=tmp_path / "run", progress=False)
    settings = unnoise.SampleSettings(n=5, batch_size=2, sampler=sampler, steps=steps)
    with sampling_bar(run, settings) as on_step:
        images = run.sample(settings, on_step)
    assert len(images) == 5 and bars[0].total == 3 * steps and bars[0].n == bars[0].total  # 3 batches of 2, 2, 1
    with sampling_bar(run, settings, enabled=False) as on_step:
        assert on_step is None
