"""Retrieval recall@k with repeated captions, and the CLIP score's formula."""

import pytest
import torch

from unnoise.metrics.clip_eval import retrieval
from unnoise.metrics.clip_judge import clip_score


def test_separable_pairs_retrieve_each_other_at_rank_one():
    embeddings = torch.eye(8)
    texts = [f"caption {index}" for index in range(8)]
    result = retrieval(embeddings, embeddings, texts)
    assert result["image_to_text_r@1"] == result["text_to_image_r@1"] == 1.0
    assert result["chance_at_1"] == pytest.approx(1 / 8)
    shifted = retrieval(embeddings, embeddings.roll(1, dims=0), texts)  # every image nearest another's caption
    assert shifted["image_to_text_r@1"] == shifted["text_to_image_r@1"] == 0.0


def test_a_repeated_caption_counts_as_right_for_every_image_it_describes():
    captions = torch.eye(4)
    images = torch.nn.functional.normalize(
        torch.eye(4) + torch.tensor([[0, 0, 0, 0], [2.0, 0, 0, 0], [0] * 4, [0] * 4])
    )
    texts = ["a smiling man", "a smiling man", "a woman", "a bald man"]
    # image 1 is nearer caption 0 than its own, but caption 0's text is its own caption's: a hit.
    result = retrieval(images, captions, texts)
    assert result["image_to_text_r@1"] == 1.0 and result["distinct_captions"] == 3
    assert result["chance_at_1"] == pytest.approx((2 + 2 + 1 + 1) / 16)


def test_clip_score_is_100_times_the_cosine_floored_at_zero():
    image = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[0.6, 0.8], [-1.0, 0.0], [0.0, 1.0]])
    assert torch.allclose(clip_score(image, text), torch.tensor([60.0, 0.0, 100.0]))


def test_balanced_accuracy_gives_a_constant_guess_one_half_however_rare_the_attribute():
    from unnoise.metrics.clip_eval import balanced_accuracy

    present = torch.tensor([True] + [False] * 99)
    assert balanced_accuracy(torch.zeros(100, dtype=torch.bool), present) == 0.5  # plain accuracy: 0.99
    assert balanced_accuracy(present.clone(), present) == 1.0
    predicted = torch.tensor([True, True] + [False] * 98)  # one false alarm in 99 absences
    assert balanced_accuracy(predicted, present) == pytest.approx((1 + 98 / 99) / 2)
