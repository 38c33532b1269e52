import pytest
import torch
from torch import nn

from tests.storage.limits import file_size_limit
from unnoise.errors import UserError
from unnoise.storage.atomic import WriteError, write_text_atomic
from unnoise.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_weights,
    optimizer_from_files,
    optimizer_to_files,
    save_checkpoint,
    save_weights,
)


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def trained_optimizer(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 3)).pow(2).sum().backward()
        optimizer.step()
    return optimizer


def test_optimizer_state_round_trips_without_pickle():
    model = small_model()
    optimizer = trained_optimizer(model)
    tensors, rest = optimizer_to_files(optimizer)
    fresh = torch.optim.AdamW(model.parameters(), lr=1.0)
    optimizer_from_files(fresh, tensors, rest)
    original, restored = optimizer.state_dict(), fresh.state_dict()
    assert original["param_groups"] == restored["param_groups"]
    for parameter_id, state in original["state"].items():
        for name, value in state.items():
            assert torch.equal(value, restored["state"][parameter_id][name])


def test_an_interrupted_checkpoint_write_leaves_the_previous_one_latest(tmp_path):
    model, ema = small_model(), small_model()
    optimizer = trained_optimizer(model)
    save_checkpoint(tmp_path, 10, model, ema, optimizer)
    # What a kill in the middle of writing step 20 leaves behind: a hidden, half-filled temp folder.
    partial = tmp_path / "state" / ".tmp-step_0000020-999"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half a file")
    assert latest_checkpoint(tmp_path).name == "step_0000010"
    restored_model, restored_ema = small_model(), small_model()
    step = load_checkpoint(
        latest_checkpoint(tmp_path), restored_model, restored_ema, torch.optim.AdamW(restored_model.parameters())
    )
    assert step == 10
    for a, b in zip(model.state_dict().values(), restored_model.state_dict().values()):
        assert torch.equal(a, b)
    save_checkpoint(tmp_path, 20, model, ema, optimizer)
    assert not partial.exists() and latest_checkpoint(tmp_path).name == "step_0000020"


def test_a_checkpoint_that_cannot_be_written_is_one_line_and_keeps_the_last_good_one(tmp_path):
    model, ema = small_model(), small_model()
    optimizer = trained_optimizer(model)
    save_checkpoint(tmp_path, 10, model, ema, optimizer)
    published = (tmp_path / "model.safetensors").read_bytes()
    with file_size_limit(100):  # a real failure, root or not: every file this process writes stops at 100 bytes
        with pytest.raises(WriteError) as failed:
            save_checkpoint(tmp_path, 20, model, ema, optimizer)
    assert str(failed.value) == f"cannot write {tmp_path / 'state' / 'step_0000020'}: File too large"
    assert [path.name for path in (tmp_path / "state").iterdir()] == ["step_0000010"]  # no temporary folder
    assert (tmp_path / "model.safetensors").read_bytes() == published
    save_checkpoint(tmp_path, 20, model, ema, optimizer)
    assert sorted(path.name for path in (tmp_path / "state").iterdir()) == ["step_0000010", "step_0000020"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.safetensors", "state"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "config.json"
    write_text_atomic(target, "old")

    class Boom(Exception):
        pass

    from unnoise.storage.atomic import atomic_path

    with pytest.raises(Boom):
        with atomic_path(target) as temporary:
            temporary.write_text("new but unfinished")
            raise Boom
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["config.json"]


def test_weights_of_another_network_are_a_user_error(tmp_path):
    save_weights(small_model(), tmp_path / "model.safetensors")
    with pytest.raises(UserError, match="does not match"):
        load_weights(nn.Sequential(nn.Linear(3, 5)), tmp_path / "model.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(UserError, match="not a readable safetensors"):
        load_weights(small_model(), tmp_path / "broken.safetensors")
