"""Text-conditional runs: embedded caption tables, prompts and negative prompts through guidance."""

import json

import pytest
import torch
from PIL import Image

import unnoise
from unnoise.cli import main
from unnoise.text.captions import captions_for_dataset
from unnoise.text.table import caption_table


def test_caption_table_rows_match_the_encoder_and_come_from_the_cache_later(encoder, tmp_path, monkeypatch):
    names = ["Smiling", "Eyeglasses", "Blond_Hair"]
    attributes = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 1]], dtype=torch.uint8)
    table = caption_table(
        names, attributes, encoder, seed=3, per_image=2, max_tokens=32, cache_dir=tmp_path, progress=False
    )
    captions = captions_for_dataset(names, attributes, 3, 2)
    tokens, mask, pooled = table.gather(torch.tensor([2, 0]), torch.tensor([1, 0]))
    direct = encoder.encode([captions[2][1], captions[0][0]])
    assert torch.allclose(pooled, direct.pooled, atol=1e-6)
    assert torch.equal(mask, direct.mask)
    assert torch.allclose(tokens, direct.tokens, atol=2e-3)  # stored as float16

    monkeypatch.setattr(type(encoder), "encode", lambda *a, **k: pytest.fail("the cached table was embedded again"))
    again = caption_table(
        names, attributes, encoder, seed=3, per_image=2, max_tokens=32, cache_dir=tmp_path, progress=False
    )
    assert torch.equal(again.tokens, table.tokens) and torch.equal(again.offsets, table.offsets)


@pytest.fixture
def text_run(encoder, tiny, tmp_path):
    config = tiny(steps=4, checkpoint_every=0)
    config.condition.kind = "text"
    config.condition.captions_per_image = 2
    return unnoise.train(config, out=tmp_path / "text", progress=False)


def test_prompts_condition_samples_and_a_negative_prompt_changes_the_guided_ones(text_run):
    with torch.no_grad():  # make the briefly trained network's output depend on its condition
        for parameter in text_run.model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(0)))
    ask = dict(n=2, steps=5, seed=0, sampler="ddim")
    smiling = text_run.sample(prompt="a smiling person", guidance=3, **ask)
    glasses = text_run.sample(prompt="a man wearing eyeglasses", guidance=3, **ask)
    assert not torch.equal(smiling, glasses)
    negative = text_run.sample(prompt="a smiling person", negative_prompt="a person with blond hair", guidance=3, **ask)
    assert not torch.equal(smiling, negative)
    # At guidance 1 there is nothing to push away from: the negative prompt has no effect.
    plain = text_run.sample(prompt="a smiling person", guidance=1, **ask)
    assert torch.equal(
        plain, text_run.sample(prompt="a smiling person", negative_prompt="a bald man", guidance=1, **ask)
    )


def test_text_runs_take_prompts_and_attributes_said_as_captions(text_run, tmp_path, capsys):
    assert (
        main(
            [
                "sample",
                str(text_run.path),
                "--n",
                "2",
                "--steps",
                "3",
                "--prompt",
                "a smiling woman",
                "--out",
                str(tmp_path / "grid.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "grid.png").is_file()
    # Attributes are asked as the caption that names them; an absence other than -Male cannot be said.
    asked = text_run.sample(2, steps=3, seed=0, attrs="Smiling,Blond_Hair")
    assert torch.equal(asked, text_run.sample(2, steps=3, seed=0, prompt="a photo of a smiling person with blond hair"))
    assert main(["sample", str(text_run.path), "--n", "2", "--attrs", "-Smiling"]) == 2
    assert "-Smiling" in capsys.readouterr().err


def test_an_empty_prompt_is_taken_as_given_the_empty_caption_guided(text_run, tmp_path, capsys):
    """prompt="" asks for the empty caption (README, Conditional generation): guided, not the unconditional draw."""
    with torch.no_grad():  # make the briefly trained network's output depend on its condition
        for parameter in text_run.model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(0)))
    ask = dict(n=2, steps=5, seed=0, sampler="ddim")
    unconditional = text_run.sample(**ask)
    empty = text_run.sample(prompt="", guidance=3, **ask)
    assert not torch.equal(empty, unconditional)
    assert torch.equal(text_run.sample(prompt="", guidance=0, **ask), unconditional)  # w = 0: the null condition
    # The empty caption is a caption like any other: pushed away from itself, guidance leaves the conditional model.
    itself = text_run.sample(prompt="", negative_prompt="", guidance=3, **ask)
    assert (itself.int() - text_run.sample(prompt="", guidance=1, **ask).int()).abs().max() <= 1
    grid = tmp_path / "grid.png"
    assert main(["sample", str(text_run.path), "--n", "2", "--steps", "3", "--prompt", "", "--out", str(grid)]) == 0
    assert "asked prompt '' with guidance 3" in capsys.readouterr().out


def test_a_captioned_folder_trains_a_text_run_that_takes_prompts(encoder, tiny, tmp_path, capsys):
    folder = tmp_path / "pictures"
    (folder / "sub").mkdir(parents=True)
    for index in range(4):
        Image.new("RGB", (20, 20), (60 * index, 90, 200)).save(folder / f"{index}.png")
    Image.new("RGB", (20, 20), (200, 30, 30)).save(folder / "sub" / "red.png")
    rows = [{"file_name": "0.png", "text": "a blue square"}, {"file_name": "1.png", "text": ["blue", "a bluish tile"]}]
    (folder / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "sub" / "red.txt").write_text("a red square\n")
    config = tiny(steps=2, checkpoint_every=0)
    config.data.source = f"folder:{folder}"
    config.condition.kind = "text"
    run = unnoise.train(config, out=tmp_path / "run", progress=False)
    assert run.config.condition.attribute_names == ()
    grid = tmp_path / "grid.png"
    command = ["sample", str(run.path), "--n", "2", "--steps", "2", "--prompt", "a red square", "--out", str(grid)]
    assert main(command) == 0 and grid.is_file()
    assert main(["sample", str(run.path), "--n", "2", "--steps", "2", "--attrs", "Smiling"]) == 2
    assert "trained on its data's own captions, not on attributes: ask with --prompt" in capsys.readouterr().err
