"""CLIP's symmetric InfoNCE loss against a hand computation, and the CLIP objective's handling of uncaptioned rows."""

import math

import pytest
import torch
import torch.nn.functional as F

from unnoise.families.clip import CLIPObjective
from unnoise.families.losses import symmetric_info_nce
from unnoise.models.conditioning import Condition


def hand_info_nce(image, text, scale):
    """-1/2N sum_i [log softmax_j(s <I_i, T_j>)_i + log softmax_j(s <T_i, I_j>)_i], written out term by term."""
    count, total = image.shape[0], 0.0
    for i in range(count):
        image_row = [scale * float(image[i] @ text[j]) for j in range(count)]
        text_row = [scale * float(text[i] @ image[j]) for j in range(count)]
        total -= image_row[i] - math.log(sum(math.exp(value) for value in image_row))
        total -= text_row[i] - math.log(sum(math.exp(value) for value in text_row))
    return total / (2 * count)


def test_symmetric_info_nce_matches_the_hand_computation():
    generator = torch.Generator().manual_seed(0)
    image = F.normalize(torch.randn(5, 8, generator=generator), dim=-1)
    text = F.normalize(torch.randn(5, 8, generator=generator), dim=-1)
    loss = symmetric_info_nce(image, text, torch.tensor(7.0))
    assert loss.item() == pytest.approx(hand_info_nce(image, text, 7.0), rel=1e-5)
    # The two directions differ for an asymmetric batch; the loss is their mean, not one of them.
    assert loss.item() != pytest.approx(F.cross_entropy(7.0 * image @ text.T, torch.arange(5)).item(), rel=1e-3)


def test_matched_pairs_cost_little_and_shuffled_pairs_cost_much():
    embeddings = torch.eye(6)
    assert symmetric_info_nce(embeddings, embeddings, torch.tensor(100.0)).item() < 1e-6
    shuffled = symmetric_info_nce(embeddings, embeddings.roll(1, dims=0), torch.tensor(100.0)).item()
    assert shuffled > 50  # the right caption scores 100 below the wrong one in every row


class Towers(torch.nn.Module):
    """CLIP's call signature over fixed embeddings: row i of the batch -> image[i], text[i]."""

    def __init__(self, image, text):
        super().__init__()
        self.image, self.text = image, text
        self.scale = torch.nn.Parameter(torch.tensor(10.0))

    def forward(self, x, condition):
        rows = x[:, 0, 0, 0].long()
        return self.image[rows], self.text[rows], self.scale


def test_rows_without_a_caption_sit_out_of_the_loss(tiny):
    generator = torch.Generator().manual_seed(1)
    image = F.normalize(torch.randn(4, 8, generator=generator), dim=-1)
    text = F.normalize(torch.randn(4, 8, generator=generator), dim=-1)
    network = Towers(image, text)
    x0 = torch.arange(4.0).reshape(4, 1, 1, 1).expand(4, 3, 2, 2)
    objective = CLIPObjective(tiny())
    null = torch.tensor([False, True, False, False])
    loss = objective.loss(network, x0, {}, Condition(null, pooled=torch.zeros(4, 3)))
    kept = torch.tensor([0, 2, 3])
    assert loss.item() == pytest.approx(symmetric_info_nce(image[kept], text[kept], network.scale).item(), rel=1e-6)
    # With fewer than two captioned rows nothing is told apart: zero, with a gradient path to every weight.
    lonely = objective.loss(
        network, x0, {}, Condition(torch.tensor([True, True, False, True]), pooled=torch.zeros(4, 3))
    )
    assert lonely.item() == 0 and lonely.requires_grad
