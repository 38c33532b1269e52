"""KID: the unbiased MMD^2 estimator by hand, near zero for one distribution, positive for two, seeded subsets."""

import itertools

import numpy as np
import pytest

from unnoise.metrics.kid import kernel_inception_distance, kid_std_text, mmd2_unbiased


def kernel(u, v):
    return (u @ v / len(u) + 1) ** 3


def test_mmd2_equals_a_hand_computation():
    x = np.array([[0.5, 1.0], [2.0, -1.0], [0.0, 3.0]])
    y = np.array([[1.0, 1.0], [-1.0, 0.5]])
    pairs_x = [kernel(x[i], x[j]) for i, j in itertools.permutations(range(3), 2)]
    pairs_y = [kernel(y[i], y[j]) for i, j in itertools.permutations(range(2), 2)]
    cross = [kernel(u, v) for u in x for v in y]
    expected = sum(pairs_x) / (3 * 2) + sum(pairs_y) / (2 * 1) - 2 * sum(cross) / (3 * 2)
    assert mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-12)


def test_subsets_of_the_whole_set_give_the_whole_set_value_and_no_spread():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 4)), rng.standard_normal((10, 4)) + 0.5
    # Every subset of size 10 of y is y reordered; the estimator does not depend on the order.
    mean, std = kernel_inception_distance(x[:10], y, subsets=5, subset_size=50)
    assert mean == pytest.approx(mmd2_unbiased(x[:10], y), rel=1e-12)
    # Both sets whole in every subset: the spread (zero up to rounding) measures nothing, so none is given.
    assert std is None and kid_std_text(std) == "n/a"
    # One side larger than the subsets: they differ on that side, and so do the estimates.
    _, std = kernel_inception_distance(x, y, subsets=5, subset_size=50)
    assert std > 1e-6 and kid_std_text(std, 1000, 1) == f"{1000 * std:.1f}"


def test_same_distribution_is_near_zero_and_shifted_is_clearly_positive():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((400, 32)), rng.standard_normal((400, 32))
    same, same_std = kernel_inception_distance(x, y, subsets=20, subset_size=200, seed=0)
    shifted, shifted_std = kernel_inception_distance(x, y + 0.5, subsets=20, subset_size=200, seed=0)
    assert abs(same) < 0.02
    assert shifted > 0.2 and shifted > 10 * (abs(same) + same_std)


def test_the_estimator_is_unbiased():
    rng = np.random.default_rng(2)
    estimates = np.array(
        [mmd2_unbiased(rng.standard_normal((10, 6)), rng.standard_normal((10, 6))) for _ in range(400)]
    )
    # A biased (V-statistic) estimator would be positive every time; this one averages to zero.
    assert estimates.min() < 0
    assert abs(estimates.mean()) < 4 * estimates.std() / np.sqrt(len(estimates))


def test_deterministic_given_a_seed():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((50, 8)), rng.standard_normal((60, 8))
    first = kernel_inception_distance(x, y, subsets=10, subset_size=20, seed=7)
    assert kernel_inception_distance(x, y, subsets=10, subset_size=20, seed=7) == first
    assert kernel_inception_distance(x, y, subsets=10, subset_size=20, seed=8) != first


def test_too_few_rows_are_rejected():
    with pytest.raises(ValueError):
        kernel_inception_distance(np.zeros((1, 4)), np.zeros((5, 4)))
