"""Improved precision and recall (Kynkaenniemi et al. 2019) on sets whose answer is known."""

import numpy as np
import pytest
import torch

from unnoise.metrics.precision_recall import knn_radii, precision_recall


def test_radii_are_kth_neighbour_distances():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    # k = 1: nearest other point; k = 2: second nearest.
    assert knn_radii(points, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(points, k=2).tolist() == [3.0, 2.0, 3.0, 6.0]


def test_a_set_against_itself_has_precision_and_recall_one():
    features = np.random.default_rng(0).normal(size=(300, 16))
    assert precision_recall(features, features) == (1.0, 1.0)


def test_two_samples_of_one_distribution_score_high_and_disjoint_ones_zero():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    precision, recall = precision_recall(real, fake)
    assert precision > 0.8 and recall > 0.8
    assert precision_recall(real, fake + 100.0) == (0.0, 0.0)


def test_a_collapsed_generator_is_precise_but_has_no_recall():
    """Mode collapse, the GAN failure the metric was made for: every fake near one real point."""
    rng = np.random.default_rng(2)
    real = rng.normal(size=(400, 8))
    collapsed = real[0] + 0.01 * rng.normal(size=(400, 8))
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.05


def test_too_few_samples_are_refused():
    with pytest.raises(ValueError, match="need more than 3"):
        precision_recall(np.zeros((3, 2)), np.zeros((3, 2)))
