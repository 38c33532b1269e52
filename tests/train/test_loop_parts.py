import pytest
import torch
from torch import nn

from unnoise.errors import UserError
from unnoise.train.data_order import DataOrder, step_seed
from unnoise.train.ema import EMA, ema_decay_at
from unnoise.train.trainer import learning_rate_at, resolve_precision


def test_every_epoch_visits_every_image_once_across_batch_boundaries():
    order = DataOrder(dataset_size=10, batch_size=4, seed=3)
    seen = torch.cat([order.indices(step) for step in range(5)])  # 20 draws = exactly 2 epochs
    assert sorted(seen[:10].tolist()) == list(range(10)) and sorted(seen[10:].tolist()) == list(range(10))
    assert not torch.equal(seen[:10], seen[10:])  # a fresh permutation per epoch
    again = DataOrder(10, 4, seed=3)
    assert torch.equal(again.indices(3), order.indices(3))  # a pure function of (seed, step)
    assert not torch.equal(DataOrder(10, 4, seed=4).indices(0), order.indices(0))


def test_step_seeds_differ_across_steps_streams_and_runs():
    seeds = {step_seed(0, step) for step in range(1000)} | {step_seed(1, step) for step in range(1000)}
    assert len(seeds) == 2000
    assert step_seed(0, 5, "train") != step_seed(0, 5, "epoch")


def test_ema_follows_its_formula():
    model = nn.Linear(2, 1, bias=False)
    nn.init.constant_(model.weight, 1.0)
    ema = EMA(model, decay=0.9)
    nn.init.constant_(model.weight, 3.0)
    ema.update(model, step=100)  # decay = min(0.9, 101/110) = 0.9
    assert torch.allclose(ema.model.weight, torch.full((1, 2), 0.9 * 1 + 0.1 * 3))
    assert ema_decay_at(0, 0.9999) == pytest.approx(0.1)
    raw = EMA(model, decay=0.0)
    nn.init.constant_(model.weight, -2.0)
    raw.update(model, step=50)
    assert torch.equal(raw.model.weight, model.weight)


def test_learning_rate_warms_up_linearly_then_stays_or_follows_a_cosine():
    assert learning_rate_at(0, 1e-3, 10) == pytest.approx(1e-4)
    assert learning_rate_at(4, 1e-3, 10) == pytest.approx(5e-4)
    assert learning_rate_at(9, 1e-3, 10) == pytest.approx(1e-3)
    assert learning_rate_at(500, 1e-3, 10) == 1e-3
    assert learning_rate_at(0, 1e-3, 0) == 1e-3
    assert learning_rate_at(9, 1e-3, 10, 110, "cosine") == pytest.approx(1e-3)
    assert learning_rate_at(60, 1e-3, 10, 110, "cosine") == pytest.approx(0.5e-3)  # halfway through the decay
    assert learning_rate_at(110, 1e-3, 10, 110, "cosine") == pytest.approx(0.0, abs=1e-12)
    # A run (or a time budget) shorter than the warm-up warms up for a quarter of it, then decays to 0 at its end.
    assert learning_rate_at(9, 1e-3, 100, 40, "cosine") == pytest.approx(1e-3)
    assert learning_rate_at(25, 1e-3, 100, 40, "cosine") == pytest.approx(0.5e-3)
    assert learning_rate_at(40, 1e-3, 100, 40, "cosine") == pytest.approx(0.0, abs=1e-12)


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(UserError, match="fp16 needs a CUDA GPU"):
        resolve_precision("fp16", cpu)
