"""Training conditions: the classifier-free drop rate, hidden attributes, exact resume of a conditional run, and a
folder's own captions."""

import logging

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import unnoise
import unnoise.text
from tests.text.fake_encoder import FakeEncoder, pooled_of
from unnoise.config import ConditionConfig
from unnoise.data import ImageDataset
from unnoise.train.conditions import TrainingConditions, training_conditions


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


def folder_dataset(captions: list[list[str]]) -> ImageDataset:
    count = len(captions)
    images = torch.zeros(count, 3, 4, 4, dtype=torch.uint8)
    return ImageDataset(images, [f"{i}.png" for i in range(count)], [], None, "folder:/pictures", captions=captions)


@pytest.fixture
def fake_text_encoder(monkeypatch) -> FakeEncoder:
    encoder = FakeEncoder()
    monkeypatch.setattr(unnoise.text, "load_text_encoder", lambda device="cpu": encoder)
    return encoder


def text_config(tiny, **condition):
    config = tiny()
    config.condition.kind = "text"
    for name, value in condition.items():
        setattr(config.condition, name, value)
    return config


def test_a_folders_images_without_a_caption_always_train_unconditioned(tiny, fake_text_encoder, caplog):
    captions = [["a red square"], [], ["one", "two", "three"], [], []]
    config = text_config(tiny, drop_prob=0.25, captions_per_image=4)
    conditions = training_conditions(config, folder_dataset(captions), torch.device("cpu"), progress=False)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == ["3 of 5 images have no caption; they train unconditioned"]
    assert conditions.captions.per_image == 3  # the most any image has, under captions_per_image
    assert config.condition.attribute_names == ()

    generator = torch.Generator().manual_seed(0)
    indices = torch.randint(5, (4000,), generator=generator)
    condition = conditions.draw(indices, generator)
    uncaptioned = torch.tensor([False, True, False, True, True])[indices]
    assert condition.null[uncaptioned].all()
    assert condition.null[~uncaptioned].float().mean().item() == pytest.approx(0.25, abs=0.04)
    for row in torch.nonzero(~condition.null).flatten().tolist():  # each told one of its image's own captions
        own = torch.stack([pooled_of(text) for text in captions[indices[row]]])
        assert (condition.pooled[row] == own).all(dim=1).any()
    assert conditions.of_images(torch.arange(5)).null.tolist() == [False, True, False, True, True]

    # The step's generator is drawn from exactly as when every image has a caption: resume stays exact.
    everyone = TrainingConditions(
        config.condition, torch.zeros(5, 0, dtype=torch.uint8), conditions.captions, torch.device("cpu")
    )
    same = torch.Generator().manual_seed(0)
    told = everyone.draw(torch.randint(5, (4000,), generator=same), same)
    assert torch.equal(same.get_state(), generator.get_state())
    assert torch.equal(told.null | uncaptioned, condition.null) and torch.equal(told.pooled, condition.pooled)


def test_a_folder_without_any_caption_says_how_to_add_them(tiny, fake_text_encoder):
    with pytest.raises(unnoise.UserError) as caught:
        training_conditions(text_config(tiny), folder_dataset([[], []]), torch.device("cpu"), progress=False)
    message = str(caught.value)
    assert message.startswith("condition.kind text needs captions, and no image of folder:/pictures has one")
    assert "metadata.jsonl" in message and "a.txt beside each a.jpg" in message
    assert caught.value.settings == ("condition.kind",)
    assert fake_text_encoder.encoded == []


def test_attribute_conditioning_on_a_captioned_folder_still_needs_attributes(tiny):
    config = tiny()
    config.condition.kind = "attributes"
    with pytest.raises(unnoise.UserError, match="needs data with attributes"):
        training_conditions(config, folder_dataset([["a caption"]]), torch.device("cpu"), progress=False)
