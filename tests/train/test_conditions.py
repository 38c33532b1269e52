"""Training conditions: the classifier-free drop rate, hidden attributes, and exact resume of a conditional run."""

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import unnoise
from unnoise.config import ConditionConfig
from unnoise.train.conditions import TrainingConditions


def test_conditions_are_dropped_and_hidden_at_the_configured_rates():
    generator = torch.Generator().manual_seed(0)
    attributes = (torch.rand(500, 20, generator=generator) < 0.3).to(torch.uint8)
    conditions = TrainingConditions(
        ConditionConfig(kind="attributes", drop_prob=0.2, hide_max=0.6), attributes, None, torch.device("cpu")
    )
    indices = torch.randint(500, (40_000,), generator=generator)
    condition = conditions.draw(indices, generator)
    # 40,000 rows: the standard error of a rate near 0.2-0.3 is about 0.002
    assert condition.null.float().mean().item() == pytest.approx(0.2, abs=0.01)
    hidden = condition.attributes == 0
    # Each image hides a fraction uniform on [0, 0.6]: 0.3 on average, with images across the whole range.
    per_image = hidden.float().mean(dim=1)
    assert per_image.mean().item() == pytest.approx(0.3, abs=0.01)
    assert (per_image <= 0.1).float().mean().item() == pytest.approx(0.25, abs=0.05)  # 20 coins at a rate below ~0.1
    assert per_image.max().item() <= 1.0 and (per_image > 0.5).any()
    # Every value that is shown is the image's own: +1 present, -1 absent.
    expected = attributes[indices].float() * 2 - 1
    assert torch.equal(condition.attributes[~hidden], expected[~hidden])


def test_a_conditional_run_resumes_exactly(tiny, tmp_path):
    def config(steps):
        c = tiny(steps=steps, checkpoint_every=4)
        c.condition.kind = "attributes"
        return c

    unnoise.train(config(8), out=tmp_path / "straight", progress=False)
    unnoise.train(config(4), out=tmp_path / "resumed", progress=False)
    unnoise.train(config(8), out=tmp_path / "resumed", resume=True, progress=False)
    straight = load_file(str(tmp_path / "straight" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert straight.keys() == resumed.keys() and all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert "attribute_embedding.null" in straight


def test_attribute_conditioning_needs_data_with_attributes(tiny, tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index in range(3):
        Image.new("RGB", (20, 20), (40 * index, 90, 200)).save(folder / f"{index}.png")
    config = tiny()
    config.condition.kind = "attributes"
    config.data.source = f"folder:{folder}"
    with pytest.raises(unnoise.UserError, match="needs data with attributes"):
        unnoise.train(config, out=tmp_path / "run", progress=False)


def test_training_grids_ask_for_the_attributes_of_training_images():
    attributes = torch.tensor([[1, 0, 1], [0, 0, 1]], dtype=torch.uint8)
    conditions = TrainingConditions(
        ConditionConfig(kind="attributes", drop_prob=0.5, hide_max=1.0), attributes, None, torch.device("cpu")
    )
    asked = conditions.of_images(torch.tensor([1, 0, 1]))
    assert not asked.null.any()  # never dropped, never hidden
    assert asked.attributes.tolist() == [[-1, -1, 1], [1, -1, 1], [-1, -1, 1]]
