"""Caption tables of given captions (a folder's own): repeated to per_image, a placeholder where none, one cache."""

import pytest
import torch

from unnoise.text.captions import captions_for_dataset
from unnoise.text.table import UNCAPTIONED, caption_table, given_caption_table

from .fake_encoder import FakeEncoder, pooled_of


def test_images_repeat_their_captions_to_per_image_and_uncaptioned_ones_hold_the_placeholder(tmp_path):
    encoder = FakeEncoder()
    captions = [["a", "b", "c"], ["only"], [], ["x", "y"]]
    table = given_caption_table(captions, encoder, per_image=2, max_tokens=32, cache_dir=tmp_path, progress=False)
    assert table.per_image == 2
    images, choices = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    tokens, mask, pooled = table.gather(images, choices)
    expected = ["a", "b", "only", "only", UNCAPTIONED, UNCAPTIONED, "x", "y"]  # "c" is past per_image
    assert torch.equal(pooled, torch.stack([pooled_of(text) for text in expected]))
    assert mask.sum(dim=1).tolist() == [1 + len(text) % 3 for text in expected]
    assert sorted(encoder.encoded) == sorted(["a", "b", "only", UNCAPTIONED, "x", "y"])  # each distinct text once


def test_given_and_attribute_captions_share_one_cache(tmp_path, monkeypatch):
    names = ["Smiling", "Eyeglasses"]
    attributes = torch.tensor([[1, 0], [0, 1], [1, 1]], dtype=torch.uint8)
    encoder = FakeEncoder()
    made = caption_table(names, attributes, encoder, 3, 2, 32, cache_dir=tmp_path, progress=False)
    monkeypatch.setattr(FakeEncoder, "encode", lambda *a, **k: pytest.fail("the cached table was embedded again"))
    captions = captions_for_dataset(names, attributes, 3, 2)
    again = given_caption_table(captions, encoder, 2, 32, cache_dir=tmp_path, progress=False)
    assert torch.equal(again.texts, made.texts) and torch.equal(again.pooled, made.pooled)
    assert torch.equal(again.tokens, made.tokens) and torch.equal(again.offsets, made.offsets)
